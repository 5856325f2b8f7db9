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
Synergy against hand computation and closed forms, and a short real run.

The loss terms by hand, the z_hat pairing variants, 2-Wasserstein between Gaussians and alpha*
(Theorem 1) against closed forms, and a short real run on the synthetic new-sensor problem that
must beat random initialisation.
"""
import dataclasses
import math

import pytest
import torch
from torch import nn

from xmodal_training.bench.new_sensor_synthetic import make_synthetic, SyntheticConfig
from xmodal_training.methods.new_sensor import evaluate, METHODS
from xmodal_training.methods.new_sensor_core import NewSensorLearner, ProblemError
from xmodal_training.methods.synergy.configuration_synergy import SynergyConfig
from xmodal_training.methods.synergy.modeling_synergy import (alpha_from_distances, alpha_star,
                                                              alpha_star_for, alpha_sweep,
                                                              draw_known_rows, known_features_for,
                                                              latent_loss, sqrtm_psd, synergy_loss,
                                                              SynergyModel, train_synergy,
                                                              w2_gaussian)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def syn():
    return make_synthetic(1, SyntheticConfig(n_known=400, n_new=400, n_test=400,
                                             perceptor_epochs=15))


def test_latent_and_total_loss_by_hand():
    z = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    z_hat = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert latent_loss(z, z_hat).item() == pytest.approx(0.5 * (5 + 25) / 2)
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    y = torch.tensor([1, 0])
    ce = (-math.log(0.75) - math.log(0.5)) / 2
    terms = synergy_loss(logits, y, z, z_hat, 0.3)
    assert terms['cls'].item() == pytest.approx(ce)
    assert terms['loss'].item() == pytest.approx(0.7 * ce + 0.3 * 7.5)
    assert synergy_loss(logits, y, z, z_hat, 0.0)['loss'].item() == pytest.approx(ce)


def test_projection_only_where_widths_differ():
    learner = NewSensorLearner(nn.Linear(4, 3), 3, 2)
    assert isinstance(SynergyModel(learner, 3, 0.3).projection, nn.Identity)
    assert isinstance(SynergyModel(learner, 5, 0.3).projection, nn.Linear)
    m = SynergyModel(learner, 5, 0.3)
    out = m({'x': torch.randn(6, 4), 'y': torch.zeros(6, dtype=torch.long),
             'z_hat': torch.randn(6, 5)})
    assert set(out) == {'cls', 'latent', 'loss'}


def test_pairing_variants():
    g = torch.Generator().manual_seed(0)
    known = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    labels = torch.tensor([2, 0, 1] * 50)
    rows = draw_known_rows(labels, known, 'same_class', g)
    assert torch.equal(known[rows], labels)
    assert len(set(rows[labels == 2].tolist())) == 3        # every class-2 row gets drawn
    rows = draw_known_rows(labels, known, 'shuffled', g)
    assert (known[rows] != labels).any()                      # label-blind
    pairs = torch.tensor([6, 0, 3])
    assert draw_known_rows(labels[:3], known, 'paired', g, pairs).tolist() == [6, 0, 3]
    with pytest.raises(ProblemError, match='known_labels'):
        draw_known_rows(torch.tensor([3]), known, 'same_class', g)


def test_noisy_variant_adds_lambda_variance(syn):
    problem = syn.problem('all')
    problem.known_models = [nn.Identity()] * 2                  # noise seen straight through
    problem.known_inputs = [torch.zeros(20000, 3)] * 2
    z = known_features_for(problem, 0, torch.arange(20000), 'noisy', 1e-3,
                           torch.Generator().manual_seed(0), 'cpu')
    assert z.var().item() == pytest.approx(1e-3, rel=0.05)
    clean = known_features_for(problem, 0, torch.arange(3), 'shuffled', 1e-3, None, 'cpu')
    torch.testing.assert_close(clean, problem.known_features[0][:3])


def test_w2_between_gaussians_closed_forms():
    # 1-D: W2 = sqrt((m1 - m2)^2 + (s1 - s2)^2), given variances s^2
    assert w2_gaussian(1.0, 4.0, -2.0, 9.0) == pytest.approx(math.sqrt(9 + 1))
    # diagonal (commuting) covariances: per-dimension sum
    s1, s2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([9.0, 1.0]))
    assert w2_gaussian(torch.zeros(2), s1, torch.ones(2), s2) == \
        pytest.approx(math.sqrt(2 + (1 - 3) ** 2 + (2 - 1) ** 2))
    # non-commuting 2x2: the matrix square-root term against sqrt(M) = (M + sqrt(det M) I) /
    # sqrt(tr M + 2 sqrt(det M))
    a = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 0.0], [0.0, 3.0]], dtype=torch.float64)

    def sqrt2(m):
        d = torch.linalg.det(m).sqrt()
        return (m + d * torch.eye(2, dtype=m.dtype)) / (torch.trace(m) + 2 * d).sqrt()
    rb = sqrt2(b)
    expected = torch.trace(a + b - 2 * sqrt2(rb @ a @ rb)).sqrt().item()
    assert w2_gaussian(torch.zeros(2), a, torch.zeros(2), b) == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(sqrtm_psd(a) @ sqrtm_psd(a), a)
    assert w2_gaussian(torch.zeros(2), a, torch.zeros(2), a) == pytest.approx(0.0, abs=1e-6)


def test_alpha_star_against_1d_closed_form():
    # P_* = N(0, 1), P_i = N(1, 1), P_j = N(-0.5, 2^2)
    d_i, d_j, d_ij = 1.0, math.sqrt(0.25 + 1), math.sqrt(2.25 + 1)
    expected = (d_i ** 2 - d_j ** 2 + d_ij ** 2) / (2 * d_ij ** 2)
    assert expected == pytest.approx(3 / 6.5)
    assert alpha_from_distances(d_i, d_j, d_ij) == pytest.approx(expected)
    g = torch.Generator().manual_seed(0)
    n = 200000
    star = torch.randn(n, 1, generator=g)
    fi = 1 + torch.randn(n, 1, generator=g)
    fj = -0.5 + 2 * torch.randn(n, 1, generator=g)
    est = alpha_star(fi, fj, star)
    assert est['delta_i'] == pytest.approx(d_i, abs=0.02)
    assert est['delta_j'] == pytest.approx(d_j, abs=0.02)
    assert est['delta_ij'] == pytest.approx(d_ij, abs=0.02)
    assert est['alpha_star'] == pytest.approx(expected, abs=0.01)
    # Remark 1.1: the better modality j (smaller Delta_j) pulls alpha* above 1/2
    assert alpha_star(fj, fi, star)['alpha_star'] > 0.5
    with pytest.raises(ValueError, match='Assumption 1'):
        alpha_from_distances(1.0, 1.0, 0.0)


def test_synergy_run_beats_random_and_sweep(syn):
    problem = syn.problem('all')
    cfg = SynergyConfig(epochs=8)
    learner, curves = train_synergy(problem, syn.encoder_factory, cfg, 'cpu', 0, False)
    rand, _ = METHODS['random'].train(problem, syn.encoder_factory, seed=0, progress=False)
    acc = evaluate(learner, syn.test_inputs, syn.test_labels)
    acc_rand = evaluate(rand, syn.test_inputs, syn.test_labels)
    assert acc > acc_rand + 0.2, (acc, acc_rand)
    assert curves['epochs'][-1]['latent'] < curves['epochs'][0]['latent']   # Fig. 4
    cfg = dataclasses.replace(cfg, epochs=3, sweep=(0.0, 0.3))
    accs, learners = alpha_sweep(problem, syn.encoder_factory, syn.test_inputs, syn.test_labels,
                                 cfg, return_learners=True)
    assert set(accs) == {0.0, 0.3}
    est = alpha_star_for(learners[0.0], problem, syn.test_inputs,
                         syn.bayes_posteriors(syn.test_latents), cfg)
    assert 0.0 <= est['alpha_star'] <= 1.0 and est['delta_ij'] > 0


def test_paired_variant_needs_pairs(syn):
    problem = syn.problem('all')
    problem.pairs = None
    with pytest.raises(ProblemError, match='pairs'):
        train_synergy(problem, syn.encoder_factory, SynergyConfig(pairing='paired', epochs=1),
                      'cpu', 0, False)
