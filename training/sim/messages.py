"""numpy arrays -> serialised ROS 2 messages (rosbags, Kilted typestore), and the QoS the recorder
offers: one place that knows message layouts, for the recorder and for anyone writing bags (test
fixtures, converters)."""
import numpy as np
from rosbags.interfaces import (
    Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime)
from rosbags.typesys import Stores, get_typestore

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
    """(H, W[, C]) array -> sensor_msgs/msg/Image, little-endian, rows packed (step = W*C*bytes)."""
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
