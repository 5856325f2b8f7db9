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
The oracle with random sensor-subset dropout (`oracle_dropout`).

Its draws are varied, never empty, confined to the sensors a sample holds and reproducible per
seed; pseudo-labels come from a kept sensor; a tiny run trains end to end on real bags.
"""
import collections
import itertools
import json

import pytest
from simbags import bags, tiny_config, xmodal
import torch

from xmodal_ros.paths import config_path
from xmodal_training.checkpoint import load_run
from xmodal_training.methods import ConfigError, method_config
from xmodal_training.methods.umi.processor_umi import similarity, SubsetDropout

import yaml

N, S, C, R = 40, 4, 5, 2
SENSORS = ['s0', 's1', 's2', 's3']


def per_sensor(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {'probs': torch.rand(N, S, C, generator=g).softmax(-1),
            'target': torch.randn(N, S, R, generator=g),
            'seen': torch.ones(N, S, dtype=torch.bool)}


def dropout(p=0.5, seed=0):
    g = torch.Generator().manual_seed(1)
    labels, targets = torch.randint(0, C, (N,), generator=g), torch.randn(N, R, generator=g)
    return SubsetDropout(p, seed, per_sensor(), labels, targets), labels, targets


def batch(idx, present):
    g = torch.Generator().manual_seed(2)
    out = {s: torch.rand(len(idx), 3, 2, generator=g) + 1 for s in SENSORS}
    out['present'] = present
    return out


def test_subsets_are_varied_never_empty_and_within_the_present_sensors():
    d, _, _ = dropout(0.5)
    full = d.keep(torch.ones(6300, S, dtype=torch.bool))
    counts = collections.Counter(tuple(r.tolist()) for r in full)
    # p = 0.5, redrawn when empty: each of the 2^4 - 1 = 15 subsets has probability 1/15
    # (expected 420 each, standard deviation 20).
    assert set(counts) == {tuple(s) for s in itertools.product([False, True], repeat=S)
                           if any(s)}
    assert all(320 < n < 520 for n in counts.values()), counts
    # A sample holding only s1 and s3 keeps a non-empty subset of those two, all three of them.
    two = torch.tensor([[False, True, False, True]]).repeat(3000, 1)
    kept = d.keep(two)
    assert not (kept & ~two).any() and kept.any(dim=1).all()
    assert len({tuple(r.tolist()) for r in kept}) == 3
    # Dropping nearly everything still never leaves a sample empty.
    high, _, _ = dropout(0.95)
    kept = high.keep(torch.ones(2000, S, dtype=torch.bool))
    assert kept.any(dim=1).all() and (kept.sum(dim=1) == 1).float().mean() > 0.8


def test_draws_are_reproducible_per_seed():
    present = torch.ones(200, S, dtype=torch.bool)
    a, b, c = (dropout(seed=s)[0] for s in (3, 3, 4))
    draws = [[d.keep(present) for _ in range(3)] for d in (a, b, c)]
    assert all(torch.equal(x, y) for x, y in zip(draws[0], draws[1]))
    assert not torch.equal(draws[0][0], draws[0][1])       # a new draw per batch
    assert not torch.equal(draws[0][0], draws[2][0])       # another seed, other subsets


def test_dropped_sensors_are_absent_and_pseudo_labels_come_from_a_kept_one():
    d, labels, targets = dropout(0.5)
    idx = torch.arange(0, N, 2)
    present = torch.ones(len(idx), S, dtype=torch.bool)
    present[0, 2] = False
    b = batch(idx, present)
    original = {s: b[s].clone() for s in SENSORS}
    views = {s: b[s] for s in SENSORS}
    out = d(b, idx.numpy(), SENSORS)
    keep = out['present']
    assert not (keep & ~present).any() and keep.any(dim=1).all() and not keep.all()
    for i, s in enumerate(SENSORS):
        assert (out[s][~keep[:, i]] == 0).all() and torch.equal(out[s][keep[:, i]],
                                                                original[s][keep[:, i]])
        assert torch.equal(views[s], original[s])          # the input tensors are not written
    ps = per_sensor()
    onehot = torch.nn.functional.one_hot(labels, C)
    for row, i in enumerate(idx):
        kept = keep[row].nonzero().squeeze(1).tolist()
        cls = similarity(ps['probs'][i:i + 1], onehot[i:i + 1])[0]
        reg = similarity(ps['target'][i:i + 1], targets[i:i + 1])[0]
        best_cls = max(kept, key=lambda j: cls[j])
        best_reg = max(kept, key=lambda j: reg[j])
        assert torch.equal(out['pseudo_probs'][row], ps['probs'][i, best_cls])
        assert torch.equal(out['pseudo_target'][row], ps['target'][i, best_reg])


def test_config_blocks():
    with open(config_path('train_fusion.yaml')) as f:
        cfg = yaml.safe_load(f)
    assert method_config('umi', cfg).subset_dropout == 0
    assert method_config('oracle', cfg).subset_dropout == 0
    assert method_config('oracle_dropout', cfg).subset_dropout == 0.5
    assert method_config('oracle_dropout', cfg).epochs == cfg['umi']['epochs']
    with pytest.raises(ConfigError, match='oracle_dropout: subset_dropout is 0'):
        method_config('oracle_dropout', dict(cfg, oracle_dropout={}))
    with pytest.raises(ConfigError, match='oracle_dropout: unknown key'):
        method_config('oracle_dropout', dict(cfg, oracle_dropout={'p': 0.5}))
    with pytest.raises(ConfigError, match=r'\[0, 1\)'):
        method_config('oracle_dropout', dict(cfg, oracle_dropout={'subset_dropout': 1.0}))


def test_tiny_oracle_dropout_run_end_to_end(tmp_path, capsys):
    b = bags()
    config = tiny_config(tmp_path / 'c.yaml', unimodal={'epochs': 3, 'pseudo_label_epochs': 2},
                         umi={'epochs': 3})

    def train(name, method, *extra):
        return xmodal('train', 'fusion', '--config', config, '--bags', b['test'], '--out',
                      tmp_path / name, '--method', method, *extra)

    # Like the oracle, it needs bags that hold every sensor.
    status = xmodal('train', 'fusion', '--config', config, '--bags', b['a'], b['b'], '--out',
                    tmp_path / 'bad', '--method', 'oracle_dropout')
    assert status != 0 and str(b['a']) in capsys.readouterr().err
    # Its own stage 1, then the oracle's stage 1 shared (as scripts/train_default.sh does).
    assert train('own', 'oracle_dropout') == 0
    assert train('oracle', 'oracle') == 0
    for name in ('drop1', 'drop2'):
        assert train(name, 'oracle_dropout', '--pretrained', tmp_path / 'oracle' / 'stage1') == 0
    own = load_run(tmp_path / 'own')
    assert own['method'] == 'oracle_dropout'
    curves = json.loads((tmp_path / 'own' / 'curves.json').read_text())
    assert curves[-1]['loss'] < curves[0]['loss'] and all(c['pseudo'] > 0 for c in curves)
    drop1, drop2, oracle = (load_run(tmp_path / n)['model'] for n in ('drop1', 'drop2', 'oracle'))
    assert all(torch.equal(v, drop2[k]) for k, v in drop1.items())         # same seed
    head = [k for k in drop1 if k.startswith('head.')]
    assert any(not torch.equal(drop1[k], oracle[k]) for k in head)        # the drops mattered
