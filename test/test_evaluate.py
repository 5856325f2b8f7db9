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
`xmodal eval`: bundles evaluated without torch, seeds grouped, intervals over episodes.

The bootstrap is checked on cases whose interval is known in closed form; the bundle path in a
process where importing torch fails; the bundle's accuracies against its own training run's.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
from simbags import bags, exported, ROOT, tiny_config, trained, xmodal

from xmodal_training.stats import EpisodeBootstrap


def _binomial_quantile(n, q):
    """Smallest k with P(Binomial(n, 1/2) <= k) >= q."""
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) / 2 ** n
        if total >= q:
            return k
    return n


def test_bootstrap_interval_of_a_known_case():
    # 100 episodes of 30 samples: half the episodes all right, half all wrong. A resample's
    # accuracy is (good episodes drawn) / 100 ~ Binomial(100, 1/2) / 100, whatever the samples
    # per episode: the interval is that of the episodes, not of the 3000 samples.
    episodes, n = 100, 30
    episode = np.repeat(np.arange(episodes), n)
    right = np.repeat(np.arange(episodes) % 2 == 0, n).astype(float)
    got = EpisodeBootstrap(episode, n_boot=20000).mean(episode, right)
    want = [_binomial_quantile(episodes, q) / episodes for q in (0.025, 0.975)]
    assert got['estimate'] == 0.5
    assert np.allclose(got['ci'], want, atol=0.011), (got, want)      # [0.40, 0.60]
    # A per-sample binomial interval would be ~[0.48, 0.52]: far too narrow.
    assert got['ci'][1] - got['ci'][0] > 0.15


def test_paired_difference_uses_the_same_draws():
    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(40), 25)
    a = (rng.random(episode.size) < np.repeat(rng.uniform(0.2, 1.0, 40), 25)).astype(float)
    b = a.copy()
    b[episode == 3] = 1.0 - b[episode == 3]        # differs in one episode only
    boot = EpisodeBootstrap(episode)
    alone = boot.mean(episode, a)
    diff = boot.difference((episode, b), (episode, a))
    assert np.isclose(diff['estimate'], b.mean() - a.mean())
    # Episode-to-episode spread cancels in the paired difference.
    assert diff['ci'][1] - diff['ci'][0] < 0.25 * (alone['ci'][1] - alone['ci'][0])
    same = boot.difference((episode, a), (episode, a))
    assert same == {'estimate': 0.0, 'ci': [0.0, 0.0]}


def test_bundle_is_evaluated_without_torch_and_agrees_with_its_run(tmp_path):
    bundle, run, test = exported(), trained('umi'), bags()['test']
    code = (
        'import sys\n'
        "sys.modules['torch'] = None      # any import of torch now fails\n"
        'from xmodal_ros import cli\n'
        f"status = cli.main(['eval', '--model', {str(bundle)!r}, '--bags', {str(test)!r},\n"
        f"                   '--out', {str(tmp_path / 'bundle')!r}])\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        'sys.exit(status)\n')
    env = dict(os.environ, XMODAL_CACHE=str(ROOT / 'cache'))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / 'bundle' / 'results.json').read_text())
    (model,) = report['models']
    assert model['kind'] == 'bundle' and model['model_id'].startswith('umi-')
    assert 'FusionModel' in model['backend']
    assert f'model {model["model_id"]}' in (tmp_path / 'bundle' / 'results.md').read_text()

    # The same samples through PyTorch: the exported graphs predict what the run predicts.
    assert xmodal('eval', '--model', run, bundle, '--bags', test, '--out', tmp_path / 'both') == 0
    both = json.loads((tmp_path / 'both' / 'results.json').read_text())
    by_kind = {m['kind']: m for m in both['models']}
    assert len(by_kind['run']['subsets']) == len(model['subsets']) == 15
    for name, entry in model['subsets'].items():
        mine = by_kind['run']['subsets'][name]
        assert entry['samples'] == mine['samples']
        assert abs(entry['accuracy'] - mine['accuracy']) <= 2 / entry['samples'], name
    # Two columns, the bundle's paired against the run's on the same episode draws.
    run_col, bundle_col = both['columns']
    full = '+'.join(model['sensors'])
    diff = bundle_col['subsets'][full]['accuracy_difference']
    assert diff['ci'][0] <= diff['estimate'] <= diff['ci'][1] and abs(diff['estimate']) < 0.02
    phases = run_col['subsets'][full]['phases']
    assert set(phases) <= set(both['phases']) and len(phases) >= 4
    for entry in phases.values():
        assert 0.0 <= entry['ci'][0] <= entry['estimate'] <= entry['ci'][1] <= 1.0


def test_runs_differing_only_in_seed_make_one_column(tmp_path):
    first = trained('late')
    second = tmp_path / 'late_s1'
    b = bags()
    assert xmodal('train', 'fusion', '--config', tiny_config(), '--bags', b['a'], b['b'],
                  '--out', second, '--method', 'late', '--seed', '1') == 0
    assert xmodal('eval', '--model', first, second, '--bags', b['test'], '--out',
                  tmp_path / 'eval') == 0
    report = json.loads((tmp_path / 'eval' / 'results.json').read_text())
    (column,) = report['columns']
    assert column['label'] == 'late' and sorted(column['seeds']) == [0, 1]
    acc = column['subsets']['camera']['accuracy']
    assert len(acc['per_model']) == 2 and acc['std'] is not None
    assert np.isclose(acc['mean'], np.mean(acc['per_model']))
    assert acc['ci'][0] <= acc['estimate'] <= acc['ci'][1]
    assert len(report['subsets']) == len(set(report['subsets'])) == 15   # each subset once
    table = (tmp_path / 'eval' / 'results.md').read_text()
    assert ' ± ' in table and 'bootstrap resamples of the episodes' in table
    assert table.count('| camera+depth |') == 3     # one row in each table: accuracy, 2 MAE


def test_subsets_from_per_sensor_parts_equal_whole_predictions():
    """Each sensor encoded once and combined per subset == the model run on each subset."""
    from xmodal_training.evaluate import predict_subsets, RunModel
    from xmodal_training.loading import open_model_bags
    for method in ('umi', 'late'):
        model = RunModel(trained(method), 'cpu')
        ds = open_model_bags([bags()['test']], model.declarations, sample_hz=model.sample_hz,
                             tensors=False)
        _, parts = predict_subsets(model, ds)
        model.sensor_parts = lambda batch: None          # the whole model on every subset
        _, whole = predict_subsets(model, ds)
        assert set(parts) == set(whole) and len(parts) == 15
        for name in parts:
            assert np.array_equal(parts[name]['correct'], whole[name]['correct']), name
            for t, (known, err) in parts[name]['errors'].items():
                np.testing.assert_allclose(err, whole[name]['errors'][t][1], atol=1e-5)
