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
`xmodal bundle add-sensor`: a tactile learner into a camera/depth/force bundle, fused live.

On the tiny bags and runs of test_train_sensor: the bundle of the known sensors and the tactile
learner trained from unpaired bags. The new bundle must keep the old graphs byte for byte, pass
the export's parity over all 15 subsets, and the real node must fuse tactile with the others.
"""
import functools
import time

import pytest
from simbags import ROOT, xmodal

pytest.importorskip('torch')
from test_train_sensor import bundle, data, stage1_run  # noqa: E402 - after the skip


@functools.cache
def extended():
    """Return the bundle with tactile added from the erm learner (10 % labels)."""
    out = ROOT / 'sensor-runs' / 'bundle-plus-tactile'
    assert xmodal('bundle', 'add-sensor', '--bundle', bundle(), '--learner',
                  stage1_run().parent, '--out', out, '--epochs', 3) == 0
    return out


def test_old_graphs_stay_and_every_subset_passes_parity():
    from xmodal_ros.bundle import load_bundle
    old, new = load_bundle(bundle()), load_bundle(extended())
    assert list(new.sensors) == ['camera', 'depth', 'force', 'tactile']
    graphs = [*(old.manifest['sensors'][s]['graph'] for s in old.sensors), 'fusion.onnx']
    assert {g: new.manifest['files'][g] for g in graphs} == \
        {g: old.manifest['files'][g] for g in graphs}
    parity = new.manifest['export']['parity']
    assert len(parity['per_subset']) == 15 and parity['fp32_max_abs_error'] <= 1e-4
    added = new.manifest['added_sensors']
    assert [a['sensor'] for a in added] == ['tactile'] and added[0]['learner_method'] == 'erm'
    assert new.sensors['tactile'].kind == 'grid'


def test_the_node_fuses_the_added_sensor_live(tmp_path):
    from rosproc import Driver, start_fuse, stop, values, write_params
    params = write_params(tmp_path / 'fuse.yaml', {
        'rate_hz': 50.0, 'finger_joints.enabled': False, 'wrist_imu.enabled': False})
    proc = start_fuse(params, extended())
    driver = Driver()
    try:
        assert driver.wait_for_subscribers(30, ['camera', 'depth', 'force', 'tactile']), \
            stop(proc)[1]
        for live in (('tactile',), ('force', 'tactile')):
            start = driver.now()
            driver.run(1.0, {'tactile': 100.0, 'force': 250.0} if 'force' in live
                       else {'tactile': 100.0})
            preds = [m for _, m in driver.received('predictions', start + int(0.5e9))]
            assert len(preds) > 5, live
            for m in preds:
                v = values(m)
                assert v['live/tactile'] == 1.0 and v['live/force'] == (
                    1.0 if 'force' in live else 0.0), (live, v)
            time.sleep(0.4)                 # both stale before the next phase
    finally:
        driver.close()
        code, out = stop(proc)
    assert code == 0, out


def test_a_sensor_the_bundle_has_is_refused(capfd):
    d = data()
    out = ROOT / 'sensor-runs' / 'force-learner'
    assert xmodal('train', 'sensor', '--method', 'erm', '--new', 'force', '--known',
                  'camera,depth', '--bags-known', d['known'], '--bags-new', d['paired'],
                  '--stage1', stage1_run(), '--epochs', 1, '--out', out) == 0
    capfd.readouterr()
    assert xmodal('bundle', 'add-sensor', '--bundle', bundle(), '--learner', out, '--out',
                  ROOT / 'sensor-runs' / 'x') == 2
    err = capfd.readouterr().err
    assert 'a learner for force, which' in err and 'already fuses' in err
