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
