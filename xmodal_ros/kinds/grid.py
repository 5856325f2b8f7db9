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
grid: a 2-D array of readings in a sensor_msgs/msg/Image (32FC1, 16UC1 or mono8).

Tactile pads, thermal arrays, spectrograms: any size. The image is ``rows`` x (``pads`` *
``cols``); pad p occupies columns [p*cols, (p+1)*cols), so several pads of one sensor arrive in
one message and stay aligned in time.
"""
import numpy as np

from xmodal_ros.conversions import ConversionError, image_to_array
from xmodal_ros.kinds.base import FLOAT32_MAX, Kind, positive_int, positive_number

COMPRESS = ('log1p', 'none')


class GridKind(Kind):
    """
    Model input (pads, rows, cols) float32.

    log1p(max(x, 0) / scale) with ``compress: log1p`` (pressures span decades: a soft foam contact
    ~10 kPa and a steel one ~500 kPa stay in one usable range), x / scale with ``compress: none``.
    Readings beyond ``max_abs`` are absurd.
    """

    name = 'grid'
    msg_type = 'sensor_msgs/msg/Image'
    encodings = ('32FC1', '16UC1', 'mono8')
    eager = True
    layout_params = ('rows', 'cols', 'pads')
    required_layout = ('rows', 'cols')
    defaults = {'pads': 1, 'scale': 1.0, 'compress': 'log1p', 'max_abs': 1e6}
    node_defaults = {'timeout': 0.1, 'queue_depth': 5, 'encode': 'arrival'}
    rate_hz = 100.0

    def check_params(self, params, where):
        for key in ('rows', 'cols', 'pads'):
            positive_int(params, key, where)
        positive_number(params, 'scale', where)
        positive_number(params, 'max_abs', where)
        if params['compress'] not in COMPRESS:
            raise ValueError(f'{where}.compress: {params["compress"]!r}; expected one of '
                             f'{", ".join(COMPRESS)}')

    def input_shape(self, params):
        return (params['pads'], params['rows'], params['cols'])

    def read(self, msg, params):
        pads, rows, cols = params['pads'], params['rows'], params['cols']
        arr = image_to_array(msg, self.encodings)
        if arr.shape != (rows, pads * cols):
            raise ConversionError(
                f'grid image is {arr.shape[1]}x{arr.shape[0]}; expected {pads * cols}x{rows} '
                f'({pads} pad(s) of {rows}x{cols})')
        if arr.dtype.kind == 'f':
            if not np.isfinite(arr).all():
                raise ConversionError('grid image holds non-finite readings')
            peak = float(np.abs(arr).max())
            if peak > min(params['max_abs'], FLOAT32_MAX):
                raise ConversionError(f'grid image holds {peak:.3g}, beyond the plausible '
                                      f'{params["max_abs"]:g} for this sensor')
        return arr

    def preprocess(self, arr, encoding, params):
        pads, rows, cols = params['pads'], params['rows'], params['cols']
        out = arr.reshape(rows, pads, cols).transpose(1, 0, 2).astype(np.float32)
        if params['compress'] == 'log1p':
            np.maximum(out, 0.0, out=out)
            return np.log1p(out * np.float32(1.0 / params['scale']))
        return out * np.float32(1.0 / params['scale'])
