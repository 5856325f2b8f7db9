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
The window rule of windowed sensors (wrench, imu, joints), for the node and the bag loader.

A model input at time t holds the newest ``length`` readings stamped <= t, oldest first, and
exists only once that many readings arrived. The node keeps them in ``ReadingWindow`` as they
come; the bag loader picks the same rows with ``window_rows`` from a bag's readings sorted by
stamp. A test feeds one bag through both and compares the inputs.
"""
import numpy as np


class ReadingWindow:
    """
    A ring of the newest ``length`` readings (each a vector of ``width``).

    Readable oldest first without a copy: each reading is written twice, at slot i and i + length,
    so rows [i, i + length) of the doubled buffer are always the window in time order.
    """

    def __init__(self, length, width):
        self.length = int(length)
        self._ring = np.zeros((2 * self.length, int(width)), np.float64)
        self._next = 0
        self._count = 0

    def push(self, reading):
        i = self._next
        self._ring[i] = reading
        self._ring[i + self.length] = reading
        self._next = (i + 1) % self.length
        self._count += 1

    @property
    def full(self):
        return self._count >= self.length

    def view(self):
        """Return the window, oldest first (a view: the next push changes it)."""
        return self._ring[self._next:self._next + self.length]


def window_rows(newest, length):
    """
    Row indices (len(newest), length) into stamp-sorted readings.

    For each sample, the ``length`` readings ending at its newest one, oldest first (negative where
    too few exist).
    """
    return np.asarray(newest)[:, None] + np.arange(1 - length, 1)
