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
One sensor's messages -> its model input, through its kind (xmodal_ros.kinds).

``take(msg)`` validates a message and keeps what the model needs from it (a view of an image's
buffer, or one reading pushed into the window); it raises ConversionError for anything malformed
and is cheap, so every message is checked even when encoding is rate-capped. ``model_input()``
then preprocesses the latest state into a (1, *input_shape) float32 batch. ``snapshot()`` returns
that state as an object later messages do not change, so another thread (the node's encoder
thread) can preprocess it with ``model_input(snapshot)`` while ``take`` goes on.
"""
from xmodal_ros.window import ReadingWindow


class ImageInput:
    """
    rgb, depth, grid: the newest valid Image, kept as a view of its buffer.

    Eager kinds (grid: small images) are preprocessed on arrival, where their values are
    checked; the others only when encoded, since that is the costly step.
    """

    def __init__(self, spec):
        self.spec = spec
        self._latest = None               # (array, encoding), replaced as one object per message

    def take(self, msg):
        arr = self.spec.read(msg)
        if self.spec.kind.eager:
            arr = self.spec.preprocess(arr, msg.encoding)
        self._latest = (arr, msg.encoding)

    @property
    def ready(self):
        return self._latest is not None

    def snapshot(self):
        """
        Return the newest message's array and encoding.

        The array is a view of the message's buffer, kept alive by it.
        """
        return self._latest

    def model_input(self, snapshot=None):
        arr, encoding = snapshot or self._latest
        if self.spec.kind.eager:
            return arr[None]
        return self.spec.preprocess(arr, encoding)[None]


class WindowInput:
    """wrench, imu, joints: the newest ``window`` readings; ready once a full window arrived."""

    def __init__(self, spec):
        self.spec = spec
        self.window = ReadingWindow(spec.params['window'], spec.kind.width(spec.params))

    def take(self, msg):
        self.window.push(self.spec.read(msg))

    @property
    def ready(self):
        return self.window.full

    def snapshot(self):
        """Return a copy of the current window, oldest first (the ring changes with each take)."""
        return self.window.view().copy()

    def model_input(self, snapshot=None):
        view = self.window.view() if snapshot is None else snapshot
        return self.spec.preprocess(view)[None]


def make_input(spec):
    """Return the input state for ``spec`` (a SensorSpec) by its kind."""
    return WindowInput(spec) if spec.kind.windowed else ImageInput(spec)
