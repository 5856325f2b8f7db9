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

"""
wrench: 6-axis force/torque (geometry_msgs/msg/WrenchStamped).

A window of the newest readings.
"""
import numpy as np

from xmodal_ros.conversions import ConversionError
from xmodal_ros.kinds.base import check_vector, Kind, positive_int, positive_number


class WrenchKind(Kind):
    """
    Reading [fx, fy, fz, tx, ty, tz] (N, N m); model input (6, window), scaled to O(1).

    A component beyond ``max_force_n`` / ``max_torque_nm`` is refused as absurd.
    """

    name = 'wrench'
    msg_type = 'geometry_msgs/msg/WrenchStamped'
    windowed = True
    encoder = 'temporal'
    defaults = {'window': 64, 'force_scale_n': 20.0, 'torque_scale_nm': 2.0,
                'max_force_n': 1e4, 'max_torque_nm': 1e3}
    node_defaults = {'timeout': 0.1, 'queue_depth': 50, 'encode': 'tick'}
    rate_hz = 500.0

    def check_params(self, params, where):
        positive_int(params, 'window', where)
        for key in ('force_scale_n', 'torque_scale_nm', 'max_force_n', 'max_torque_nm'):
            positive_number(params, key, where)

    def width(self, params):
        return 6

    def input_shape(self, params):
        return (6, params['window'])

    def read(self, msg, params):
        f, t = msg.wrench.force, msg.wrench.torque
        force, torque = (f.x, f.y, f.z), (t.x, t.y, t.z)
        check_vector(force, params['max_force_n'], 'wrench force')
        check_vector(torque, params['max_torque_nm'], 'wrench torque')
        return np.array(force + torque, dtype=np.float64)

    def preprocess(self, window, encoding, params):
        scale = np.array([1.0 / params['force_scale_n']] * 3
                         + [1.0 / params['torque_scale_nm']] * 3, dtype=np.float32)
        return scaled_window(window, scale, params['window'])


def scaled_window(window, scale, length):
    """(length, width) readings, oldest first -> (width, length) float32 times ``scale``."""
    if window.shape != (length, scale.size):
        raise ConversionError(f'window has shape {window.shape}; expected ({length}, '
                              f'{scale.size})')
    return np.ascontiguousarray((window.astype(np.float32) * scale).T)
