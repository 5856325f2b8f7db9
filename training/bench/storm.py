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
Malformed messages of every kind, for soak benchmarks and tests of the node's input path.

``StormMaker(specs, seed).make(sensor, now_ns)`` returns ``(msg, what)``: a message the node must
count as malformed and drop (``what`` names the fault), stamped for it. Faults vary in content on
purpose: random sizes, encodings, truncations, joint names, absurd values and stamps, so anything
the node keeps keyed by a message's content, or any allocator pattern driven by buffer sizes,
shows up as growth. Every fault fails the node's stamp check or its kind's ``read`` (never only
its encoder: that is counted apart, as an encode failure).
"""
import array
import string

import numpy as np

from xmodal_training.bench.messages import set_stamp, synthetic_message

NS = 1_000_000_000
FULL = (480, 640)                  # the largest images the storm sends (full-size camera)
_TEXT = string.ascii_letters + string.digits + '_/-.'
# Encodings no image kind accepts, besides random text.
_ODD_ENCODINGS = ('yuv422', 'bayer_rggb8', '8UC3', '32FC3', '64FC1', '16SC1', 'mono16',
                  'rgb16', '')
STAMP_FAULTS = ('stamp_zero', 'stamp_future', 'stamp_old')


class StormMaker:
    """Malformed messages for the sensors ``specs`` (name -> SensorSpec)."""

    def __init__(self, specs, seed=0):
        self.specs = dict(specs)
        self.rng = np.random.default_rng(seed)
        # Bytes to cut image data from: random content, big enough for a full rgba8 frame + 1.
        self._bytes = self.rng.integers(0, 256, FULL[0] * FULL[1] * 4 + 4096,
                                        dtype=np.uint8).tobytes()
        self._valid = {s: synthetic_message(spec, size=(96, 128)) for s, spec in specs.items()}

    def faults(self, sensor):
        """Return the fault names ``make`` draws from for ``sensor``."""
        kind = self.specs[sensor].kind.name
        own = {'rgb': _IMAGE_FAULTS, 'depth': _IMAGE_FAULTS,
               'grid': _IMAGE_FAULTS + ('grid_shape', 'grid_nonfinite', 'grid_absurd'),
               'wrench': ('vector_nonfinite', 'vector_absurd'),
               'imu': ('vector_nonfinite', 'vector_absurd'),
               'joints': ('joints_unknown', 'joints_lengths', 'vector_nonfinite',
                          'vector_absurd')}[kind]
        return own + STAMP_FAULTS

    def make(self, sensor, now_ns, fault=None):
        """Return one malformed message of ``sensor`` for a node whose clock reads ``now_ns``."""
        faults = self.faults(sensor)
        fault = fault or faults[int(self.rng.integers(len(faults)))]
        spec = self.specs[sensor]
        if fault in STAMP_FAULTS:
            msg = self._valid[sensor]
            stamp = {'stamp_zero': 0,
                     'stamp_future': now_ns + int(self.rng.uniform(1.0, 1e6) * NS),
                     'stamp_old': now_ns - int(self.rng.uniform(1.0, 1e5) * NS)}[fault]
            msg = _copy(msg)
            set_stamp(msg, 0)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, NS)
            return msg, fault
        msg = getattr(self, '_' + fault)(spec)
        return set_stamp(msg, now_ns), fault

    # -- images (rgb, depth, grid) -----------------------------------------------------------

    def _image(self, spec, encoding, height, width, step, nbytes):
        from xmodal_ros.sensors import message_class
        msg = message_class(spec.msg_type)(height=int(height), width=int(width),
                                           encoding=encoding, is_bigendian=0, step=int(step))
        nbytes = int(min(nbytes, len(self._bytes)))
        start = int(self.rng.integers(0, len(self._bytes) - nbytes + 1))
        msg.data = array.array('B', self._bytes[start:start + nbytes])
        return msg

    def _shape(self):
        h = int(self.rng.integers(1, FULL[0] + 1))
        w = int(self.rng.integers(1, FULL[1] + 1))
        return h, w

    def _accepted(self, spec):
        enc = spec.kind.encodings
        return enc[int(self.rng.integers(len(enc)))]

    def _row_bytes(self, encoding, width):
        from xmodal_ros.conversions import IMAGE_ENCODINGS
        dtype, channels = IMAGE_ENCODINGS[encoding]
        return width * channels * np.dtype(dtype).itemsize

    def _image_encoding(self, spec):
        """Return a random encoding the kind refuses: known elsewhere, odd, or random text."""
        r = self.rng.random()
        if r < 0.4:
            return ''.join(self.rng.choice(list(_TEXT), int(self.rng.integers(1, 48))))
        if r < 0.7:
            return _ODD_ENCODINGS[int(self.rng.integers(len(_ODD_ENCODINGS)))]
        from xmodal_ros.conversions import IMAGE_ENCODINGS
        other = [e for e in IMAGE_ENCODINGS if e not in spec.kind.encodings]
        return other[int(self.rng.integers(len(other)))] if other else 'yuv422'

    def _image_encoding_fault(self, spec):
        h, w = self._shape()
        return self._image(spec, self._image_encoding(spec), h, w, w * 3, h * w * 3)

    def _image_truncated(self, spec):
        enc = self._accepted(spec)
        h, w = self._grid_or_random_shape(spec)
        step = self._row_bytes(enc, w)
        return self._image(spec, enc, h, w, step, self.rng.integers(0, step * h))

    def _image_oversized(self, spec):
        enc = self._accepted(spec)
        h, w = self._grid_or_random_shape(spec)
        step = self._row_bytes(enc, w)
        return self._image(spec, enc, h, w, step, step * h + self.rng.integers(1, 4096))

    def _image_step(self, spec):
        enc = self._accepted(spec)
        h, w = self._grid_or_random_shape(spec)
        step = int(self.rng.integers(0, self._row_bytes(enc, w)))
        return self._image(spec, enc, h, w, step, step * h)

    def _image_empty(self, spec):
        enc = self._accepted(spec)
        h, w = ((0, int(self.rng.integers(0, 640))) if self.rng.random() < 0.5
                else (int(self.rng.integers(0, 480)), 0))
        return self._image(spec, enc, h, w, self._row_bytes(enc, w), 0)

    def _grid_or_random_shape(self, spec):
        if spec.kind.name == 'grid' and self.rng.random() < 0.5:
            p = spec.params
            return p['rows'], p['pads'] * p['cols']
        return self._shape()

    # -- grid values --------------------------------------------------------------------------

    def _grid_values(self, spec, fill):
        p = spec.params
        arr = self.rng.uniform(0, p['scale'], (p['rows'], p['pads'] * p['cols']))
        arr = arr.astype(np.float32)
        n = int(self.rng.integers(1, arr.size + 1))
        arr.flat[self.rng.choice(arr.size, n, replace=False)] = fill
        msg = synthetic_message(spec)
        msg.data = array.array('B', arr.tobytes())
        return msg

    def _grid_shape(self, spec):
        p = spec.params
        while True:
            h, w = int(self.rng.integers(1, 64)), int(self.rng.integers(1, 64))
            if (h, w) != (p['rows'], p['pads'] * p['cols']):
                break
        return self._image(spec, '32FC1', h, w, 4 * w, 4 * w * h)

    def _grid_nonfinite(self, spec):
        return self._grid_values(spec, [np.nan, np.inf, -np.inf][int(self.rng.integers(3))])

    def _grid_absurd(self, spec):
        lo = np.log10(spec.params['max_abs']) + 0.1
        return self._grid_values(spec, np.float32(10 ** self.rng.uniform(lo, 38)))

    # -- windowed kinds -------------------------------------------------------------------------

    def _vector_fields(self, spec):
        """(msg, [(object, attribute)]) of the reading fields the kind checks."""
        msg = _copy(self._valid[spec.name])
        kind = spec.kind.name
        if kind == 'wrench':
            w = msg.wrench
            return msg, [(v, a) for v in (w.force, w.torque) for a in 'xyz']
        if kind == 'imu':
            return msg, [(v, a) for v in (msg.angular_velocity, msg.linear_acceleration)
                         for a in 'xyz']
        return msg, None

    def _vector_fault(self, spec, value):
        msg, fields = self._vector_fields(spec)
        if fields is None:                 # joints: one used value of one used field
            field = spec.params['fields'][int(self.rng.integers(len(spec.params['fields'])))]
            values = list(getattr(msg, field))
            values[int(self.rng.integers(len(values)))] = value
            setattr(msg, field, values)
            return msg
        obj, attr = fields[int(self.rng.integers(len(fields)))]
        setattr(obj, attr, value)
        return msg

    def _vector_nonfinite(self, spec):
        return self._vector_fault(spec, [np.nan, np.inf, -np.inf][int(self.rng.integers(3))])

    def _vector_absurd(self, spec):
        sign = 1.0 if self.rng.random() < 0.5 else -1.0
        return self._vector_fault(spec, sign * 10 ** float(self.rng.uniform(6, 300)))

    def _joints_unknown(self, spec):
        """Return a JointState that lists random joints, never all of the configured ones."""
        msg = _copy(self._valid[spec.name])
        known = list(spec.params['joints'])
        n = int(self.rng.integers(1, 24))
        names = [''.join(self.rng.choice(list(_TEXT), int(self.rng.integers(1, 40))))
                 for _ in range(n)]
        if self.rng.random() < 0.5:       # some configured joints, one left out
            names[:len(known) - 1] = known[:-1]
        msg.name = names
        msg.position = self.rng.uniform(-1, 1, n).tolist()
        msg.velocity = self.rng.uniform(-1, 1, n).tolist()
        msg.effort = self.rng.uniform(-1, 1, n).tolist()
        return msg

    def _joints_lengths(self, spec):
        msg = _copy(self._valid[spec.name])
        field = spec.params['fields'][int(self.rng.integers(len(spec.params['fields'])))]
        n = len(msg.name)
        length = int(self.rng.integers(0, 3 * n + 2))
        if length == n:
            length += 1
        setattr(msg, field, self.rng.uniform(-1, 1, length).tolist())
        return msg


_IMAGE_FAULTS = ('image_encoding_fault', 'image_truncated', 'image_oversized', 'image_step',
                 'image_empty')


def _copy(msg):
    """Return a shallow field-by-field copy of an rclpy message (they have no copy())."""
    out = type(msg)()
    for field in msg.get_fields_and_field_types():
        value = getattr(msg, field)
        if hasattr(value, 'get_fields_and_field_types'):
            value = _copy(value)
        elif isinstance(value, (list, array.array)):
            value = type(value)(value) if isinstance(value, list) else array.array(
                value.typecode, value)
        elif isinstance(value, np.ndarray):
            value = value.copy()
        setattr(out, field, value)
    return out
