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
`xmodal bag info` on simulator bags (both storage formats, sensor subsets), an unlabelled bag.

A bag with a mistyped topic and a corrupt one.
"""
import shutil

from bagfixtures import camera, cut_in_half, force, MS, TOPIC, TYPE, write_bag
import pytest

from xmodal_ros import cli
from xmodal_ros.sensors import load_sensor_config
from xmodal_training.sim.objects import CLASSES
from xmodal_training.sim.record import record_bag


@pytest.fixture(scope='module')
def sim_bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('sim')
    return {
        'full': record_bag(root / 'full', episodes=3, seed=0, resolution='64x48'),
        'touch': record_bag(root / 'touch', episodes=1, seed=5, sensors=('tactile', 'force'),
                            storage='sqlite3', resolution='64x48'),
    }


def info(capsys, bag):
    rc = cli.main(['bag', 'info', str(bag)])
    out, err = capsys.readouterr()
    return rc, out, err


def rows(out):
    """Map each topic to the table row's cells after the topic."""
    table = {}
    for line in out.splitlines():
        if line.startswith('/'):
            topic, *cells = line.split()
            table[topic] = cells
    return table


def test_full_sim_bag(sim_bags, capsys):
    summary = sim_bags['full']
    rc, out, _ = info(capsys, summary['out'])
    assert rc == 0
    assert 'storage:  mcap' in out and 'duration: ' in out
    table = rows(out)
    assert set(table) == set(TOPIC.values())
    config = load_sensor_config()
    for role, topic in TOPIC.items():
        msgtype, sensor, count, rate, *images = table[topic]
        name = role if role == 'labels' else f'{role}:{config[role].kind.name}'
        assert (msgtype, sensor, int(count)) == (TYPE[role], name, summary['messages'][topic])
        if role != 'labels':
            assert float(rate) == pytest.approx(config[role].rate_hz, rel=0.05)
    assert table[TOPIC['camera']][4:] == ['64x48', 'rgb8']
    assert table[TOPIC['depth']][4:] == ['64x48', '32FC1']
    assert table[TOPIC['tactile']][4:] == ['16x8', '32FC1']
    assert f'sensors:  {", ".join(config.names)}' in out
    assert 'labels:   3 episode(s), ' in out
    seen = ', '.join(f'{c} 1' for c in CLASSES[:3])
    assert f'classes: {seen} episode(s) (3 of the {len(CLASSES)} known classes seen)' in out
    assert 'phases:  approach ' in out and 'targets: grip_force_future' in out
    assert 'problem' not in out


def test_sensor_subset_in_sqlite(sim_bags, capsys):
    rc, out, _ = info(capsys, sim_bags['touch']['out'])
    assert rc == 0 and 'storage:  sqlite3' in out
    assert set(rows(out)) == {TOPIC['tactile'], TOPIC['force'], TOPIC['labels']}
    assert 'sensors:  tactile, force' in out and 'labels:   1 episode(s)' in out


def test_unlabelled_bag_with_a_mistyped_topic(tmp_path, capsys):
    msgs = [camera(k * 33 * MS, k) for k in range(20)]
    msgs += [(TOPIC['tactile'], TYPE['force'], s, m)
             for _, _, s, m in (force(k * 2 * MS, 1.0) for k in range(50))]
    rc, out, _ = info(capsys, write_bag(tmp_path / 'bag', msgs, storage='sqlite3'))
    assert rc == 0
    assert rows(out)[TOPIC['tactile']][:2] == [TYPE['force'], '-']
    assert rows(out)[TOPIC['camera']][:4] == [TYPE['camera'], 'camera:rgb', '20', '30.3']
    assert 'sensors:  camera' in out and 'labels:   none' in out
    assert (f'problem:  {tmp_path / "bag"}: topic {TOPIC["tactile"]} has type {TYPE["force"]}'
            in out)


def test_corrupt_bag(sim_bags, tmp_path, capsys):
    bag = cut_in_half(shutil.copytree(sim_bags['touch']['out'], tmp_path / 'bag'))
    rc, out, err = info(capsys, bag)
    assert rc == 1 and out == ''
    assert f'xmodal bag info: {bag}: cannot read the bag' in err
