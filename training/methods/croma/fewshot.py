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
Few-shot learning for a low-resource target sensor.

Train CROMA or a baseline on generic arrays, then evaluate N-way K-shot episodes of held-out
classes in the target sensor.

``FewShotData`` is the whole interface to data: source and target inputs with labels, the class
split, and alignment pairs (positions into the two arrays). Bags, simulators or synthetic
problems only have to fill it; `xmodal train fewshot` is meant to do so from bags.

Meta-test protocol, the same for every method: the same list of episodes (seeded) over the held-out
classes, target support -> target query. Meta-learned methods (CROMA, align + meta classify,
oracle) adapt their classifier with the inner loop they were meta-trained with (SGD, meta rate,
``test_inner_steps``); the others fine-tune their target encoder and a new N-way classifier with
Adam for ``finetune_steps``. Accuracy: mean ± 95 % CI (1.96 standard errors) over episodes.
"""
import copy
import dataclasses
import math
import time

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from xmodal_training.methods.croma import baselines_croma as baselines
from xmodal_training.methods.croma.modeling_croma import (adapt_classifier, classifier, CromaModel,
                                                          MetaLearner)
from xmodal_training.methods.croma.processor_croma import check_split, EpisodeSampler, FewShotError


@dataclasses.dataclass
class FewShotData:
    """
    Inputs and labels of both sensors, the class split and the alignment pairs.

    ``target_y`` of meta-training classes is read by the oracle only; of held-out classes, by the
    meta-test episodes only. Pairs must stay within meta-training classes (checked).
    """

    source_x: torch.Tensor
    source_y: np.ndarray
    target_x: torch.Tensor
    target_y: np.ndarray
    train_classes: np.ndarray
    test_classes: np.ndarray
    pairs: object                      # PairPool
    source_name: str = 'source'
    target_name: str = 'target'

    def __post_init__(self):
        self.source_y, self.target_y = np.asarray(self.source_y), np.asarray(self.target_y)
        self.train_classes = np.asarray(self.train_classes)
        self.test_classes = np.asarray(self.test_classes)
        check_split(self.train_classes, self.test_classes)
        if len(self.pairs) == 0:
            raise FewShotError(f'no {self.pairs.kind} alignment pairs between {self.source_name} '
                               f'and {self.target_name}')
        for side, y, col in (('source', self.source_y, 0), ('target', self.target_y, 1)):
            leak = np.isin(y[self.pairs.pairs[:, col]], self.test_classes)
            if leak.any():
                raise FewShotError(
                    f'{int(leak.sum())} alignment pair(s) hold {side} samples of held-out '
                    f'class(es) {sorted(set(y[self.pairs.pairs[leak, col]].tolist()))}: they '
                    'would leak test classes into meta-training; build pairs from '
                    'meta-training classes only')

    def source_train_positions(self):
        return np.flatnonzero(np.isin(self.source_y, self.train_classes))

    def target_unlabelled(self):
        """Target samples meta-training may see without labels: those of the alignment pairs."""
        return np.unique(self.pairs.pairs[:, 1])

    def source_sampler(self, cfg, shots):
        return EpisodeSampler(self.source_y, self.train_classes, cfg.n_way, shots, cfg.n_query,
                              f'{self.source_name}, meta-training classes')

    def target_train_sampler(self, cfg, shots):
        return EpisodeSampler(self.target_y, self.train_classes, cfg.n_way, shots, cfg.n_query,
                              f'{self.target_name}, meta-training classes (oracle)')

    def test_sampler(self, cfg, shots):
        return EpisodeSampler(self.target_y, self.test_classes, cfg.n_way, shots, cfg.n_query,
                              f'{self.target_name}, held-out classes')


def croma(model, data, cfg, shots, rng):
    """Meta-alignment: MAML on source episodes with the alignment loss of each task's pairs."""
    return MetaLearner(model, cfg, shots, 'source').train(
        data.source_x, data.source_sampler(cfg, shots), rng,
        pairs=(data.pairs, data.source_y, data.source_x, data.target_x))


# name -> (trainer, adaptation at meta-test, depends on shots, label for tables)
METHODS = {
    'unsup_pretrain': (baselines.unsupervised_pretraining, 'finetune', False,
                       'Unsup. pre-training'),
    'align_classify': (baselines.align_classify, 'finetune', False, 'Align + classify'),
    'align_meta': (baselines.align_meta_classify, 'meta', True, 'Align + meta classify'),
    'croma': (croma, 'meta', True, 'CROMA (meta-alignment)'),
    'oracle': (baselines.oracle, 'meta', True, 'Oracle: within-target meta-learning'),
    'target_only': (baselines.target_only, 'finetune', False, 'Target only (support set alone)'),
}


