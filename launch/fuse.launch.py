"""Start the fuse node on a ROS 2 install.

    ros2 launch xmodal_ros fuse.launch.py [params:=FILE] [bundle:=DIR] [managed:=true]

``params``: ROS 2 parameter file (default: the installed config/fuse.yaml). ``bundle``: model bundle
folder, overriding the parameter file (default: the file's, else the shipped models/default).
``managed:=true``: start unconfigured and wait for lifecycle transitions (``ros2 lifecycle set
/fuse_node configure`` / ``activate``, or a lifecycle manager) instead of activating by itself.

The node gets config/fastdds.xml (shared memory sized for camera images; see that file) as its
Fast DDS profile unless the environment already names one: under FASTRTPS_DEFAULT_PROFILES_FILE,
which Fast DDS 2.x reads (Humble, Jazzy), and FASTDDS_DEFAULT_PROFILES_FILE (Fast DDS 3: Kilted
and later). A profile set under either name is used for both. Camera drivers publishing the
images need the same setting: the shared-memory segment belongs to the publishing process.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import LifecycleNode

PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def _profile(share):
    """Both variables, each defaulting to the other's value, else to the shipped profile."""
    shipped = os.path.join(share, 'config', 'fastdds.xml')
    actions = []
    for var in PROFILE_VARIABLES:
        other = next(v for v in PROFILE_VARIABLES if v != var)
        actions.append(SetEnvironmentVariable(var, EnvironmentVariable(
            var, default_value=EnvironmentVariable(other, default_value=shipped))))
    return actions


def _fuse_node(context):
    overrides = {'autostart': LaunchConfiguration('managed').perform(context).lower() != 'true'}
    bundle = LaunchConfiguration('bundle').perform(context)
    if bundle:
        overrides['bundle'] = bundle
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
        DeclareLaunchArgument('managed', default_value='false',
                              description='true: wait for lifecycle transitions'),
        *_profile(share),
        OpaqueFunction(function=_fuse_node),
    ])
