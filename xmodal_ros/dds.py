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
The Fast DDS profile the node (and every image publisher) needs, on every distribution.

Fast DDS 3 (Kilted and later) reads ``FASTDDS_DEFAULT_PROFILES_FILE``; Fast DDS 2.x (Humble,
Jazzy) reads ``FASTRTPS_DEFAULT_PROFILES_FILE``. The variable of the installed generation is set
(Fast DDS 3 warns that the 2.x name is deprecated when it finds it); where the generation cannot
be told, both are.
"""
import glob
import os
from pathlib import Path

from xmodal_ros.paths import config_path

PROFILE_VARIABLES = {3: 'FASTDDS_DEFAULT_PROFILES_FILE', 2: 'FASTRTPS_DEFAULT_PROFILES_FILE'}
FASTDDS2_DISTROS = ('humble', 'iron', 'jazzy')
# The core library of each generation: Fast DDS 2.x ships libfastrtps.so.2, 3.x libfastdds.so.3.
LIBRARIES = {2: 'libfastrtps.so.2*', 3: 'libfastdds.so.3*'}


def fastdds_generation(environ=None):
    """
    2 or 3.

    The Fast DDS generation this process will load, from ROS_DISTRO where a ROS install set it,
    else from the library found on LD_LIBRARY_PATH or the ament prefixes (ROS wheels); None if
    neither tells.
    """
    environ = os.environ if environ is None else environ
    distro = environ.get('ROS_DISTRO', '').lower()
    if distro:
        return 2 if distro in FASTDDS2_DISTROS else 3
    dirs = [d for d in environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if d]
    dirs += [str(Path(p) / 'lib') for p in environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
             if p]
    found = {gen for gen, pattern in LIBRARIES.items() for d in dirs
             if glob.glob(os.path.join(d, pattern))}
    return found.pop() if len(found) == 1 else None


def apply_dds_defaults(environ=None):
    """
    Point Fast DDS at config/fastdds.xml unless the user chose a profile.

    Must run before rclpy.init (Fast DDS reads the variable when the first participant is made).
    A profile already set under either name is kept, and copied to the name this Fast DDS reads.
    Returns the profile in effect, or None.
    """
    environ = os.environ if environ is None else environ
    chosen = next((environ[v] for v in PROFILE_VARIABLES.values() if environ.get(v)), None)
    if chosen is None:
        profile = config_path('fastdds.xml')
        chosen = str(profile) if profile.is_file() else None
    if chosen is not None:
        generation = fastdds_generation(environ)
        names = ([PROFILE_VARIABLES[generation]] if generation
                 else list(PROFILE_VARIABLES.values()))
        for var in names:
            environ.setdefault(var, chosen)
    return chosen
