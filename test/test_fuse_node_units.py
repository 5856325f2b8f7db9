"""The fuse node's pieces without a ROS graph: liveness rules, message -> model input, latency
windows, fusion due times, the encoder thread, and parameter checks of an in-process node."""
import time

import numpy as np
import pytest

from rosproc import image, valid_message
from xmodal_ros.conversions import ConversionError
from xmodal_ros.diagnostics import LatencyWindow
from xmodal_ros.liveness import NS, Liveness
from xmodal_ros.preprocess import default_params, preprocess
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


def test_force_window_is_oldest_first_and_ready_when_full():
    params = default_params()['force']
    inp = make_input('force', params)
    msgs = []
    for i in range(params['window'] + 5):
        m = valid_message('force', i + 1)
        m.wrench.force.x = float(i)
        msgs.append(m)
        assert inp.ready == (i >= params['window'])
        inp.take(m)
    assert inp.ready
    window = np.array([[m.wrench.force.x, 0, m.wrench.force.z, 0, 0, 0]
                       for m in msgs[-params['window']:]])
    np.testing.assert_array_equal(inp.model_input()[0], preprocess('force', window, None, params))


def test_image_inputs_match_preprocess_and_refuse_bad_messages():
    params = default_params()
    cam = make_input('camera', params['camera'])
    arr = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    cam.take(image('bgr8', arr, 1))
    np.testing.assert_array_equal(cam.model_input()[0],
                                  preprocess('camera', arr, 'bgr8', params['camera']))
    depth = make_input('depth', params['depth'])
    mm = np.full((60, 80), 750, np.uint16)
    depth.take(image('16UC1', mm, 1))
    metres = make_input('depth', params['depth'])
    metres.take(image('32FC1', mm.astype(np.float32) / 1000, 1))
    np.testing.assert_allclose(depth.model_input(), metres.model_input(), atol=1e-6)
    with pytest.raises(ConversionError, match='encoding'):
        cam.take(image('32FC1', np.zeros((4, 4), np.float32), 1))
    tactile = make_input('tactile', params['tactile'])
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


def test_fuse_yaml_repeats_the_node_defaults_and_the_sensor_topics():
    """config/fuse.yaml documents every parameter with the node's own defaults, and names the
    topics config/sensors.yaml gives the sensors."""
    import yaml
    from rosproc import ROOT
    from xmodal_ros.fuse_node import PARAMETERS, SENSOR_DEFAULTS
    params = yaml.safe_load((ROOT / 'config' / 'fuse.yaml').read_text())['fuse_node'][
        'ros__parameters']
    sensors = yaml.safe_load((ROOT / 'config' / 'sensors.yaml').read_text())['sensors']
    top = {k: v for k, v in params.items() if k not in SENSOR_DEFAULTS}
    assert top == {k: v for k, v in PARAMETERS.items() if k != 'autostart'}
    for s, defaults in SENSOR_DEFAULTS.items():
        assert params[s] == defaults
        assert params[s]['topic'] == sensors[s]['topic']


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
    params = default_params()
    cam = make_input('camera', params['camera'])
    cam.take(image('rgb8', np.zeros((60, 80, 3), np.uint8), 1))
    snap = cam.snapshot()
    cam.take(image('rgb8', np.full((60, 80, 3), 255, np.uint8), 2))
    assert cam.model_input(snap).max() == 0.0 and cam.model_input().min() == 1.0
    force = make_input('force', params['force'])
    for i in range(params['force']['window']):
        force.take(valid_message('force', i + 1, level=0.0))
    snap = force.snapshot()
    force.take(valid_message('force', 999, level=1.0))
    assert force.model_input(snap).max() == 0.0 and force.model_input().max() > 0.0


@pytest.mark.parametrize('overrides, words', [
    ({'tick_wait_fraction': 1.0}, 'tick_wait_fraction'),
    ({'tick_wait_fraction': -0.1}, 'tick_wait_fraction'),
    ({'camera.encode': 'later'}, "camera.encode='later'"),
])
def test_bad_scheduling_parameters_fail_configure(overrides, words):
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from xmodal_ros.fuse_node import FuseNode

    def never(*args, **kwargs):
        raise AssertionError('the model must not load with bad parameters')
    ctx = Context()
    rclpy.init(context=ctx)
    try:
        node = FuseNode(context=ctx, model_factory=never, parameter_overrides=[
            Parameter(k, value=v) for k, v in overrides.items()])
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert words in node.error
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
