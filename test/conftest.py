"""Session-wide test environment: one DDS domain per run, discovery kept on loopback."""
import os
import tempfile

import pytest

# A private DDS domain per test run so parallel runs never cross-talk; discovery stays on this
# machine. Set before anything imports rclpy.
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_LOG_DIR', tempfile.mkdtemp(prefix='xmodal-roslog-'))
os.environ.setdefault('MUJOCO_GL', 'egl')


def pytest_configure(config):
    libs = os.environ.get('LD_LIBRARY_PATH', '')
    if 'ros_rclpy.libs' not in libs and not os.environ.get('AMENT_PREFIX_PATH'):
        pytest.exit('ROS 2 libraries are not on LD_LIBRARY_PATH: run ./scripts/test.sh, or '
                    '`. .venv/xmodal_env.sh` first (or source a ROS 2 install)', returncode=4)
