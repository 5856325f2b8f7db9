"""Per-sensor encoders E_m: model input -> unimodal feature tokens F_m of shape (B, k_m, d_m).

Small convolution stacks in the spirit of the robot encoders the paper borrows from Lee et al.
[18] (conv layers for image and depth), scaled to the 48x64 / 8x8 / 64-step inputs of
``xmodal_ros.preprocess``. Every spatial cell (or time step) of the last feature map becomes one
token, so the feature projection can choose which parts of the input to keep.
"""
from torch import nn


def _conv_stack(conv, in_ch, channels, strides):
    layers = []
    for out_ch, stride in zip(channels, strides):
        layers += [conv(in_ch, out_ch, 3, stride=stride, padding=1), nn.GroupNorm(8, out_ch),
                   nn.ReLU()]
        in_ch = out_ch
    return nn.Sequential(*layers)


class GridEncoder(nn.Module):
    """2-D grid (camera, depth, tactile) -> one token per cell of the final feature map."""

    def __init__(self, in_ch, channels, strides):
        super().__init__()
        self.net = _conv_stack(nn.Conv2d, in_ch, channels, strides)
        self.dim = channels[-1]

    def forward(self, x):
        return self.net(x).flatten(2).transpose(1, 2)


class TemporalEncoder(nn.Module):
    """Force/torque window (6, T) -> a temporal conv net, one token per output time step."""

    def __init__(self, in_ch, channels, strides):
        super().__init__()
        self.net = _conv_stack(nn.Conv1d, in_ch, channels, strides)
        self.dim = channels[-1]

    def forward(self, x):
        return self.net(x).transpose(1, 2)


def build_encoder(sensor, input_shape, cfg):
    """Encoder for ``sensor`` from the ``encoders`` block of the training config."""
    spec = cfg[sensor]
    kind = TemporalEncoder if len(input_shape) == 2 else GridEncoder
    return kind(input_shape[0], list(spec['channels']), list(spec['strides']))


def token_count(input_shape, strides):
    """k_m: tokens an encoder emits for ``input_shape`` (conv 3x3, padding 1)."""
    count = 1
    for size in input_shape[1:]:
        for s in strides:
            size = (size - 1) // s + 1
        count *= size
    return count
