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
numpy arrays -> serialised ROS 2 messages (rosbags, Kilted typestore).

The QoS the recorder offers: one place that knows message layouts, for the recorder and for anyone
writing bags (test fixtures, converters).
"""
import numpy as np
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.typesys import get_typestore, Stores

TYPESTORE = get_typestore(Stores.ROS2_KILTED)
_T = TYPESTORE.types
_NO_TIME = QosTime(0, 0)
# Sensor-data profile (rclcpp SensorDataQoS): best effort, keep last 5.
SENSOR_QOS = Qos(QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
                 _NO_TIME, _NO_TIME, QosLiveliness.AUTOMATIC, _NO_TIME, False)
LABEL_QOS = Qos(QosHistory.KEEP_LAST, 100, QosReliability.RELIABLE, QosDurability.VOLATILE,
                _NO_TIME, _NO_TIME, QosLiveliness.AUTOMATIC, _NO_TIME, False)


def header(stamp_ns, frame_id):
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return _T['std_msgs/msg/Header'](
        stamp=_T['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id)


def image_msg(array, encoding, stamp_ns, frame_id):
    """
    Make a sensor_msgs/msg/Image of an (H, W[, C]) array.

    Little-endian, rows packed (step = W*C*bytes).
    """
    arr = np.ascontiguousarray(array)
    if arr.dtype.byteorder == '>':
        arr = arr.astype(arr.dtype.newbyteorder('<'))
    h, w = arr.shape[:2]
    return _T['sensor_msgs/msg/Image'](
        header=header(stamp_ns, frame_id), height=h, width=w, encoding=encoding, is_bigendian=0,
        step=arr.strides[0], data=arr.reshape(-1).view(np.uint8))


def wrench_msg(values, stamp_ns, frame_id):
    """[fx, fy, fz, tx, ty, tz] -> geometry_msgs/msg/WrenchStamped."""
    v = [float(x) for x in values]
    vec = _T['geometry_msgs/msg/Vector3']
    return _T['geometry_msgs/msg/WrenchStamped'](
        header=header(stamp_ns, frame_id),
        wrench=_T['geometry_msgs/msg/Wrench'](force=vec(x=v[0], y=v[1], z=v[2]),
                                              torque=vec(x=v[3], y=v[4], z=v[5])))


def joint_state_msg(names, position, velocity, effort, stamp_ns, frame_id):
    """
    Joint names and per-joint position, velocity.

    Effort (equal lengths, or empty for a field not measured) -> sensor_msgs/msg/JointState.
    """
    names = [str(n) for n in names]
    fields = {k: np.asarray(v, dtype=np.float64).reshape(-1)
              for k, v in (('position', position), ('velocity', velocity), ('effort', effort))}
    for k, v in fields.items():
        if len(v) not in (0, len(names)):
            raise ValueError(f'joint_state_msg: {k} has {len(v)} values for {len(names)} joints '
                             f'({", ".join(names)}); give one per joint or none')
    return _T['sensor_msgs/msg/JointState'](header=header(stamp_ns, frame_id), name=names,
                                            **fields)


def _covariance(values, name):
    if values is None:
        return np.zeros(9, dtype=np.float64)
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.shape != (9,):
        raise ValueError(f'imu_msg: {name} needs 9 values (a row-major 3x3 matrix), got '
                         f'{out.size}')
    return out


def imu_msg(orientation_xyzw, angular_velocity, linear_acceleration, stamp_ns, frame_id,
            orientation_covariance=None, angular_velocity_covariance=None,
            linear_acceleration_covariance=None):
    """
    -> sensor_msgs/msg/Imu.

    Covariances: 9 values each, zeros (unknown) by default; per REP-145 an IMU that gives no
    orientation passes orientation_xyzw=None, which sets orientation_covariance[0] = -1.
    """
    ocov = _covariance(orientation_covariance, 'orientation_covariance')
    if orientation_xyzw is None:
        orientation_xyzw = (0.0, 0.0, 0.0, 1.0)
        ocov[0] = -1.0
    q = [float(x) for x in orientation_xyzw]
    w = [float(x) for x in angular_velocity]
    a = [float(x) for x in linear_acceleration]
    if len(q) != 4 or len(w) != 3 or len(a) != 3:
        raise ValueError(f'imu_msg: orientation needs 4 values (x, y, z, w), angular_velocity and '
                         f'linear_acceleration 3 each; got {len(q)}, {len(w)}, {len(a)}')
    vec = _T['geometry_msgs/msg/Vector3']
    return _T['sensor_msgs/msg/Imu'](
        header=header(stamp_ns, frame_id),
        orientation=_T['geometry_msgs/msg/Quaternion'](x=q[0], y=q[1], z=q[2], w=q[3]),
        orientation_covariance=ocov,
        angular_velocity=vec(x=w[0], y=w[1], z=w[2]),
        angular_velocity_covariance=_covariance(angular_velocity_covariance,
                                                'angular_velocity_covariance'),
        linear_acceleration=vec(x=a[0], y=a[1], z=a[2]),
        linear_acceleration_covariance=_covariance(linear_acceleration_covariance,
                                                   'linear_acceleration_covariance'))


def label_msg(episode, class_index, phase_index, targets, stamp_ns, classes, phases, target_names,
              frame_id=''):
    """Ground truth as sensor_msgs/msg/JointState (layout in config/sensors.yaml)."""
    names = (['episode', f'class/{classes[class_index]}', f'phase/{phases[phase_index]}']
             + [f'target/{n}' for n in target_names])
    position = np.array([episode, class_index, phase_index, *targets], dtype=np.float64)
    empty = np.zeros(0, dtype=np.float64)
    return _T['sensor_msgs/msg/JointState'](
        header=header(stamp_ns, frame_id), name=names, position=position, velocity=empty,
        effort=empty)


def serialize(msg):
    """CDR bytes of a message built here."""
    return TYPESTORE.serialize_cdr(msg, msg.__msgtype__)
