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
New-sensor methods as plug-ins: one declaration each, and the registry an evaluator loops over.

Every method trains a learner for a sensor recorded in its own bags from the known sensors'
frozen perceptors, with one signature:
``train(problem: NewSensorProblem, encoder_factory, cfg=None, device='auto', seed=0,
progress=True) -> (NewSensorLearner, curves)``.

``needs`` says what must exist first: 'frozen_perceptors' (known features z_k and heads h_k,
from a stage-1 run or a bundle's per-sensor graphs), 'correspondences' (problem.pairs: a few
episodes recorded with both), 'known_on_new' (problem.known_probs_on_new: the known classifiers
reading the new sensor's input), 'new_labels' (labels on the new samples). ``uses_labels``: how
many new-sensor labels it reads ('fraction': the labelled few, 'none', 'all'). ``model`` is the
method's nn.Module whose ``forward(batch)`` returns its loss terms by name (its training-step
hook); ``config`` its hyperparameter dataclass. Every learner is g^O + a linear head:
``export`` 'standalone' means it exports as one graph input -> class probabilities for the new
sensor alone; joining a fused bundle needs a projection into the bundle's token space, which none
of these methods learns.
"""
import dataclasses
from typing import Callable

from xmodal_training.methods import new_sensor_baselines as base
from xmodal_training.methods.cox.configuration_cox import COXConfig
from xmodal_training.methods.cox.modeling_cox import (COXModel, train_semi_supervised,
                                                      train_unsupervised)
from xmodal_training.methods.new_sensor_core import accuracy
from xmodal_training.methods.synergy.configuration_synergy import SynergyConfig
from xmodal_training.methods.synergy.modeling_synergy import SynergyModel, train_synergy


@dataclasses.dataclass(frozen=True)
class NewSensorMethod:
    name: str
    train: Callable
    config: type
    needs: tuple
    uses_labels: str            # 'fraction' | 'none' | 'all'
    paper: str
    model: type = None
    exportable: bool = True
    export: str = 'standalone'
    cli: str = ''               # its `xmodal train sensor --method` name, where not ``name``


_F = ('frozen_perceptors',)
METHODS = {m.name: m for m in (
    NewSensorMethod('cox_semi', train_semi_supervised, COXConfig, _F + ('correspondences',),
                    'fraction', 'COX Sec. 3.3, Eqs. 9, 13', COXModel, cli='cox'),
    NewSensorMethod('cox_unsupervised', train_unsupervised, COXConfig, _F + ('known_on_new',),
                    'none', 'COX Sec. 3.4, Eqs. 9, 14, 15', COXModel, cli='cox'),
    NewSensorMethod('synergy', train_synergy, SynergyConfig, _F + ('new_labels',), 'all',
                    'Synergy Sec. 3.3, Algorithm 1', SynergyModel),
    NewSensorMethod('random', base.train_random, base.BaselineConfig, (), 'none',
                    'COX Sec. 4.1 baseline'),
    NewSensorMethod('erm', base.train_erm, base.BaselineConfig, ('new_labels',), 'fraction',
                    'COX Sec. 4.1 baseline'),
    NewSensorMethod('entmin', base.train_entmin, base.BaselineConfig, ('new_labels',),
                    'fraction', 'COX Sec. 4.1 baseline (Grandvalet & Bengio 2004)'),
    NewSensorMethod('ssl', base.train_ssl, base.BaselineConfig, (), 'none',
                    'COX Sec. 4.1 baseline (Gaussian input perturbation)'),
    NewSensorMethod('moco', base.train_moco, base.BaselineConfig, (), 'fraction',
                    'COX Sec. 4.1 baseline (He et al. 2020; + EntMin semi-supervised)'),
    NewSensorMethod('aligned', base.train_aligned, base.BaselineConfig, ('new_labels',), 'all',
                    'COX Sec. 4.1 upper bound'),
)}
# `xmodal train sensor --method` choices: COX's two procedures share one (--unsupervised picks).
CLI_NAMES = tuple(dict.fromkeys(m.cli or m.name for m in METHODS.values()))


def evaluate(learner, inputs, labels, device='cpu'):
    """Held-out accuracy of a trained learner."""
    return accuracy(learner, inputs, labels, device)
