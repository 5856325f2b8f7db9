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
Well-formed rclpy messages for any configured sensor, by kind (benchmarks, soak tests, tests).

``synthetic_message(spec, ...)`` returns a message whose model input is roughly ``level`` (0..1)
everywhere, so a test can tell which sensors went into a prediction; callers stamp it.
"""
import numpy as np

from xmodal_ros.sensors import message_class


def _image(msg_type, encoding, array):
    array = np.ascontiguousarray(array)
    msg = message_class(msg_type)(height=array.shape[0], width=array.shape[1],
                                  encoding=encoding, is_bigendian=0, step=array.strides[0])
    msg.data = array.tobytes()
    return msg


def synthetic_message(spec, level=0.5, size=(96, 128), rng=None):
    """
    Return a valid message of ``spec``'s kind and layout.

    ``size`` (height, width) of rgb and depth images; ``rng``: random content (a benchmark's load)
    instead of a constant ``level``.
    """
    kind, p = spec.kind.name, spec.params
    h, w = size
    if kind == 'rgb':
        arr = (rng.integers(0, 255, (h, w, 3), dtype=np.uint8) if rng is not None
               else np.full((h, w, 3), int(level * 255), np.uint8))
        return _image(spec.msg_type, 'rgb8', arr)
    if kind == 'depth':
        lo, hi = p['min_m'], p['max_m']
        arr = (rng.uniform(lo, hi, (h, w)) if rng is not None
               else np.full((h, w), lo + level * (hi - lo)))
        return _image(spec.msg_type, '32FC1', arr.astype(np.float32))
    if kind == 'grid':
        shape = (p['rows'], p['pads'] * p['cols'])
        arr = (rng.uniform(0, 2 * p['scale'], shape) if rng is not None
               else np.full(shape, level * p['scale']))
        return _image(spec.msg_type, '32FC1', arr.astype(np.float32))
    msg = message_class(spec.msg_type)()
    if kind == 'wrench':
        msg.wrench.force.z = level * p['force_scale_n']
        msg.wrench.torque.x = level * p['torque_scale_nm']
    elif kind == 'imu':
        msg.angular_velocity.z = level * p['gyro_scale_rads']
        msg.linear_acceleration.z = 9.81
        msg.orientation.w = 1.0
        if not p['orientation']:
            msg.orientation_covariance[0] = -1.0
    elif kind == 'joints':
        names = list(p['joints'])
        msg.name = names
        n = len(names)
        msg.position = [level * p['position_scale']] * n
        msg.velocity = [level * p['velocity_scale']] * n
        msg.effort = [level * p['effort_scale']] * n
    else:
        raise ValueError(f'no synthetic message for kind {kind!r}')
    return msg


def set_stamp(msg, stamp_ns):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return msg
