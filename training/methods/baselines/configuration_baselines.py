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
Hyperparameters of the paper's baselines (Sec. 6, Table 2).

Unimodal encoders with a linear head (also late fusion, and stage 1 of UMI: its encoders and
pseudo-labels), and the vanilla multimodal transformer of Gabeur et al. [9] with learnable tokens
in place of missing sensors.
"""
import dataclasses


@dataclasses.dataclass
class UnimodalConfig:
    epochs: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 128
    pseudo_label_epochs: int = 20   # e: last epochs averaged into pseudo-labels (paper: 20 robot)
    regression_weight: float = 1.0
    warmup_steps: int = 0

    def __post_init__(self):
        if not 0 < self.pseudo_label_epochs <= self.epochs:
            raise ValueError(f'pseudo_label_epochs={self.pseudo_label_epochs} must be in '
                             f'1..epochs ({self.epochs})')


@dataclasses.dataclass
class VanillaConfig:
    d_model: int = 256       # same width as UMI's d*
    heads: int = 8
    layers: int = 6          # paper: 6 (matches UMI's prediction layers)
    ff_mult: int = 4
    dropout: float = 0.1
    regression_weight: float = 1.0
    freeze_encoders: bool = True   # same pre-trained unimodal encoders as UMI
    epochs: int = 50
    lr: float = 1e-2
    weight_decay: float = 0.01
    batch_size: int = 128
    warmup_steps: int = 0
