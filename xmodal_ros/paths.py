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
Where the package's config/, models/ and launch/ folders are.

The source tree when running from a checkout (editable install), the ament share directory when
installed by colcon.
"""
import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def share_dir():
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / 'config' / 'sensors.yaml').is_file():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory('xmodal_ros'))
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        raise FileNotFoundError(
            'cannot find the xmodal_ros share directory (config/, models/): run from a checkout '
            f'or source a ROS 2 workspace where xmodal_ros is installed ({e})') from None


def config_path(name):
    return share_dir() / 'config' / name


def default_bundle():
    return share_dir() / 'models' / 'default'
