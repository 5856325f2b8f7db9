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
The paper's baselines: unimodal encoders (late fusion, one at a time) and the vanilla transformer.

``late`` and ``unimodal`` are one model (per-sensor encoders and heads): late fusion averages the
present sensors' predictions, ``unimodal`` is evaluated one sensor at a time. Either run is stage
1 of UMI and the vanilla transformer.
"""
from xmodal_training.methods.baselines.configuration_baselines import UnimodalConfig, VanillaConfig
from xmodal_training.methods.baselines.modeling_unimodal import UnimodalModel
from xmodal_training.methods.baselines.modeling_vanilla import VanillaTransformerModel
from xmodal_training.methods.spec import FusionMethod

METHODS = (
    FusionMethod('late', 'late fusion: the mean of per-sensor predictions (also stage 1)',
                 UnimodalConfig, 'unimodal', UnimodalModel, is_stage1=True),
    FusionMethod('unimodal', 'per-sensor encoders and heads, evaluated one sensor at a time',
                 UnimodalConfig, 'unimodal', UnimodalModel, is_stage1=True, subsets='single'),
    FusionMethod('vanilla', "a transformer over all present sensors' tokens, on stage 1",
                 VanillaConfig, 'vanilla', VanillaTransformerModel, stage1='encoders'),
)
