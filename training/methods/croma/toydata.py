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
A constructed cross-modal few-shot problem (tests, smoke runs; not from the paper).

Each class c has a latent mean mu_c; a sample's latent is z = mu_c + spread * noise. The source
sensor sees tanh(z A_s) with little noise (high resource, easy); the target sensor sees a
different, noisier nonlinear view relu([z, n] A_t) B_t, where n is a nuisance latent (think grasp
pose for touch) that the source does not see: with a few shots the target alone cannot tell the
class directions from the nuisance ones; aligned to the source it can learn to ignore them.
``nuisance=0`` removes it (docs/CROMA.md reports both). Held-out classes are new latent means, so
what transfers is the map from inputs to the latent space, not the classes themselves: the
situation meta-alignment is for. Strong pairs: the first ``paired`` samples of every
meta-training class are recorded by both sensors (same z). Weak pairs: no shared samples, only a
coarse key both sensors observe (a noisy 3-d projection of z, standing in for e.g. the gripper's
proprioception), clustered by k-means with S ~ sqrt(N) (§11.1).
"""
import numpy as np
import torch

from xmodal_training.methods.croma.fewshot import FewShotData
from xmodal_training.methods.croma.modeling_croma import mlp_encoder
from xmodal_training.methods.croma.processor_croma import strong_pairs, weak_pairing


def make_problem(alignment='strong', n_classes=40, n_test=10, per_class=40, paired=20, latent=8,
                 source_dim=32, target_dim=24, spread=0.8, target_noise=0.3, key_noise=0.3,
                 nuisance=2.0, n_nuisance=8,
                 weak_pairs=4000, seed=0):
    """Return FewShotData: classes 0..n_classes-n_test-1 for meta-training, the rest held out."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 1.0, (n_classes, latent))
    a_s = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent, source_dim))
    a_t = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent + n_nuisance, 2 * target_dim))
    b_t = rng.normal(0.0, 1.0 / np.sqrt(2 * target_dim), (2 * target_dim, target_dim))
    k = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent, 3))
    y = np.repeat(np.arange(n_classes), per_class)
    z_s = mu[y] + spread * rng.normal(size=(len(y), latent))
    # target samples: the first `paired` of each class share the source sample's latent
    z_t = mu[y] + spread * rng.normal(size=(len(y), latent))
    first = (np.arange(len(y)) % per_class) < paired
    z_t[first] = z_s[first]
    xs = np.tanh(z_s @ a_s) + 0.05 * rng.normal(size=(len(y), source_dim))
    n_t = nuisance * rng.normal(size=(len(y), n_nuisance))
    xt = (np.maximum(np.concatenate([z_t, n_t], 1) @ a_t, 0.0) @ b_t * 3.0
          + target_noise * rng.normal(size=(len(y), target_dim)))
    train_classes = np.arange(n_classes - n_test)
    in_train = np.isin(y, train_classes)
    pool_t = np.flatnonzero(in_train & first)                 # target samples meta-training sees
    if alignment == 'strong':
        ids = np.arange(len(y))
        target_ids = np.where(in_train & first, ids, -1 - ids)
        pairs = strong_pairs(ids, target_ids, 'the constructed recordings')
    elif alignment == 'weak':
        src = np.flatnonzero(in_train & ~first)               # never the same samples
        key_s = z_s[src] @ k + key_noise * rng.normal(size=(len(src), 3))
        key_t = z_t[pool_t] @ k + key_noise * rng.normal(size=(len(pool_t), 3))
        local = weak_pairing(key_s, key_t, seed=seed).pairs(weak_pairs, seed=seed)
        local.pairs = np.stack([src[local.pairs[:, 0]], pool_t[local.pairs[:, 1]]], 1)
        pairs = local
    else:
        raise ValueError(f"alignment={alignment!r}; expected 'strong' or 'weak'")
    f32 = torch.float32
    return FewShotData(torch.as_tensor(xs, dtype=f32), y, torch.as_tensor(xt, dtype=f32), y,
                       train_classes, np.arange(n_classes - n_test, n_classes), pairs,
                       'toy-source', 'toy-target')


def make_encoders(source_dim=32, target_dim=24, hidden=128):
    """Return the toy's encoders: one MLP per sensor (a fresh pair per call)."""
    def build():
        s, sd = mlp_encoder(source_dim, hidden)
        t, td = mlp_encoder(target_dim, hidden)
        return s, sd, t, td
    return build


def run(args):
    """
    Every method on the constructed problem, per alignment kind and shot count.

    Writes toy.md / toy.json under --out.
    """
    import json
    from pathlib import Path

    from xmodal_training.methods.croma.configuration_croma import cpu_scaled
    from xmodal_training.methods.croma.fewshot import compare, markdown

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = cpu_scaled(iterations=args.iterations, pretrain_iterations=args.iterations,
                     eval_tasks=args.episodes)
    shots = [int(s) for s in args.shots.split(',')]
    text, everything = [], {}
    for alignment in args.alignment.split(','):
        data = make_problem(alignment, n_classes=args.classes, n_test=args.held_out,
                            nuisance=args.nuisance, seed=args.seed)
        print(f'--- {alignment} alignment: {len(data.pairs)} pairs', flush=True)
        res = compare(data, cfg, shots, make_encoders(), methods=args.methods.split(','),
                      episodes=args.episodes, seed=args.seed)
        everything[alignment] = res
        text.append(markdown(res, cfg, f'**{alignment} alignment** ({len(data.pairs)} pairs; '
                                       f'{args.classes - args.held_out} meta-training, '
                                       f'{args.held_out} held-out classes, nuisance '
                                       f'{args.nuisance:g}, {args.iterations} iterations)'))
    (out / 'toy.md').write_text('\n'.join(text))
    (out / 'toy.json').write_text(json.dumps(everything, indent=1))
    print('\n'.join(text))
    return 0


if __name__ == '__main__':
    import argparse
    import sys

    p = argparse.ArgumentParser(description='CROMA and its baselines on the constructed problem')
    p.add_argument('--out', required=True)
    p.add_argument('--alignment', default='strong,weak')
    p.add_argument('--shots', default='1,5,10')
    p.add_argument('--methods', default='unsup_pretrain,align_classify,align_meta,croma,oracle,'
                                        'target_only')
    p.add_argument('--episodes', type=int, default=100)
    p.add_argument('--iterations', type=int, default=300)
    p.add_argument('--classes', type=int, default=40)
    p.add_argument('--held-out', type=int, default=10)
    p.add_argument('--nuisance', type=float, default=2.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    sys.exit(run(p.parse_args()))
