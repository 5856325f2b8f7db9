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
The node's one-argument subscription path, where rclpy hands callbacks the message alone.

That is rclpy before Iron, e.g. Humble. Forced on this distribution in the node's process, the path
fuses every sensor and publishes diagnostics as with MessageInfo, and no callback saw a
MessageInfo.
"""
import os
from pathlib import Path
import re
import subprocess
import sys

from bundles import CLASSES, make_bundle
import pytest
from rosproc import Driver, SENSORS, stop, values, write_params

HERE = Path(__file__).resolve().parent
PUBLISH = {'camera': 30.0, 'depth': 30.0, 'tactile': 100.0, 'force': 250.0,
           'finger_joints': 100.0, 'wrist_imu': 200.0}


def test_one_argument_callbacks_fuse_every_sensor(tmp_path):
    params = write_params(tmp_path / 'fuse.yaml', {'rate_hz': 50.0, 'diagnostics_period': 0.5})
    proc = subprocess.Popen(
        [sys.executable, str(HERE / 'fuse_message_only.py'), '--params', str(params),
         '--bundle', str(make_bundle(tmp_path / 'bundle'))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    driver = Driver('xmodal_test_message_only')
    try:
        if not driver.wait_for_subscribers(timeout=30):
            code, out = stop(proc)
            pytest.fail(f'fuse node never subscribed (exit {code}):\n{out}')
        t0 = driver.now()
        driver.run(1.5, PUBLISH)
        preds = [m for _, m in driver.received('predictions', t0 + int(0.5e9))]
        diags = driver.received('diagnostics', t0)
    finally:
        driver.close()
        code, out = stop(proc)
    assert code == 0, f'fuse node exited with {code}:\n{out}'
    assert len(preds) >= 10, f'only {len(preds)} predictions:\n{out}'
    for msg in preds[-5:]:
        v = values(msg)
        assert sum(v[f'class/{c}'] for c in CLASSES) == pytest.approx(1.0, abs=1e-5)
        assert all(v[f'live/{s}'] == 1.0 and v[f'target/on/{s}'] == pytest.approx(1.0)
                   for s in SENSORS), v
    assert diags, 'no /diagnostics while active'
    taken = re.search(r'message-only callbacks: (\d+) messages, (\d+) with MessageInfo', out)
    assert taken, out
    assert int(taken[1]) >= 100 and int(taken[2]) == 0, taken[0]
