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
A robot with sensors the project never shipped, brought in by YAML alone.

A 24x40 thermal array (kind grid, 32FC1, 20 Hz) and an arm's joint states (kind joints, position +
velocity of two named joints among others, 50 Hz). Bags written by a small writer here record each
sensor apart (modality-incomplete), then: train, evaluate every subset, export with its parity
check, and fuse live in the node, with no code change anywhere.
"""
import json
import time

from bagfixtures import write_bag
import numpy as np
import pytest
from rosproc import Driver, start_fuse, stop, values
from simbags import tiny_config, xmodal

from xmodal_ros.bundle import load_bundle
from xmodal_ros.sensors import load_sensor_config
from xmodal_training.sim.messages import image_msg, joint_state_msg, label_msg

import yaml

CLASSES, PHASES, TARGETS = ('cold', 'warm', 'hot'), ('idle', 'busy'), ('load',)
SENSORS_YAML = {
    'sensors': {
        'thermal': {'kind': 'grid', 'topic': '/thermal/image', 'msg_type': 'sensor_msgs/msg/Image',
                    'encoding': '32FC1', 'rows': 24, 'cols': 40, 'rate_hz': 20.0,
                    'preprocess': {'scale': 50.0, 'compress': 'none'}},
        'arm': {'kind': 'joints', 'topic': '/arm/joint_states',
                'msg_type': 'sensor_msgs/msg/JointState', 'joints': ['shoulder', 'elbow'],
                'fields': ['position', 'velocity'], 'rate_hz': 50.0,
                'preprocess': {'window': 16}},
    },
    'labels': {'topic': '/truth', 'msg_type': 'sensor_msgs/msg/JointState'},
}
NODE_PARAMS = {'fuse_node': {'ros__parameters': {
    'rate_hz': 50.0, 'diagnostics_period': 0.5,
    'thermal': {'enabled': True, 'timeout': 0.3, 'queue_depth': 5, 'encode': 'arrival'},
    'arm': {'enabled': True, 'timeout': 0.2, 'queue_depth': 20, 'encode': 'tick'}}}}
MS = 1_000_000
EPISODE_MS, GAP_MS = 1500, 1000


def episode_messages(index, cls, sensors, rng):
    """
    Return one episode's messages.

    The thermal array's mean temperature and the arm's swing speed both tell the class (noisily),
    so either sensor alone and both together can learn it.
    """
    t0 = GAP_MS + index * (EPISODE_MS + GAP_MS)
    msgs = []
    if 'thermal' in sensors:
        for t in range(t0, t0 + EPISODE_MS, 50):
            img = (20.0 + 15.0 * cls + rng.normal(0, 6.0, (24, 40))).astype(np.float32)
            msgs.append(('/thermal/image', 'sensor_msgs/msg/Image', t * MS,
                         image_msg(img, '32FC1', t * MS, 'thermal')))
    if 'arm' in sensors:
        speed = 0.5 + 0.5 * cls + rng.normal(0, 0.15)
        for t in range(t0, t0 + EPISODE_MS, 20):
            phase = speed * (t - t0) / 1000.0
            # shoulder, elbow, and a third joint the sensor does not use; the message lists them
            # in another order than the YAML
            pos = [np.sin(phase), 0.5 * np.cos(phase), 0.0]
            vel = [speed * np.cos(phase), -0.5 * speed * np.sin(phase), 0.0]
            msgs.append(('/arm/joint_states', 'sensor_msgs/msg/JointState', t * MS,
                         joint_state_msg(['gripper', 'elbow', 'shoulder'], pos[::-1],
                                         vel[::-1], [0.0] * 3, t * MS, 'arm')))
    for t in range(t0, t0 + EPISODE_MS, 10):
        msgs.append(('/truth', 'sensor_msgs/msg/JointState', t * MS,
                     label_msg(index, cls, int(t - t0 > 500), [0.1 * cls], t * MS, CLASSES,
                               PHASES, TARGETS)))
    return msgs


def write_robot_bag(path, sensors, episodes, seed):
    rng = np.random.default_rng(seed)
    msgs = []
    for i in range(episodes):
        msgs += episode_messages(i, i % len(CLASSES), sensors, rng)
    custom = {'xmodal.classes': ','.join(CLASSES), 'xmodal.phases': ','.join(PHASES),
              'xmodal.targets': ','.join(TARGETS)}
    return write_bag(path, msgs, custom=custom)


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    root = tmp_path_factory.mktemp('robot')
    (root / 'sensors.yaml').write_text(yaml.safe_dump(SENSORS_YAML, sort_keys=False))
    (root / 'fuse.yaml').write_text(yaml.safe_dump(NODE_PARAMS, sort_keys=False))
    return {'root': root, 'sensors': root / 'sensors.yaml', 'params': root / 'fuse.yaml',
            'thermal_only': write_robot_bag(root / 'thermal_only', ('thermal',), 12, 0),
            'arm_only': write_robot_bag(root / 'arm_only', ('arm',), 12, 1),
            'both': write_robot_bag(root / 'both', ('thermal', 'arm'), 6, 2)}


def test_custom_sensors_train_evaluate_export_and_fuse_live(robot):
    root = robot['root']
    config = load_sensor_config(robot['sensors'])
    assert config['thermal'].input_shape == (1, 24, 40) and config['arm'].input_shape == (4, 16)
    common = ('--sensors-config', robot['sensors'], '--node-params', robot['params'])
    train_cfg = tiny_config(root / 'train.yaml', unimodal={'epochs': 12, 'pseudo_label_epochs': 5})
    assert xmodal('train', 'fusion', '--config', train_cfg, '--bags', robot['thermal_only'],
                  robot['arm_only'], '--out', root / 'run', '--method', 'umi', *common) == 0

    assert xmodal('eval', '--model', root / 'run', '--bags', robot['both'], '--out',
                  root / 'eval', *common) == 0
    result = json.loads((root / 'eval' / 'results.json').read_text())['models'][0]
    assert result['sensors'] == ['thermal', 'arm']
    assert set(result['subsets']) == {'thermal', 'arm', 'thermal+arm'}
    assert result['subsets']['thermal+arm']['accuracy'] > 0.6        # chance 1/3, never paired

    assert xmodal('export', '--model', root / 'run', '--out', root / 'bundle', '--bags',
                  robot['both'], '--sensors-config', robot['sensors']) == 0
    bundle = load_bundle(root / 'bundle')
    assert {s: (g.kind, g.input_shape) for s, g in bundle.sensors.items()} == {
        'thermal': ('grid', (1, 24, 40)), 'arm': ('joints', (4, 16))}
    assert len(bundle.manifest['export']['parity']['per_subset']) == 3

    proc = start_fuse(robot['params'], root / 'bundle', sensors=robot['sensors'])
    driver = Driver(config=config)
    try:
        assert driver.wait_for_subscribers(timeout=30), stop(proc)[1]
        start = driver.now()
        driver.run(1.5, {'thermal': 20.0, 'arm': 50.0})
        preds = [m for _, m in driver.received('predictions', start + int(0.8e9))]
        assert len(preds) > 10
        assert all(values(m)['live/thermal'] == values(m)['live/arm'] == 1.0 for m in preds)
        assert set(preds[-1].name) >= {f'class/{c}' for c in CLASSES}
        time.sleep(0.1)
    finally:
        driver.close()
        code, out = stop(proc)
    assert code == 0, out
