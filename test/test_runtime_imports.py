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
The robot-side package imports nothing of the offline side.

Every xmodal_ros module loads without torch, MuJoCo, rosbags or onnx. (conftest.py skips test
modules that need those where they are missing; this test keeps a runtime test from ever hiding
behind that.)
"""
import subprocess
import sys

OFFLINE = ('torch', 'mujoco', 'rosbags', 'onnx', 'onnxscript', 'xmodal_training')

PROBE = f"""
import importlib, pkgutil, sys
import xmodal_ros
names = [m.name for m in pkgutil.walk_packages(xmodal_ros.__path__, 'xmodal_ros.')]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in {OFFLINE!r} if m in sys.modules)
print(len(names), ','.join(loaded))
"""


def test_runtime_package_never_imports_the_offline_side():
    out = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    count, loaded = out.stdout.split()[0], out.stdout.split()[1:]
    assert int(count) >= 10, out.stdout
    assert not loaded, f'xmodal_ros imported {loaded[0]}'