def build(make_encoders, cfg, seed):
    """Return a fresh model; every method starts from the same encoder weights for a given seed."""
    torch.manual_seed(seed)
    source, source_dim, target, target_dim = make_encoders()
    return CromaModel(source, source_dim, target, target_dim, cfg.n_way, cfg)


def train(method, data, cfg, shots, make_encoders, seed=None):
    if method not in METHODS:
        raise FewShotError(f'method {method!r}; known: {", ".join(METHODS)}')
    seed = cfg.seed if seed is None else seed
    model = build(make_encoders, cfg, seed)
    rng = np.random.default_rng(seed)
    return METHODS[method][0](model, data, cfg, shots, rng)


def _meta_episode(model, data, ep, cfg):
    with torch.no_grad():
        z = model.embed('target', data.target_x[torch.as_tensor(ep.support)])
        zq = model.embed('target', data.target_x[torch.as_tensor(ep.query)])
    fast = adapt_classifier(model.classifier, z, torch.as_tensor(ep.support_y),
                            cfg.test_inner_steps, cfg.meta_lr, create_graph=False)
    with torch.no_grad():
        return functional_call(model.classifier, fast, (zq,)).argmax(-1)


def _finetune_episode(model, data, ep, cfg):
    target = copy.deepcopy(model.target)
    head = classifier(cfg.width, cfg.classifier_hidden, cfg.n_way)
    opt = torch.optim.Adam([{'params': target.parameters(), 'lr': cfg.align_lr},
                            {'params': head.parameters(), 'lr': cfg.classifier_lr}])
    x, y = data.target_x[torch.as_tensor(ep.support)], torch.as_tensor(ep.support_y)
    target.train()
    for _ in range(cfg.finetune_steps):
        loss = F.cross_entropy(head(target(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    target.eval()
    with torch.no_grad():
        return head(target(data.target_x[torch.as_tensor(ep.query)])).argmax(-1)


def evaluate(model, adaptation, data, episodes, cfg):
    """Accuracy (0-1) of each meta-test episode."""
    run = _meta_episode if adaptation == 'meta' else _finetune_episode
    return np.array([float((run(model, data, ep, cfg) == torch.as_tensor(ep.query_y))
                           .float().mean()) for ep in episodes])


def summary(accs):
    """(mean %, 95 % CI half-width %)."""
    half = 1.96 * accs.std(ddof=1) / math.sqrt(len(accs)) if len(accs) > 1 else float('nan')
    return 100 * float(accs.mean()), 100 * half


def compare(data, cfg, shots_list, make_encoders, methods=None, episodes=None, seed=0, log=print):
    """
    Train each method and evaluate all of them on the same episodes per shot count.

    Meta-learned methods train once per shot count; ``episodes`` defaults to cfg.eval_tasks.
    Returns {method: {shots: {'accs', 'mean', 'ci', 'train_s'}}}.
    """
    methods = list(methods or METHODS)
    episodes = episodes or cfg.eval_tasks
    results = {m: {} for m in methods}
    trained = {}
    for shots in shots_list:
        test = data.test_sampler(cfg, shots)
        rng = np.random.default_rng(10_000 + seed * 100 + shots)
        eps = [test.sample(rng) for _ in range(episodes)]
        for m in methods:
            fn, adaptation, per_shot, _ = METHODS[m]
            key = (m, shots if per_shot else None)
            t0 = time.perf_counter()
            if key not in trained:
                trained[key] = train(m, data, cfg, shots, make_encoders, seed)
            t1 = time.perf_counter()
            accs = evaluate(trained[key], adaptation, data, eps, cfg)
            mean, ci = summary(accs)
            results[m][shots] = {'accs': accs.tolist(), 'mean': mean, 'ci': ci,
                                 'train_s': t1 - t0, 'eval_s': time.perf_counter() - t1}
            if log:
                log(f'{shots:>2}-shot {m:<15} {mean:5.1f} ± {ci:4.1f} %  '
                    f'(train {t1 - t0:.1f} s, eval {time.perf_counter() - t1:.1f} s)')
    return results


def markdown(results, cfg, title=''):
    shots = sorted({s for r in results.values() for s in r})
    lines = [title, '', f'{cfg.n_way}-way accuracy (%) on held-out classes, mean ± 95 % CI over '
             'episodes.', '', '| method | ' + ' | '.join(f'{s}-shot' for s in shots) + ' |',
             '|---|' + '---|' * len(shots)]
    for m, r in results.items():
        cells = [f'{r[s]["mean"]:.1f} ± {r[s]["ci"]:.1f}' if s in r else '' for s in shots]
        lines.append(f'| {METHODS[m][3]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'
