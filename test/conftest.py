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
Session-wide test environment.

One DDS domain per run, discovery kept on loopback; test modules of the offline side skipped, with
the reason, where its dependencies are not installed.
"""
import os
import tempfile

import pytest

# A private DDS domain per test run so parallel runs never cross-talk; discovery stays on this
# machine. Set before anything imports rclpy. ROS_AUTOMATIC_DISCOVERY_RANGE exists since Iron;
# Humble (and older) only knows ROS_LOCALHOST_ONLY. Installs set ROS_DISTRO; the PyPI wheels
# (Jazzy, Kilted) do not, and are Iron or later.
PRE_IRON = ('foxy', 'galactic', 'humble')
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
if os.environ.get('ROS_DISTRO', '').lower() in PRE_IRON:
    os.environ['ROS_LOCALHOST_ONLY'] = '1'
else:
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_LOG_DIR', tempfile.mkdtemp(prefix='xmodal-roslog-'))
os.environ.setdefault('MUJOCO_GL', 'egl')

# What only the offline side (and the test bundles) need. A ROS install with the runtime's
# dependencies only (rosdep keys of package.xml) lacks them: a test module that cannot import
# one of them is skipped with this reason instead of failing collection. The runtime package
# itself never imports them (test_runtime_imports.py), so no runtime test hides behind this.
OPTIONAL = {
    **dict.fromkeys(('torch', 'mujoco', 'rosbags', 'onnxscript', 'matplotlib', 'tqdm', 'psutil'),
                    'the training side: pip install .[train]'),
    'onnx': 'test bundles are written with onnx: pip install onnx (it has no rosdep key)',
}


def pytest_configure(config):
    libs = os.environ.get('LD_LIBRARY_PATH', '')
    if 'ros_rclpy.libs' not in libs and not os.environ.get('AMENT_PREFIX_PATH'):
        pytest.exit('ROS 2 libraries are not on LD_LIBRARY_PATH: run ./scripts/test.sh, or '
                    '`. .venv/xmodal_env.sh` first (or source a ROS 2 install)', returncode=4)


def _missing_optional(exc):
    """Return the OPTIONAL module whose absence caused ``exc`` (walking its causes), else None."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            root = exc.name.split('.')[0]
            return root if root in OPTIONAL else None
        exc = exc.__cause__
    return None


class GuardedModule(pytest.Module):
    """A test module that is skipped, naming the package, when an OPTIONAL import fails."""

    def collect(self):
        try:
            return super().collect()
        except self.CollectError as err:
            missing = _missing_optional(err.__cause__)
            if missing is None:
                raise
            name = os.path.basename(str(getattr(self, 'path', None) or self.fspath))
            pytest.skip(f'{name} needs {missing} ({OPTIONAL[missing]}); not installed here',
                        allow_module_level=True)


def _module(parent, path):
    if int(pytest.__version__.split('.')[0]) >= 7:
        return GuardedModule.from_parent(parent, path=path)
    return GuardedModule.from_parent(parent, fspath=path)


def _wrap(outcome, parent, path):
    """
    Collect every plain test module as a GuardedModule.

    launch_testing's collection hook imports each test module to look for a launch test and lets
    any error escape, which fails the whole directory ("collected 0 items / 1 error"); here such
    a module is collected on its own instead, so its error or skip is reported for it alone.
    """
    try:
        module = outcome.get_result()
    except (Exception, pytest.skip.Exception):  # reported for this module by GuardedModule
        outcome.force_result(_module(parent, path))
        return
    if type(module) is pytest.Module:
        outcome.force_result(_module(parent, path))


if int(pytest.__version__.split('.')[0]) >= 7:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_pycollect_makemodule(module_path, parent):
        outcome = yield
        _wrap(outcome, parent, module_path)
else:  # pytest 6 (Ubuntu 22.04, Humble)
    @pytest.hookimpl(hookwrapper=True)
    def pytest_pycollect_makemodule(path, parent):
        outcome = yield
        _wrap(outcome, parent, path)
