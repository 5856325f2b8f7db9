# Copyright 2026 xmodal_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""joints: named joints of a sensor_msgs/msg/JointState (proprioception), a window of readings."""
import numpy as np

from xmodal_ros.conversions import ConversionError
from xmodal_ros.kinds.base import check_vector, Kind, positive_int, positive_number
from xmodal_ros.kinds.wrench import scaled_window

FIELDS = ('position', 'velocity', 'effort')


class JointsKind(Kind):
    """
    Reading: for each of ``fields`` (position, velocity, effort).

    The configured ``joints`` in order (a message may list more joints, in any order); model input
    (fields * joints, window), each field divided by its ``<field>_scale``. Values beyond
    ``max_abs`` are absurd.
    """

    name = 'joints'
    msg_type = 'sensor_msgs/msg/JointState'
    windowed = True
    encoder = 'temporal'
    layout_params = ('joints', 'fields')
    required_layout = ('joints',)
    defaults = {'window': 32, 'fields': ['position', 'effort'], 'position_scale': 1.0,
                'velocity_scale': 1.0, 'effort_scale': 1.0, 'max_abs': 1e5}
    node_defaults = {'timeout': 0.1, 'queue_depth': 20, 'encode': 'tick'}
    rate_hz = 100.0

    def check_params(self, params, where):
        positive_int(params, 'window', where)
        joints, fields = params.get('joints'), params.get('fields')
        if not (isinstance(joints, list) and joints and all(isinstance(j, str) for j in joints)):
            raise ValueError(f'{where}.joints: {joints!r}; expected a non-empty list of joint '
                             'names')
        if len(set(joints)) != len(joints):
            raise ValueError(f'{where}.joints: {joints} names a joint twice')
        if not (isinstance(fields, list) and fields and set(fields) <= set(FIELDS)
                and len(set(fields)) == len(fields)):
            raise ValueError(f'{where}.fields: {fields!r}; expected a non-empty list of '
                             f'{", ".join(FIELDS)}')
        for f in fields:
            positive_number(params, f'{f}_scale', where)
        positive_number(params, 'max_abs', where)

    def width(self, params):
        return len(params['joints']) * len(params['fields'])

    def input_shape(self, params):
        return (self.width(params), params['window'])

    def read(self, msg, params):
        names = list(msg.name)         # looked up per message: nothing kept that a flood of
        missing = [j for j in params['joints'] if j not in names]   # odd name lists could grow
        if missing:
            raise ConversionError(f'joint state lacks joint(s) {missing}; it names {names[:8]}')
        columns = [names.index(j) for j in params['joints']]
        out = []
        for f in params['fields']:
            values = np.asarray(getattr(msg, f), dtype=np.float64)
            if values.shape != (len(names),):
                raise ConversionError(f'joint state has {values.size} {f} value(s) for '
                                      f'{len(names)} names; this sensor uses {f}')
            out.append(values[columns])
        reading = np.concatenate(out)
        check_vector(reading.tolist(), params['max_abs'], 'joint state')
        return reading

    def preprocess(self, window, encoding, params):
        scale = np.repeat([1.0 / params[f'{f}_scale'] for f in params['fields']],
                          len(params['joints'])).astype(np.float32)
        return scaled_window(window, scale, params['window'])
