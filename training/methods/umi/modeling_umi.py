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
Unseen Modality Interaction (UMI): feature projection, summation, dual-branch prediction.

Each sensor's encoder tokens F_m are projected to k* tokens of width d* that mean the same thing
for every sensor, so the tokens of whichever sensors are present can simply be added (Sec. 4). The
sum goes through transformer layers whose attention is split into two groups of k*/2 tokens (Eq.
2): one group predicts the ground truth, the other the unimodal pseudo-labels; inference averages
them.

The sensor half (``SensorTokens``) and the fusion half (``DualBranchHead``) are separate modules
because the robot runs them separately: each sensor is encoded when its message arrives, and the
fusion head runs on the sum of the latest tokens.
"""
import torch
from torch import nn
from torch.nn import functional as F

from xmodal_training.methods.encoders import build_encoder, token_count
from xmodal_training.methods.task import supervised_loss, TaskModel
from xmodal_training.methods.transformer import group_mask, Transformer


class FeatureProjection(nn.Module):
    """
    F_m (B, k_m, d_m) -> F̂_m (B, k*, d*) (Sec. 4, "Feature Projection").

    Transformer layers on F_m give O_m (k_m x k*), softmax-normalised over the k_m input tokens so
    every output token is a convex combination of input tokens; F'_m = O_mᵀF_m (k* x d_m) is then
    mapped to d* by one linear layer.
    """

    def __init__(self, k_in, d_in, cfg):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, k_in, d_in) * 0.02)
        self.attn = Transformer(d_in, cfg.heads, cfg.ff_mult * d_in, cfg.projection_layers,
                                cfg.dropout)
        self.to_slots = nn.Linear(d_in, cfg.k_tokens)
        self.to_common = nn.Linear(d_in, cfg.d_model)

    def weights(self, f):
        """O_m (B, k_m, k*): column j says how much of each input token goes into output j."""
        return self.to_slots(self.attn(f + self.pos)).softmax(dim=1)

    def forward(self, f):
        return self.to_common(self.weights(f).transpose(1, 2) @ f)  # F'_m = O_mᵀF_m -> F̂_m


class SensorTokens(nn.Module):
    """
    One sensor's half of the model: input -> F̂_m.

    Exported as that sensor's graph.
    """

    def __init__(self, input_shape, encoder_spec, cfg):
        super().__init__()
        self.encoder = build_encoder(input_shape, encoder_spec)
        k_in = token_count(input_shape, encoder_spec)
        self.projection = FeatureProjection(k_in, self.encoder.dim, cfg)

    def forward(self, x):
        return self.projection(self.encoder(x))


class DualBranchHead(nn.Module):
    """
    Summed tokens F̂ (B, k*, d*) -> per-branch logits (B, 2, C) and regression (B, 2, R).

    One pass through H with the block-diagonal mask of Eq. 2 keeps the ground-truth group (first
    k*/2 tokens) and the pseudo-label group (last k*/2) apart; the branches share all weights and
    differ only in their input tokens, as in the paper.
    """

    def __init__(self, cfg, n_classes, n_targets):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, cfg.k_tokens, cfg.d_model) * 0.02)
        self.transformer = Transformer(cfg.d_model, cfg.heads, cfg.ff_mult * cfg.d_model,
                                       cfg.fusion_layers, cfg.dropout)
        self.register_buffer('allowed', group_mask(cfg.k_tokens, 2), persistent=False)
        self.classifier = nn.Linear(cfg.d_model, n_classes)
        self.regressor = nn.Linear(cfg.d_model, n_targets)

    def forward(self, tokens):
        h = self.transformer(tokens + self.pos, self.allowed)
        b, k, d = h.shape
        pooled = h.view(b, 2, k // 2, d).mean(dim=2)                # (B, 2 branches, d*)
        return self.classifier(pooled), self.regressor(pooled)


def align_loss(means, tokens, labels, by_class):
    """
    Eq. 1, L_align = Σ_m ||f̄_m − u_{n_m}||², averaged over the batch.

    ``means``: list of (rows, f̄_m) for the sensors present in those rows, f̄_m (n, d*) the average
    of a sensor's k* projected tokens. u_{n_m} is the token of the sample's class when
    ``by_class``, else the nearest of the n_u learnable tokens (chosen without gradient).
    """
    total = tokens.new_zeros(())
    for rows, f in means:
        if by_class:
            y = labels[rows]
            keep = y >= 0
            f, u = f[keep], tokens[y[keep]]
        else:
            u = tokens[torch.cdist(f.detach(), tokens.detach()).argmin(dim=1)]
        total = total + ((f - u) ** 2).sum()
    return total / labels.shape[0]


def pseudo_loss(logits, regression, pseudo_probs, pseudo_targets, alpha_cls, alpha_reg,
                regression_weight):
    """
    Eq. 3, α·L_pseudo: KL(pseudo ‖ prediction) on classes, L2 on targets (pseudo branch).

    The α weights sit inside because the two tasks have their own α in the paper (3000 for
    classification, 1 for regression).
    """
    loss = logits.new_zeros(())
    if logits.shape[-1]:
        loss = loss + alpha_cls * F.kl_div(F.log_softmax(logits, dim=-1), pseudo_probs,
                                           reduction='batchmean')
    if regression.shape[-1]:
        loss = loss + alpha_reg * regression_weight * F.mse_loss(regression, pseudo_targets)
    return loss


class UMIModel(TaskModel):
    """Sensors -> projected tokens -> sum over present sensors -> dual-branch prediction."""

    def __init__(self, cfg, input_shapes, encoders_cfg, n_classes, n_targets,
                 target_mean=None, target_std=None):
        super().__init__(input_shapes, n_classes, n_targets, target_mean, target_std)
        self.cfg = cfg
        self.sensors = nn.ModuleDict({s: SensorTokens(input_shapes[s], encoders_cfg[s], cfg)
                                      for s in self.sensor_names})
        self.head = DualBranchHead(cfg, n_classes, n_targets)
        if cfg.align_tokens == 'class' and not n_classes:
            raise ValueError("align_tokens='class' needs classes; use 'nearest' for regression")
        n_u = n_classes if cfg.align_tokens == 'class' else cfg.n_align_tokens
        self.align_tokens = nn.Parameter(torch.randn(n_u, cfg.d_model) * 0.02)

    def encoders(self):
        return {s: self.sensors[s].encoder for s in self.sensor_names}

    def tokens(self, batch):
        """
        F̂ = Σ_{m present} F̂_m (B, k*, d*) and each present sensor's (rows, f̄_m).

        Each sensor is encoded only for the rows that hold it, so an absent sensor adds exactly
        nothing (not even the tokens of a zero input).
        """
        present = batch['present']
        b = present.shape[0]
        total = None
        means = []
        for i, s in enumerate(self.sensor_names):
            rows = present[:, i].nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            t = self.sensors[s](batch[s].index_select(0, rows))
            if total is None:
                total = t.new_zeros(b, *t.shape[1:])
            total = total.index_add(0, rows, t)
            means.append((rows, t.mean(dim=1)))
        if total is None:
            raise ValueError('no sensor present in any sample of the batch')
        return total, means

    def forward(self, batch):
        """Loss terms of Eq. 3 by name; ``loss`` is λ·L_align + L_supervised + α·L_pseudo."""
        c = self.cfg
        total, means = self.tokens(batch)
        logits, regression = self.head(total)
        labels = batch['label']
        terms = {
            'align': align_loss(means, self.align_tokens, labels, c.align_tokens == 'class'),
            'supervised': supervised_loss(logits[:, 0], regression[:, 0], labels,
                                          self.normalise(batch['target']), c.regression_weight),
            'pseudo': pseudo_loss(logits[:, 1], regression[:, 1], batch['pseudo_probs'],
                                  batch['pseudo_target'], c.alpha_cls, c.alpha_reg,
                                  c.regression_weight),
        }
        terms['loss'] = c.lambda_align * terms['align'] + terms['supervised'] + terms['pseudo']
        return terms

    def fuse(self, total):
        """
        Map summed tokens to the robot's outputs.

        Branch-averaged probabilities and regression in physical units. This is the exported fusion
        graph.
        """
        logits, regression = self.head(total)
        probs = logits.softmax(dim=-1).mean(dim=1)
        return probs, self.physical(regression.mean(dim=1))

    @torch.no_grad()
    def predict(self, batch):
        total, _ = self.tokens(batch)
        probs, regression = self.fuse(total)
        return {'probs': probs, 'regression': regression}

    @torch.no_grad()
    def sensor_parts(self, batch):
        """Each sensor's F̂_m for every row: what ``predict_parts`` sums for any subset."""
        return {s: self.sensors[s](batch[s]) for s in self.sensor_names}

    @torch.no_grad()
    def predict_parts(self, parts):
        """``predict`` of the sensors in ``parts`` (rows holding all of them), summed in order."""
        total = None
        for s in self.sensor_names:
            if s in parts:
                total = parts[s] if total is None else total + parts[s]
        probs, regression = self.fuse(total)
        return {'probs': probs, 'regression': regression}
