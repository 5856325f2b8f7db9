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
The fusion methods: each folder declares its ``FusionMethod`` entries (spec.py); ``REGISTRY``.

Adding a method is one folder (configuration, modeling, its ``METHODS`` tuple) and one entry in
``_FOLDERS`` below; the trainer, export, eval and the CLI read what each entry declares.
"""
import dataclasses

from xmodal_training.methods import baselines, umi
from xmodal_training.methods.encoders import resolve_encoders

_FOLDERS = (umi, baselines)
REGISTRY = {m.name: m for folder in _FOLDERS for m in folder.METHODS}


class ConfigError(ValueError):
    """A training config block that does not fit its method's dataclass."""


def method_config(method, train_cfg):
    """
    Return the method's dataclass filled from its block of the training config.

    Unknown keys fail; so does a config the method's ``check_config`` refuses.
    """
    spec = REGISTRY[method]
    cls, block = spec.config, spec.block
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for name in (block, spec.overrides):
        given = dict(train_cfg.get(name) or {}) if name else {}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ConfigError(f'{name}: unknown key(s) {", ".join(unknown)}; '
                              f'known: {", ".join(sorted(known))}')
        values.update(given)
    where = ' + '.join(n for n in (block, spec.overrides) if n)
    try:
        mcfg = cls(**values)
    except ValueError as e:
        raise ConfigError(f'{where}: {e}') from None
    problem = spec.check_config(mcfg) if spec.check_config else None
    if problem:
        raise ConfigError(f'{method}: {problem}')
    return mcfg


def build_model(method, train_cfg, sensors, n_classes, n_targets, target_mean=None,
                target_std=None):
    """
    Return a fresh model for ``method``.

    ``sensors``: the model's sensors in order, name -> {'kind', 'input_shape'}; encoders by kind
    from the config's ``encoders`` block.
    """
    shapes = {s: tuple(v['input_shape']) for s, v in sensors.items()}
    try:
        encoders = resolve_encoders(train_cfg['encoders'], {s: v['kind'] for s, v in
                                                            sensors.items()})
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return REGISTRY[method].model(method_config(method, train_cfg), shapes, encoders, n_classes,
                                  n_targets, target_mean, target_std)
