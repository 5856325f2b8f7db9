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
COX (connect & explore) against hand computation, constructed cases and short real runs.

Every loss term against hand computation on tiny tensors, the set selections
(agreement/disagreement, SORT_T, SORT_S) on constructed cases, and short real runs on the synthetic
new-sensor problem (no instance pairing) that must beat random initialisation.
"""
import dataclasses
import math

import pytest
import torch

from xmodal_training.bench.new_sensor_synthetic import make_synthetic, SyntheticConfig
from xmodal_training.methods.cox.configuration_cox import COXConfig
from xmodal_training.methods.cox.modeling_cox import (agreement_split, candidate_mask, con_loss,
                                                      exploration_kl, fit_linear_head, kl_matrix,
                                                      l_ssl, l_uns, mmd_rbf, sort_s, sort_t,
                                                      train_semi_supervised, train_unsupervised,
                                                      vib_terms, VIBConnection)
from xmodal_training.methods.cox.processor_cox import (class_balanced_subset, class_centroids,
                                                       pairs_from_shared_episodes)
from xmodal_training.methods.new_sensor import evaluate, METHODS
from xmodal_training.methods.new_sensor_core import NewSensorProblem, ProblemError

torch.set_num_threads(1)
LOG3 = math.log(3.0)


@pytest.fixture(scope='module')
def syn():
    return make_synthetic(0, SyntheticConfig(n_known=400, n_new=400, n_test=400,
                                             perceptor_epochs=15))


# ------------------------------------------------------------------------- loss terms

def test_vib_terms_and_eq9_by_hand():
    recon, target = torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])
    rec, kl = vib_terms(recon, target, mu, logvar)
    assert rec.item() == pytest.approx(5.0)                       # 1 + 4
    # 1/2 (mu^2 + sigma^2 - 1 - log sigma^2) per dim: 1/2 (1 + 1 - 1 - 0) + 1/2 (0 + 2 - 1 - ln 2)
    assert kl.item() == pytest.approx(0.5 + 0.5 * (1 - math.log(2.0)))
    logits, y = torch.tensor([[0.0, LOG3]]), torch.tensor([1])   # p(y) = 3/4
    terms = con_loss(recon, target, mu, logvar, logits, y, kl_weight=0.1)
    assert terms['ce'].item() == pytest.approx(-math.log(0.75))
    assert terms['loss'].item() == pytest.approx(5.0 + 0.1 * kl.item() - math.log(0.75))


def test_exploration_kl_and_l_ssl_by_hand():
    # anchors: p = (3/4, 1/4) labelled 0 and (1/4, 3/4) labelled 1; x_d: p = (1/2, 1/2)
    logits_l = torch.tensor([[LOG3, 0.0], [0.0, LOG3]])
    labels_l = torch.tensor([0, 1])
    logits_d = torch.zeros(1, 2)
    one_kl = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)    # = 1/2 ln(4/3)
    torch.testing.assert_close(kl_matrix(logits_d, logits_l),
                               torch.tensor([[one_kl, one_kl]]))
    norm = 2 + 1                                                      # L + |D|
    # the known classifiers both say class 0 for x_d: only the class-0 anchor is paired
    out = l_ssl(logits_l, labels_l, logits_d, torch.tensor([[0], [0]]), norm)
    assert out['ce'].item() == pytest.approx(-math.log(0.75))
    assert out['explore'].item() == pytest.approx(one_kl / 3)
    # literal reading: every anchor paired
    out = l_ssl(logits_l, labels_l, logits_d, torch.tensor([[0], [0]]), norm, pairing='all')
    assert out['explore'].item() == pytest.approx(2 * one_kl / 3)
    # the classifiers disagree (0 vs 1): both anchors; 'mean' averages the pair KLs of x_d
    mask = candidate_mask(torch.tensor([[0], [1]]), labels_l)
    assert exploration_kl(logits_d, logits_l, mask, norm, 'sum').item() == \
        pytest.approx(2 * one_kl / 3)
    assert exploration_kl(logits_d, logits_l, mask, norm, 'mean').item() == \
        pytest.approx(one_kl / 3)
    # Eq. 15 has Eq. 13's form
    assert l_uns(logits_l, labels_l, logits_d, torch.tensor([[0], [0]]), norm)['explore'] \
        .item() == pytest.approx(one_kl / 3)


def test_anchor_posteriors_are_targets():
    logits_l = torch.tensor([[LOG3, 0.0]], requires_grad=True)
    logits_d = torch.zeros(1, 2, requires_grad=True)
    out = l_ssl(logits_l, torch.tensor([0]), logits_d, torch.tensor([[0]]), 1.0)
    out['explore'].backward()
    assert logits_d.grad.abs().sum() > 0
    assert logits_l.grad is None or logits_l.grad.abs().sum() == 0


def test_candidate_mask_constructed():
    cand = torch.tensor([[0, 1, 2], [0, 2, 2]])          # K = 2 classifiers, 3 samples
    mask = candidate_mask(cand, torch.tensor([0, 1, 2, 2]))
    assert mask.tolist() == [[True, False, False, False],
                             [False, True, True, True],
                             [False, False, True, True]]


def test_mmd_rbf_by_hand():
    x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    assert mmd_rbf(x, y, sigma=1.0) == pytest.approx(2 - 2 * math.exp(-0.5))
    # two points a side: mean k(x,x') = (1 + e^{-2})/2 with sigma 1 and distance 2
    x2, y2 = torch.tensor([[0.0], [2.0]]), torch.tensor([[0.0], [2.0]])
    assert mmd_rbf(x2, y2, sigma=1.0) == pytest.approx(0.0, abs=1e-7)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 3, generator=g), torch.randn(200, 3, generator=g)
    assert mmd_rbf(a, b) < mmd_rbf(a, b + 2.0)


# --------------------------------------------------------------------- set selection

def _probs(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_agreement_split_constructed():
    probs = torch.stack([_probs([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]),
                         _probs([[0.7, 0.3], [0.3, 0.7], [0.4, 0.6]])])
    agree, preds = agreement_split(probs)
    assert agree.tolist() == [True, False, True]
    assert preds.tolist() == [[0, 0, 1], [0, 1, 1]]


def test_sort_t_ranks_agreement_by_mean_top_probability():
    # sample 3 is the most confident but the classifiers disagree: never an anchor
    h1 = _probs([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.99, 0.01], [0.3, 0.7]])
    h2 = _probs([[0.7, 0.3], [0.8, 0.2], [0.1, 0.9], [0.01, 0.99], [0.4, 0.6]])
    idx, labels, score = sort_t(torch.stack([h1, h2]), 2)
    # mean max: s0 0.8, s1 0.7, s2 0.85, s4 0.65
    assert idx.tolist() == [2, 0] and labels.tolist() == [1, 0]
    torch.testing.assert_close(score, torch.tensor([0.85, 0.8]))
    idx, labels, _ = sort_t(torch.stack([h1, h2]), 2, balanced=True)
    assert sorted(labels.tolist()) == [0, 1] and set(idx.tolist()) == {2, 0}
    idx, labels, _ = sort_t(torch.stack([h1, h2]), 3, balanced=True)   # 1 per class + best rest
    assert idx.tolist() == [2, 0, 1]


def test_sort_s_nearest_mapping_distance():
    z_new = torch.tensor([[0.0, 0.0], [10.0, 1.0], [5.0, 5.0]])
    mapped = torch.stack([torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]),
                          torch.tensor([[0.0, 2.0], [10.0, 4.0], [0.0, 12.0]])])
    labels = torch.tensor([3, 4, 5])
    idx, y, match, dist = sort_s(z_new, mapped, labels, 2)
    # j0 -> i0 at (0 + 2)/2 = 1; j1 -> i1 at (1 + 3)/2 = 2; j2 -> i1 at (sqrt 50 + sqrt 26)/2
    assert idx.tolist() == [0, 1] and y.tolist() == [3, 4] and match.tolist() == [0, 1]
    torch.testing.assert_close(dist, torch.tensor([1.0, 2.0]))
    idx, y, match, dist = sort_s(z_new, mapped, labels, 3)
    assert idx.tolist() == [0, 1, 2] and match.tolist() == [0, 1, 1]
    assert dist[2].item() == pytest.approx((math.sqrt(50) + math.sqrt(26)) / 2, rel=1e-5)


def test_processor_helpers():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    rows = class_balanced_subset(labels, 0.1, g)
    assert torch.bincount(labels[rows]).tolist() == [5, 3, 2]
    c, present = class_centroids(torch.tensor([[0.0], [2.0], [4.0]]), torch.tensor([0, 0, 2]), 3)
    assert c[:, 0].tolist() == [1.0, 0.0, 4.0] and present.tolist() == [True, False, True]
    pairs = pairs_from_shared_episodes(
        torch.tensor([7, 7, 9, 3]), torch.tensor([0.0, 1.0, 0.0, 0.0]),
        torch.tensor([7, 7, 9, 5]), torch.tensor([0.02, 0.98, 5.0, 0.0]), tolerance=0.05)
    # episode 9 is too far apart in time, episodes 3 and 5 were recorded apart
    assert pairs.tolist() == [[0, 0], [1, 1]]


def test_fit_linear_head_and_connection_shapes():
    feats = torch.tensor([[-2.0, 0.0], [-1.0, 0.5], [1.0, 0.0], [2.0, -0.5]])
    head = fit_linear_head(feats, torch.tensor([0, 0, 1, 1]), 2, 200, 0.1)
    assert head(feats).argmax(-1).tolist() == [0, 0, 1, 1]
    conn = VIBConnection(5, 3, 4, 16)
    z = torch.randn(6, 5)
    recon, mu, logvar = conn(z)
    assert recon.shape == (6, 3) and mu.shape == logvar.shape == (6, 4)
    torch.testing.assert_close(conn.connect(z), conn.connect(z))   # the mean: deterministic


def test_problem_errors_name_the_input(syn):
    p = syn.problem('unsupervised')
    with pytest.raises(ProblemError, match='pairs'):
        train_semi_supervised(p, syn.encoder_factory, COXConfig(epochs=1), 'cpu', 0, False)
    q = syn.problem('semi')
    with pytest.raises(ProblemError, match='known_probs_on_new'):
        train_unsupervised(q, syn.encoder_factory, COXConfig(epochs=1), 'cpu', 0, False)
    with pytest.raises(ProblemError, match='known_heads'):
        NewSensorProblem(known_features=[torch.zeros(3, 2)], known_heads=[],
                         new_inputs=torch.zeros(4, 2), n_classes=2)


# ------------------------------------------------------------------------ real runs

FAST = {'connect_epochs': 3, 'warmup_epochs': 3, 'centroid_steps': 100, 'head_steps': 30,
        'mmd_samples': 200}


def test_cox_semi_supervised_beats_random_and_connection_closes_gap(syn):
    cfg = COXConfig(epochs=10, **FAST)
    learner, curves = train_semi_supervised(syn.problem('semi'), syn.encoder_factory, cfg, 'cpu',
                                            0, False)
    rand, _ = METHODS['random'].train(syn.problem('semi'), syn.encoder_factory, seed=0,
                                      progress=False)
    acc = evaluate(learner, syn.test_inputs, syn.test_labels)
    acc_rand = evaluate(rand, syn.test_inputs, syn.test_labels)
    assert acc > acc_rand + 0.2, (acc, acc_rand)
    rows = curves['epochs']
    # Fig. 5: the connection closes the gap between connected known features and z^O
    assert rows[-1]['mmd/0'] < 0.5 * rows[0]['mmd/0'], [r['mmd/0'] for r in rows]
    assert {'acc_agree_before', 'acc_disagree_before', 'acc_agree_after',
            'acc_disagree_after'} <= set(curves['summary'])
    assert any(r['phase'] == 'explore' and r['disagree_rows'] > 0 for r in rows)


def test_cox_unsupervised_runs_both_phases(syn):
    cfg = COXConfig(epochs=6, **FAST)
    learner, curves = train_unsupervised(syn.problem('unsupervised'), syn.encoder_factory, cfg,
                                         'cpu', 0, False)
    phases = [r['phase'] for r in curves['epochs']]
    assert phases[:3] == ['warmup'] * 3 and 'explore' in phases
    explore = [r for r in curves['epochs'] if r['phase'] == 'explore']
    assert all(r['anchors'] == 40 for r in explore)             # T = 10 % of 400
    assert all(math.isfinite(r['loss']) for r in explore)
    assert 0.0 <= evaluate(learner, syn.test_inputs, syn.test_labels) <= 1.0


def test_seeded_runs_repeat(syn):
    cfg = COXConfig(epochs=2, **FAST)
    a, _ = train_semi_supervised(syn.problem('semi'), syn.encoder_factory, cfg, 'cpu', 3, False)
    b, _ = train_semi_supervised(syn.problem('semi'), syn.encoder_factory, cfg, 'cpu', 3, False)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(pa, pb)


def test_registry_every_method_trains(syn):
    for name, method in METHODS.items():
        assert method.uses_labels in ('fraction', 'none', 'all'), name
        mode = {'all': 'all', 'none': 'unsupervised'}.get(method.uses_labels, 'semi')
        if name == 'cox_semi':
            mode = 'semi'
        cfg = dataclasses.replace(method.config(), epochs=1)
        if name.startswith('cox'):
            cfg = dataclasses.replace(cfg, **FAST)
        learner, curves = method.train(syn.problem(mode), syn.encoder_factory, cfg, seed=0,
                                       progress=False)
        probs = learner(syn.test_inputs[:5]).softmax(-1)
        assert probs.shape == (5, syn.cfg.n_classes), name
        assert 'epochs' in curves, name
