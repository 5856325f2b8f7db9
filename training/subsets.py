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
Which sensor combinations a model is evaluated and its export parity-checked on.

Torch-free, so evaluating an exported bundle needs no training stack.
"""
import itertools


ALL_SUBSETS_UP_TO = 6      # 2^6 - 1 = 63 subsets; beyond, the number explodes


def sensor_subsets(sensors):
    """
    Return the sensor combinations a model is evaluated and its export parity-checked on.

    Smallest first: every non-empty one for up to ALL_SUBSETS_UP_TO sensors; beyond that every
    single sensor, every leave-one-out and all of them (``subset_rule`` says which applied).
    """
    sensors = tuple(sensors)
    n = len(sensors)
    if n <= ALL_SUBSETS_UP_TO:
        return [c for r in range(1, n + 1) for c in itertools.combinations(sensors, r)]
    singles = [(s,) for s in sensors]
    leave_one_out = [tuple(x for x in sensors if x != s) for s in sensors]
    return singles + leave_one_out + [sensors]


def subset_rule(sensors):
    """In words, which combinations ``sensor_subsets`` gives for ``sensors``."""
    n = len(tuple(sensors))
    if n <= ALL_SUBSETS_UP_TO:
        return f'every non-empty subset of the {n} sensors ({2 ** n - 1})'
    return (f'{n} sensors: every single sensor, every leave-one-out and all {n} '
            f'({2 * n + 1} of the {2 ** n - 1} subsets)')
