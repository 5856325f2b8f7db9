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
What a fusion method declares, so the shared trainer, export, eval and the CLI need no name lists.

A method lives in one folder (configuration, modeling, its processors) and declares one
``FusionMethod`` per name it trains under in that folder's ``METHODS``; ``methods/__init__.py``
joins the folders' tuples into ``REGISTRY``. The model's ``forward(batch)`` returning its loss
terms (``loss`` among them) is its training step; ``batch_transform`` and ``check_config`` are
the optional hooks the shared code calls.
"""
import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class FusionMethod:
    name: str
    summary: str               # one line: what it is
    config: type               # hyperparameter dataclass, filled from ``block``
    block: str                 # its block of config/train_fusion.yaml
    model: type                # (cfg, input_shapes, encoders, n_classes, n_targets, mean, std)
    # What it trains on first: '' nothing; 'encoders' a stage-1 (unimodal) run's encoders;
    # 'encoders+pseudo' those and the run's pseudo-labels.
    stage1: str = ''
    is_stage1: bool = False    # a run of it provides stage 1 (encoders, heads, pseudo-labels)
    all_sensors: bool = False  # trains only on bags that hold every model sensor
    overrides: Optional[str] = None   # a block whose keys update ``block``'s for this name
    exportable: bool = False   # projection-plus-sum: per-sensor graphs + a fusion graph
    subsets: str = 'all'       # evaluated on 'all' sensor subsets, or one sensor at a time
    # (mcfg, seed, pseudo, labels, normalised targets, rank) -> a batch transform or None
    batch_transform: Optional[Callable] = None
    # mcfg -> None, or why this config cannot train this method
    check_config: Optional[Callable] = None

    @property
    def uses_pseudo_labels(self):
        return self.stage1 == 'encoders+pseudo'
