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
CROMA: separate encoders per sensor into one shared space.

A contrastive margin loss that aligns source and target there, and meta-learning over N-way K-shot
episodes so a classifier on the shared space adapts to new classes from a few target examples (main
paper §3; appendix Tables 3-5 for the sizes and rates, Def. 5 / §11 for strong vs weak pairs).

Encoders are arguments: any ``nn.Module`` mapping a batch of one sensor's inputs to (B, dim)
features plugs in (``PooledTokens`` adapts the project's token encoders). The shared space is
unit-norm, so the cosine alignment of the margin loss is alignment for the classifier too.

The meta-learner is MAML (Finn et al. 2017) with the inner loop on the classifier only (ANIL,
Raghu et al. 2020): SGD at the tables' meta rate 0.1 adapts the classifier to a task's support
set; the outer Adam (align rate for encoders, classifier rate for the classifier) minimises the
adapted classifier's query loss plus the alignment loss on the task's pairs. Meta-alignment is
that both terms shape the encoders in one objective: the source side is meta-learned for fast
adaptation while the target side is held to it.
"""
import math

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F


def margin_ranking_loss(source, target, margin=0.1):
    """
    L_align of meta-alignment (main paper §3; the appendix tables give its margin, 0.1).

    source, target: (P, D) representations of P aligned pairs (row i of each is pair i). With
    s_ij = cos(source_i, target_j), every other row of the batch is a negative in both directions:
        L = mean_{i != j} max(0, margin - s_ii + s_ij) + mean_{i != j} max(0, margin - s_ii + s_ji)
    (source -> target retrieval plus target -> source retrieval, the bidirectional hinge of
    visual-semantic embeddings). Weak pairs make some negatives false ones; the hinge tolerates
    that up to the margin.
    """
    if source.shape != target.shape or source.dim() != 2 or len(source) < 2:
        raise ValueError(f'margin_ranking_loss: need two (P>=2, D) tensors of one shape, got '
                         f'{tuple(source.shape)} and {tuple(target.shape)}')
    s = F.normalize(source, dim=-1) @ F.normalize(target, dim=-1).T
    pos = s.diagonal()
    off = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
    to_target = (margin - pos[:, None] + s).clamp(min=0)[off].mean()
    to_source = (margin - pos[None, :] + s).clamp(min=0)[off].mean()
    return to_target + to_source


class PooledTokens(nn.Module):
    """A token encoder (B, k, d) -> (B, d) by averaging its tokens; ``dim`` is d."""

    def __init__(self, encoder, dim):
        super().__init__()
        self.encoder, self.dim = encoder, dim

    def forward(self, x):
        return self.encoder(x).mean(dim=1)


def mlp_encoder(in_dim, hidden=128, layers=2):
    """(B, in_dim) -> (B, hidden): an MLP encoder for vector inputs; returns (module, hidden)."""
    mods, d = [nn.Flatten()], in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    return nn.Sequential(*mods), hidden


class SharedSpace(nn.Module):
    """
    One sensor's encoder and a linear map into the shared space.

    On the sphere of radius sqrt(width): fixed norm, so cosine alignment is alignment for the
    classifier, and coordinates of unit scale, so the inner loop's SGD at the meta rate moves the
    classifier (on the unit sphere, 256 coordinates of ~1/16 make its gradients ~16x smaller).
    """

    def __init__(self, encoder, dim, width):
        super().__init__()
        self.encoder = encoder
        self.project = nn.Linear(dim, width)
        self.radius = math.sqrt(width)

    def forward(self, x):
        return self.radius * F.normalize(self.project(self.encoder(x)), dim=-1)


def classifier(width, hidden, n_out):
    """Tables 3-5 classifier: one hidden layer of ``hidden`` units, ReLU."""
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class CromaModel(nn.Module):
    """
    Source and target sensors into one shared space of ``cfg.width``, one classifier on it.

    ``forward`` takes any of: ``source_x``/``source_y`` (labelled source), ``target_x``/
    ``target_y`` (labelled target), ``pair_source``/``pair_target`` (aligned inputs) and returns
    the loss terms it can compute by name: 'source_classification', 'target_classification',
    'alignment'.
    """

    def __init__(self, source_encoder, source_dim, target_encoder, target_dim, n_classes, cfg):
        super().__init__()
        self.cfg = cfg
        self.source = SharedSpace(source_encoder, source_dim, cfg.width)
        self.target = SharedSpace(target_encoder, target_dim, cfg.width)
        self.classifier = classifier(cfg.width, cfg.classifier_hidden, n_classes)

    def embed(self, modality, x):
        if modality not in ('source', 'target'):
            raise ValueError(f"modality={modality!r}; expected 'source' or 'target'")
        return getattr(self, modality)(x)

    def encoder_parameters(self):
        return list(self.source.parameters()) + list(self.target.parameters())

    def forward(self, source_x=None, source_y=None, target_x=None, target_y=None,
                pair_source=None, pair_target=None):
        terms = {}
        if source_x is not None:
            terms['source_classification'] = F.cross_entropy(
                self.classifier(self.embed('source', source_x)), source_y)
        if target_x is not None:
            terms['target_classification'] = F.cross_entropy(
                self.classifier(self.embed('target', target_x)), target_y)
        if pair_source is not None:
            terms['alignment'] = margin_ranking_loss(self.embed('source', pair_source),
                                                     self.embed('target', pair_target),
                                                     self.cfg.margin)
        return terms


# ---------------------------------------------------------------- MAML on the classifier

def adapt_classifier(head, z, y, steps, lr, create_graph):
    """
    Run MAML's inner loop.

    ``steps`` SGD steps of rate ``lr`` on the task's support loss, returning the adapted parameters
    (differentiable w.r.t. the initial ones when ``create_graph``; first-order otherwise).
    """
    params = dict(head.named_parameters())
    if not create_graph:
        params = {n: p.detach().requires_grad_() for n, p in params.items()}
    for _ in range(steps):
        loss = F.cross_entropy(functional_call(head, params, (z,)), y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {n: p - lr * g for (n, p), g in zip(params.items(), grads)}
    return params


class MetaLearner:
    """
    MAML over N-way K-shot episodes of one modality's labelled pool.

    The pool is the source's for CROMA, the target's for the within-modality oracle; an optional
    alignment term is added per task.

    ``inputs``: that modality's inputs (tensor, N x ...); ``sampler``: an EpisodeSampler over its
    meta-training classes; ``pairs``: (PairPool, source labels, source inputs, target inputs) or
    None; ``train_encoders``: False freezes the encoders (align + meta classify, stage 2).
    """

    def __init__(self, model, cfg, shots, modality='source'):
        self.model, self.cfg, self.shots, self.modality = model, cfg, shots, modality

    def _pairs(self, pairs, classes, rng):
        pool, source_labels, xs, xt = pairs
        task_pool = pool.restricted(source_labels, classes)
        if len(task_pool) < 2:                   # too few pairs on these classes: any train pair
            task_pool = pool
        rows = task_pool.sample(self.cfg.pairs_per_task, rng)
        return xs[rows[:, 0]], xt[rows[:, 1]]

    def train(self, inputs, sampler, rng, pairs=None, train_encoders=True, iterations=None,
              log=None):
        cfg, model = self.cfg, self.model
        groups = [{'params': model.classifier.parameters(), 'lr': cfg.classifier_lr}]
        if train_encoders:
            groups.append({'params': model.encoder_parameters(), 'lr': cfg.align_lr})
        opt = torch.optim.Adam(groups)
        batch = cfg.batch_for(self.shots)
        model.train()
        for it in range(iterations or cfg.iterations):
            opt.zero_grad()
            total = {'query': 0.0, 'alignment': 0.0}
            for _ in range(batch):
                ep = sampler.sample(rng)
                z = model.embed(self.modality, inputs[torch.as_tensor(ep.support)])
                zq = model.embed(self.modality, inputs[torch.as_tensor(ep.query)])
                if not train_encoders:
                    z, zq = z.detach(), zq.detach()
                fast = adapt_classifier(model.classifier, z, torch.as_tensor(ep.support_y),
                                        cfg.inner_steps, cfg.meta_lr, not cfg.first_order)
                loss = F.cross_entropy(functional_call(model.classifier, fast, (zq,)),
                                       torch.as_tensor(ep.query_y))
                total['query'] += float(loss.detach()) / batch
                if pairs is not None and train_encoders:
                    ps, pt = self._pairs(pairs, ep.classes, rng)
                    align = model(pair_source=ps, pair_target=pt)['alignment']
                    loss = loss + cfg.align_weight * align
                    total['alignment'] += float(align.detach()) / batch
                (loss / batch).backward()
            opt.step()
            if log is not None:
                log(it, total)
        model.eval()
        return model
