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
Training end to end on real simulated bags.

It learns, it is reproducible, and bad input fails with a message naming the path at fault.
"""
import json
import re

import pytest
from simbags import bags, tiny_config, trained, xmodal
import torch

from xmodal_ros.paths import config_path
from xmodal_training.checkpoint import load_run, RunError

import yaml


def test_umi_learns_and_beats_chance_on_unseen_episodes(tmp_path):
    run = trained('umi')
    curves = json.loads((run / 'curves.json').read_text())
    assert curves[-1]['loss'] < curves[0]['loss']
    stage1 = json.loads((run / 'stage1' / 'curves.json').read_text())
    assert stage1[-1]['loss'] < stage1[0]['loss']
    assert xmodal('eval', '--model', run, '--bags', bags()['test'], '--out', tmp_path) == 0
    result = json.loads((tmp_path / 'results.json').read_text())['models'][0]
    chance = result['chance_accuracy']
    subsets = result['subsets']
    assert len(subsets) == 15
    # The all-sensor combination never appears in training (splits hold camera+depth and
    # tactile+force); it must still be clearly better than guessing.
    assert subsets['camera+depth+tactile+force']['accuracy'] > 2 * chance, subsets
    for name in ('results.md', 'subsets.png', 'confusion_umi.png', 'curves_umi.png'):
        assert (tmp_path / name).is_file(), name


def test_checkpoint_holds_config_and_loads_weights_only():
    ckpt = load_run(trained('umi'))
    assert ckpt['method'] == 'umi' and ckpt['train_config']['umi']['k_tokens'] == 8
    assert ckpt['sensors'] == ['camera', 'depth', 'tactile', 'force']
    raw = torch.load(trained('umi') / 'checkpoint.pt', weights_only=True)
    assert set(raw['model']) and all(isinstance(v, torch.Tensor) for v in raw['model'].values())


def train_late(out, seed, config):
    b = bags()
    return xmodal('train', 'fusion', '--config', config, '--bags', b['a'], b['b'], '--out', out,
                  '--method', 'late', '--seed', seed)


def test_same_seed_gives_same_weights(tmp_path):
    config = tiny_config(tmp_path / 'c.yaml', unimodal={'epochs': 2, 'pseudo_label_epochs': 1})
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        assert train_late(tmp_path / name, seed, config) == 0
    a, b, c = (load_run(tmp_path / n) for n in 'abc')
    for k, v in a['model'].items():
        assert torch.equal(v, b['model'][k]), k
    assert torch.equal(a['pseudo']['probs'], b['pseudo']['probs'])
    assert any(not torch.equal(v, c['model'][k]) for k, v in a['model'].items())


def test_bad_bags_fail_with_the_path(tmp_path, capsys):
    b = bags()
    config = tiny_config(tmp_path / 'c.yaml')

    def train(*bag_args, method='umi', config=config, extra=()):
        status = xmodal('train', 'fusion', '--config', config, '--bags', *bag_args,
                        '--out', tmp_path / 'run', '--method', method, *extra)
        return status, capsys.readouterr().err

    status, err = train(b['a'], b['b'], method='oracle')
    assert status != 0 and str(b['a']) in err and 'oracle' in err

    with_imu = tiny_config(tmp_path / 'imu.yaml',
                           sensors=['camera', 'depth', 'tactile', 'force', 'wrist_imu'])
    status, err = train(b['a'], b['b'], config=with_imu)
    assert status != 0 and 'no bag records wrist_imu' in err

    status, err = train(b['a'], b['b'], config=tiny_config(tmp_path / 'x.yaml', sensors=['lidar']))
    assert status != 0 and 'lidar' in err and 'sensors.yaml' in err

    four = tiny_config(tmp_path / 'four.yaml', sensors=['camera', 'depth', 'tactile', 'force'])
    status, err = train(b['a'], config=four)
    assert status != 0 and 'tactile' in err and 'no bag records' in err

    status, err = train(b['a'], tmp_path / 'nope')
    assert status != 0 and str(tmp_path / 'nope') in err

    unlabelled = unlabelled_sensors_yaml(tmp_path / 'sensors.yaml')
    status, err = train(b['a'], b['b'], extra=('--sensors-config', unlabelled))
    assert status != 0 and str(b['a']) in err and 'no labels' in err

    assert not (tmp_path / 'run' / 'checkpoint.pt').exists()


def unlabelled_sensors_yaml(path):
    """
    Return the sensor YAML without its ground-truth topic.

    Bags read through it are unlabelled.
    """
    sensors = yaml.safe_load(config_path('sensors.yaml').read_text())
    sensors.pop('labels')
    path.write_text(yaml.safe_dump(sensors))
    return path


def test_eval_needs_labelled_bags(tmp_path, capsys):
    status = xmodal('eval', '--model', trained('umi'), '--bags', bags()['test'], '--out', tmp_path,
                    '--sensors-config', unlabelled_sensors_yaml(tmp_path / 's.yaml'))
    assert status != 0 and str(bags()['test']) in capsys.readouterr().err
    assert not (tmp_path / 'results.json').exists()


def test_pretrained_must_match_the_bags(tmp_path, capsys):
    b = bags()
    status = xmodal('train', 'fusion', '--config', tiny_config(tmp_path / 'c.yaml'), '--bags',
                    b['b'], b['a'], '--out', tmp_path / 'run', '--pretrained',
                    trained('umi') / 'stage1')
    assert status != 0 and 'trained on other samples' in capsys.readouterr().err


def test_incomplete_or_tampered_run_is_refused(tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    with pytest.raises(RunError, match=re.escape(str(run / 'run.json'))):
        load_run(run)
    for name in ('run.json', 'checkpoint.pt'):
        (run / name).write_bytes((trained('umi') / name).read_bytes())
    assert load_run(run)['method'] == 'umi'
    with open(run / 'checkpoint.pt', 'ab') as f:
        f.write(b'\0')
    with pytest.raises(RunError, match=r'checkpoint\.pt: SHA-256'):
        load_run(run)
