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
What every method shares about the task: object class + regression targets.

Targets are learned normalised (zero mean, unit std over the training set); the statistics travel
in the model as buffers, so predictions come back in physical units wherever the model goes.
"""
import torch
from torch import nn
from torch.nn import functional as F


class TaskModel(nn.Module):
    """Base of every method's model: the sensors it reads and the target scaling."""

    def __init__(self, input_shapes, n_classes, n_targets, target_mean=None, target_std=None):
        super().__init__()
        self.sensor_names = list(input_shapes)      # ``present`` columns follow this order
        self.n_classes = n_classes
        self.register_buffer('target_mean', torch.zeros(n_targets) if target_mean is None
                             else torch.as_tensor(target_mean, dtype=torch.float32))
        self.register_buffer('target_std', torch.ones(n_targets) if target_std is None
                             else torch.as_tensor(target_std, dtype=torch.float32))

    def normalise(self, targets):
        return (targets - self.target_mean) / self.target_std

    def physical(self, regression):
        return regression * self.target_std + self.target_mean


def masked_mse(pred, target):
    """
    Mean squared error over the known entries of ``target``.

    NaN = unknown, as the dataset gives targets a bag does not record.
    """
    known = ~target.isnan()
    if not known.any():
        return pred.new_zeros(())
    return F.mse_loss(pred[known], target[known])


def supervised_loss(logits, regression, labels, targets, regression_weight):
    """
    Eq. 3, L_supervised.

    cross-entropy on the class (unlabelled rows, -1, are skipped) plus L2 on the normalised
    regression targets. The baselines train on this alone.
    """
    loss = logits.new_zeros(())
    if logits.shape[-1] and (labels >= 0).any():
        loss = loss + F.cross_entropy(logits, labels, ignore_index=-1)
    if regression.shape[-1]:
        loss = loss + regression_weight * masked_mse(regression, targets)
    return loss
