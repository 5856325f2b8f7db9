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
Start the fuse node on a ROS 2 install.

    ros2 launch xmodal_ros fuse.launch.py [params:=FILE] [bundle:=DIR] [sensors:=FILE]
                                          [managed:=true]

``params``: ROS 2 parameter file (default: the installed config/fuse.yaml). ``bundle``: model
bundle folder, overriding the parameter file (default: the file's, else the shipped
models/default).
``sensors``: the robot's sensors.yaml (topics, layouts), overriding the parameter file's
``sensors_config`` (default: the installed config/sensors.yaml).
``managed:=true``: start unconfigured and wait for lifecycle transitions (``ros2 lifecycle set
/fuse_node configure`` / ``activate``, or a lifecycle manager) instead of activating by itself.

The node gets config/fastdds.xml (shared memory sized for camera images; see that file) as its
Fast DDS profile unless the environment already names one (xmodal_ros.dds): under
FASTRTPS_DEFAULT_PROFILES_FILE where Fast DDS 2.x runs (Humble, Jazzy),
FASTDDS_DEFAULT_PROFILES_FILE where Fast DDS 3 does (Kilted and later); a profile set under
either name is used. Camera drivers publishing the images need the same setting: the
shared-memory segment belongs to the publishing process.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode

from xmodal_ros.dds import apply_dds_defaults, PROFILE_VARIABLES


def _profile(context):
    """Return the profile variables the node's Fast DDS reads, as xmodal_ros.dds chooses them."""
    env = dict(os.environ)
    apply_dds_defaults(env)
    return [SetEnvironmentVariable(v, env[v]) for v in PROFILE_VARIABLES.values() if v in env]


def _fuse_node(context):
    overrides = {'autostart': LaunchConfiguration('managed').perform(context).lower() != 'true'}
    for name, param in (('bundle', 'bundle'), ('sensors', 'sensors_config')):
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[param] = value
    return [LifecycleNode(
        package='xmodal_ros', executable='fuse_node', name='fuse_node', namespace='',
        output='screen', emulate_tty=True,
        parameters=[LaunchConfiguration('params').perform(context), overrides])]


def generate_launch_description():
    share = get_package_share_directory('xmodal_ros')
    return LaunchDescription([
        DeclareLaunchArgument('params', default_value=os.path.join(share, 'config', 'fuse.yaml'),
                              description='ROS 2 parameter file of the fuse node'),
        DeclareLaunchArgument('bundle', default_value='',
                              description='model bundle folder (empty: as in the parameter file)'),
        DeclareLaunchArgument('sensors', default_value='',
                              description='sensors.yaml of the robot (empty: as in the parameter '
                                          'file, else the installed config/sensors.yaml)'),
        DeclareLaunchArgument('managed', default_value='false',
                              description='true: wait for lifecycle transitions'),
        OpaqueFunction(function=_profile),
        OpaqueFunction(function=_fuse_node),
    ])
