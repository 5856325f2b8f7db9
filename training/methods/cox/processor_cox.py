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
Data handling around COX: labelled samples, correspondences, class centroids.

For sensors recorded in separate bags, "a few correspondences" (Sec. 3.3) means a handful of
episodes recorded with the new sensor *and* the known ones: inside those episodes, samples taken at
the same time correspond. ``pairs_from_shared_episodes`` turns (episode, time) columns into the
(new row, known row) pairs ``NewSensorProblem.pairs`` expects.
"""
import torch


def class_balanced_subset(labels, fraction, gen):
    """
    Return indices of ``fraction`` of the rows, the same share of every class.

    At least one per class present: the paper's "10 % ... with each class having a balanced number
    of labels".
    """
    picked = []
    for c in torch.unique(labels):
        rows = torch.nonzero(labels == c).squeeze(1)
        take = max(1, round(fraction * len(rows)))
        picked.append(rows[torch.randperm(len(rows), generator=gen)[:take]])
    return torch.sort(torch.cat(picked)).values


def class_centroids(features, labels, n_classes):
    """(C, d) mean feature per class and a (C,) bool of classes that have members."""
    d = features.shape[1]
    sums = torch.zeros(n_classes, d, dtype=features.dtype).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=n_classes)
    present = counts > 0
    return sums / counts.clamp(min=1).unsqueeze(1).to(features.dtype), present


def pairs_from_shared_episodes(new_episode, new_time, known_episode, known_time, tolerance):
    """
    Pair new and known samples taken at the same time in shared episodes.

    Returns (L, 2) (new row, known row) pairs: within every episode that both recordings hold, each
    new sample is paired with the known sample nearest in time, if within ``tolerance`` (seconds).

    Episodes recorded apart share no id, so they give no pairs; that is the point.
    """
    pairs = []
    for ep in sorted(set(new_episode.tolist()) & set(known_episode.tolist())):
        n_rows = torch.nonzero(new_episode == ep).squeeze(1)
        k_rows = torch.nonzero(known_episode == ep).squeeze(1)
        gap = (new_time[n_rows, None] - known_time[None, k_rows]).abs()
        best, j = gap.min(1)
        keep = best <= tolerance
        pairs.append(torch.stack([n_rows[keep], k_rows[j[keep]]], 1))
    if not pairs:
        return torch.zeros(0, 2, dtype=torch.long)
    return torch.cat(pairs).long()
