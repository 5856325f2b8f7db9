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
What every new-sensor method shares: the problem on feature tensors, the learner, the runtime.

A *new sensor* is recorded in its own bags, so its samples have no instance-level pairing with the
known sensors' samples (COX's "out-of-modal" data). The known sensors come as frozen perceptor
features z_k = g_k(x_k) (rows paired across k: the known sensors were recorded together) and the
heads h_k trained on them. Every method trains a learner g^O (+ head h^O) for the new sensor from
an encoder factory; the data plumbing (bags -> these tensors) lives elsewhere.
"""
import contextlib
import dataclasses
import math
import sys

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm


class ProblemError(ValueError):
    """A ``NewSensorProblem`` whose tensors do not fit together."""


@dataclasses.dataclass
class NewSensorProblem:
    """
    The tensors a new-sensor method trains from.

    known_features: one (N, d_k) float tensor per known sensor, row i of every tensor taken at the
        same instant (the known sensors were recorded together).
    known_heads: h_k per known sensor, (B, d_k) features -> (B, C) logits, trained on those
        features (COX's "optimal classifiers" h_k*). Frozen; never updated here.
    new_inputs: (M, ...) the new sensor's model inputs x^O.
    n_classes: C.
    known_labels: (N,) int64 labels of the known rows, or None (then argmax of the heads' mean
        prediction stands in).
    new_labels: (M,) int64, -1 where unlabelled. Semi-supervised: the few samples with a
        correspondence; 'all'-label methods (aligned, synergy) read every entry.
    pairs: (L, 2) int64 (new row, known row) correspondences, e.g. from a handful of episodes
        recorded with both (``processor_cox.pairs_from_shared_episodes``), or None.
    known_probs_on_new: (K, M, C) h_k*(x^O), each known classifier's class probabilities on the
        new samples once the new sensor's input is made compatible with the known perceptor (the
        COX paper's "preprocessing to ensure compatibility", e.g. a new camera through a known
        camera's perceptor), or None. The only source of class identity without any label or pair.
    known_inputs / known_models: the known sensors' raw inputs and frozen perceptors, optional;
        synergy's noisy variant perturbs the input before the perceptor when they are given.
    eval_labels: (M,) true labels of the new samples used only for logging (accuracy on the
        agreement and disagreement sets), never for training.
    """

    known_features: list
    known_heads: list
    new_inputs: torch.Tensor
    n_classes: int
    known_labels: torch.Tensor = None
    new_labels: torch.Tensor = None
    pairs: torch.Tensor = None
    known_probs_on_new: torch.Tensor = None
    known_inputs: list = None
    known_models: list = None
    eval_labels: torch.Tensor = None

    def __post_init__(self):
        if not self.known_features:
            raise ProblemError('known_features: empty; give one (N, d_k) tensor per known sensor')
        if len(self.known_heads) != len(self.known_features):
            raise ProblemError(f'known_heads: {len(self.known_heads)} heads for '
                               f'{len(self.known_features)} known sensors; give one per sensor')
        n = self.known_features[0].shape[0]
        for k, z in enumerate(self.known_features):
            if z.ndim != 2 or z.shape[0] != n:
                raise ProblemError(f'known_features[{k}]: shape {tuple(z.shape)}; expected '
                                   f'({n}, d_k), rows paired across known sensors')
        m = self.new_inputs.shape[0]
        if self.known_labels is not None and self.known_labels.shape != (n,):
            raise ProblemError(f'known_labels: shape {tuple(self.known_labels.shape)}; '
                               f'expected ({n},)')
        for name in ('new_labels', 'eval_labels'):
            v = getattr(self, name)
            if v is not None and v.shape != (m,):
                raise ProblemError(f'{name}: shape {tuple(v.shape)}; expected ({m},)')
        if self.pairs is not None:
            p = self.pairs
            if p.ndim != 2 or p.shape[1] != 2 or (len(p) and (
                    p[:, 0].min() < 0 or p[:, 0].max() >= m or p[:, 1].min() < 0
                    or p[:, 1].max() >= n)):
                raise ProblemError(f'pairs: expected (L, 2) rows (new index < {m}, known index '
                                   f'< {n}); got shape {tuple(p.shape)}')
        if self.known_probs_on_new is not None and self.known_probs_on_new.shape != (
                len(self.known_features), m, self.n_classes):
            raise ProblemError(f'known_probs_on_new: shape '
                               f'{tuple(self.known_probs_on_new.shape)}; expected '
                               f'({len(self.known_features)}, {m}, {self.n_classes})')

    @property
    def n_known(self):
        return len(self.known_features)

    def known_targets(self):
        """Labels of the known rows: given, else the known heads' averaged prediction."""
        if self.known_labels is not None:
            return self.known_labels.long()
        with torch.no_grad():
            probs = torch.stack([h(z).softmax(-1) for h, z in
                                 zip(self.known_heads, self.known_features)]).mean(0)
        return probs.argmax(-1)

    def labelled(self):
        """
        Return (indices, labels) of the new samples with a label.

        A label is new_labels >= 0, else the label of the sample's paired known row.
        """
        if self.new_labels is not None and (self.new_labels >= 0).any():
            idx = torch.nonzero(self.new_labels >= 0).squeeze(1)
            return idx, self.new_labels[idx].long()
        if self.pairs is not None and len(self.pairs):
            return self.pairs[:, 0].long(), self.known_targets()[self.pairs[:, 1]]
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)


