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

"""rgb: colour cameras (sensor_msgs/msg/Image rgb8, bgr8, rgba8, bgra8 or mono8, any size)."""
import numpy as np

from xmodal_ros.conversions import COLOUR_ENCODINGS, image_to_array
from xmodal_ros.kinds.base import Kind, positive_int
from xmodal_ros.preprocess import resize_area


class RgbKind(Kind):
    """Model input (3, h, w): RGB in [0, 1], area-reduced to ``out_hw``; mono8 is repeated."""

    name = 'rgb'
    msg_type = 'sensor_msgs/msg/Image'
    encodings = COLOUR_ENCODINGS
    defaults = {'out_hw': [48, 64]}
    node_defaults = {'timeout': 0.2, 'queue_depth': 1, 'encode': 'thread'}
    rate_hz = 30.0

    def check_params(self, params, where):
        check_out_hw(params, where)

    def input_shape(self, params):
        return (3, *params['out_hw'])

    def read(self, msg, params):
        return image_to_array(msg, self.encodings)

    def preprocess(self, arr, encoding, params):
        if encoding in ('bgr8', 'bgra8'):
            arr = arr[..., 2::-1]
        elif encoding == 'rgba8':
            arr = arr[..., :3]
        out = resize_area(arr, params['out_hw']) * np.float32(1.0 / 255.0)
        if out.ndim == 2:
            return np.repeat(out[None], 3, axis=0)
        return np.ascontiguousarray(out.transpose(2, 0, 1))


def check_out_hw(params, where):
    hw = params.get('out_hw')
    if not (isinstance(hw, list) and len(hw) == 2):
        raise ValueError(f'{where}.out_hw: {hw!r}; expected [height, width]')
    positive_int({'out_hw[0]': hw[0], 'out_hw[1]': hw[1]}, 'out_hw[0]', where)
    positive_int({'out_hw[0]': hw[0], 'out_hw[1]': hw[1]}, 'out_hw[1]', where)
