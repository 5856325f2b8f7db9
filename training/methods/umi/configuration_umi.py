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
Hyperparameters of Unseen Modality Interaction (Zhang, Doughty, Snoek, NeurIPS 2023).

Defaults are the paper's values for its robot-state-regression benchmark (Sec. 6, "Implementation
Details"); config/train_fusion.yaml scales a few of them down for a 2-core CPU and says so beside
each. The `oracle` method is this model trained on bags that hold every sensor; `oracle_dropout`
is the oracle with ``subset_dropout`` > 0 (each training sample keeps a random non-empty subset of
its sensors, see processor_umi.SubsetDropout), so that it too learns from incomplete inputs.
"""
import dataclasses


@dataclasses.dataclass
class UMIConfig:
    d_model: int = 256           # d*, width of the common token space
    k_tokens: int = 16           # k*, projected tokens per sensor (paper: 16 robot, 512 video)
    heads: int = 8               # attention heads, projection and prediction layers alike
    projection_layers: int = 6   # transformer layers that produce O_m (feature projection)
    fusion_layers: int = 6       # transformer layers H of the dual-branch prediction
    ff_mult: int = 4             # MLP width / token width (ViT layers [7])
    dropout: float = 0.1         # not stated in the paper; ViT's default
    align_tokens: str = 'class'  # 'class': one learnable token per class; 'nearest': n_u tokens
    n_align_tokens: int = 128    # n_u for 'nearest' (paper: 128 robot / MSR-VTT, 3806 video)
    lambda_align: float = 0.001  # lambda of Eq. 3
    # alpha of Eq. 3 for the classification KL. The paper's 3000 (video) goes with a KL averaged
    # over its 3806 classes as well as the batch (PyTorch's reduction='mean'); ours is summed over
    # classes and averaged over the batch ('batchmean'), which is that loss times C, so alpha ~= 1
    # keeps the same balance against the cross-entropy.
    alpha_cls: float = 1.0
    alpha_reg: float = 1.0       # alpha of Eq. 3 for regression (paper: 1)
    regression_weight: float = 1.0  # regression vs. classification inside each branch's loss
    freeze_encoders: bool = True    # the paper uses pre-trained unimodal encoders E_m
    epochs: int = 50             # paper: 50 (robot)
    lr: float = 1e-2             # paper: 1e-2 (robot; optimiser not stated)
    weight_decay: float = 0.01
    batch_size: int = 128        # paper: 128 (robot)
    warmup_steps: int = 0
    # Not in the paper: probability that a training sample's present sensor is dropped (marked
    # absent, as if the bag lacked it), drawn per sample and sensor, redrawn when none is left.
    # 0 trains on the sensors as recorded (UMI, oracle).
    subset_dropout: float = 0.0

    def __post_init__(self):
        if not 0 <= self.subset_dropout < 1:
            raise ValueError(f'subset_dropout={self.subset_dropout}: a probability in [0, 1)')
        if self.k_tokens % 2:
            raise ValueError(f'k_tokens={self.k_tokens}: the two branches need an even k*')
        if self.align_tokens not in ('class', 'nearest'):
            raise ValueError(f"align_tokens={self.align_tokens!r}; expected 'class' or 'nearest'")
