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
Method name -> (config dataclass, config block in train_fusion.yaml, model class).

``late`` and ``unimodal`` are one model (per-sensor encoders and heads) read two ways: late fusion
averages the present sensors' predictions, ``unimodal`` is evaluated one sensor at a time.
``oracle`` is UMI trained on bags that hold every sensor; ``oracle_dropout`` is the oracle with
random sensor-subset dropout: the ``umi`` block, updated by the keys of its own
``oracle_dropout`` block (``OVERRIDES``), which must set ``subset_dropout`` > 0.
"""
import dataclasses

from xmodal_training.methods.baselines.configuration_baselines import UnimodalConfig, VanillaConfig
from xmodal_training.methods.baselines.modeling_unimodal import UnimodalModel
from xmodal_training.methods.baselines.modeling_vanilla import VanillaTransformerModel
from xmodal_training.methods.encoders import resolve_encoders
from xmodal_training.methods.umi.configuration_umi import UMIConfig
from xmodal_training.methods.umi.modeling_umi import UMIModel

METHODS = {
    'umi': (UMIConfig, 'umi', UMIModel),
    'oracle': (UMIConfig, 'umi', UMIModel),
    'oracle_dropout': (UMIConfig, 'umi', UMIModel),
    'vanilla': (VanillaConfig, 'vanilla', VanillaTransformerModel),
    'late': (UnimodalConfig, 'unimodal', UnimodalModel),
    'unimodal': (UnimodalConfig, 'unimodal', UnimodalModel),
}
# Methods built on pre-trained unimodal encoders (stage 1), and those also using its pseudo-labels.
NEEDS_STAGE1 = ('umi', 'oracle', 'oracle_dropout', 'vanilla')
USES_PSEUDO_LABELS = ('umi', 'oracle', 'oracle_dropout')
# Methods whose model is projection-plus-sum, i.e. exportable as per-sensor graphs + fusion graph.
EXPORTABLE = ('umi', 'oracle', 'oracle_dropout')
# Methods that train only on bags holding every model sensor.
NEEDS_ALL_SENSORS = ('oracle', 'oracle_dropout')
# Method -> config block whose keys update those of the method's block (METHODS).
OVERRIDES = {'oracle_dropout': 'oracle_dropout'}


class ConfigError(ValueError):
    """A training config block that does not fit its method's dataclass."""


def method_config(method, train_cfg):
    """
    Return the method's dataclass filled from its block of the training config.

    Unknown keys fail; so does an ``oracle_dropout`` that would drop nothing (it would silently
    be the oracle).
    """
    cls, block, _ = METHODS[method]
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for name in (block, OVERRIDES.get(method)):
        given = dict(train_cfg.get(name) or {}) if name else {}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ConfigError(f'{name}: unknown key(s) {", ".join(unknown)}; '
                              f'known: {", ".join(sorted(known))}')
        values.update(given)
    try:
        mcfg = cls(**values)
    except ValueError as e:
        where = ' + '.join(n for n in (block, OVERRIDES.get(method)) if n)
        raise ConfigError(f'{where}: {e}') from None
    if method == 'oracle_dropout' and not mcfg.subset_dropout:
        raise ConfigError('oracle_dropout: subset_dropout is 0, which trains the plain oracle; '
                          'set it (e.g. 0.5) in the oracle_dropout block of the training config')
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
    return METHODS[method][2](method_config(method, train_cfg), shapes, encoders, n_classes,
                              n_targets, target_mean, target_std)
