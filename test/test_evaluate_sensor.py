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

"""`xmodal eval sensor` on the tiny tactile learners of test_train_sensor: seeds, intervals."""
import json

import pytest
from simbags import ROOT, xmodal

pytest.importorskip('torch')
from test_train_sensor import data, stage1_run, train_sensor  # noqa: E402 - after the skip


def test_seeds_make_one_column_compared_with_the_baselines(capfd):
    erm0 = stage1_run().parent
    erm1, aligned = ROOT / 'sensor-runs' / 'erm-seed1', ROOT / 'sensor-runs' / 'aligned-eval'
    assert train_sensor('erm', erm1, '--seed', 1) == 0
    assert train_sensor('aligned', aligned, '--epochs', 3) == 0
    out = ROOT / 'sensor-eval'
    assert xmodal('eval', 'sensor', '--learner', erm0, erm1, aligned, '--bags', data()['eval'],
                  '--out', out, '--bootstrap', 200) == 0
    report = json.loads((out / 'results.json').read_text())
    cols = {c['label']: c for c in report['sensors']['tactile']['columns']}
    assert set(cols) == {'erm (10 % labels)', 'aligned (all labels)'}
    erm = cols['erm (10 % labels)']
    assert erm['seeds'] == [0, 1] and erm['accuracy']['std'] is not None
    acc = erm['accuracy']
    assert acc['mean'] == pytest.approx(sum(acc['per_seed']) / 2)
    assert acc['ci'][0] <= acc['estimate'] <= acc['ci'][1]
    diff = cols['aligned (all labels)']['vs_baselines']['erm (10 % labels)']
    assert diff['estimate'] == pytest.approx(
        cols['aligned (all labels)']['accuracy']['estimate'] - acc['estimate'])
    assert report['sensors']['tactile']['episodes'] == 8
    assert (out / 'accuracy_tactile.png').is_file()
    assert '| erm (10 % labels) | 2 |' in (out / 'results.md').read_text()


def test_a_folder_without_a_learner_is_named(capfd, tmp_path):
    assert xmodal('eval', 'sensor', '--learner', tmp_path, '--bags', data()['eval'], '--out',
                  tmp_path / 'out') == 2
    err = capfd.readouterr().err
    assert str(tmp_path / 'learner.pt') in err and 'xmodal train sensor' in err
