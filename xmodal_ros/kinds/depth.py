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

"""depth: REP-118 depth images (sensor_msgs/msg/Image 32FC1 metres or 16UC1 millimetres)."""
import numpy as np

from xmodal_ros.conversions import ConversionError, DEPTH_ENCODINGS, image_to_array
from xmodal_ros.kinds.base import Kind, positive_number
from xmodal_ros.kinds.rgb import check_out_hw
from xmodal_ros.preprocess import gather_taps


class DepthKind(Kind):
    """
    Model input (2, h, w): [depth scaled over [min_m, max_m], fraction of valid pixels].

    0 and NaN mean "no reading" in either encoding (REP-118), as does anything outside
    [min_m, max_m]; invalid pixels are left out of each output cell's average.
    """

    name = 'depth'
    msg_type = 'sensor_msgs/msg/Image'
    encodings = DEPTH_ENCODINGS
    defaults = {'out_hw': [48, 64], 'min_m': 0.05, 'max_m': 2.0}
    node_defaults = {'timeout': 0.2, 'queue_depth': 1, 'encode': 'thread'}
    rate_hz = 30.0

    def check_params(self, params, where):
        check_out_hw(params, where)
        positive_number(params, 'min_m', where)
        if not positive_number(params, 'max_m', where) > params['min_m']:
            raise ValueError(f'{where}.max_m: {params["max_m"]} must exceed min_m '
                             f'{params["min_m"]}')

    def input_shape(self, params):
        return (2, *params['out_hw'])

    def read(self, msg, params):
        return image_to_array(msg, self.encodings)

    def preprocess(self, arr, encoding, params):
        """
        Reject invalid pixels by the range test alone (NaN compares false).

        So the taps are never rewritten with NaN first: 0.52 -> 0.31 ms per 640x480 32FC1 frame,
        same output.
        """
        taps = gather_taps(arr, params['out_hw'])
        if encoding == '16UC1':
            metres = taps.astype(np.float32) * np.float32(0.001)
        elif encoding == '32FC1':
            metres = taps                    # a copy already: gather_taps indexes with arrays
        else:
            raise ConversionError(
                f'depth encoding {encoding!r}; expected one of {", ".join(DEPTH_ENCODINGS)}')
        lo, hi = params['min_m'], params['max_m']
        valid = (metres >= lo) & (metres <= hi) & (metres > 0)
        scaled = np.where(valid, (metres - np.float32(lo)) * np.float32(1.0 / (hi - lo)),
                          np.float32(0.0))
        count = valid.sum(axis=(0, 3), dtype=np.float32)
        total = scaled.sum(axis=(0, 3), dtype=np.float32)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        return np.stack([mean, count / (valid.shape[0] * valid.shape[3])])