class NewSensorLearner(nn.Module):
    """g^O (the encoder the factory builds) and h^O (a linear head on its features)."""

    def __init__(self, encoder, feature_dim, n_classes):
        super().__init__()
        self.encoder = encoder
        self.feature_dim = feature_dim
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x):
        return self.encoder(x)

    def forward(self, x):
        return self.head(self.encoder(x))


def build_learner(encoder_factory, sample_input, n_classes):
    """
    Return a fresh learner on an encoder from ``encoder_factory``.

    The feature width is read from one forward pass of the factory's encoder, so the factory may
    build any nn.Module that maps (B, ...) to (B, d).
    """
    encoder = encoder_factory()
    with torch.no_grad():
        out = encoder(sample_input[:2])
    if out.ndim != 2:
        raise ProblemError(f'encoder_factory: its module returns shape {tuple(out.shape)}; a '
                           'new-sensor encoder must return (B, d) features')
    return NewSensorLearner(encoder, out.shape[1], n_classes)


class Runtime:
    """
    Device, autocast and gradient scaling for a training run.

    CUDA with mixed precision when present (bf16 where the GPU has it, else fp16 with a
    GradScaler), CPU otherwise.
    """

    def __init__(self, device='auto'):
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        self.amp = None
        if self.device.type == 'cuda':
            self.amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)

    def autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def step(self, opt, loss, params, clip=None):
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if clip:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, clip)
        self.scaler.step(opt)
        self.scaler.update()


def seeded(seed):
    """
    Seed torch's global generator and return a separate generator for data order.

    The global one drives model init and reparameterisation noise; runs with one seed repeat
    exactly on CPU.
    """
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed + 1)


def minibatches(n, batch_size, gen):
    """Shuffled index batches covering range(n) once."""
    order = torch.randperm(n, generator=gen)
    return [order[s:s + batch_size] for s in range(0, n, batch_size)]


def draw(n, size, gen):
    """``size`` indices drawn from range(n), without replacement when n allows."""
    if n >= size:
        return torch.randperm(n, generator=gen)[:size]
    return torch.randint(0, n, (size,), generator=gen)


@torch.no_grad()
def predict(module, x, device, batch_size=1024):
    """module(x) in eval mode, batched, float32 on the CPU."""
    was = module.training
    module.eval()
    out = torch.cat([module(x[s:s + batch_size].to(device)).float().cpu()
                     for s in range(0, len(x), batch_size)])
    module.train(was)
    return out


def accuracy(learner, x, y, device='cpu'):
    return float((predict(learner, x, device).argmax(-1) == y).float().mean())


def entropy(logits):
    """Mean prediction entropy H(h(x)) (EntMin; Grandvalet & Bengio 2004)."""
    logp = F.log_softmax(logits.float(), -1)
    return -(logp.exp() * logp).sum(-1).mean()


def progress_bar(epochs, desc, enabled):
    return tqdm(range(epochs), desc=desc, disable=not enabled, leave=False, file=sys.stderr)


def adam(params, lr, weight_decay):
    """Adam with L2 weight decay, the optimiser both papers name."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def steps_per_epoch(m, batch_size):
    return max(1, math.ceil(m / batch_size))
