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
`xmodal train sensor` on tiny simulated bags: end to end, and each bad input with its message.

Known sensors camera, depth and force recorded together; the new sensor, tactile, recorded alone
in other episodes (no pairs); held-out tactile bags for accuracy.
"""
import functools
import json

import pytest
from simbags import _needs, ROOT, tiny_config, xmodal

torch = pytest.importorskip('torch')

KNOWN = 'camera,depth,force'
CHANCE = 1 / 8


@functools.cache
def data():
    """Return the tiny bags, sensor YAMLs and training config by name."""
    _needs('mujoco', 'rosbags', 'torch')
    from xmodal_training.sim.record import record_bag
    root = ROOT / 'sensor'
    root.mkdir(parents=True, exist_ok=True)
    out = {'config': tiny_config()}
    for name, seed, episodes, sensors, classes in [
            ('known', 0, 8, ('camera', 'depth', 'force'), None),
            ('new', 100, 16, ('tactile',), None),
            ('eval', 900, 8, ('tactile',), None),
            ('paired', 300, 8, ('tactile', 'force'), None),
            ('few_classes', 400, 4, ('tactile',), ['red_foam_block', 'red_wood_block'])]:
        out[name] = root / name
        record_bag(out[name], episodes=episodes, seed=seed, sensors=sensors, classes=classes,
                   resolution='128x96')
    hidden = root / 'hidden.yaml'        # ground truth on a topic the loader does not read
    hidden.write_text(_hidden_labels_config())
    two = root / 'two_cameras.yaml'      # a second camera: the known camera's perceptor reads it
    two.write_text(_second_camera_config())
    out['two_cameras'] = two
    out['camera2'] = root / 'camera2'
    record_bag(out['camera2'], episodes=8, seed=600, sensors=('camera2',), config=two,
               resolution='128x96')
    out['unlabelled'] = root / 'unlabelled'
    record_bag(out['unlabelled'], episodes=2, seed=500, sensors=('tactile',), config=hidden,
               resolution='128x96')
    return out


def _hidden_labels_config():
    from xmodal_ros.paths import config_path
    text = config_path('sensors.yaml').read_text()
    assert '/xmodal/ground_truth' in text
    return text.replace('/xmodal/ground_truth', '/xmodal/hidden_truth')


def _second_camera_config():
    from xmodal_ros.paths import config_path
    text = config_path('sensors.yaml').read_text()
    camera = text[text.index('  camera:'):text.index('  depth:')]
    second = camera.replace('  camera:', '  camera2:').replace('/camera/', '/camera2/')
    return text.replace(camera, camera + second)


def train_sensor(method, out, *extra, new='new', known=KNOWN, stage1=True):
    d = data()
    argv = ['train', 'sensor', '--method', method, '--new', 'tactile', '--known', known,
            '--bags-known', d['known'], '--bags-new', d[new], '--bags-eval', d['eval'],
            '--epochs', 10, '--out', out, *extra]
    if stage1 and '--bundle' not in extra:
        argv += ['--stage1', stage1_run()]
    return xmodal(*argv)


@functools.cache
def bundle():
    """Return a tiny UMI bundle of the known sensors, on the stage-1 run of the first test."""
    run = ROOT / 'sensor-runs' / 'umi'
    first = stage1_run()
    config = tiny_config(umi={'epochs': 2}, sensors=['camera', 'depth', 'force'])
    assert xmodal('train', 'fusion', '--config', config, '--bags', data()['known'], '--method',
                  'umi', '--pretrained', first, '--out', run) == 0
    assert xmodal('export', '--model', run, '--out', run / 'bundle', '--bags',
                  data()['known']) == 0
    return run / 'bundle'


@functools.cache
def stage1_run():
    """Run erm with no --stage1: the command trains `late` on the known bags itself."""
    out = ROOT / 'sensor-runs' / 'erm'
    assert train_sensor('erm', out, '--config', data()['config'], stage1=False) == 0
    return out / 'stage1'


def summary(out):
    return json.loads((out / 'run.json').read_text())


def test_erm_trains_its_own_stage1_and_writes_a_loadable_learner():
    from xmodal_training.train_sensor import load_learner
    out = stage1_run().parent
    s = summary(out)
    assert (stage1_run() / 'checkpoint.pt').is_file()
    assert s['method'] == 'erm' and s['known'] == ['camera', 'depth', 'force']
    assert s['labels'] == 'fraction' and 0 < s['labelled'] < s['new_samples']
    assert s['pairs'] == 0 and s['known_probs_on_new'] is False
    assert (out / 'curves.json').is_file()
    ckpt = torch.load(out / 'learner.pt', weights_only=True)
    assert ckpt['sensor'] == 'tactile' and ckpt['sensor_spec']['kind'] == 'grid'
    assert len(ckpt['classes']) == 8
    learner, _ = load_learner(out / 'learner.pt')
    x = torch.zeros(3, *ckpt['sensor_spec']['input_shape'])
    assert learner(x).shape == (3, 8)
    print(f'erm (10 % labels): held-out accuracy {s["eval_accuracy"]:.3f}')


def test_aligned_beats_chance_and_reuses_cached_features(capfd):
    stage1_run()
    capfd.readouterr()
    out = ROOT / 'sensor-runs' / 'aligned'
    assert train_sensor('aligned', out) == 0
    assert 'known features from cache' in capfd.readouterr().err
    s = summary(out)
    assert s['features_cache'] == summary(stage1_run().parent)['features_cache']
    assert s['labels'] == 'all' and s['labelled'] == s['new_samples']
    print(f'aligned: held-out accuracy {s["eval_accuracy"]:.3f} ({s["eval_samples"]} samples, '
          f'{s["train_seconds"]} s)')
    assert s['eval_accuracy'] > 1.5 * CHANCE


def test_cox_semi_supervised_runs_on_class_pairs():
    out = ROOT / 'sensor-runs' / 'cox'
    assert train_sensor('cox', out) == 0
    s = summary(out)
    assert s['method'] == 'cox_semi' and s['pairs'] == s['labelled'] > 0
    assert (out / 'learner.pt').is_file()
    assert json.loads((out / 'curves.json').read_text())['epochs']
    print(f'cox (10 % labels): held-out accuracy {s["eval_accuracy"]:.3f} '
          f'({s["train_seconds"]} s)')


def test_undeclared_new_sensor(capfd):
    d = data()
    assert xmodal('train', 'sensor', '--method', 'erm', '--new', 'sonar', '--known', KNOWN,
                  '--bags-known', d['known'], '--bags-new', d['new'], '--out',
                  ROOT / 'sensor-runs' / 'x') == 2
    err = capfd.readouterr().err
    assert '--new sonar' in err and 'declares no such sensor' in err and '--sensors-config' in err


def test_stage1_without_a_known_sensor(capfd):
    assert train_sensor('erm', ROOT / 'sensor-runs' / 'x', known='camera,wrist_imu') == 2
    err = capfd.readouterr().err
    assert str(stage1_run()) in err and 'has no wrist_imu' in err


def test_different_class_sets(capfd):
    assert train_sensor('erm', ROOT / 'sensor-runs' / 'x', new='few_classes') == 2
    err = capfd.readouterr().err
    assert 'class sets differ' in err and str(data()['known']) in err


def test_empty_labelled_set(capfd):
    assert train_sensor('entmin', ROOT / 'sensor-runs' / 'x', new='unlabelled') == 2
    err = capfd.readouterr().err
    assert 'labelled set is empty' in err and str(data()['unlabelled']) in err
    assert '--unsupervised' in err


def test_unsupervised_cox_needs_compatible_known_classifiers(capfd):
    assert train_sensor('cox', ROOT / 'sensor-runs' / 'x', '--unsupervised') == 2
    err = capfd.readouterr().err
    assert 'tactile is grid' in err and 'Drop --unsupervised' in err


def test_paired_new_bags_warn_and_pairs_stay_unused(capfd):
    out = ROOT / 'sensor-runs' / 'paired'
    assert train_sensor('cox', out, '--epochs', 2, new='paired') == 0
    err = capfd.readouterr().err
    s = summary(out)
    assert f'{data()["paired"]} also records known sensor(s) force: {s["new_samples"]} ' \
        'samples' in err
    assert s['pairs'] == s['labelled']     # class-level pairs of the labelled few only


def test_cox_from_a_bundle_fits_known_heads():
    out = ROOT / 'sensor-runs' / 'bundle-cox'
    assert train_sensor('cox', out, '--bundle', bundle(), '--epochs', 2) == 0
    s = summary(out)
    assert s['bundle'] == str(bundle().resolve()) and s['stage1'] is None
    assert s['perceptors_method'] == 'umi' and s['pairs'] == s['labelled'] > 0
    assert s['features_cache'] != summary(stage1_run().parent)['features_cache']


def test_bundle_without_a_known_sensor(capfd):
    assert train_sensor('erm', ROOT / 'sensor-runs' / 'x', '--bundle', bundle(),
                        known='camera,wrist_imu') == 2
    err = capfd.readouterr().err
    assert f'--bundle {bundle()}' in err and 'has no wrist_imu' in err


def test_unsupervised_cox_on_a_second_camera_reads_the_known_classifiers():
    d = data()
    out = ROOT / 'sensor-runs' / 'camera2'
    assert xmodal('train', 'sensor', '--method', 'cox', '--unsupervised', '--new', 'camera2',
                  '--known', 'camera', '--bags-known', d['known'], '--bags-new', d['camera2'],
                  '--stage1', stage1_run(), '--sensors-config', d['two_cameras'], '--epochs', 2,
                  '--set', 'warmup_epochs=1', '--out', out) == 0
    s = summary(out)
    assert s['method'] == 'cox_unsupervised' and s['labelled'] == 0 and s['pairs'] == 0
    assert s['known_probs_on_new'] is True and s['config']['warmup_epochs'] == 1
