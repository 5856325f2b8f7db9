"""Method name -> (config dataclass, config block in train_fusion.yaml, model class).

``late`` and ``unimodal`` are one model (per-sensor encoders and heads) read two ways: late fusion
averages the present sensors' predictions, ``unimodal`` is evaluated one sensor at a time.
``oracle`` is UMI trained on bags that hold every sensor.
"""
import dataclasses
import itertools

from xmodal_training.methods.baselines.configuration_baselines import UnimodalConfig, VanillaConfig
from xmodal_training.methods.baselines.modeling_unimodal import UnimodalModel
from xmodal_training.methods.baselines.modeling_vanilla import VanillaTransformerModel
from xmodal_training.methods.umi.configuration_umi import UMIConfig
from xmodal_training.methods.umi.modeling_umi import UMIModel

METHODS = {
    'umi': (UMIConfig, 'umi', UMIModel),
    'oracle': (UMIConfig, 'umi', UMIModel),
    'vanilla': (VanillaConfig, 'vanilla', VanillaTransformerModel),
    'late': (UnimodalConfig, 'unimodal', UnimodalModel),
    'unimodal': (UnimodalConfig, 'unimodal', UnimodalModel),
}
# Methods built on pre-trained unimodal encoders (stage 1), and those also using its pseudo-labels.
NEEDS_STAGE1 = ('umi', 'oracle', 'vanilla')
USES_PSEUDO_LABELS = ('umi', 'oracle')
# Methods whose model is projection-plus-sum, i.e. exportable as per-sensor graphs + fusion graph.
EXPORTABLE = ('umi', 'oracle')


class ConfigError(ValueError):
    """A training config block that does not fit its method's dataclass."""


def method_config(method, train_cfg):
    """The method's dataclass filled from its block of the training config (unknown keys fail)."""
    cls, block, _ = METHODS[method]
    values = dict(train_cfg.get(block) or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f'{block}: unknown key(s) {", ".join(unknown)}; '
                          f'known: {", ".join(sorted(known))}')
    try:
        return cls(**values)
    except ValueError as e:
        raise ConfigError(f'{block}: {e}') from None


def sensor_subsets(sensors):
    """Every non-empty combination of ``sensors``, smallest first: what a model is evaluated and
    its export parity-checked on."""
    return [c for r in range(1, len(sensors) + 1) for c in itertools.combinations(sensors, r)]


def build_model(method, train_cfg, input_shapes, n_classes, n_targets, target_mean=None,
                target_std=None):
    """A fresh model for ``method``; ``input_shapes``: sensor -> input shape, model's sensors."""
    return METHODS[method][2](method_config(method, train_cfg), input_shapes,
                              train_cfg['encoders'], n_classes, n_targets, target_mean, target_std)
