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
Hyperparameters of the synergy method.

Paper: "Can one modality model synergize training of other modality models?".

Paper values: alpha = 0.3 for every multimodal case (Sec. 4.1; 0.5 only for ImageNet [L->V]); the
sweep {0, 0.1, 0.3, 0.5, 0.7} (Table 3); Gaussian noise xi ~ N(0, lambda I) with lambda = 1e-3
(Table 5); training from scratch (AVMNIST, App. B.2): 30 epochs, batch 32, Adam, lr 1e-3 times 0.1
at epoch 25, no augmentation.
"""
import dataclasses

PAIRINGS = ('same_class', 'shuffled', 'noisy', 'paired')


@dataclasses.dataclass
class SynergyConfig:
    alpha: float = 0.3              # L = (1 - alpha) L_cls + alpha L_z
    # How z_hat_j is drawn for a new-sensor sample i (Table 5 and Sec. 5.2):
    # 'same_class': a known sample of the same class, otherwise unpaired (what a robot with
    #   separate bags has); 'shuffled': any known sample (AVMNIST [V->A], "mismatch paired
    #   sets"); 'noisy': shuffled + xi ~ N(0, lambda I) on the known input before the frozen
    #   perceptor ([A->L], [A->V]); 'paired': the true counterpart (Table 4's z^j), needs pairs.
    pairing: str = 'same_class'
    noise_var: float = 1e-3         # lambda (a variance)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    lr_decay_epoch: int = 25        # lr x 0.1 from this epoch on
    lr_decay: float = 0.1
    weight_decay: float = 0.0       # not stated for training from scratch
    known_index: int = 0            # which known sensor's perceptor supplies z_hat
    sweep: tuple = (0.0, 0.1, 0.3, 0.5, 0.7)

    def __post_init__(self):
        if self.pairing not in PAIRINGS:
            raise ValueError(f'pairing={self.pairing!r}; expected one of {", ".join(PAIRINGS)}')
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f'alpha={self.alpha}; expected a value in [0, 1]')
