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
Sensors as configuration.

The sensors.yaml loader's contract and its errors, the node's settings, and bundles of every format
(runtime side only: no torch, MuJoCo or rosbags).
"""
import shutil

from bundles import make_bundle
import pytest

from xmodal_ros.bundle import load_bundle, write_manifest
from xmodal_ros.kinds import KINDS
from xmodal_ros.model import FusionModel
from xmodal_ros.paths import config_path
from xmodal_ros.sensors import (declared_spec, load_node_settings, load_sensor_config,
                                parse_sensor_config, SensorConfigError)

import yaml

PACKAGE = yaml.safe_load(config_path('sensors.yaml').read_text())


def edited(**changes):
    """
    Return the package's sensors.yaml document with ``changes`` applied.

    ``changes``: {'sensor.key': value}; value None deletes the key.
    """
    doc = yaml.safe_load(config_path('sensors.yaml').read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split('.')
        node = doc
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    return doc


def test_package_config_declares_six_sensors_of_six_kinds():
    config = load_sensor_config()
    assert config.names == ('camera', 'depth', 'tactile', 'force', 'finger_joints', 'wrist_imu')
    assert sorted(s.kind.name for s in config.sensors.values()) == sorted(KINDS)
    shapes = {n: s.input_shape for n, s in config.sensors.items()}
    assert shapes == {'camera': (3, 48, 64), 'depth': (2, 48, 64), 'tactile': (2, 8, 8),
                      'force': (6, 64), 'finger_joints': (4, 32), 'wrist_imu': (6, 64)}
    assert config.labels['topic'] == '/xmodal/ground_truth'
    # A second camera is a YAML block, nothing else.
    doc = edited(**{'sensors.wrist_camera': dict(PACKAGE['sensors']['camera'],
                                                 topic='/wrist_camera/image_raw')})
    two = parse_sensor_config(doc, 'two.yaml')
    assert two['wrist_camera'].kind is two['camera'].kind and len(two.names) == 7


@pytest.mark.parametrize('changes, words', [
    ({'sensors.depth.kind': 'lidar'}, "sensors.depth.kind: 'lidar' is not a sensor kind"),
    ({'sensors.depth.topic': '/camera/color/image_raw'},
     'sensors.depth.topic: /camera/color/image_raw is also sensors.camera.topic'),
    ({'sensors.force.msg_type': 'sensor_msgs/msg/Imu'},
     "sensors.force.msg_type: 'sensor_msgs/msg/Imu' does not match kind wrench"),
    ({'sensors.force.preprocess.window': 0}, 'sensors.force.window: 0'),
    ({'sensors.tactile.rows': 0}, 'sensors.tactile.rows: 0'),
    ({'sensors.camera.preprocess.out_hw': [0, 64]}, 'sensors.camera.out_hw[0]: 0'),
    ({'sensors.camera.width': 0}, 'sensors.camera.width: 0'),
    ({'sensors.finger_joints.joints': []}, 'sensors.finger_joints.joints: []'),
    ({'sensors.finger_joints.fields': ['torque']}, 'sensors.finger_joints.fields'),
    ({'sensors.tactile.rows': None}, 'sensors.tactile: kind grid needs rows'),
    ({'sensors.wrist_imu.preprocess.gain': 2}, 'sensors.wrist_imu.preprocess: unknown key'),
    ({'sensors.wrist_imu.colour': 'red'}, 'sensors.wrist_imu: unknown key(s) colour'),
    ({'sensors.labels': {'kind': 'rgb', 'topic': '/x'}}, '"labels" names the ground truth'),
    ({'labels.topic': '/wrist/wrench'}, 'labels.topic: /wrist/wrench is also'),
])
def test_bad_sensor_config_names_the_file_and_key(tmp_path, changes, words):
    path = tmp_path / 'sensors.yaml'
    path.write_text(yaml.safe_dump(edited(**changes)))
    with pytest.raises(SensorConfigError) as err:
        load_sensor_config(path)
    assert str(err.value).startswith(f'{path}: ') and words in str(err.value), str(err.value)


def test_node_settings_come_from_the_parameter_file_or_the_kind(tmp_path):
    config = load_sensor_config()
    settings = load_node_settings(config)
    assert settings['camera'] == {'enabled': True, 'timeout': 0.2, 'queue_depth': 1,
                                  'encode': 'thread'}
    params = tmp_path / 'fuse.yaml'
    params.write_text(yaml.safe_dump({'fuse_node': {'ros__parameters': {
        'wrist_imu': {'timeout': 0.05}}}}))
    settings = load_node_settings(config, params)
    assert settings['wrist_imu']['timeout'] == 0.05
    assert settings['camera'] == {'enabled': True, **config['camera'].kind.node_defaults}
    params.write_text(yaml.safe_dump({'fuse_node': {'ros__parameters': {
        'force': {'timeout': 0}}}}))
    with pytest.raises(SensorConfigError, match=f'{params}: force.timeout=0'):
        load_node_settings(config, params)


def test_bundle_and_sensors_yaml_must_agree(tmp_path):
    bundle = load_bundle(make_bundle(tmp_path / 'b'))
    config = load_sensor_config()
    spec = declared_spec('tactile', bundle.declaration('tactile'), config, 'bundle B')
    assert spec.topic == '/tactile/pressure' and spec.params == config['tactile'].params
    other = parse_sensor_config(edited(**{'sensors.tactile.rows': 16}), 'robot.yaml')
    with pytest.raises(SensorConfigError, match='robot.yaml: sensors.tactile.rows is 16; bundle B '
                                                'was trained with 8'):
        declared_spec('tactile', bundle.declaration('tactile'), other, 'bundle B')
    renamed = parse_sensor_config(edited(**{'sensors.tactile': None}), 'robot.yaml')
    with pytest.raises(SensorConfigError, match="declares no sensor 'tactile'"):
        declared_spec('tactile', bundle.declaration('tactile'), renamed, 'bundle B')
    wrong_kind = parse_sensor_config(edited(**{'sensors.force.kind': 'imu',
                                               'sensors.force.msg_type': 'sensor_msgs/msg/Imu'}),
                                     'robot.yaml')
    with pytest.raises(SensorConfigError, match='sensors.force.kind is imu'):
        declared_spec('force', bundle.declaration('force'), wrong_kind, 'bundle B')


def test_format_1_bundles_still_load(tmp_path):
    """
    Load a bundle exported before sensor kinds with the kinds its names had, and run it.

    format_version 1: four fixed sensor names, tactile scale as scale_kpa.
    """
    root = make_bundle(tmp_path / 'v1', sensors=('camera', 'depth', 'tactile', 'force'))
    manifest = load_bundle(root).manifest
    for s, entry in manifest['sensors'].items():
        entry.pop('kind')
        entry.pop('msg_type')
    entry = manifest['sensors']['tactile']['preprocess']
    entry['scale_kpa'] = entry.pop('scale')
    entry.pop('max_abs')
    manifest.pop('files')
    write_manifest(root, manifest)
    text = (root / 'manifest.yaml').read_text().replace('format_version: 2', 'format_version: 1')
    (root / 'manifest.yaml').write_text(text)
    bundle = load_bundle(root)
    assert [bundle.sensors[s].kind for s in bundle.sensors] == ['rgb', 'depth', 'grid', 'wrench']
    spec = declared_spec('tactile', bundle.declaration('tactile'), load_sensor_config(), 'v1')
    assert spec.params['scale'] == 10.0 and spec.params['max_abs'] == 1e6
    FusionModel(bundle).close()
    # A format_version 1 bundle naming a sensor of its own cannot be read as such.
    odd = shutil.copytree(root, tmp_path / 'odd')
    text = (odd / 'manifest.yaml').read_text().replace('  force:\n', '  wrench_sensor:\n')
    (odd / 'manifest.yaml').write_text(text)
    from xmodal_ros.bundle import BundleError
    with pytest.raises(BundleError, match="'wrench_sensor' has no known kind; re-export"):
        load_bundle(odd)
