"""
Simulated robot (MuJoCo) and its rosbag2 recorder: the project's default data source.

objects.py  object classes and what each sensor can tell apart
scene.py    MJCF workcell and the reusable Sim (model, data, renderers)
sensors.py  sensor config loading and sensor models (noise, depth invalids, tactile pressure,
            finger drives, wrist IMU, rib vibration)
episode.py  scripted episode, randomisation, ground truth: simulate_episode
messages.py numpy -> ROS 2 messages (rosbags), offered QoS
record.py   record_bag and `xmodal sim record`
"""
from xmodal_training.sim.episode import (DEFAULT_RATES, Episode, FINGER_JOINTS, PHASES,
                                         simulate_episode, SOURCES, Stream, TARGETS)
from xmodal_training.sim.objects import CLASSES
from xmodal_training.sim.record import record_bag

__all__ = ['CLASSES', 'DEFAULT_RATES', 'FINGER_JOINTS', 'PHASES', 'SOURCES', 'TARGETS', 'Episode',
           'Stream', 'simulate_episode', 'record_bag']
