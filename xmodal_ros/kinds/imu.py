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

"""imu: inertial measurement units (sensor_msgs/msg/Imu), a window of the newest readings."""
import math

import numpy as np

from xmodal_ros.conversions import ConversionError
from xmodal_ros.kinds.base import check_vector, Kind, positive_int, positive_number
from xmodal_ros.kinds.wrench import scaled_window


class ImuKind(Kind):
    """
    Reading [wx, wy, wz, ax, ay, az] (rad/s, m/s^2 with the gravity reaction, as IMUs report).

    Followed by the orientation quaternion [x, y, z, w] when ``orientation: true``. A message whose
    orientation_covariance[0] is -1 has no orientation (REP-145); such an IMU must be configured
    with ``orientation: false``. Model input (6 or 10, window).
    """

    name = 'imu'
    msg_type = 'sensor_msgs/msg/Imu'
    windowed = True
    encoder = 'temporal'
    layout_params = ('orientation',)
    defaults = {'window': 64, 'orientation': False, 'gyro_scale_rads': 2.0,
                'accel_scale_ms2': 10.0, 'max_gyro_rads': 100.0, 'max_accel_ms2': 2000.0}
    node_defaults = {'timeout': 0.1, 'queue_depth': 50, 'encode': 'tick'}
    rate_hz = 250.0

    def check_params(self, params, where):
        positive_int(params, 'window', where)
        if not isinstance(params['orientation'], bool):
            raise ValueError(f'{where}.orientation: {params["orientation"]!r}; expected true or '
                             'false')
        for key in ('gyro_scale_rads', 'accel_scale_ms2', 'max_gyro_rads', 'max_accel_ms2'):
            positive_number(params, key, where)

    def width(self, params):
        return 10 if params['orientation'] else 6

    def input_shape(self, params):
        return (self.width(params), params['window'])

    def read(self, msg, params):
        w, a = msg.angular_velocity, msg.linear_acceleration
        gyro, accel = (w.x, w.y, w.z), (a.x, a.y, a.z)
        check_vector(gyro, params['max_gyro_rads'], 'imu angular_velocity')
        check_vector(accel, params['max_accel_ms2'], 'imu linear_acceleration')
        if not params['orientation']:
            return np.array(gyro + accel, dtype=np.float64)
        if float(msg.orientation_covariance[0]) == -1.0:
            raise ConversionError('imu message has no orientation (orientation_covariance[0] = '
                                  '-1) but this sensor is configured with orientation: true')
        o = msg.orientation
        quat = (o.x, o.y, o.z, o.w)
        check_vector(quat, 1.01, 'imu orientation')
        norm = math.hypot(*quat)
        if not 0.9 < norm < 1.1:
            raise ConversionError(f'imu orientation has norm {norm:.3f}; expected a unit '
                                  'quaternion')
        return np.array(gyro + accel + tuple(q / norm for q in quat), dtype=np.float64)

    def preprocess(self, window, encoding, params):
        scale = [1.0 / params['gyro_scale_rads']] * 3 + [1.0 / params['accel_scale_ms2']] * 3
        scale = np.array(scale + [1.0] * (self.width(params) - 6), dtype=np.float32)
        return scaled_window(window, scale, params['window'])
