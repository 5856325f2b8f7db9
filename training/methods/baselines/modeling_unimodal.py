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
Unimodal encoders with a linear head each (Table 2, "Unimodal"), and late fusion.

The average of the present sensors' predictions (Table 4, "averaging the final predictions from
unimodal encoders"). Training this model is also stage 1 of UMI: its encoders initialise UMI's, and
its predictions over the last e epochs become UMI's pseudo-labels.
"""
import torch
from torch import nn

from xmodal_training.methods.encoders import build_encoder
from xmodal_training.methods.task import supervised_loss, TaskModel


class UnimodalModel(TaskModel):
    def __init__(self, cfg, input_shapes, encoders_cfg, n_classes, n_targets,
                 target_mean=None, target_std=None):
        super().__init__(input_shapes, n_classes, n_targets, target_mean, target_std)
        self.cfg = cfg
        self.encoder = nn.ModuleDict({s: build_encoder(input_shapes[s], encoders_cfg[s])
                                      for s in self.sensor_names})
        self.head = nn.ModuleDict({s: nn.Linear(self.encoder[s].dim, n_classes + n_targets)
                                   for s in self.sensor_names})

    def encoders(self):
        return dict(self.encoder)

    def outputs(self, batch):
        """{sensor: (rows, logits, normalised regression)} for the rows that hold each sensor."""
        out = {}
        for i, s in enumerate(self.sensor_names):
            rows = batch['present'][:, i].nonzero().squeeze(1)
            if rows.numel():
                y = self.head[s](self.encoder[s](batch[s].index_select(0, rows)).mean(dim=1))
                out[s] = (rows, y[:, :self.n_classes], y[:, self.n_classes:])
        return out

    def forward(self, batch):
        """
        Per-sensor L_supervised and their sum (``loss``).

        ``outputs`` (detached) feeds the pseudo-label record of stage 1.
        """
        outputs = self.outputs(batch)
        targets = self.normalise(batch['target'])
        terms = {s: supervised_loss(lg, rg, batch['label'][rows], targets[rows],
                                    self.cfg.regression_weight)
                 for s, (rows, lg, rg) in outputs.items()}
        terms['loss'] = sum(terms.values())
        terms['outputs'] = {s: (rows, lg.detach(), rg.detach())
                            for s, (rows, lg, rg) in outputs.items()}
        return terms

    @torch.no_grad()
    def predict(self, batch):
        """Late fusion: mean of the present sensors' probabilities and regressions."""
        b = batch['present'].shape[0]
        probs = self.target_mean.new_zeros(b, self.n_classes)
        regression = self.target_mean.new_zeros(b, self.target_mean.numel())
        count = self.target_mean.new_zeros(b, 1)
        for rows, logits, reg in self.outputs(batch).values():
            probs.index_add_(0, rows, logits.softmax(dim=-1))
            regression.index_add_(0, rows, reg)
            count.index_add_(0, rows, torch.ones_like(rows, dtype=count.dtype)[:, None])
        count.clamp_(min=1)
        return {'probs': probs / count,
                'regression': self.physical(regression / count)}

    @torch.no_grad()
    def sensor_parts(self, batch):
        """Each sensor's probabilities and normalised regression for every row."""
        out = {}
        for s in self.sensor_names:
            y = self.head[s](self.encoder[s](batch[s]).mean(dim=1))
            out[s] = (y[:, :self.n_classes].softmax(dim=-1), y[:, self.n_classes:])
        return out

    @torch.no_grad()
    def predict_parts(self, parts):
        """``predict`` of the sensors in ``parts`` (rows holding all of them): their mean."""
        present = [parts[s] for s in self.sensor_names if s in parts]
        probs = regression = 0
        for p, r in present:
            probs, regression = probs + p, regression + r
        return {'probs': probs / len(present),
                'regression': self.physical(regression / len(present))}
