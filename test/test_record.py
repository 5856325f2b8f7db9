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

"""`xmodal sim record` writes real rosbag2 files that decode to exactly the simulated arrays."""
import functools

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from xmodal_ros import cli
from xmodal_ros.conversions import IMAGE_ENCODINGS, image_to_array, stamp_ns
from xmodal_ros.paths import config_path
from xmodal_ros.sensors import load_sensor_config
from xmodal_training.sim.episode import PHASES, simulate_episode, TARGETS
from xmodal_training.sim.messages import TYPESTORE
from xmodal_training.sim.objects import CLASSES
from xmodal_training.sim.record import EPISODE_GAP_S, episode_start_ns, record_bag, sim_sources

import yaml

HW = (96, 128)
SEED = 7


@functools.lru_cache(maxsize=None)
def reference(depth_encoding):
    config = load_sensor_config()
    sources, kwargs = sim_sources(config, config.names, HW, depth_encoding)
    return sources, simulate_episode(SEED, CLASSES[SEED % len(CLASSES)],
                                     sources=tuple(sources.values()),
                                     start_ns=episode_start_ns(0), **kwargs)


def raw_array(kind, msg):
    """Return a recorded message back as the simulator's array row, whatever its kind."""
    if kind == 'wrench':
        f, t = msg.wrench.force, msg.wrench.torque
        return np.array([f.x, f.y, f.z, t.x, t.y, t.z])
    if kind == 'imu':
        o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        return np.array([o.x, o.y, o.z, o.w, w.x, w.y, w.z, a.x, a.y, a.z])
    if kind == 'joints':
        return np.stack([msg.position, msg.velocity, msg.effort])
    return image_to_array(msg, tuple(IMAGE_ENCODINGS))


def read_bag(path):
    """Map each topic to (log times, header stamps, frame ids, decoded messages)."""
    out = {}
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            msg = TYPESTORE.deserialize_cdr(raw, conn.msgtype)
            rec = out.setdefault(conn.topic, ([], [], [], []))
            rec[0].append(t)
            rec[1].append(stamp_ns(msg.header))
            rec[2].append(msg.header.frame_id)
            rec[3].append(msg)
    return out


def metadata(path):
    with open(path / 'metadata.yaml') as f:
        return yaml.safe_load(f)['rosbag2_bagfile_information']


@pytest.mark.parametrize('storage,depth_encoding', [('mcap', '32FC1'), ('mcap', '16UC1'),
                                                    ('sqlite3', '32FC1'), ('sqlite3', '16UC1')])
def test_round_trip_reproduces_the_arrays(tmp_path, storage, depth_encoding):
    out = tmp_path / 'bag'
    summary = record_bag(out, episodes=1, seed=SEED, storage=storage, resolution=HW,
                         depth_encoding=depth_encoding)
    (sources, ref), cfg = reference(depth_encoding), load_sensor_config()
    bag = read_bag(out)
    assert set(bag) == {cfg[s].topic for s in cfg.names} | {cfg.labels['topic']}
    assert len(sources) == len(ref.streams) == 6
    for name, source in sources.items():
        stream, spec = ref.streams[source], cfg[name]
        log_t, stamps, frames, msgs = bag[spec.topic]
        np.testing.assert_array_equal(log_t, stream.stamps_ns)
        np.testing.assert_array_equal(stamps, stream.stamps_ns)
        assert set(frames) == {spec.layout['frame_id']}
        got = np.stack([raw_array(spec.kind.name, m) for m in msgs])
        if not spec.kind.windowed:
            assert {m.encoding for m in msgs} == {ref.encodings[source]}
            assert got.dtype == stream.data.dtype
        np.testing.assert_array_equal(got, stream.data)
        # the recorded rate is the configured one
        assert len(msgs) / 4.0 == pytest.approx(spec.rate_hz, rel=0.02)
    log_t, stamps, _, labels = bag[cfg.labels['topic']]
    np.testing.assert_array_equal(log_t, ref.label_stamps_ns)
    np.testing.assert_array_equal(stamps, ref.label_stamps_ns)
    for msg, phase, target in zip(labels, ref.phase, ref.targets):
        assert list(msg.name) == ['episode', f'class/{ref.class_name}', f'phase/{PHASES[phase]}',
                                  *[f'target/{t}' for t in TARGETS]]
        np.testing.assert_array_equal(msg.position, [0, ref.class_index, phase, *target])
    meta = metadata(out)
    custom = meta['custom_data']
    assert custom['xmodal.classes'].split(',') == list(CLASSES)
    assert custom['xmodal.phases'].split(',') == list(PHASES)
    assert custom['xmodal.targets'].split(',') == list(TARGETS)
    qos = {t['topic_metadata']['name']: t['topic_metadata']['offered_qos_profiles'][0]
           for t in meta['topics_with_message_count']}
    assert qos[cfg.labels['topic']]['reliability'] == 'reliable'
    assert qos[cfg['camera'].topic]['reliability'] == 'best_effort'
    assert summary['messages'] == {t: len(v[0]) for t, v in bag.items()}


