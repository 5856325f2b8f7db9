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
The samples of ``BagSamples`` as a torch Dataset: the same arrays, handed over as tensors.

``batch(indices)`` is the trainer's path (a whole batch at once); ``__getitem__`` is the same path
for one index, for DataLoader use.
"""
import torch

from xmodal_training.data.samples import BagSamples


class BagDataset(BagSamples, torch.utils.data.Dataset):
    """``BagSamples`` whose batches are dicts of tensors (sharing memory with the arrays)."""

    def batch(self, indices, sensors=None):
        """Return samples ``indices`` as ``BagSamples.batch`` does, each array as a tensor."""
        return {k: torch.from_numpy(v) for k, v in super().batch(indices, sensors).items()}
