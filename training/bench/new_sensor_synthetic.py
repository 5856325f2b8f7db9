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
A synthetic new-sensor problem with no instance pairing.

For the new-sensor methods' tests and the numbers in docs/NEW_SENSOR_METHODS.md.

World: C classes, each a Gaussian cluster in a latent space R^10 (unit within-class spread). Every
sensor is of one *kind*: x = tanh(A (P z) + a) + sensor noise, with the kind's nonlinear map A, a
shared by all sensors and a per-mount view P that keeps only some latent dimensions: known sensor 0
sees dims 0-5, known sensor 1 dims 4-9, the new sensor all ten with more noise. Each sensor's
samples are drawn from their own latent draws, so no new sample has a known counterpart, except a
class-balanced ``label_fraction`` of the new samples, recorded "with both" (the same z seen by
every sensor): those are the semi-supervised correspondences.

Known perceptors g_k (MLP) and heads h_k are trained on their own sensor's labelled samples and
frozen. Because all sensors share one kind, a known perceptor can read the new sensor's input
directly, with the error a changed view brings: that is the "compatible input" of COX's
unsupervised case (``known_probs_on_new``). Nothing here is tuned to any method's result.

``python -m xmodal_training.bench.new_sensor_synthetic --seeds 0 1 2`` prints the tables of the doc
(mean +- std over seeds).
"""
import argparse
import dataclasses
import json
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

from xmodal_training.methods.cox.processor_cox import class_balanced_subset
from xmodal_training.methods.new_sensor_core import NewSensorProblem

LATENT = 10
VIEWS = {'known0': range(0, 6), 'known1': range(4, 10), 'new': range(0, 10)}


@dataclasses.dataclass
class SyntheticConfig:
    n_classes: int = 6
    n_known: int = 1000
    n_new: int = 1000
    n_test: int = 1000
    width: int = 24                 # input width of every sensor of the kind
    class_spread: float = 1.2       # std of the class means in latent space
    noise_known: float = 0.05
    noise_new: float = 0.15
    label_fraction: float = 0.1     # new samples recorded with both sensors (semi-supervised)
    feature_dim: int = 32           # known perceptors' feature width
    perceptor_epochs: int = 30


class _World:
    def __init__(self, cfg, gen):
        self.cfg = cfg
        self.gen = gen
        self.means = cfg.class_spread * torch.randn(cfg.n_classes, LATENT, generator=gen)
        self.A = torch.randn(cfg.width, LATENT, generator=gen) * (1.5 / LATENT ** 0.5)
        self.a = 0.3 * torch.randn(cfg.width, generator=gen)

    def latents(self, n):
        y = torch.randint(0, self.cfg.n_classes, (n,), generator=self.gen)
        return self.means[y] + torch.randn(n, LATENT, generator=self.gen), y

    def observe(self, sensor, z):
        mask = torch.zeros(LATENT)
        mask[list(VIEWS[sensor])] = 1.0
        noise = self.cfg.noise_new if sensor == 'new' else self.cfg.noise_known
        x = torch.tanh((z * mask) @ self.A.T + self.a)
        return x + noise * torch.randn(x.shape, generator=self.gen)


def mlp_encoder(width, feature_dim, hidden=64):
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, feature_dim))


def _train_perceptor(x, y, cfg, seed):
    torch.manual_seed(seed)
    g = mlp_encoder(cfg.width, cfg.feature_dim)
    h = nn.Linear(cfg.feature_dim, cfg.n_classes)
    opt = torch.optim.Adam([*g.parameters(), *h.parameters()], lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(cfg.perceptor_epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = F.cross_entropy(h(g(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    g.eval().requires_grad_(False)
    h.eval().requires_grad_(False)
    return g, h


@dataclasses.dataclass
class Synthetic:
    cfg: SyntheticConfig
    known_inputs: list          # K x (N, width), rows paired across known sensors
    known_labels: torch.Tensor
    known_models: list          # frozen g_k
    known_heads: list           # frozen h_k
    new_inputs: torch.Tensor    # (M, width)
    new_true: torch.Tensor      # (M,) true labels (eval only, unless a method uses all labels)
    labelled: torch.Tensor      # rows of new_inputs recorded with both sensors
    pairs: torch.Tensor         # (L, 2) (new row, known row)
    test_inputs: torch.Tensor
    test_labels: torch.Tensor
    known_test_inputs: list     # K x (n_test, width) held-out known samples
    known_test_labels: torch.Tensor
    test_latents: torch.Tensor  # the true latent z of each test sample
    class_means: torch.Tensor

    def bayes_posteriors(self, z):
        """
        Return p(c | z) for the full latent (uniform prior, unit spread).

        That is the synthetic world's "true latent space" read in class-posterior space (synergy's
        P_*).
        """
        return (-0.5 * torch.cdist(z, self.class_means) ** 2).softmax(-1)

    def known_features(self):
        with torch.no_grad():
            return [g(x) for g, x in zip(self.known_models, self.known_inputs)]

    def encoder_factory(self):
        return mlp_encoder(self.cfg.width, self.cfg.feature_dim)

    def problem(self, mode):
        """
        Return the NewSensorProblem of one setting, ``mode``.

        'semi': labels only on the correspondences; 'unsupervised': no label, no pair, the known
        classifiers' reading of the new inputs; 'all': every new label (aligned, synergy).
        """
        feats = self.known_features()
        base = {'known_features': feats, 'known_heads': self.known_heads,
                'new_inputs': self.new_inputs, 'n_classes': self.cfg.n_classes,
                'known_labels': self.known_labels, 'known_inputs': self.known_inputs,
                'known_models': self.known_models, 'eval_labels': self.new_true}
        if mode == 'semi':
            labels = torch.full_like(self.new_true, -1)
            labels[self.labelled] = self.new_true[self.labelled]
            return NewSensorProblem(**base, new_labels=labels, pairs=self.pairs)
        if mode == 'unsupervised':
            with torch.no_grad():
                probs = torch.stack([h(g(self.new_inputs)).softmax(-1) for g, h in
                                     zip(self.known_models, self.known_heads)])
            return NewSensorProblem(**base, known_probs_on_new=probs)
        if mode == 'all':
            return NewSensorProblem(**base, new_labels=self.new_true.clone(), pairs=self.pairs)
        raise ValueError(f"mode={mode!r}; expected 'semi', 'unsupervised' or 'all'")


def make_synthetic(seed=0, cfg=None):
    cfg = cfg or SyntheticConfig()
    gen = torch.Generator().manual_seed(1000 + seed)
    world = _World(cfg, gen)
    known = ('known0', 'known1')
    z_k, y_k = world.latents(cfg.n_known)
    z_n, y_n = world.latents(cfg.n_new)           # independent draws: no pairing
    labelled = class_balanced_subset(y_n, cfg.label_fraction, gen)
    z_t, y_t = world.latents(cfg.n_test)
    z_kt, y_kt = world.latents(cfg.n_test)
    # known rows: the known recordings, then the few shared recordings (same z as new rows)
    known_inputs = [torch.cat([world.observe(s, z_k), world.observe(s, z_n[labelled])])
                    for s in known]
    known_labels = torch.cat([y_k, y_n[labelled]])
    pairs = torch.stack([labelled, cfg.n_known + torch.arange(len(labelled))], 1)
    models, heads = zip(*[_train_perceptor(known_inputs[k], known_labels, cfg, 10 * seed + k)
                          for k in range(len(known))])
    return Synthetic(cfg, known_inputs, known_labels, list(models), list(heads),
                     world.observe('new', z_n), y_n, labelled, pairs,
                     world.observe('new', z_t), y_t, [world.observe(s, z_kt) for s in known],
                     y_kt, z_t, world.means)


def _fmt(vals):
    t = torch.tensor(vals, dtype=torch.float64)
    if len(vals) == 1:
        return f'{100 * t.mean():.1f}'
    return f'{100 * t.mean():.1f} ± {100 * t.std():.1f}'


# (table key, registry name, problem mode, config overrides)
RUNS = [
    ('semi/random', 'random', 'semi', {}),
    ('semi/erm', 'erm', 'semi', {}),
    ('semi/entmin', 'entmin', 'semi', {}),
    ('semi/moco+entmin', 'moco', 'semi', {}),
    ('semi/cox', 'cox_semi', 'semi', {}),
    ('semi/cox[w/o exploration]', 'cox_semi', 'semi', {'explore_weight': 0.0}),
    ('semi/cox[explore_sum=written]', 'cox_semi', 'semi', {'explore_sum': 'written'}),
    ('all/aligned', 'aligned', 'all', {}),
    ('unsupervised/ssl', 'ssl', 'unsupervised', {}),
    ('unsupervised/moco', 'moco', 'unsupervised', {}),
    ('unsupervised/cox', 'cox_unsupervised', 'unsupervised', {}),
    ('unsupervised/cox[balanced_anchors]', 'cox_unsupervised', 'unsupervised',
     {'balanced_anchors': True}),
    ('unsupervised/cox[warm-up only]', 'cox_unsupervised', 'unsupervised', {'epochs': 10}),
    ('unsupervised/cox[balanced_anchors, warm-up only]', 'cox_unsupervised', 'unsupervised',
     {'balanced_anchors': True, 'epochs': 10}),
    ('synergy/shuffled a=0.3', 'synergy', 'all', {'pairing': 'shuffled'}),
    ('synergy/noisy a=0.3', 'synergy', 'all', {'pairing': 'noisy'}),
    ('synergy/paired a=0.3', 'synergy', 'all', {'pairing': 'paired'}),
    ('synergy-semi/same_class a=0', 'synergy', 'semi', {'alpha': 0.0}),
    ('synergy-semi/same_class a=0.3', 'synergy', 'semi', {}),
]


def run_seed(seed, runs=RUNS, log=print, sweep=True):
    """Run ``runs`` and the synergy sweep + alpha* on one synthetic draw; return {key: value}."""
    from xmodal_training.methods.new_sensor import evaluate, METHODS
    from xmodal_training.methods.synergy import alpha_star_for, alpha_sweep, SynergyConfig

    syn = make_synthetic(seed)
    out = {}
    for key, name, mode, overrides in runs:
        method = METHODS[name]
        cfg = dataclasses.replace(method.config(), **overrides)
        t0 = time.time()
        learner, curves = method.train(syn.problem(mode), syn.encoder_factory, cfg, seed=seed,
                                       progress=False)
        out[key] = evaluate(learner, syn.test_inputs, syn.test_labels)
        summary = curves.get('summary') or {}
        for k, v in summary.items():
            out[f'{key}:{k}'] = v
        log(f'seed {seed} {key}: {100 * out[key]:.1f} ({time.time() - t0:.0f} s)')
    if not sweep:
        return out
    with torch.no_grad():
        probs = torch.stack([h(g(syn.test_inputs)).softmax(-1) for g, h in
                             zip(syn.known_models, syn.known_heads)])
        out['unsupervised/known-vote (no training)'] = float(
            (probs.mean(0).argmax(-1) == syn.test_labels).float().mean())
        for k, (g, h) in enumerate(zip(syn.known_models, syn.known_heads)):
            out[f'known{k} perceptor on own test'] = float(
                (h(g(syn.known_test_inputs[k])).argmax(-1) == syn.known_test_labels)
                .float().mean())
    problem = syn.problem('all')
    accs, learners = alpha_sweep(problem, syn.encoder_factory, syn.test_inputs, syn.test_labels,
                                 cfg=SynergyConfig(), seed=seed, return_learners=True)
    for a, acc in accs.items():
        out[f'synergy/same_class a={a}'] = acc
    out['synergy/best a'] = max(accs, key=accs.get)
    est = alpha_star_for(learners[0.0], problem, syn.test_inputs,
                         syn.bayes_posteriors(syn.test_latents), SynergyConfig(), seed)
    for k, v in est.items():
        out[f'synergy/{k}'] = v
    log(f'seed {seed} sweep {accs} alpha* {est}')
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--json', help='write every number here too')
    ap.add_argument('--only', nargs='+', help='run only these table keys (no synergy sweep)')
    args = ap.parse_args(argv)
    runs = [r for r in RUNS if not args.only or r[0] in args.only]
    torch.set_num_threads(1)     # small MLPs: one thread is as fast and leaves the machine free
    results = {}
    for seed in args.seeds:
        for k, v in run_seed(seed, runs, lambda m: print(m, file=sys.stderr, flush=True),
                             sweep=not args.only).items():
            results.setdefault(k, []).append(v)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(results, f, indent=1)
    for key, vals in results.items():
        plain = key.startswith('synergy/') and not key.split('/')[1][:1].isalpha() or \
            any(s in key for s in ('alpha_star', 'delta', 'best a'))
        shown = ', '.join(f'{v:.3f}' for v in vals) if plain else _fmt(vals)
        print(f'{key:55s} {shown}')


if __name__ == '__main__':
    main()
