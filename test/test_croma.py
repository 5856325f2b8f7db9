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
CROMA (meta-alignment).

The margin loss against a hand computation, weak pairing on constructed clusters, the episode
sampler's split guarantees and errors, the appendix §11.2 claims on a small seeded run, and a short
meta-learning run that must beat target-only learning at 5 shots.
"""
import argparse
import math

import numpy as np
import pytest
import torch

from xmodal_training.methods.croma import fewshot, synthetic
from xmodal_training.methods.croma.configuration_croma import cpu_scaled, CromaConfig
from xmodal_training.methods.croma.modeling_croma import margin_ranking_loss
from xmodal_training.methods.croma.processor_croma import (check_split, EpisodeSampler,
                                                           FewShotError, kmeans, n_clusters_for,
                                                           PairPool, require_sensor, strong_pairs,
                                                           weak_pairing, weak_pairing_separate)
from xmodal_training.methods.croma.toydata import make_encoders, make_problem


# ---------------------------------------------------------------- the margin ranking loss

def test_margin_loss_matches_hand_computation():
    # source at 0, 90, 180 degrees; target at 0, 60, 180 degrees; margin 0.6.
    # cos(s_i, t_j) = [[1, .5, -1], [0, .866, 0], [-1, -.5, 1]].
    # source -> target hinges max(0, m - s_ii + s_ij): only (0, 1): .6 - 1 + .5 = .1
    # target -> source hinges max(0, m - s_ii + s_ji): only (1, 0): .6 - .866 + .5 = .234
    # each direction is averaged over the 6 (i, j != i) terms.
    r3 = math.sqrt(3) / 2
    src = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    tgt = torch.tensor([[1.0, 0.0], [0.5, r3], [-1.0, 0.0]])
    expected = (0.6 - 1 + 0.5) / 6 + (0.6 - r3 + 0.5) / 6
    assert margin_ranking_loss(src, tgt, 0.6).item() == pytest.approx(expected, abs=1e-6)
    # cosine: scale does not matter; perfectly separated pairs beyond the margin cost nothing
    assert margin_ranking_loss(3 * src, 0.5 * tgt, 0.6).item() == pytest.approx(expected, 1e-5)
    assert margin_ranking_loss(src, src, 0.1).item() == 0.0
    with pytest.raises(ValueError, match='P>=2'):
        margin_ranking_loss(src[:1], tgt[:1])


def test_model_forward_returns_named_terms():
    data = make_problem('strong', n_classes=6, n_test=2, per_class=12, paired=6)
    cfg = CromaConfig(width=32, classifier_hidden=16)
    model = fewshot.build(make_encoders(), cfg, 0)
    terms = model(source_x=data.source_x[:5], source_y=torch.tensor([0, 1, 2, 3, 4]),
                  pair_source=data.source_x[:4], pair_target=data.target_x[:4])
    assert set(terms) == {'source_classification', 'alignment'}
    z = model.embed('target', data.target_x[:3])
    assert z.shape == (3, 32) and torch.allclose(z.norm(dim=-1), torch.full((3,), 32 ** 0.5))


# ---------------------------------------------------------------- pairing

def _blobs(rng, n_per, centres, noise=0.1):
    keys = np.concatenate([c + noise * rng.normal(size=(n_per, 2)) for c in centres])
    return keys, np.repeat(np.arange(len(centres)), n_per)


CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_kmeans_recovers_constructed_clusters():
    rng = np.random.default_rng(0)
    keys, blob = _blobs(rng, 30, CENTRES)
    _, assign = kmeans(keys, 3, seed=0)
    for b in range(3):
        assert len(set(assign[blob == b])) == 1          # each blob one cluster ...
    assert len(set(assign)) == 3                         # ... and different blobs different ones
    assert n_clusters_for(100) == 10 and n_clusters_for(2) == 1    # §11.1: S ~ sqrt(N)


def test_weak_pairs_stay_within_matched_clusters():
    rng = np.random.default_rng(1)
    ks, bs = _blobs(rng, 40, CENTRES)
    kt, bt = _blobs(rng, 25, CENTRES)
    wp = weak_pairing(ks, kt, seed=0)                    # default S = round(sqrt(65 + ... ))
    assert wp.n_clusters == round(math.sqrt(len(ks) + len(kt)))
    pairs = wp.pairs(500, seed=0).pairs
    assert (bs[pairs[:, 0]] == bt[pairs[:, 1]]).all()
    # every blob is used: pairs are drawn across all matched clusters
    assert set(bs[pairs[:, 0]]) == {0, 1, 2}


def test_separate_clusterings_matched_through_anchors():
    rng = np.random.default_rng(2)
    xs, bs = _blobs(rng, 30, CENTRES)
    xt, bt = _blobs(rng, 30, CENTRES[[2, 0, 1]] * 3)     # another space; blobs permuted
    bt = np.array([2, 0, 1])[bt]                         # target blob k holds concept bt
    anchors = np.array([[np.flatnonzero(bs == c)[0], np.flatnonzero(bt == c)[0]]
                        for c in range(3)])
    wp = weak_pairing_separate(xs, xt, anchors, n_clusters=3)
    pairs = wp.pairs(300).pairs
    assert (bs[pairs[:, 0]] == bt[pairs[:, 1]]).all()
    with pytest.raises(FewShotError, match='anchor pairs'):
        weak_pairing_separate(xs, xt, np.empty((0, 2)), n_clusters=3)


def test_strong_pairs_and_their_errors():
    pool = strong_pairs([10, 11, 12, 13], [-1, 12, 10, -2])
    assert sorted(map(tuple, pool.pairs)) == [(0, 2), (2, 1)]
    with pytest.raises(FewShotError, match='alignment=strong needs episodes recorded with both'):
        strong_pairs([1, 2], [3, 4], 'bags a.mcap, b.mcap')


def test_missing_target_sensor_names_the_bags():
    with pytest.raises(FewShotError, match=r"target sensor 'tactile' is in none of the bags "
                                           r'\(a.mcap: camera; b.mcap: camera,force\)'):
        require_sensor('tactile', {'a.mcap': {'camera'}, 'b.mcap': {'camera', 'force'}},
                       'target')
    require_sensor('force', {'a.mcap': {'camera'}, 'b.mcap': {'camera', 'force'}}, 'target')


# ---------------------------------------------------------------- episodes

def test_sampler_never_leaks_queries_or_test_classes():
    labels = np.repeat(np.arange(12), 9)
    train, test = np.arange(8), np.arange(8, 12)
    check_split(train, test)
    meta = EpisodeSampler(labels, train, 5, 3, 4)
    rng = np.random.default_rng(0)
    for _ in range(200):
        ep = meta.sample(rng)
        assert not set(ep.support) & set(ep.query)                      # no query in support
        assert np.isin(labels[np.concatenate([ep.support, ep.query])], train).all()
        assert (labels[ep.support] == ep.classes[ep.support_y]).all()   # labels consistent
        assert (labels[ep.query] == ep.classes[ep.query_y]).all()
        assert len(set(ep.classes)) == 5 and np.bincount(ep.support_y).tolist() == [3] * 5
    with pytest.raises(FewShotError, match=r'class\(es\) \[7\] are both'):
        check_split(train, [7, 8])


def test_sampler_errors_name_the_input():
    labels = np.concatenate([np.repeat(np.arange(5), 10), np.full(4, 5)])
    with pytest.raises(FewShotError, match=r'held-out: an episode needs 5 shots \+ 2 queries = 7 '
                                           r'examples per class, but class 5: 4'):
        EpisodeSampler(labels, [3, 4, 5], 3, 5, 2, 'held-out')
    with pytest.raises(FewShotError,
                       match=r'n_way=5 is larger than its 3 class\(es\) \[2, 3, 4\]'):
        EpisodeSampler(labels, [2, 3, 4], 5, 1, 1, 'held-out')


def test_pairs_of_held_out_classes_are_refused():
    data = make_problem('strong', n_classes=6, n_test=2, per_class=12, paired=6)
    bad = PairPool(np.array([[0, 0], [len(data.target_y) - 1, len(data.target_y) - 1]]), 'strong')
    with pytest.raises(FewShotError, match=r'leak test classes'):
        fewshot.FewShotData(data.source_x, data.source_y, data.target_x, data.target_y,
                            data.train_classes, data.test_classes, bad)


# ---------------------------------------------------------------- §11.2 synthetic study

@pytest.fixture(scope='module')
def small_study():
    return synthetic.study(seeds=10, n_align=synthetic.QUICK_N_ALIGN)


def test_synthetic_claims_hold_on_a_small_seeded_run(small_study):
    claims = synthetic.check_claims(small_study)
    for name, (holds, evidence) in claims.items():
        assert holds, f'{name}: {evidence}'


def test_synthetic_crossover_vs_rule_of_thumb(small_study):
    assert synthetic.rule_of_thumb(1.0) == pytest.approx(20 / (1 / 40 - 1 / 250))
    weak = small_study['crossover'][2]
    assert weak['sigma_w'] == 1.0 and weak['measured'] is not None
    # measured where the finite-sample balance puts it, within a factor 2
    assert 0.5 < weak['measured'] / weak['finite_sample'] < 2.0


def test_synthetic_cli_entry_writes_figure_and_table(tmp_path):
    args = argparse.Namespace(out=str(tmp_path), seeds=10, quick=True, w='orthogonal')
    assert synthetic.run(args) == 0
    assert (tmp_path / 'synthetic.png').stat().st_size > 10_000
    assert '| claim (§11.2) |' in (tmp_path / 'synthetic.md').read_text()
    assert synthetic.run(argparse.Namespace(out=str(tmp_path), seeds=3, quick=False,
                                            w='orthogonal')) == 2


# ---------------------------------------------------------------- a short meta-learning run

def test_croma_beats_target_only_at_5_shots_on_held_out_classes():
    torch.set_num_threads(1)
    data = make_problem('strong', seed=0)
    cfg = cpu_scaled(iterations=150, eval_tasks=40)
    res = fewshot.compare(data, cfg, [5], make_encoders(), methods=['croma', 'target_only'],
                          log=None)
    croma = np.array(res['croma'][5]['accs'])
    alone = np.array(res['target_only'][5]['accs'])
    diff = croma - alone                                 # the same 40 episodes for both
    se = diff.std(ddof=1) / math.sqrt(len(diff))
    assert diff.mean() > 1.96 * se, (f'CROMA {croma.mean():.3f} vs target only '
                                     f'{alone.mean():.3f} (paired SE {se:.3f})')
