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
The fuse node's pieces without a ROS graph.

Liveness rules, message -> model input, latency windows, fusion due times, the encoder thread, and
parameter checks of an in-process node.
"""
import time

from bundles import make_bundle
import numpy as np
import pytest
from rosproc import CONFIG, image, ROOT, valid_message

from xmodal_ros.conversions import ConversionError
from xmodal_ros.diagnostics import LatencyWindow
from xmodal_ros.liveness import Liveness, NS
from xmodal_ros.sensor_input import make_input


def test_liveness_timeouts_are_per_sensor():
    live = Liveness({'camera': 0.2, 'force': 0.05})
    t = 100 * NS
    live.accept('camera', t)
    live.accept('force', t)
    later = t + int(0.1 * NS)
    assert live.is_live('camera', later) and not live.is_live('force', later)
    assert not live.is_live('camera', t + int(0.2 * NS))
    assert live.age_s('camera', t + NS) == pytest.approx(1.0)


def test_liveness_refuses_bad_stamps_without_touching_state():
    live = Liveness({'camera': 0.2}, future_tolerance_s=0.5)
    t = 100 * NS
    assert live.check_stamp('camera', 0, t).startswith('header stamp is zero')
    assert 'future' in live.check_stamp('camera', t + NS, t)
    assert live.check_stamp('camera', t + int(0.4 * NS), t) is None
    live.accept('camera', t)
    assert 'not newer' in live.check_stamp('camera', t, t)
    assert 'not newer' in live.check_stamp('camera', t - 1, t)
    # A newer message already handed to the encoder thread counts as the previous one.
    assert 'not newer' in live.check_stamp('camera', t + 5, t + 10, in_flight_ns=t + 5)
    assert live.check_stamp('camera', t + 6, t + 10, in_flight_ns=t + 5) is None
    live.reject('camera', 'why')
    h = live.sensors['camera']
    assert (h.accepted, h.malformed, h.last_malformed, h.newest_stamp_ns) == (1, 1, 'why', t)


def test_rates():
    live = Liveness({'force': 0.05})
    live.update_rates(0)
    for i in range(50):
        live.accept('force', i + 1)
    live.update_rates(NS // 10)
    assert live.sensors['force'].rate_hz == pytest.approx(500.0)


def test_windows_are_oldest_first_and_ready_when_full():
    spec = CONFIG['force']
    inp = make_input(spec)
    window = spec.params['window']
    msgs = []
    for i in range(window + 5):
        m = valid_message('force', i + 1)
        m.wrench.force.x = float(i)
        msgs.append(m)
        assert inp.ready == (i >= window)
        inp.take(m)
    assert inp.ready
    readings = np.array([[m.wrench.force.x, 0, m.wrench.force.z, m.wrench.torque.x, 0, 0]
                         for m in msgs[-window:]])
    np.testing.assert_array_equal(inp.model_input()[0], spec.preprocess(readings))
    # joints: the configured joints' fields, whatever order and extra joints the message has
    spec = CONFIG['finger_joints']
    inp = make_input(spec)
    for i in range(spec.params['window']):
        m = valid_message('finger_joints', i + 1)
        m.name = ['wrist', 'right_finger_joint', 'left_finger_joint']
        m.position, m.velocity, m.effort = [9.0, 0.02, 0.01], [0.0] * 3, [7.0, 4.0, 2.0]
        inp.take(m)
    x = inp.model_input()[0]          # rows: position left, right, effort left, right
    np.testing.assert_allclose(x[:, -1], [0.01 / 0.05, 0.02 / 0.05, 2.0 / 20, 4.0 / 20],
                               rtol=1e-6)


def test_image_inputs_match_preprocess_and_refuse_bad_messages():
    cam = make_input(CONFIG['camera'])
    arr = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    cam.take(image('bgr8', arr, 1))
    np.testing.assert_array_equal(cam.model_input()[0], CONFIG['camera'].preprocess(arr, 'bgr8'))
    depth = make_input(CONFIG['depth'])
    mm = np.full((60, 80), 750, np.uint16)
    depth.take(image('16UC1', mm, 1))
    metres = make_input(CONFIG['depth'])
    metres.take(image('32FC1', mm.astype(np.float32) / 1000, 1))
    np.testing.assert_allclose(depth.model_input(), metres.model_input(), atol=1e-6)
    with pytest.raises(ConversionError, match='encoding'):
        cam.take(image('32FC1', np.zeros((4, 4), np.float32), 1))
    tactile = make_input(CONFIG['tactile'])
    with pytest.raises(ConversionError):
        tactile.take(image('32FC1', np.zeros((8, 8), np.float32), 1))
    assert not tactile.ready


def test_latency_window_keeps_the_newest_samples():
    w = LatencyWindow(4)
    assert w.percentiles() == (None, None)
    for v in range(1, 7):
        w.add(float(v))
    np.testing.assert_array_equal(w.values(), [3, 4, 5, 6])
    assert w.percentiles((50,)) == (4.5,)


def test_fuse_yaml_repeats_the_node_defaults_and_holds_only_node_behaviour():
    """
    config/fuse.yaml documents every parameter with the node's own defaults.

    Has one block per configured sensor with the node keys alone (topics live in sensors.yaml
    only), and its values are the kinds' defaults.
    """
    from xmodal_ros.fuse_node import PARAMETERS
    from xmodal_ros.sensors import NODE_KEYS, node_setting_defaults

    import yaml
    params = yaml.safe_load((ROOT / 'config' / 'fuse.yaml').read_text())['fuse_node'][
        'ros__parameters']
    top = {k: v for k, v in params.items() if not isinstance(v, dict)}
    assert top == {k: v for k, v in PARAMETERS.items() if k != 'autostart'}
    blocks = {k: v for k, v in params.items() if isinstance(v, dict)}
    assert list(blocks) == list(CONFIG.names)
    for s, block in blocks.items():
        assert set(block) == set(NODE_KEYS)
        assert block == node_setting_defaults(CONFIG[s]), s


def test_tick_schedule_serves_the_newest_due_time_and_counts_missed_ones():
    from xmodal_ros.scheduling import TickSchedule
    period = 10_000_000
    sched = TickSchedule(period, first_due_ns=100 * period)
    assert not sched.due(100 * period - 1)
    # A message taken in 3 ms after the due time runs the tick: nothing missed.
    assert sched.due(100 * period + 3_000_000)
    assert sched.serve(100 * period + 3_000_000) == 0
    assert sched.next_due_ns == 101 * period
    # Nothing due again until the next due time, however many messages come in between.
    assert not sched.due(101 * period - 1)
    # The fallback timer half a period after the due time: still that due time's tick.
    assert sched.serve(101 * period + period // 2) == 0 and sched.next_due_ns == 102 * period
    # The executor blocked past two further due times: the tick serves the newest, two missed.
    assert sched.serve(104 * period + 1) == 2 and sched.next_due_ns == 105 * period


def test_encoder_thread_keeps_the_newest_job_per_sensor_and_stops():
    import threading

    from xmodal_ros.scheduling import EncoderThread
    gate, done = threading.Event(), threading.Event()
    ran = []

    def work(job):
        if job == 'first':
            gate.wait(5)                 # hold the thread while more jobs queue up
        ran.append(job)
        return job.upper()
    notified = []
    enc = EncoderThread(work, lambda: notified.append(1) or (len(ran) == 3 and done.set()))
    try:
        assert enc.submit('camera', 'first') is None
        deadline = time.monotonic() + 5
        while enc._pending and time.monotonic() < deadline:   # 'first' has started
            time.sleep(0.001)
        assert enc.submit('camera', 'stale') is None
        assert enc.submit('depth', 'depth1') is None
        assert enc.submit('camera', 'newest') == 'stale'        # superseded, never run
        gate.set()
        assert done.wait(5)
        assert ran == ['first', 'depth1', 'newest']             # oldest sensor first
        assert enc.results() == ['FIRST', 'DEPTH1', 'NEWEST'] and enc.results() == []
        assert len(notified) == 3
    finally:
        enc.stop()
    assert not enc._thread.is_alive()


def test_snapshots_do_not_change_with_later_messages():
    cam = make_input(CONFIG['camera'])
    cam.take(image('rgb8', np.zeros((60, 80, 3), np.uint8), 1))
    snap = cam.snapshot()
    cam.take(image('rgb8', np.full((60, 80, 3), 255, np.uint8), 2))
    assert cam.model_input(snap).max() == 0.0 and cam.model_input().min() == 1.0
    force = make_input(CONFIG['force'])
    for i in range(CONFIG['force'].params['window']):
        force.take(valid_message('force', i + 1, level=0.0))
    snap = force.snapshot()
    force.take(valid_message('force', 999, level=1.0))
    assert force.model_input(snap).max() == 0.0 and force.model_input().max() > 0.0


def _configure(tmp_path, overrides, drop=(), model_factory=None, sensors=None):
    """
    Return an in-process FuseNode on a six-sensor test bundle (or one of ``sensors``).

    Its parameters: config/fuse.yaml plus ``overrides`` minus ``drop``. It returns (configure
    result, error, node).
    """
    import rclpy
    from rclpy.context import Context
    from rosproc import write_params

    from xmodal_ros.fuse_node import FuseNode

    def never(*args, **kwargs):
        raise AssertionError('the model must not load with bad parameters')
    bundle = make_bundle(tmp_path / 'bundle', sensors=sensors)
    params = write_params(tmp_path / 'fuse.yaml', dict(overrides, bundle=str(bundle)), drop)
    ctx = Context()
    rclpy.init(context=ctx, args=['--ros-args', '--params-file', str(params)])
    try:
        node = FuseNode(context=ctx, model_factory=model_factory or never)
        result = node.trigger_configure()
        return result, node.error, node
    finally:
        if model_factory is None:
            node.destroy_node()
            rclpy.shutdown(context=ctx)


@pytest.mark.parametrize('overrides, drop, words', [
    ({'tick_wait_fraction': 1.0}, (), 'tick_wait_fraction'),
    ({'tick_wait_fraction': -0.1}, (), 'tick_wait_fraction'),
    ({'camera.encode': 'later'}, (), "camera.encode='later'"),
    ({'wrist_imu.queue_depth': 0}, (), 'wrist_imu.queue_depth=0'),
    ({'thermal.timeout': 0.1}, (), 'thermal, which bundle'),              # not in the bundle
    ({}, ('finger_joints',), 'finger_joints with no parameters'),          # bundle sensor
    ({'sensors_config': '/nowhere/sensors.yaml'}, (), '/nowhere/sensors.yaml'),
])
def test_bad_parameters_fail_configure(tmp_path, overrides, drop, words):
    from rclpy.lifecycle import TransitionCallbackReturn
    result, error, _ = _configure(tmp_path, overrides, drop)
    assert result == TransitionCallbackReturn.FAILURE
    assert words in error, error


def test_a_disabled_block_for_a_sensor_the_bundle_lacks_is_fine(tmp_path):
    """
    A four-sensor bundle with the six-sensor fuse.yaml.

    The extra blocks must say enabled: false; then the node configures with the four.
    """
    from rclpy.lifecycle import TransitionCallbackReturn

    from xmodal_ros.model import FusionModel
    four = ('camera', 'depth', 'tactile', 'force')
    result, error, _ = _configure(tmp_path / 'a', {}, sensors=four)
    assert result == TransitionCallbackReturn.FAILURE and 'finger_joints, wrist_imu' in error
    off = {'finger_joints.enabled': False, 'wrist_imu.enabled': False}
    result, error, node = _configure(tmp_path / 'b', off, sensors=four,
                                     model_factory=FusionModel)
    try:
        assert result == TransitionCallbackReturn.SUCCESS, error
        assert list(node._slots) == list(four)
    finally:
        _shutdown(node)


def _shutdown(node):
    import rclpy
    ctx = node.context
    node.destroy_node()
    rclpy.shutdown(context=ctx)


def test_a_failed_encode_drops_the_sensor_and_shows_in_diagnostics(tmp_path):
    """
    Check that no sensor is fused on tokens older than an input that could not be encoded.

    /diagnostics says why.
    """
    from rclpy.lifecycle import TransitionCallbackReturn

    from xmodal_ros import diagnostics
    from xmodal_ros.model import FusionModel

    class Flaky(FusionModel):
        fail = False

        def encode(self, sensor, x):
            if sensor == 'tactile' and Flaky.fail:
                raise RuntimeError('simulated encoder failure')
            return super().encode(sensor, x)
    result, error, node = _configure(tmp_path, {'tick_wait_fraction': 0.0}, model_factory=Flaky)
    try:
        assert result == TransitionCallbackReturn.SUCCESS, error
        node.stats = diagnostics.FuseStats(64)
        now = node.get_clock().now().nanoseconds
        slot = node._slots['tactile']
        node._on_message(slot, valid_message('tactile', now), {})
        assert node.live_sensors(now + 1) == ['tactile']
        Flaky.fail = True
        node._on_message(slot, valid_message('tactile', now + 1000), {})
        assert node.live_sensors(now + 2000) == []          # not fused on the old tokens
        health = node._liveness.sensors['tactile']
        assert health.encode_failures == 1 and health.encode_failing
        msg = diagnostics.build_array('fuse_node', node.get_clock().now().to_msg(), 'm', 'b',
                                      node.stats, node._liveness, [],
                                      {s: sl.topic for s, sl in node._slots.items()}, now + 2000)
        status = next(st for st in msg.status if st.name == 'fuse_node: tactile')
        assert 'newest encode failed' in status.message and 'simulated' in status.message
        Flaky.fail = False
        node._on_message(slot, valid_message('tactile', now + 3000), {})
        assert node.live_sensors(now + 4000) == ['tactile'] and not health.encode_failing
    finally:
        _shutdown(node)
