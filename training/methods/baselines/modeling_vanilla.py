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
Vanilla multimodal transformer (Gabeur et al. [9]) adapted to unseen modality interaction.

As in the paper (Sec. 6): each sensor's tokens are linearly projected to d* and tagged with a
modality embedding, all sensors' tokens are concatenated, and a missing sensor is replaced by its
own series of learnable tokens.

It must learn cross-modal correspondences, which modality-incomplete training data never shows it:
the baseline UMI is meant to beat.
"""
import torch
from torch import nn

from xmodal_training.methods.encoders import build_encoder, token_count
from xmodal_training.methods.task import supervised_loss, TaskModel
from xmodal_training.methods.transformer import Transformer


class VanillaTransformerModel(TaskModel):
    def __init__(self, cfg, input_shapes, encoders_cfg, n_classes, n_targets,
                 target_mean=None, target_std=None):
        super().__init__(input_shapes, n_classes, n_targets, target_mean, target_std)
        self.cfg = cfg
        d = cfg.d_model
        self.encoder = nn.ModuleDict({s: build_encoder(input_shapes[s], encoders_cfg[s])
                                      for s in self.sensor_names})
        self.embed = nn.ModuleDict({s: nn.Linear(self.encoder[s].dim, d)
                                    for s in self.sensor_names})
        k = {s: token_count(input_shapes[s], encoders_cfg[s]) for s in self.sensor_names}
        self.pos = nn.ParameterDict({s: nn.Parameter(torch.randn(1, k[s], d) * 0.02)
                                     for s in self.sensor_names})
        self.modality = nn.ParameterDict({s: nn.Parameter(torch.randn(1, 1, d) * 0.02)
                                          for s in self.sensor_names})
        self.missing = nn.ParameterDict({s: nn.Parameter(torch.randn(1, k[s], d) * 0.02)
                                         for s in self.sensor_names})
        self.transformer = Transformer(d, cfg.heads, cfg.ff_mult * d, cfg.layers, cfg.dropout)
        self.classifier = nn.Linear(d, n_classes)
        self.regressor = nn.Linear(d, n_targets)

    def encoders(self):
        return dict(self.encoder)

    def heads(self, batch):
        present = batch['present']
        b = present.shape[0]
        parts = []
        for i, s in enumerate(self.sensor_names):
            tokens = self.missing[s].expand(b, -1, -1)
            rows = present[:, i].nonzero().squeeze(1)
            if rows.numel():
                t = self.embed[s](self.encoder[s](batch[s].index_select(0, rows)))
                tokens = tokens.index_copy(0, rows, (t + self.pos[s] + self.modality[s])
                                           .to(tokens.dtype))
            parts.append(tokens)
        pooled = self.transformer(torch.cat(parts, dim=1)).mean(dim=1)
        return self.classifier(pooled), self.regressor(pooled)

    def forward(self, batch):
        logits, regression = self.heads(batch)
        loss = supervised_loss(logits, regression, batch['label'],
                               self.normalise(batch['target']),
                               self.cfg.regression_weight)
        return {'supervised': loss, 'loss': loss}

    @torch.no_grad()
    def predict(self, batch):
        logits, regression = self.heads(batch)
        return {'probs': logits.softmax(dim=-1),
                'regression': self.physical(regression)}
