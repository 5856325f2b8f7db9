"""ament_python package xmodal_ros; also pip-installable (see README for the extras).

Two import packages: ``xmodal_ros`` (robot-side runtime: numpy, rclpy, onnxruntime/tensorrt) and
``xmodal_training`` (offline side, torch), which lives in ``training/``.
"""
import os
from glob import glob

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
        # ROS 2 from PyPI wheels, for machines without a ROS 2 install.
        'ros-wheels': ['ros-rclpy', 'ros-rmw-fastrtps-cpp', 'ros-sensor-msgs', 'ros-std-msgs',
                       'ros-geometry-msgs', 'ros-diagnostic-msgs', 'ros-lifecycle-msgs'],
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
