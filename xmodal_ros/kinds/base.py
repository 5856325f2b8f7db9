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

"""The contract every sensor kind fulfils (see xmodal_ros.kinds)."""
import numpy as np

from xmodal_ros.conversions import ConversionError

FLOAT32_MAX = float(np.finfo(np.float32).max)


class Kind:
    """
    One kind of sensor.

    Subclasses set the class attributes and implement the methods.

    ``read(msg, params)`` checks one message and returns its reading: a view of an image, or a
    1-D float64 vector for windowed kinds; anything malformed or physically absurd raises
    ConversionError, so the node counts and drops it and the bag loader names it.
    ``preprocess(reading, encoding, params)`` turns a reading (windowed kinds: a (window, width)
    array of readings, oldest first) into the float32 model input of ``input_shape(params)``.
    The same two calls run in the bag loader and in the node, so a model sees the same inputs
    live as in training.
    """

    name = ''
    msg_type = ''                 # ROS interface name, e.g. sensor_msgs/msg/Image
    encodings = ()                # accepted Image encodings (image kinds)
    windowed = False              # readings are vectors kept in a window of the newest ones
    eager = False                 # preprocess on arrival (small inputs: checks values early)
    encoder = 'grid'              # training encoder family: 'grid' (2-D conv) or 'temporal'
    # Keys of a sensors.yaml block that shape the model input: copied into the preprocessing
    # parameters (so they travel in the bundle) and checked against it by the node.
    layout_params = ()
    required_layout = ()
    defaults = {}                 # preprocessing parameters
    node_defaults = {}            # fuse node: timeout (s), queue_depth, encode
    # Each sensor kind's nominal rate when sensors.yaml gives none (simulator, benchmarks).
    rate_hz = 30.0

    def params(self, layout, overrides, where):
        """
        Preprocessing parameters from the kind's defaults, the layout keys that shape the input.

        The sensor's ``preprocess`` overrides; ValueError naming ``where`` if bad.
        """
        unknown = sorted(set(overrides) - set(self.defaults) - set(self.layout_params))
        if unknown:
            raise ValueError(f'{where}.preprocess: unknown key(s) {", ".join(unknown)} for kind '
                             f'{self.name}; known: {", ".join(sorted(self.defaults))}')
        p = {k: _copy(v) for k, v in self.defaults.items()}
        p.update({k: _copy(layout[k]) for k in self.layout_params if k in layout})
        p.update({k: _copy(v) for k, v in overrides.items()})
        self.check_params(p, where)
        return p

    def check_params(self, params, where):
        """Raise ValueError naming ``where`` for parameters that cannot make an input."""

    def input_shape(self, params):
        raise NotImplementedError

    def width(self, params):
        """Windowed kinds: the length of one reading vector."""
        raise NotImplementedError

    def read(self, msg, params):
        raise NotImplementedError

    def preprocess(self, reading, encoding, params):
        raise NotImplementedError


def _copy(v):
    return list(v) if isinstance(v, (list, tuple)) else v


def positive_int(params, key, where):
    v = params.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError(f'{where}.{key}: {v!r}; expected a whole number > 0')
    return v


def positive_number(params, key, where):
    v = params.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ValueError(f'{where}.{key}: {v!r}; expected a number > 0')
    return v


def check_vector(values, limit, what):
    """
    Check that a reading vector is finite, representable in float32 and within ``limit``.

    ``values``: a short sequence of floats (a message's fields; a 1-D array works too).
    ``limit``: the physically plausible magnitude of the kind. Good readings pass one chained
    comparison per value (NaN fails it), ~1 us for six values where numpy reductions cost ~10 us;
    ConversionError says which bound failed.
    """
    bound = min(limit, FLOAT32_MAX)
    if all(-bound <= v <= bound for v in values):
        return
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ConversionError(f'{what} holds non-finite values {values.tolist()}')
    peak = float(np.abs(values).max())
    if peak > FLOAT32_MAX:
        raise ConversionError(f'{what} holds {peak:.3g}, beyond float32 range: not a reading')
    raise ConversionError(f'{what} holds {peak:.3g}, beyond the plausible {limit:g} for this '
                          'sensor (raise its limit under preprocess: in sensors.yaml if real)')
