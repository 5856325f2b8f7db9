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
The baselines of the appendix's Tables 6-7, on the same encoders.

Shared space and classifier as CROMA, so only the training recipe differs:

- unsupervised pre-training [3, 12]: the target encoder pre-trained without labels (here: an
  autoencoder on the unlabelled target pool), then fine-tuned on the K-shot support;
- align + classify [10, 24, 50, 59, 62]: alignment and a source classifier over all meta-training
  classes trained jointly, not episodically; fine-tuned on the support with a new N-way head;
- align + meta classify [53]: alignment first, then MAML of the classifier on source episodes over
  the frozen aligned encoders (CROMA differs in training both in one meta-objective);
- within-modality oracle [17, 45]: MAML on the target's own labels of the meta-training classes;
- target only: nothing learned before the support set (the supervised-on-target-alone line).
"""
import torch
from torch import nn
from torch.nn import functional as F

from xmodal_training.methods.croma.modeling_croma import classifier, MetaLearner


def _batch(rng, n, size):
    return torch.as_tensor(rng.choice(n, size=min(size, n), replace=size > n))


def pretrain_alignment(model, data, cfg, rng, classify=False):
    """
    Pretrain with non-episodic Adam on L_align over random pair batches.

    With ``classify``, plus source cross-entropy over all meta-training classes (align + classify).
    """
    params = [{'params': model.encoder_parameters(), 'lr': cfg.align_lr}]
    if classify:
        params.append({'params': model.classifier.parameters(), 'lr': cfg.classifier_lr})
        train = torch.as_tensor(data.source_train_positions())
        remap = {int(c): i for i, c in enumerate(data.train_classes)}
        labels = torch.as_tensor([remap.get(int(y), -1) for y in data.source_y])
    opt = torch.optim.Adam(params)
    model.train()
    for _ in range(cfg.pretrain_iterations):
        rows = data.pairs.sample(cfg.pretrain_batch, rng)
        terms = model(pair_source=data.source_x[rows[:, 0]], pair_target=data.target_x[rows[:, 1]])
        loss = cfg.align_weight * terms['alignment']
        if classify:
            idx = train[_batch(rng, len(train), cfg.pretrain_batch)]
            logits = model.classifier(model.embed('source', data.source_x[idx]))
            loss = loss + F.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def align_classify(model, data, cfg, shots, rng):
    model.classifier = classifier(cfg.width, cfg.classifier_hidden, len(data.train_classes))
    return pretrain_alignment(model, data, cfg, rng, classify=True)


def align_meta_classify(model, data, cfg, shots, rng):
    pretrain_alignment(model, data, cfg, rng)
    return MetaLearner(model, cfg, shots, 'source').train(
        data.source_x, data.source_sampler(cfg, shots), rng, train_encoders=False)


def oracle(model, data, cfg, shots, rng):
    return MetaLearner(model, cfg, shots, 'target').train(
        data.target_x, data.target_train_sampler(cfg, shots), rng)


def unsupervised_pretraining(model, data, cfg, shots, rng):
    """Autoencoder: the target's shared-space code must reconstruct the (flattened) input."""
    pool = torch.as_tensor(data.target_unlabelled())
    n_in = data.target_x[0].numel()
    decoder = nn.Sequential(nn.Linear(cfg.width, cfg.classifier_hidden), nn.ReLU(),
                            nn.Linear(cfg.classifier_hidden, n_in))
    opt = torch.optim.Adam(list(model.target.parameters()) + list(decoder.parameters()),
                           lr=cfg.align_lr)
    model.train()
    for _ in range(cfg.pretrain_iterations):
        x = data.target_x[pool[_batch(rng, len(pool), cfg.pretrain_batch)]]
        loss = F.mse_loss(decoder(model.embed('target', x)), x.flatten(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def target_only(model, data, cfg, shots, rng):
    return model