def test_sensor_subset_custom_config_and_episode_layout(tmp_path, capsys):
    cfg = yaml.safe_load(config_path('sensors.yaml').read_text())
    cfg['sensors']['tactile'].update(topic='/my_robot/skin', rows=4, cols=6, rate_hz=50.0)
    cfg['labels']['topic'] = '/my_robot/truth'
    config = tmp_path / 'sensors.yaml'
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / 'bag'
    rc = cli.main(['sim', 'record', '--out', str(out), '--episodes', '2', '--seed', '3',
                   '--sensors', 'tactile,force', '--storage', 'sqlite3', '--config', str(config),
                   '--classes', 'blue_steel_ball,red_foam_block'])
    assert rc == 0
    printed = capsys.readouterr().out
    assert 'Recorded 2 episodes' in printed and '/my_robot/skin 400' in printed
    bag = read_bag(out)
    assert set(bag) == {'/my_robot/skin', '/wrist/wrench', '/my_robot/truth'}
    skin = bag['/my_robot/skin'][3]
    assert len(skin) == 2 * 200 and image_to_array(skin[0], ('32FC1',)).shape == (4, 12)
    stamps = np.array(bag['/wrist/wrench'][1])
    first, second = stamps[stamps < episode_start_ns(1)], stamps[stamps >= episode_start_ns(1)]
    assert first[0] == episode_start_ns(0) == round(EPISODE_GAP_S * 1e9)
    assert second[0] - first[-1] == pytest.approx(EPISODE_GAP_S * 1e9, abs=5e6)
    truth = bag['/my_robot/truth'][3]
    classes = [m.name[1] for m in truth]
    # episode i gets classes[(seed + i) % 2]
    assert classes[0] == 'class/red_foam_block' and classes[-1] == 'class/blue_steel_ball'
    assert {m.position[0] for m in truth} == {0.0, 1.0}


def test_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / 'bag'
    out.mkdir()
    (out / 'keep.txt').write_text('old recording')
    rc = cli.main(['sim', 'record', '--out', str(out), '--episodes', '1', '--sensors', 'force'])
    assert rc == 2
    assert 'already exists' in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ['keep.txt']


def test_bad_arguments_are_explained(tmp_path, capsys):
    base = ['sim', 'record', '--out', str(tmp_path / 'bag'), '--episodes', '1']
    assert cli.main(base + ['--sensors', 'camera,lidar']) == 2
    assert '--sensors' in capsys.readouterr().err
    assert cli.main(base + ['--classes', 'purple_cube']) == 2
    assert 'purple_cube' in capsys.readouterr().err
    assert cli.main(base + ['--resolution', '640by480']) == 2
    assert 'WxH' in capsys.readouterr().err
    assert not (tmp_path / 'bag').exists()
