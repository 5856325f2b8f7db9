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

``SubsetDropout`` (the ``oracle_dropout`` method) hides a random subset of each training sample's
sensors; its pseudo-label is then chosen by the same rule among the sensors it keeps, so that, as
in UMI, a sample's pseudo-label always comes from a sensor the model sees in it.
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
        probs, regression, seen = self.averages()
        return (closest(probs, class_truth(labels, probs), seen).float(),
                closest(regression, targets, seen).float())

    def averages(self):
        """
        Return (probs (N, S, C), regression (N, S, R), seen (N, S)), float64.

        Each sensor's predictions averaged over the recorded epochs; ``seen``: it made some.
        """
        seen = self.count > 0
        if not seen.any(dim=1).all():
            missing = int((~seen.any(dim=1)).sum())
            raise RuntimeError(f'{missing} training samples got no stage-1 prediction to average')
        count = self.count.clamp(min=1)[..., None]
        return self.probs / count, self.regression / count, seen

    def per_sensor(self):
        """Return what ``SubsetDropout`` picks pseudo-labels from (float32; stage-1 runs)."""
        probs, regression, seen = self.averages()
        return {'probs': probs.float(), 'target': regression.float(), 'seen': seen}


def class_truth(labels, probs):
    """One-hot ground truth (N, C) to compare (N, S, C) predictions with."""
    return F.one_hot(labels, probs.shape[-1]) if probs.shape[-1] else probs[:, 0]


def similarity(pred, truth):
    """Return each sensor's mean prediction's cosine similarity to the truth, (N, S)."""
    return F.cosine_similarity(pred, truth.to(pred.dtype)[:, None], dim=-1)


def closest(pred, truth, allowed):
    """Per row, ``pred`` (N, S, K) of the allowed sensor closest to ``truth`` (N, K)."""
    score = similarity(pred, truth).masked_fill(~allowed, -torch.inf)
    return pred[torch.arange(len(pred)), score.argmax(dim=1)]


class SubsetDropout:
    """
    Random sensor-subset dropout of training batches, with pseudo-labels from the kept sensors.

    Each present sensor of a sample is dropped with probability ``p`` independently; a sample
    left with none is redrawn. So every non-empty subset K of the n sensors a sample holds has
    probability proportional to (1-p)^|K| p^(n-|K|): uniform over the 2^n - 1 subsets at p = 0.5.
    A dropped sensor is marked absent in ``present`` and its input zeroed, exactly as the dataset
    gives a sensor the bag lacks. The draws come from a generator seeded by (seed, rank): the same
    seed, bags and batch order give the same subsets.

    ``per_sensor``: the stage-1 run's per-sensor averaged predictions (``PseudoLabelRecorder.
    per_sensor``); ``labels`` (N,) and normalised ``targets`` (N, R) of the training samples.
    """

    def __init__(self, p, seed, per_sensor, labels, targets, rank=0):
        self.p = float(p)
        self.generator = torch.Generator().manual_seed(int(seed) * 1009 + int(rank))
        self.probs, self.target = per_sensor['probs'], per_sensor['target']
        self.seen = seen = per_sensor['seen']
        self.score_cls = similarity(self.probs, class_truth(labels, self.probs)).masked_fill(
            ~seen, -torch.inf)
        self.score_reg = similarity(self.target, targets).masked_fill(~seen, -torch.inf)

    def keep(self, present):
        """
        Return which of the ``present`` (B, S) sensors each row keeps.

        A non-empty subset of them for every row that has any.
        """
        keep = present.clone()
        todo = present.any(dim=1)
        while todo.any():
            draw = torch.rand(present.shape, generator=self.generator) >= self.p
            keep[todo] = draw[todo] & present[todo]
            todo = todo & ~keep.any(dim=1)
        return keep

    def __call__(self, batch, idx, sensors):
        """
        Drop sensors of a training batch (the dict, in place); set its pseudo-labels.

        ``idx``: the batch's dataset indices; ``sensors``: the ``present`` columns in order.
        """
        keep = self.keep(batch['present'])
        idx = torch.as_tensor(idx)
        if (keep & ~self.seen[idx]).any():
            raise RuntimeError('a kept sensor has no stage-1 prediction: the stage-1 run was '
                               'trained on other samples')
        for i, s in enumerate(sensors):     # out of place: the batch may view cached arrays
            dropped = ~keep[:, i].view(-1, *[1] * (batch[s].ndim - 1))
            batch[s] = batch[s].masked_fill(dropped, 0)
        batch['present'] = keep
        pick_cls = self.score_cls[idx].masked_fill(~keep, -torch.inf).argmax(dim=1)
        pick_reg = self.score_reg[idx].masked_fill(~keep, -torch.inf).argmax(dim=1)
        batch['pseudo_probs'] = self.probs[idx, pick_cls]
        batch['pseudo_target'] = self.target[idx, pick_reg]
        return batch


def subset_dropout(mcfg, seed, pseudo, labels, targets, rank):
    """
    Return the batch transform of ``mcfg.subset_dropout`` (None at 0): the registry's hook.

    ``pseudo``: stage 1's (probs, targets, per-sensor averages); the per-sensor ones are what the
    kept sensors' pseudo-labels are chosen from. ValueError where a stage-1 run lacks them.
    """
    if not mcfg.subset_dropout:
        return None
    if len(pseudo) < 3 or pseudo[2] is None:
        raise ValueError('subset_dropout needs the per-sensor pseudo-labels of stage 1, which its '
                         'run lacks (trained before they were saved); train stage 1 again (drop '
                         '--pretrained)')
    return SubsetDropout(mcfg.subset_dropout, seed, pseudo[2], labels, targets, rank)
