"""One sensor's messages -> its model input, through xmodal_ros.conversions and .preprocess.

``take(msg)`` validates a message and keeps what the model needs from it (a view of an image's
buffer, or one wrench reading appended to the force window); it raises ConversionError for anything
malformed and is cheap, so every message is checked even when encoding is rate-capped.
``model_input()`` then preprocesses the latest state into a (1, *input_shape) float32 batch.
``snapshot()`` returns that state as an object later messages do not change, so another thread
(the node's encoder thread) can preprocess it with ``model_input(snapshot)`` while ``take`` goes on.
"""
import numpy as np

from xmodal_ros.conversions import (COLOUR_ENCODINGS, DEPTH_ENCODINGS, ConversionError,
                                    image_to_array, wrench_to_array)
from xmodal_ros.preprocess import preprocess

IMAGE_ACCEPT = {'camera': COLOUR_ENCODINGS, 'depth': DEPTH_ENCODINGS, 'tactile': ('32FC1',)}


class ImageInput:
    """camera, depth, tactile: the newest valid Image, kept as a view of its buffer.

    Tactile images are preprocessed on arrival (tiny, and that is where their shape and
    finiteness are checked); camera and depth only when encoded, since that is the costly step.
    """

    def __init__(self, sensor, params):
        self.sensor = sensor
        self.params = params
        self.accept = IMAGE_ACCEPT[sensor]
        self._eager = sensor == 'tactile'
        self._latest = None               # (array, encoding), replaced as one object per message

    def take(self, msg):
        arr = image_to_array(msg, self.accept)
        if self._eager:
            arr = preprocess(self.sensor, arr, msg.encoding, self.params)
        self._latest = (arr, msg.encoding)

    @property
    def ready(self):
        return self._latest is not None

    def snapshot(self):
        """The newest message's array (a view of its buffer, kept alive by it) and encoding."""
        return self._latest

    def model_input(self, snapshot=None):
        arr, encoding = snapshot or self._latest
        if self._eager:
            return arr[None]
        return preprocess(self.sensor, arr, encoding, self.params)[None]


class WrenchInput:
    """force: a ring of the newest ``window`` wrench readings, readable oldest-first without a copy.

    Each reading is written twice, at slot i and i + window, so rows [i, i + window) of the doubled
    buffer are always the window in time order. Ready once a full window has arrived.
    """

    def __init__(self, sensor, params):
        self.sensor = sensor
        self.params = params
        self.window = int(params['window'])
        self._ring = np.zeros((2 * self.window, 6), np.float64)
        self._next = 0
        self._count = 0

    def take(self, msg):
        reading = wrench_to_array(msg)
        i = self._next
        self._ring[i] = reading
        self._ring[i + self.window] = reading
        self._next = (i + 1) % self.window
        self._count += 1

    @property
    def ready(self):
        return self._count >= self.window

    def snapshot(self):
        """A copy of the current window, oldest first (the ring itself changes with each take)."""
        return self._ring[self._next:self._next + self.window].copy()

    def model_input(self, snapshot=None):
        view = self._ring[self._next:self._next + self.window] if snapshot is None else snapshot
        return preprocess(self.sensor, view, None, self.params)[None]


def make_input(sensor, params):
    if sensor == 'force':
        return WrenchInput(sensor, params)
    if sensor in IMAGE_ACCEPT:
        return ImageInput(sensor, params)
    raise ConversionError(f'unknown sensor {sensor!r}')
