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
The fuse node as a real process (`xmodal fuse`).

Driven over real DDS by a publisher/subscriber node in the test process: every sensor subset, stale
timeouts and recovery, diagnostics, and every kind of bad input. One node process serves the whole
module.

The test bundle (test/bundles.py) reports in ``target/on/<sensor>`` which sensors' tokens reached
the fusion head and in ``target/mean/<sensor>`` the mean of each one's model input, so these tests
check the live-subset logic and the conversion + preprocessing path end to end.
"""
import time

from bundles import CLASSES, make_bundle
from geometry_msgs.msg import WrenchStamped
import numpy as np
import pytest
from rosproc import (CONFIG, Driver, image, SENSORS, set_stamp, start_fuse, stop, valid_message,
                     values, write_params)

from xmodal_ros.bundle import load_bundle
from xmodal_ros.sensor_input import make_input
from xmodal_ros.sensors import load_sensor_config, model_config
from xmodal_training.subsets import sensor_subsets

RATE_HZ = 50.0
TIMEOUT_S = 0.25
PUBLISH = {'camera': 30.0, 'depth': 30.0, 'tactile': 100.0, 'force': 250.0,
           'finger_joints': 100.0, 'wrist_imu': 250.0}


def expected_means(bundle):
    """
    Model-input mean of each sensor's rosproc.valid_message.

    Through the library path (conversions + preprocess with the bundle's parameters); windowed
    kinds: a window of equal readings.
    """
    b = load_bundle(bundle)
    specs = model_config(load_sensor_config(), {s: b.declaration(s) for s in b.sensors},
                         'test bundle').sensors
    out = {}
    for s in SENSORS:
        inp = make_input(specs[s])
        for i in range(specs[s].params.get('window', 1)):
            inp.take(valid_message(s, i + 1))
        out[s] = float(inp.model_input().mean())
    return out


PARAMS = {'rate_hz': RATE_HZ, 'diagnostics_period': 0.5, 'frame_id': 'test_frame',
          **{f'{s}.timeout': TIMEOUT_S for s in SENSORS},
          **{f'{s}.queue_depth': 20 for s in SENSORS}}


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp('bundle'))


@pytest.fixture(scope='module')
def node(bundle, tmp_path_factory):
    params = write_params(tmp_path_factory.mktemp('params') / 'fuse.yaml', PARAMS)
    proc = start_fuse(params, bundle)
    driver = Driver()
    try:
        if not driver.wait_for_subscribers(timeout=30):
            code, out = stop(proc)
            pytest.fail(f'fuse node never subscribed (exit {code}):\n{out}')
        yield proc, driver
    finally:
        driver.close()
        code, out = stop(proc)
        print(out)
    assert code == 0, f'fuse node exited with {code} on SIGINT:\n{out}'


def _phase(driver, subset, duration=0.7, settle=0.4, **kw):
    """Publish ``subset`` for ``duration``; predictions whose newest input is past ``settle``."""
    t0 = driver.now()
    driver.run(duration, {s: PUBLISH[s] for s in subset}, **kw)
    t1 = driver.now()
    time.sleep(0.1)
    preds = [m for _, m in driver.received('predictions')]
    by_stamp = [m for m in preds
                if t0 + settle * 1e9 <= m.header.stamp.sec * 10**9 + m.header.stamp.nanosec <= t1]
    return t0, t1, by_stamp


def _subsets():
    """Return all 64 subsets of the six sensors, ordered so each sensor leaves and comes back."""
    subsets = sensor_subsets(SENSORS)
    assert len(SENSORS) == 6 and len(subsets) == 63
    return subsets[:7] + [()] + subsets[7:]


def test_every_sensor_subset(node, bundle):
    """Each of the 63 non-empty subsets is fused exactly; with none live nothing is published."""
    _, driver = node
    means = expected_means(bundle)
    for subset in _subsets():
        t0, t1, preds = _phase(driver, subset)
        if not subset:
            late = driver.received('predictions', t0 + 0.4e9)
            assert not late, f'{len(late)} predictions published while no sensor was live'
            continue
        assert len(preds) >= 5, f'only {len(preds)} predictions for live subset {subset}'
        for msg in preds:
            v = values(msg)
            assert msg.header.frame_id == 'test_frame'
            assert list(msg.name[:len(CLASSES)]) == [f'class/{c}' for c in CLASSES]
            assert sum(v[f'class/{c}'] for c in CLASSES) == pytest.approx(1.0, abs=1e-5)
            for s in SENSORS:
                expect = 1.0 if s in subset else 0.0
                assert v[f'live/{s}'] == expect, f'{subset}: live/{s} = {v[f"live/{s}"]}'
                assert v[f'target/on/{s}'] == pytest.approx(expect), (subset, s)
                want = means[s] if s in subset else 0.0
                assert v[f'target/mean/{s}'] == pytest.approx(want, abs=2e-3), (subset, s)
    # The class list, latched (transient local), in index order.
    assert [m.data for m in driver.classes] == [','.join(CLASSES)]


def test_stale_timeout_and_recovery(node):
    """A sensor drops out TIMEOUT_S after its last message and is back with its next one."""
    _, driver = node
    _phase(driver, ('camera', 'force'), duration=0.6)
    last_camera = driver.last_sent['camera']
    t0, t1, preds = _phase(driver, ('force',), duration=0.8, settle=0.0)
    flips = [m for m in preds if values(m)['live/camera'] == 0.0]
    assert flips, 'camera never went stale'
    first_stale = min(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in flips)
    stale_after = (first_stale - last_camera) / 1e9
    assert TIMEOUT_S - 0.02 <= stale_after <= TIMEOUT_S + 0.1, stale_after
    assert all(values(m)['live/force'] == 1.0 for m in preds)
    _, _, back = _phase(driver, ('camera', 'force'), duration=0.5, settle=0.1)
    assert back and all(values(m)['live/camera'] == 1.0 for m in back)


def test_ticks_keep_the_rate_with_only_a_slow_sensor_live(node):
    """
    Ticks run as soon as a message is taken in after a due time, with the timer as fallback.

    With only the 30 Hz camera live the node still predicts at RATE_HZ (50 Hz), one prediction per
    due time; with nothing live it predicts nothing.
    """
    _, driver = node
    t0, t1, preds = _phase(driver, ('camera',), duration=1.5, settle=0.5)
    seconds = (t1 - t0) / 1e9 - 0.5
    assert 0.85 * RATE_HZ * seconds <= len(preds) <= 1.1 * RATE_HZ * seconds + 2, (
        len(preds), seconds)
    times = [t for t, _ in driver.received('predictions', t0 + 0.5e9, t1)]
    assert max(np.diff(times)) / 1e9 < 2.5 / RATE_HZ, max(np.diff(times)) / 1e9
    assert all(values(m)['live/camera'] == 1.0 for m in preds)
    time.sleep(TIMEOUT_S + 0.4)
    late = driver.received('predictions', t1 + (TIMEOUT_S + 0.1) * 1e9 + 1)
    assert not late, f'{len(late)} predictions while no sensor was live'


def _status(diag, name):
    for st in diag.status:
        if st.name == f'fuse_node: {name}':
            return st, {kv.key: kv.value for kv in st.values}
    raise AssertionError(f'no status for {name} in {[s.name for s in diag.status]}')


def _fresh_diagnostics(driver, after_ns, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = driver.received('diagnostics', after_ns + 1)
        if fresh:
            return fresh[-1][1]
        time.sleep(0.05)
    raise AssertionError('no /diagnostics message')


def test_diagnostics(node):
    """Per-sensor rate, age, live/stale, malformed counters; model id; latencies; WARN if idle."""
    _, driver = node
    driver.run(1.2, {'camera': 30.0, 'force': 250.0})
    diag = _fresh_diagnostics(driver, driver.now() - int(0.4e9))
    st, kv = _status(diag, 'prediction')
    assert st.level == b'\x00' and st.hardware_id == 'test-0001'
    assert kv['model_id'] == 'test-0001' and kv['live_sensors'] == 'camera,force'
    assert kv['backend'].startswith('onnxruntime')
    for key in ('e2e_latency_p50_ms', 'e2e_latency_p99_ms', 'inference_fuse_p99_ms',
                'inference_encode_camera_p99_ms', 'missed_cycles'):
        assert kv[key] != 'n/a', key
    cam, ckv = _status(diag, 'camera')
    assert cam.level == b'\x00' and ckv['live'] == 'True'
    assert 20.0 <= float(ckv['rate_hz']) <= 40.0, ckv['rate_hz']
    assert 0.0 <= float(ckv['age_s']) < TIMEOUT_S
    assert {'malformed', 'last_malformed', 'accepted', 'topic'} <= set(ckv)
    dep, dkv = _status(diag, 'depth')
    assert dep.level == b'\x01' and dkv['live'] == 'False' and 'stale' in dep.message
    # Nothing live: WARN, and no predictions.
    time.sleep(TIMEOUT_S + 0.1)
    diag = _fresh_diagnostics(driver, driver.now())
    st, kv = _status(diag, 'prediction')
    assert st.level == b'\x01' and 'no sensor live' in st.message
    assert kv['live_sensors'] == 'none'


def _camera(now, **fields):
    m = image('rgb8', np.zeros((96, 128, 3), np.uint8), now)
    for k, v in fields.items():
        setattr(m, k, v)
    return m


def _depth(now, **fields):
    m = image('32FC1', np.ones((96, 128), np.float32), now)
    for k, v in fields.items():
        setattr(m, k, v)
    return m


def _tactile(now, value=None, shape=(8, 16)):
    t = np.ones(shape, np.float32)
    if value is not None:
        t[2, 3] = value
    return image('32FC1', t, now)


def _wrench(now, value):
    w = WrenchStamped()
    w.wrench.torque.y = float(value)
    set_stamp(w.header, now)
    return w


def _imu(now, **values):
    m = valid_message('wrist_imu', now)
    for field, v in values.items():
        setattr(m.angular_velocity if field == 'gyro_z' else m.linear_acceleration, 'z', v)
    return m


def _joints(now, **fields):
    m = valid_message('finger_joints', now)
    for k, v in fields.items():
        setattr(m, k, v)
    return m


def _stamped(sensor, stamp):
    m = valid_message(sensor, 1)
    set_stamp(m.header, stamp)
    return m


# (sensor, message made from the current time, words its drop reason must contain)
BAD = [
    ('camera', lambda now: _camera(now, encoding='yuv422'), 'encoding'),
    ('camera', lambda now: _camera(now, data=bytes(96 * 128)), 'bytes'),         # truncated
    ('camera', lambda now: _camera(now, step=100), 'step'),                       # wrong step
    ('camera', lambda now: _camera(now, height=0, width=0, step=0, data=b''), 'empty'),
    ('depth', lambda now: image('rgb8', np.zeros((96, 128, 3), np.uint8), now), 'encoding'),
    ('depth', lambda now: _depth(now, height=100), 'bytes'),                       # wrong size
    ('tactile', lambda now: _tactile(now, shape=(8, 8)), 'tactile image'),
    ('tactile', lambda now: _tactile(now, np.nan), 'non-finite'),
    ('tactile', lambda now: _tactile(now, np.inf), 'non-finite'),
    ('force', lambda now: _wrench(now, np.nan), 'non-finite'),
    ('force', lambda now: _wrench(now, np.inf), 'non-finite'),
    ('force', lambda now: _wrench(now, 1e300), 'float32 range'),     # finite, not a reading
    ('force', lambda now: _wrench(now, 5e4), 'plausible'),           # 50 kN m at a wrist
    ('wrist_imu', lambda now: _imu(now, gyro_z=np.nan), 'non-finite'),
    ('wrist_imu', lambda now: _imu(now, accel_z=1e6), 'plausible'),
    ('finger_joints', lambda now: _joints(now, name=['left_finger_joint', 'elbow']), 'lacks'),
    ('finger_joints', lambda now: _joints(now, effort=[1.0]), 'effort value'),
    ('finger_joints', lambda now: _joints(now, position=[np.inf, 0.0]), 'non-finite'),
    ('camera', lambda now: _stamped('camera', now - int(0.5e9)), 'not newer'),   # out of order
    ('tactile', lambda now: _stamped('tactile', now + int(10e9)), 'future'),
    ('depth', lambda now: _stamped('depth', 0), 'zero'),
]


def _malformed(driver):
    diag = _fresh_diagnostics(driver, driver.now())
    return {s: (int(_status(diag, s)[1]['malformed']), _status(diag, s)[1]['last_malformed'])
            for s in SENSORS}


def test_bad_input_is_dropped_counted_and_survived(node):
    """
    Every malformed message is dropped and counted on /diagnostics.

    The node keeps predicting from the valid sensors throughout.
    """
    proc, driver = node
    driver.run(0.5, PUBLISH)
    before = _malformed(driver)
    bad = iter(BAD)
    sent = {s: [] for s in SENSORS}

    def inject(t):
        item = next(bad, None) if t > 0.2 else None
        if item is None:
            return []
        sensor, make, words = item
        sent[sensor].append(words)
        return [(sensor, make(driver.now()))]
    t0 = driver.now()
    driver.run(2.0, PUBLISH, extra=inject)
    t1 = driver.now()
    time.sleep(0.7)
    after = _malformed(driver)
    assert proc.poll() is None, 'the node died on bad input'
    for s in SENSORS:
        assert after[s][0] - before[s][0] == len(sent[s]), (s, after[s], sent[s])
        if sent[s]:
            assert sent[s][-1] in after[s][1], (s, after[s][1])
    during = driver.received('predictions', t0, t1)
    gaps = np.diff([t for t, _ in during]) / 1e9
    assert len(during) > 0.7 * RATE_HZ * 2.0 and gaps.max() < 0.2, (len(during), gaps.max())
    assert all(values(during[-1][1])[f'live/{s}'] == 1.0 for s in SENSORS)


def test_depth_in_both_rep118_encodings(node, bundle):
    """16UC1 millimetres and 32FC1 metres of the same scene give the same model input."""
    _, driver = node

    p = CONFIG['depth'].params
    mm = round(1000 * (p['min_m'] + 0.5 * (p['max_m'] - p['min_m'])))   # valid_message's depth

    def depth16(t):
        return [('depth', image('16UC1', np.full((96, 128), mm, np.uint16), driver.now()))]
    _, _, preds = _phase(driver, ('camera',), duration=0.6, settle=0.3, extra=depth16)
    assert preds and all(values(m)['live/depth'] == 1.0 for m in preds)
    assert values(preds[-1])['target/mean/depth'] == pytest.approx(
        expected_means(bundle)['depth'], abs=2e-3)
