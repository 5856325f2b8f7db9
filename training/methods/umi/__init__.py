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
Unseen Modality Interaction and its oracles (one model, three ways of training it).

``oracle`` is UMI trained on bags that hold every sensor; ``oracle_dropout`` is the oracle with
random sensor-subset dropout: the ``umi`` block, updated by the keys of its own
``oracle_dropout`` block, which must set ``subset_dropout`` > 0.
"""
from xmodal_training.methods.spec import FusionMethod
from xmodal_training.methods.umi.configuration_umi import UMIConfig
from xmodal_training.methods.umi.modeling_umi import UMIModel
from xmodal_training.methods.umi.processor_umi import subset_dropout


def _drops_something(mcfg):
    if not mcfg.subset_dropout:
        return ('subset_dropout is 0, which trains the plain oracle; set it (e.g. 0.5) in the '
                'oracle_dropout block of the training config')
    return None


_UMI = {'config': UMIConfig, 'block': 'umi', 'model': UMIModel, 'stage1': 'encoders+pseudo',
        'exportable': True, 'batch_transform': subset_dropout}
METHODS = (
    FusionMethod('umi', 'Unseen Modality Interaction (projection, sum, dual-branch head)',
                 **_UMI),
    FusionMethod('oracle', 'UMI on bags that hold every sensor', all_sensors=True, **_UMI),
    FusionMethod('oracle_dropout', 'the oracle with random sensor subsets hidden per sample',
                 all_sensors=True, overrides='oracle_dropout', check_config=_drops_something,
                 **_UMI),
)
