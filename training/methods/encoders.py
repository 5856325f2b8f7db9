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
Per-sensor encoders E_m: model input -> unimodal feature tokens F_m of shape (B, k_m, d_m).

Small convolution stacks in the spirit of the robot encoders the paper borrows from Lee et al.
[18] (conv layers for image and depth). One family per sensor kind (xmodal_ros.kinds: ``encoder``):
``grid`` (2-D conv: rgb, depth, grid) and ``temporal`` (1-D conv over a window: wrench, imu,
joints). Every spatial cell (or time step) of the last feature map becomes one token, so the
feature projection can choose which parts of the input to keep; ``pool`` caps the token grid of
inputs larger than the defaults were sized for (a 24x40 thermal array, a long window).

The training config's ``encoders`` block has one entry per kind and optionally one per sensor
name, whose keys override its kind's (``resolve_encoders``).
"""
from torch import nn

from xmodal_ros.kinds import get_kind


def _conv_stack(conv, in_ch, channels, strides):
    layers = []
    for out_ch, stride in zip(channels, strides):
        layers += [conv(in_ch, out_ch, 3, stride=stride, padding=1), nn.GroupNorm(8, out_ch),
                   nn.ReLU()]
        in_ch = out_ch
    return nn.Sequential(*layers)


class GridEncoder(nn.Module):
    """2-D grid (rgb, depth, grid kinds) -> one token per cell of the final feature map."""

    def __init__(self, in_ch, channels, strides, pool=None):
        super().__init__()
        self.net = _conv_stack(nn.Conv2d, in_ch, channels, strides)
        self.pool = nn.AdaptiveAvgPool2d(tuple(pool)) if pool else nn.Identity()
        self.dim = channels[-1]

    def forward(self, x):
        return self.pool(self.net(x)).flatten(2).transpose(1, 2)


class TemporalEncoder(nn.Module):
    """Window of readings (C, T) (wrench, imu, joints) -> one token per output time step."""

    def __init__(self, in_ch, channels, strides, pool=None):
        super().__init__()
        self.net = _conv_stack(nn.Conv1d, in_ch, channels, strides)
        self.pool = nn.AdaptiveAvgPool1d(pool[0]) if pool else nn.Identity()
        self.dim = channels[-1]

    def forward(self, x):
        return self.pool(self.net(x)).transpose(1, 2)


FAMILIES = {'grid': GridEncoder, 'temporal': TemporalEncoder}


def resolve_encoders(encoders_cfg, kinds):
    """
    {sensor: {family, channels, strides[, max_tokens]}} for ``kinds`` (sensor -> kind name).

    The block of the sensor's kind, updated by a block named after the sensor if there is one.
    ValueError naming the missing ``encoders.<kind>`` block.
    """
    out = {}
    for sensor, kind in kinds.items():
        if kind not in encoders_cfg and sensor not in encoders_cfg:
            raise ValueError(f'encoders: no block for kind {kind!r} (sensor {sensor!r}); add '
                             f'encoders.{kind} (channels, strides) to the training config')
        spec = dict(encoders_cfg.get(kind) or {}, **(encoders_cfg.get(sensor) or {}))
        if not spec.get('channels') or len(spec['channels']) != len(spec.get('strides', ())):
            raise ValueError(f'encoders.{sensor if sensor in encoders_cfg else kind}: needs '
                             'channels and strides of the same length')
        out[sensor] = dict(spec, family=get_kind(kind).encoder)
    return out


def _conv_grid(input_shape, strides):
    """Spatial (or time) sizes after the conv stack (conv 3x3, padding 1)."""
    sizes = []
    for size in input_shape[1:]:
        for s in strides:
            size = (size - 1) // s + 1
        sizes.append(size)
    return sizes


def _pool(input_shape, spec):
    """Pooled token grid: each dimension capped at ``max_tokens`` (None: no pooling)."""
    cap = spec.get('max_tokens')
    sizes = _conv_grid(input_shape, spec['strides'])
    if cap is None or all(n <= c for n, c in zip(sizes, _caps(cap, len(sizes)))):
        return None
    return [min(n, c) for n, c in zip(sizes, _caps(cap, len(sizes)))]


def _caps(cap, dims):
    return list(cap) if isinstance(cap, (list, tuple)) else [cap] * dims


def build_encoder(input_shape, spec):
    """Build the encoder for one sensor from its resolved ``spec`` (``resolve_encoders``)."""
    return FAMILIES[spec['family']](input_shape[0], list(spec['channels']),
                                    list(spec['strides']), _pool(input_shape, spec))


def token_count(input_shape, spec):
    """k_m: tokens the encoder of ``spec`` emits for ``input_shape``."""
    count = 1
    for n in (_pool(input_shape, spec) or _conv_grid(input_shape, spec['strides'])):
        count *= n
    return count
