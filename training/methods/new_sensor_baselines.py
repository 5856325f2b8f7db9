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
The COX paper's baselines (Sec. 4.1), with COX's training-function signature.

``train_<name>(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True)
-> (learner, curves)``.

random: the learner as initialised. erm: CE on the labelled new samples only. entmin: ERM + the
entropy of the unlabelled predictions (Grandvalet & Bengio 2004). ssl: ERM + consistency of the
predictions under Gaussian input noise (the paper's "Gaussian noise perturbation on the input").
moco: MoCo (He et al. 2020) contrastive learning with a momentum key encoder and a queue of
negatives, plus ERM, plus EntMin in the semi-supervised case as the paper does. aligned: the upper
bound, CE on every new sample's label.

Which labels: the labelled new samples (``problem.labelled()``). In the unsupervised setting a
baseline's head otherwise has nothing that says which output is which class, so its accuracy would
be chance by construction; there the baselines get the same labels COX's warm-up gets, the SORT_T
anchors of Eq. 14 from ``problem.known_probs_on_new``. Every method runs the same number of steps
per epoch (one pass over the new samples, labelled batches drawn as needed), so none is starved of
optimisation relative to COX.
"""
import copy
import dataclasses

import torch
from torch.nn import functional as F

from xmodal_training.methods.cox.modeling_cox import sort_t
from xmodal_training.methods.new_sensor_core import (adam, build_learner, draw, entropy,
                                                     ProblemError, progress_bar, Runtime, seeded,
                                                     steps_per_epoch)


@dataclasses.dataclass
class BaselineConfig:
    epochs: int = 50                 # COX's setup (Sec. 4.1), so the comparison is like for like
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 128
    anchor_fraction: float = 0.1     # unsupervised: SORT_T anchors as labels (see module doc)
    entmin_weight: float = 1.0       # not stated; "minimise the entropy ... meanwhile ERM": 1:1
    # SSL / MoCo perturbation: x + N(0, (noise * std(x))^2); the paper gives no scale.
    noise: float = 0.1
    ssl_weight: float = 1.0          # not stated; 1:1 with the CE
    moco_momentum: float = 0.999     # MoCo's m
    moco_temperature: float = 0.07   # MoCo's tau
    moco_queue: int = 1024           # MoCo's K = 65536, scaled to sets of a few thousand
    moco_weight: float = 1.0


def _labels(problem, cfg):
    rows, labels = problem.labelled()
    if len(rows) == 0 and problem.known_probs_on_new is not None:
        t = max(1, round(cfg.anchor_fraction * len(problem.new_inputs)))
        rows, labels, _ = sort_t(problem.known_probs_on_new.float(), t)
    return rows, labels


class _Loop:
    def __init__(self, problem, encoder_factory, cfg, device, seed):
        self.p, self.cfg = problem, cfg
        self.rt = Runtime(device)
        self.gen = seeded(seed)
        self.learner = build_learner(encoder_factory, problem.new_inputs,
                                     problem.n_classes).to(self.rt.device)
        self.rows, self.labels = _labels(problem, cfg)
        labelled = torch.zeros(len(problem.new_inputs), dtype=torch.bool)
        labelled[self.rows] = True
        self.unlabelled = torch.nonzero(~labelled).squeeze(1)
        self.noise_std = cfg.noise * float(problem.new_inputs.float().std())

    def x(self, idx):
        return self.p.new_inputs[idx].float().to(self.rt.device)

    def perturb(self, x):
        return x + self.noise_std * torch.randn_like(x)

    def labelled_batch(self):
        if len(self.rows) == 0:
            raise ProblemError('new_labels: this baseline needs labelled new samples (or '
                               'known_probs_on_new for SORT_T anchors); none given')
        b = draw(len(self.rows), min(self.cfg.batch_size, len(self.rows)), self.gen)
        return self.x(self.rows[b]), self.labels[b].to(self.rt.device)

    def unlabelled_batch(self):
        pool = self.unlabelled if len(self.unlabelled) else torch.arange(len(self.p.new_inputs))
        return self.x(pool[draw(len(pool), self.cfg.batch_size, self.gen)])

    def run(self, loss_fn, desc, progress, params=None, after_step=None):
        params = list(params or self.learner.parameters())
        opt = adam(params, self.cfg.lr, self.cfg.weight_decay)
        curves = []
        for epoch in progress_bar(self.cfg.epochs, desc, progress):
            sums, n = {}, 0
            for _ in range(steps_per_epoch(len(self.p.new_inputs), self.cfg.batch_size)):
                with self.rt.autocast():
                    terms = loss_fn()
                self.rt.step(opt, terms['loss'], params)
                if after_step:
                    after_step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                n += 1
            curves.append({'epoch': epoch + 1, **{k: v / n for k, v in sums.items()}})
        self.learner.cpu().eval()
        return self.learner, {'epochs': curves}


def train_random(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """Return the learner as initialised (seeded): the floor every method must clear."""
    seeded(seed)
    learner = build_learner(encoder_factory, problem.new_inputs, problem.n_classes)
    return learner.eval(), {'epochs': []}


def train_erm(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """Empirical risk on the labelled new samples only."""
    loop = _Loop(problem, encoder_factory, cfg or BaselineConfig(), device, seed)

    def loss():
        x, y = loop.labelled_batch()
        ce = F.cross_entropy(loop.learner(x).float(), y)
        return {'ce': ce, 'loss': ce}
    return loop.run(loss, 'ERM', progress)


def train_entmin(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """ERM + entmin_weight * H(h(x_u)) on the unlabelled new samples."""
    cfg = cfg or BaselineConfig()
    loop = _Loop(problem, encoder_factory, cfg, device, seed)

    def loss():
        x, y = loop.labelled_batch()
        ce = F.cross_entropy(loop.learner(x).float(), y)
        ent = entropy(loop.learner(loop.unlabelled_batch()))
        return {'ce': ce, 'entropy': ent, 'loss': ce + cfg.entmin_weight * ent}
    return loop.run(loss, 'EntMin', progress)


def train_ssl(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """
    Train ERM plus a Pi-model consistency under Gaussian input noise (the paper's SSL).

    Loss: ERM + ssl_weight * ||softmax(h(x + xi)) - softmax(h(x + xi'))||^2 (mean over the batch;
    two Gaussian perturbations of the same unlabelled input).
    """
    cfg = cfg or BaselineConfig()
    loop = _Loop(problem, encoder_factory, cfg, device, seed)

    def loss():
        x, y = loop.labelled_batch()
        ce = F.cross_entropy(loop.learner(loop.perturb(x)).float(), y)
        xu = loop.unlabelled_batch()
        p1 = loop.learner(loop.perturb(xu)).float().softmax(-1)
        p2 = loop.learner(loop.perturb(xu)).float().softmax(-1)
        cons = ((p1 - p2) ** 2).sum(-1).mean()
        return {'ce': ce, 'consistency': cons, 'loss': ce + cfg.ssl_weight * cons}
    return loop.run(loss, 'SSL', progress)


def info_nce(q, k, queue, temperature):
    """
    Return MoCo's InfoNCE, mean over the batch.

    Positives q.k, negatives q.queue, all L2-normalised.
    """
    q, k = F.normalize(q.float(), dim=-1), F.normalize(k.float(), dim=-1)
    pos = (q * k).sum(-1, keepdim=True)
    neg = q @ F.normalize(queue.float(), dim=-1).T
    logits = torch.cat([pos, neg], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def train_moco(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """
    Train MoCo on the new samples + ERM on the labelled ones (+ EntMin where it applies).

    MoCo: two Gaussian-noise views; key encoder = momentum copy of g^O; queue of past keys. EntMin
    joins where unlabelled samples exist and labels are real (the paper's semi-supervised
    combination).
    """
    cfg = cfg or BaselineConfig()
    loop = _Loop(problem, encoder_factory, cfg, device, seed)
    key_encoder = copy.deepcopy(loop.learner.encoder).requires_grad_(False)
    queue = F.normalize(torch.randn(cfg.moco_queue, loop.learner.feature_dim,
                                    generator=loop.gen), dim=-1).to(loop.rt.device)
    state = {'ptr': 0}
    semi = len(problem.labelled()[0]) > 0

    def loss():
        x, y = loop.labelled_batch()
        ce = F.cross_entropy(loop.learner(x).float(), y)
        xu = loop.unlabelled_batch()
        q = loop.learner.features(loop.perturb(xu))
        with torch.no_grad():
            k = key_encoder(loop.perturb(xu)).float()
        nce = info_nce(q, k, queue, cfg.moco_temperature)
        terms = {'ce': ce, 'info_nce': nce, 'loss': ce + cfg.moco_weight * nce}
        if semi:
            ent = entropy(loop.learner.head(q))
            terms['entropy'] = ent
            terms['loss'] = terms['loss'] + cfg.entmin_weight * ent
        state['keys'] = F.normalize(k, dim=-1)
        return terms

    def after_step():
        with torch.no_grad():
            for pk, pq in zip(key_encoder.parameters(), loop.learner.encoder.parameters()):
                pk.mul_(cfg.moco_momentum).add_(pq.detach(), alpha=1 - cfg.moco_momentum)
            keys = state['keys']
            idx = (state['ptr'] + torch.arange(len(keys), device=keys.device)) % len(queue)
            queue[idx] = keys
            state['ptr'] = int(idx[-1] + 1) % len(queue)
    return loop.run(loss, 'MoCo', progress, after_step=after_step)


def train_aligned(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """Upper bound: CE on every new sample's label (``problem.new_labels`` complete)."""
    if problem.new_labels is None or (problem.new_labels < 0).any():
        raise ProblemError('new_labels: the aligned upper bound needs a label for every new '
                           'sample')
    return train_erm(problem, encoder_factory, cfg, device, seed, progress)
