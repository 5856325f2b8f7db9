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
UMI's pseudo-labels (Sec. 4, "Dual Branch Prediction").

The unimodal predictions of stage 1, averaged over its last e epochs, one sensor chosen per
training sample.

Averaging across epochs turns a sample's predictions into a distribution that is sharp where the
sensor is reliable and spread where it is not (the sample's difficulty, after Toneva et al. [35]).
Where a sample holds several sensors (e.g. camera and depth), the pseudo-label comes from the
sensor whose averaged prediction is closest to the ground truth by cosine similarity.
"""
import torch
from torch.nn import functional as F


class PseudoLabelRecorder:
    """
    Sums of each sensor's predictions per dataset index.

    ``index`` keys them, stable across epochs; filled from the training forward passes of the
    recorded epochs.
    """

    def __init__(self, n_samples, sensors, n_classes, n_targets):
        self.sensors = list(sensors)
        s = len(self.sensors)
        self.probs = torch.zeros(n_samples, s, n_classes, dtype=torch.float64)
        self.regression = torch.zeros(n_samples, s, n_targets, dtype=torch.float64)
        self.count = torch.zeros(n_samples, s, dtype=torch.float64)

    def update(self, index, sensor, logits, regression):
        """``index`` (n,) dataset indices of the rows; logits / normalised regression (n, .)."""
        i, j = index.cpu(), self.sensors.index(sensor)
        self.probs[i, j] += logits.float().softmax(dim=-1).cpu().double()
        self.regression[i, j] += regression.float().cpu().double()
        self.count[i, j] += 1

    def all_reduce(self):
        """Add up the sums of every DDP rank (each saw its own shard of the indices)."""
        import torch.distributed as dist
        for t in (self.probs, self.regression, self.count):
            dist.all_reduce(t)

    def select(self, labels, targets):
        """
        (pseudo_probs (N, C), pseudo_target (N, R)), float32.

        Per sample and per task, the averaged prediction of the sensor with the highest cosine
        similarity to the ground truth (one-hot class; normalised target vector). Every training
        sample is labelled (checked when the bags are opened).
        """
        seen = self.count > 0
        if not seen.any(dim=1).all():
            missing = int((~seen.any(dim=1)).sum())
            raise RuntimeError(f'{missing} training samples got no stage-1 prediction to average')
        count = self.count.clamp(min=1)[..., None]
        probs, regression = self.probs / count, self.regression / count
        rows = torch.arange(len(probs))

        def closest(pred, truth):
            score = F.cosine_similarity(pred, truth.double()[:, None], dim=-1)
            return pred[rows, score.masked_fill(~seen, -torch.inf).argmax(dim=1)].float()

        onehot = F.one_hot(labels, probs.shape[-1]) if probs.shape[-1] else probs[:, 0]
        return closest(probs, onehot), closest(regression, targets)
