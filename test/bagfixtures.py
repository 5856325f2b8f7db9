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
Small real rosbag2 files for the bag-reading tests.

hand-stamped ones built with the simulator's message helpers, and the corruptions users meet (cut
files, garbage, lost metadata).
"""
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from xmodal_training.data.bagread import topic_roles
from xmodal_training.sim.messages import image_msg, label_msg, serialize, TYPESTORE, wrench_msg

ROLES = topic_roles(None)            # the package's config/sensors.yaml
TOPIC = {role: topic for role, (topic, _) in ROLES.items()}
TYPE = {role: msg_type for role, (_, msg_type) in ROLES.items()}
CLASSES, PHASES, TARGETS = ('cup', 'ball'), ('reach', 'grasp'), ('mass',)
MS = 1_000_000
HW = (12, 16)          # camera and depth frames: small, so every test bag is too


def write_bag(path, messages, storage='mcap', custom=None):
    """messages: [(topic, msg_type, stamp ns, message or raw bytes)]; logged at their stamps."""
    writer = Writer(Path(path), version=9, storage_plugin=StoragePlugin[storage.upper()])
    for key, value in (custom or {}).items():
        writer.set_custom_data(key, value)
    with writer:
        conns = {}
        for topic, msgtype, _, _ in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
        for topic, _, stamp, msg in sorted(messages, key=lambda m: m[2]):
            writer.write(conns[topic], stamp, msg if isinstance(msg, bytes) else serialize(msg))
    return Path(path)


def camera_frame(value):
    """Return a frame whose red channel is ``value`` (so a sample shows which frame it holds)."""
    img = np.zeros((*HW, 3), np.uint8)
    img[..., 0] = value
    return img


def camera(stamp, value):
    return TOPIC['camera'], TYPE['camera'], stamp, image_msg(camera_frame(value), 'rgb8', stamp,
                                                             'cam')


def depth_frame(metres):
    return np.full(HW, metres, np.float32)


def depth(stamp, metres):
    return TOPIC['depth'], TYPE['depth'], stamp, image_msg(depth_frame(metres), '32FC1', stamp,
                                                           'depth')


def tactile_frame(kpa):
    return np.full((8, 16), kpa, np.float32)


def tactile(stamp, kpa):
    return TOPIC['tactile'], TYPE['tactile'], stamp, image_msg(tactile_frame(kpa), '32FC1', stamp,
                                                               'tactile')


def force(stamp, fz):
    return TOPIC['force'], TYPE['force'], stamp, wrench_msg([0, 0, fz, 0, 0, 0], stamp, 'ft')


def label(stamp, episode, cls, phase, target):
    msg = label_msg(episode, cls, phase, [target], stamp, CLASSES, PHASES, TARGETS)
    return TOPIC['labels'], TYPE['labels'], stamp, msg


LABEL_META = {'xmodal.classes': ','.join(CLASSES), 'xmodal.phases': ','.join(PHASES),
              'xmodal.targets': ','.join(TARGETS)}


def storage_file(bag):
    return next(p for p in Path(bag).iterdir() if p.suffix in ('.mcap', '.db3'))


def cut_in_half(bag):
    f = storage_file(bag)
    data = f.read_bytes()
    f.write_bytes(data[:len(data) // 2])
    return bag


def garbage(bag):
    f = storage_file(bag)
    f.write_bytes(np.random.default_rng(0).bytes(f.stat().st_size))
    return bag
