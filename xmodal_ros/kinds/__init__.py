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
Sensor kinds: what a sensor *is*, as opposed to what it is called.

A configured sensor (config/sensors.yaml) is a free name plus one of these kinds. The kind knows
its ROS message type, which encodings or fields it accepts, how a message becomes a reading
(``read``), how readings become the model's input (``preprocess``), the input's shape, sensible
defaults for the node, and which encoder family training builds for it. Code elsewhere branches
on the kind, never on a sensor's name.

Adding a kind is one module in this package (a ``Kind`` subclass) plus its line in ``KINDS``.
"""
from xmodal_ros.kinds.base import Kind
from xmodal_ros.kinds.depth import DepthKind
from xmodal_ros.kinds.grid import GridKind
from xmodal_ros.kinds.imu import ImuKind
from xmodal_ros.kinds.joints import JointsKind
from xmodal_ros.kinds.rgb import RgbKind
from xmodal_ros.kinds.wrench import WrenchKind

KINDS = {k.name: k for k in (RgbKind(), DepthKind(), GridKind(), WrenchKind(), ImuKind(),
                             JointsKind())}

__all__ = ['KINDS', 'Kind', 'get_kind']


def get_kind(name):
    """Return the Kind called ``name``; KeyError listing the known kinds otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise KeyError(f'unknown sensor kind {name!r}; expected one of {", ".join(KINDS)}') \
            from None
