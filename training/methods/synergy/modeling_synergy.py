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
Synergy: a frozen known-sensor model regularises a new sensor's model without pairs.

Train the new sensor's model with (1 - alpha) L_cls + alpha L_z (Sec. 3.3), where L_z = 1/2
||g(x_i) - z_hat_j||^2 pulls its features toward a frozen known-sensor model's features of an
*unpaired* known sample, and estimate the interpolation coefficient alpha* of Theorem 1.

Choices where the paper is open:
- Widths: where the learner's feature width differs from the known perceptor's, a learned linear
  projection P maps g(x) to the known width and L_z = 1/2 ||P g(x) - z_hat||^2. Projecting z_hat
  instead would let P shrink the target and the features together to zero.
- z_hat is drawn afresh for every batch (Algorithm 1 samples S^j batch by batch).
- alpha*: the three distributions must live in one space. We use the class-posterior space
  (softmax of each model's own head), the one space every model maps to on the same axes.
  P_i: the new sensor's model trained alone (alpha = 0) on held-out new samples; P_j: the known
  model's posteriors on its (imperfect) samples; P_*, the unknown "true latent space", stood in
  for by the best available posterior of the same samples: on the synthetic problem the Bayes
  posterior given the full latent; on robot data the oracle (a model trained on bags holding
  every sensor, e.g. the `oracle` method) or the aligned upper bound. W2 between marginals cannot
  see how samples are paired: shuffling leaves P_j, hence alpha*, unchanged.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from xmodal_training.methods.new_sensor_core import (accuracy, adam, build_learner, minibatches,
                                                     predict, ProblemError, progress_bar, Runtime,
                                                     seeded)
from xmodal_training.methods.synergy.configuration_synergy import SynergyConfig


# ---------------------------------------------------------------------------- loss terms

def latent_loss(z, z_hat):
    """
    Return L_z = E[1/2 ||g(x_i) - z_hat_j||^2].

    The squared norm is summed over features, the expectation a mean over the batch.
    """
    return 0.5 * ((z.float() - z_hat.float()) ** 2).sum(-1).mean()


def synergy_loss(logits, labels, z, z_hat, alpha):
    """L_total = (1 - alpha) L_cls + alpha L_z (Sec. 3.3), L_cls the cross-entropy."""
    cls = F.cross_entropy(logits.float(), labels)
    lat = latent_loss(z, z_hat)
    return {'cls': cls, 'latent': lat, 'loss': (1 - alpha) * cls + alpha * lat}


class SynergyModel(nn.Module):
    """
    Learner g, h plus the projection P into the known perceptor's feature width.

    P is the identity when the widths match; ``forward(batch)`` returns the loss terms by name.
    """

    def __init__(self, learner, known_dim, alpha):
        super().__init__()
        self.learner = learner
        self.alpha = alpha
        self.projection = (nn.Identity() if learner.feature_dim == known_dim
                           else nn.Linear(learner.feature_dim, known_dim))

    def forward(self, batch):
        z = self.learner.features(batch['x'])
        return synergy_loss(self.learner.head(z), batch['y'], self.projection(z), batch['z_hat'],
                            self.alpha)


# ------------------------------------------------------------------------ z_hat sampling

def draw_known_rows(labels, known_labels, pairing, gen, pair_index=None):
    """
    Draw the known rows j whose features become z_hat for new samples with ``labels``.

    'same_class': uniform among known rows of the same class; 'shuffled' / 'noisy': uniform over
    all known rows; 'paired': ``pair_index`` (the true counterparts).
    """
    n = len(known_labels)
    if pairing in ('shuffled', 'noisy'):
        return torch.randint(0, n, (len(labels),), generator=gen)
    if pairing == 'paired':
        if pair_index is None or (pair_index < 0).any():
            raise ProblemError('pairs: pairing="paired" needs a known counterpart for every '
                               'labelled new sample')
        return pair_index
    order = torch.argsort(known_labels, stable=True)
    n_classes = int(max(int(labels.max()), int(known_labels.max()))) + 1
    counts = torch.bincount(known_labels, minlength=n_classes)
    if (counts[labels] == 0).any():
        missing = sorted(set(labels[counts[labels] == 0].tolist()))
        raise ProblemError(f'known_labels: no known sample of class(es) {missing}; '
                           'pairing="same_class" needs one; use pairing="shuffled"')
    offsets = torch.cumsum(counts, 0) - counts
    pick = (torch.rand(len(labels), generator=gen) * counts[labels]).long()
    return order[offsets[labels] + pick.clamp(max=counts[labels] - 1)]


def known_features_for(problem, k, rows, pairing, noise_var, gen, device):
    """
    Return z_hat for known rows.

    The precomputed features, or for 'noisy' the frozen perceptor on the known input plus
    xi ~ N(0, lambda I) (on the features when no perceptor/input was given).
    """
    if pairing != 'noisy':
        return problem.known_features[k][rows].float().to(device)
    std = math.sqrt(noise_var)
    if problem.known_models is not None and problem.known_inputs is not None:
        x = problem.known_inputs[k][rows].float()
        x = x + std * torch.randn(x.shape, generator=gen)
        model = problem.known_models[k].to(device)
        with torch.no_grad():
            return model(x.to(device)).float()
    z = problem.known_features[k][rows].float()
    return (z + std * torch.randn(z.shape, generator=gen)).to(device)


# ---------------------------------------------------------------------------- training

def train_synergy(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """
    Train the new sensor's model with Algorithm 1 on the labelled new samples.

    The labelled samples are ``problem.labelled()``. Each batch draws z_hat per ``cfg.pairing``
    from known sensor ``cfg.known_index`` and steps
    (1 - alpha) CE + alpha 1/2 ||P g(x) - z_hat||^2. Returns (learner, curves).
    """
    cfg = cfg or SynergyConfig()
    k = cfg.known_index
    if not 0 <= k < problem.n_known:
        raise ProblemError(f'known_index={k}: the problem has {problem.n_known} known sensors')
    rows, labels = problem.labelled()
    if len(rows) == 0:
        raise ProblemError('new_labels: synergy trains on labelled new samples; none given')
    pair_index = None
    if cfg.pairing == 'paired':
        if problem.pairs is None:
            raise ProblemError('pairs: pairing="paired" needs problem.pairs')
        lookup = torch.full((len(problem.new_inputs),), -1, dtype=torch.long)
        lookup[problem.pairs[:, 0]] = problem.pairs[:, 1]
        keep = lookup[rows] >= 0
        rows, labels, pair_index = rows[keep], labels[keep], lookup[rows[keep]]
    rt = Runtime(device)
    gen = seeded(seed)
    learner = build_learner(encoder_factory, problem.new_inputs, problem.n_classes)
    model = SynergyModel(learner, problem.known_features[k].shape[1], cfg.alpha).to(rt.device)
    opt = adam(model.parameters(), cfg.lr, cfg.weight_decay)
    known_labels = problem.known_targets()
    curves = []
    for epoch in progress_bar(cfg.epochs, f'synergy a={cfg.alpha}', progress):
        for group in opt.param_groups:
            group['lr'] = cfg.lr * (cfg.lr_decay if epoch >= cfg.lr_decay_epoch else 1.0)
        sums, n = {}, 0
        for b in minibatches(len(rows), cfg.batch_size, gen):
            j = draw_known_rows(labels[b], known_labels, cfg.pairing, gen,
                                None if pair_index is None else pair_index[b])
            batch = {'x': problem.new_inputs[rows[b]].to(rt.device),
                     'y': labels[b].to(rt.device),
                     'z_hat': known_features_for(problem, k, j, cfg.pairing, cfg.noise_var, gen,
                                                 rt.device)}
            with rt.autocast():
                terms = model(batch)
            rt.step(opt, terms['loss'], list(model.parameters()))
            for name, v in terms.items():
                sums[name] = sums.get(name, 0.0) + float(v.detach()) * len(b)
            n += len(b)
        curves.append({'epoch': epoch + 1, **{name: v / n for name, v in sums.items()}})
    learner.cpu().eval()
    return learner, {'epochs': curves, 'projection': model.projection.cpu()}


def alpha_sweep(problem, encoder_factory, eval_inputs, eval_labels, cfg=None, seed=0,
                device='auto', progress=False, return_learners=False):
    """Held-out accuracy for each alpha of ``cfg.sweep`` (Table 3), same seed throughout."""
    import dataclasses
    cfg = cfg or SynergyConfig()
    accs, learners = {}, {}
    for a in cfg.sweep:
        learner, _ = train_synergy(problem, encoder_factory, dataclasses.replace(cfg, alpha=a),
                                   device, seed, progress)
        accs[a] = accuracy(learner, eval_inputs, eval_labels)
        learners[a] = learner
    return (accs, learners) if return_learners else accs


# --------------------------------------------------------------------------- alpha* (Thm. 1)

def gaussian_fit(x):
    """Mean and (unbiased) covariance of the rows of ``x``, in float64."""
    x = x.double()
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / max(1, len(x) - 1)


def sqrtm_psd(s):
    """
    Return the principal square root of a symmetric positive semi-definite matrix.

    Eigenvalues are clamped at zero against round-off.
    """
    vals, vecs = torch.linalg.eigh((s + s.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def w2_gaussian(m1, s1, m2, s2):
    """
    Return the 2-Wasserstein distance between N(m1, s1) and N(m2, s2).

    W2^2 = ||m1 - m2||^2 + tr(s1 + s2 - 2 (s2^1/2 s1 s2^1/2)^1/2).
    """
    m1, s1, m2, s2 = (torch.as_tensor(t, dtype=torch.float64) for t in (m1, s1, m2, s2))
    if s1.ndim == 0:
        s1, s2, m1, m2 = s1.view(1, 1), s2.view(1, 1), m1.view(1), m2.view(1)
    r2 = sqrtm_psd(s2)
    cross = sqrtm_psd(r2 @ s1 @ r2)
    w2sq = ((m1 - m2) ** 2).sum() + torch.trace(s1 + s2 - 2 * cross)
    return float(w2sq.clamp(min=0).sqrt())


def alpha_from_distances(delta_i, delta_j, delta_ij):
    """Theorem 1 (Eq. 4): alpha* = (Delta_i^2 - Delta_j^2 + Delta_ij^2) / (2 Delta_ij^2)."""
    if delta_ij <= 0:
        raise ValueError('Delta_ij = 0: Assumption 1 (Delta_ij >> 0) fails; alpha* undefined')
    return (delta_i ** 2 - delta_j ** 2 + delta_ij ** 2) / (2 * delta_ij ** 2)


def alpha_star(feats_i, feats_j, feats_star):
    """
    Estimate alpha* of Theorem 1 from samples of P_i, P_j and the stand-in for P_*.

    All three live in one space and are each fitted with a Gaussian. Returns alpha* (raw and
    clipped to [0, 1]) and the distances.
    """
    gi, gj, gs = gaussian_fit(feats_i), gaussian_fit(feats_j), gaussian_fit(feats_star)
    d_i, d_j, d_ij = w2_gaussian(*gs, *gi), w2_gaussian(*gs, *gj), w2_gaussian(*gi, *gj)
    a = alpha_from_distances(d_i, d_j, d_ij)
    return {'alpha_star': min(1.0, max(0.0, a)), 'alpha_star_raw': a, 'delta_i': d_i,
            'delta_j': d_j, 'delta_ij': d_ij}


def alpha_star_for(learner_alpha0, problem, eval_inputs, star_probs, cfg=None, seed=0):
    """
    Estimate alpha* in the class-posterior space (see the module docstring).

    P_i from ``learner_alpha0`` (the new sensor's model trained alone) on ``eval_inputs``, P_j from
    the known head on the known sensor's z_hat (with ``cfg.pairing``'s noise), P_* = ``star_probs``
    (N_eval, C), the stand-in's posteriors on the same ``eval_inputs``.
    """
    cfg = cfg or SynergyConfig()
    k = cfg.known_index
    gen = torch.Generator().manual_seed(seed)
    p_i = predict(learner_alpha0, eval_inputs, 'cpu').softmax(-1)
    rows = torch.arange(len(problem.known_features[k]))
    z_hat = known_features_for(problem, k, rows, cfg.pairing, cfg.noise_var, gen, 'cpu')
    with torch.no_grad():
        p_j = problem.known_heads[k](z_hat).softmax(-1)
    return alpha_star(p_i, p_j, star_probs)
