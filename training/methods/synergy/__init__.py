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

"""Synergy: a frozen known-sensor model regularises a new sensor's model without pairs."""
from xmodal_training.methods.synergy.configuration_synergy import SynergyConfig
from xmodal_training.methods.synergy.modeling_synergy import (alpha_star, alpha_star_for,
                                                              alpha_sweep, train_synergy,
                                                              w2_gaussian)

__all__ = ['SynergyConfig', 'alpha_star', 'alpha_star_for', 'alpha_sweep', 'train_synergy',
           'w2_gaussian']
