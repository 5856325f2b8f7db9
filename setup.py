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
ament_python package xmodal_ros; also pip-installable (see README for the extras).

Two import packages: ``xmodal_ros`` (robot-side runtime: numpy, rclpy, onnxruntime/tensorrt) and
``xmodal_training`` (offline side, torch), which lives in ``training/``.
"""
from glob import glob
import os

from setuptools import setup

PACKAGE = 'xmodal_ros'


def tree(src, dest_root):
    """data_files entries that install every file below ``src`` under ``dest_root``."""
    entries = []
    for folder, _, files in os.walk(src):
        paths = [os.path.join(folder, f) for f in files if not f.startswith('.')]
        if paths:
            entries.append((os.path.join(dest_root, folder), paths))
    return entries


# ROS 2 wheels per distribution: package -> version tested (ros-<distro>-<package>==version).
# Jazzy (LTS, supported to May 2029; Fast DDS 2.14) is the default; Kilted (Fast DDS 3.2) is a
# non-LTS release whose support ends in late 2026.
DEFAULT_DISTRO = 'jazzy'
ROS_WHEELS = {
    'jazzy': {'rclpy': '7.1.6', 'rmw-fastrtps-cpp': '8.4.3', 'sensor-msgs': '5.3.6',
              'std-msgs': '5.3.6', 'geometry-msgs': '5.3.6', 'diagnostic-msgs': '5.3.6',
              'lifecycle-msgs': '2.0.3', 'rcl-interfaces': '2.0.3',
              'ament-index-python': '1.8.1'},
    'kilted': {'rclpy': '9.1.2', 'rmw-fastrtps-cpp': '9.3.3', 'sensor-msgs': '5.5.1',
               'std-msgs': '5.5.1', 'geometry-msgs': '5.5.1', 'diagnostic-msgs': '5.5.1',
               'lifecycle-msgs': '2.3.0', 'rcl-interfaces': '2.3.0',
               'ament-index-python': '1.11.0'},
}
AMENT_LINT = {'jazzy': '0.17.3', 'kilted': '0.19.2'}
LINT_TOOLS = ['flake8>=7.0', 'flake8-builtins', 'flake8-comprehensions', 'flake8-docstrings',
              'flake8-import-order', 'flake8-quotes', 'pydocstyle>=6.3']


def ros_wheels(distro, pins):
    return [f'ros-{distro}-{name}=={version}' for name, version in pins.items()]


training_packages = ['xmodal_training'] + [
    'xmodal_training.' + os.path.relpath(folder, 'training').replace(os.sep, '.')
    for folder, _, files in os.walk('training')
    if folder != 'training' and '__init__.py' in files]

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=[PACKAGE] + training_packages,
    package_dir={'xmodal_training': 'training'},
    package_data={'xmodal_training': ['sim/assets/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.xml')),
    ] + tree('models', 'share/' + PACKAGE),
    python_requires='>=3.10',
    install_requires=['setuptools', 'numpy', 'PyYAML'],
    extras_require={
        # Inference on CPU hosts. Never install together with [gpu]: both provide `onnxruntime`.
        'cpu': ['onnxruntime>=1.18'],
        # GPU / Jetson hosts (on Jetson use JetPack's TensorRT and NVIDIA's onnxruntime-gpu build).
        'gpu': ['onnxruntime-gpu>=1.18', 'tensorrt'],
        # ROS 2 from PyPI wheels, for machines without a ROS 2 install: one extra per
        # distribution, each pinned to the wheels tested here (scripts/setup.sh picks one with
        # XMODAL_ROS_DISTRO; README, "ROS 2 distributions"). Never install two into one venv.
        **{f'ros-{distro}': ros_wheels(distro, pins) for distro, pins in ROS_WHEELS.items()},
        'ros-wheels': ros_wheels(DEFAULT_DISTRO, ROS_WHEELS[DEFAULT_DISTRO]),
        # The ament linters of test/test_{flake8,pep257}.py (ament_copyright has no wheel), with
        # the flake8 plugins and pydocstyle that Ubuntu's packages bring on a ROS install.
        **{f'lint-{distro}': [f'ros-{distro}-ament-flake8=={version}',
                              f'ros-{distro}-ament-pep257=={version}', *LINT_TOOLS]
           for distro, version in AMENT_LINT.items()},
        # Offline side: simulation, bags, training, export, plots.
        'train': ['torch==2.13.0', 'mujoco>=3.2', 'rosbags>=0.10', 'onnx>=1.16', 'onnxscript',
                  'tqdm', 'matplotlib', 'psutil'],
        'test': ['pytest', 'pytest-timeout'],
    },
    zip_safe=False,
    maintainer='xmodal_ros maintainers',
    maintainer_email='maintainers@xmodal.invalid',
    description='Cross-modal sensor fusion for ROS 2: train on unpaired bags, fuse live sensors.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'xmodal = xmodal_ros.cli:main',
            'fuse_node = xmodal_ros.fuse_node:main',
        ],
    },
)
