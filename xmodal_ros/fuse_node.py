"""The fuse node: live sensors in, one fused prediction out at a fixed rate.

Lifecycle: configure loads, verifies and warms up the model bundle and creates the publishers;
activate subscribes and starts the prediction and diagnostics timers; deactivate stops them;
cleanup releases the model. With ``autostart`` (the default for ``xmodal fuse`` and ``fuse_node``)
the node walks itself to active and exits non-zero if configuring fails.

Each sensor message is checked and converted on arrival, then encoded (at once, or for a sensor
with ``encode_every_message: false`` at the next tick) and its tokens kept; every tick the tokens of
the live sensors are summed and the fusion head runs. Output: a JointState used as stamped named
values, ``class/<name>`` (probability), ``target/<name>`` (regression) and ``live/<sensor>``
(1.0 / 0.0), stamped with the newest input stamp. See docs/RUNTIME.md.
"""
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import WrenchStamped
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from xmodal_ros import diagnostics
from xmodal_ros.backends import BackendError
from xmodal_ros.bundle import BundleError
from xmodal_ros.conversions import stamp_ns
from xmodal_ros.liveness import Liveness
from xmodal_ros.model import FusionModel
from xmodal_ros.paths import config_path, default_bundle
from xmodal_ros.preprocess import SENSORS
from xmodal_ros.sensor_input import make_input

NODE_NAME = 'fuse_node'
# Parameter defaults; config/fuse.yaml documents each key and repeats these values (a test checks).
PARAMETERS = {
    'bundle': '', 'backend': 'auto', 'threads': 1, 'engine_cache_dir': '', 'rate_hz': 100.0,
    'frame_id': 'base_link', 'prediction_topic': '/xmodal/prediction',
    'classes_topic': '/xmodal/classes', 'diagnostics_period': 1.0, 'future_tolerance': 0.5,
    'autostart': True,   # not in fuse.yaml: set by `xmodal fuse --managed` / launch managed:=true
}
SENSOR_DEFAULTS = {
    'camera': dict(enabled=True, topic='/camera/color/image_raw', timeout=0.2, queue_depth=1,
                   encode_every_message=True),
    'depth': dict(enabled=True, topic='/camera/depth/image_rect_raw', timeout=0.2, queue_depth=1,
                  encode_every_message=True),
    'tactile': dict(enabled=True, topic='/tactile/pressure', timeout=0.1, queue_depth=5,
                    encode_every_message=True),
    'force': dict(enabled=True, topic='/wrist/wrench', timeout=0.1, queue_depth=50,
                  encode_every_message=False),
}
MSG_TYPES = {'camera': Image, 'depth': Image, 'tactile': Image, 'force': WrenchStamped}
PREDICTION_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                            reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.VOLATILE)
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def sensor_qos(depth):
    """REP-2003 sensor data QoS: best effort, volatile, keep the newest ``depth``."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth),
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


@dataclasses.dataclass
class SensorSlot:
    """One enabled sensor while configured: its input state and its latest projected tokens."""
    name: str
    topic: str
    queue_depth: int
    encode_every_message: bool        # False: encode the newest message at the fusion tick
    input: object                     # sensor_input.ImageInput / WrenchInput
    tokens: Optional[np.ndarray] = None
    tokens_stamp_ns: int = 0          # header stamp of the message the tokens come from
    tokens_arrival_ns: int = 0        # node clock when that message's callback started
    tokens_used: bool = True          # already counted in a prediction's latency
    pending_stamp_ns: int = 0         # newest accepted message not encoded yet (0: none)
    pending_arrival_ns: int = 0


class FuseNode(LifecycleNode):
    """Fuses whichever sensors are live into one prediction per tick (see module docstring)."""

    def __init__(self, node_name=NODE_NAME, *, model_factory: Callable = FusionModel,
                 stats_capacity: int = 2048, **kwargs):
        self._model_factory = model_factory
        self._stats_capacity = stats_capacity
        self._model = None                                  # FusionModel once configured
        self._slots: Optional[dict] = None                  # sensor -> SensorSlot
        self._liveness: Optional[Liveness] = None
        self._period_ns: Optional[int] = None
        self._frame_id: Optional[str] = None
        self._names: Optional[list] = None                  # JointState names, fixed per model
        self._prediction_pub = None
        self._classes_pub = None
        self._diagnostics_pub = None
        self._sensor_subs: list = []
        self._tick_timer = None
        self._diagnostics_timer = None
        self._tokens_sum: Optional[np.ndarray] = None       # (1, k, d) reused every tick
        self._last_tick_ns: int = 0
        self.stats: Optional[diagnostics.FuseStats] = None
        self.error: Optional[str] = None                    # why the last configure failed
        super().__init__(node_name, **kwargs)
        for name, value in PARAMETERS.items():
            self.declare_parameter(name, value)
        for s, d in SENSOR_DEFAULTS.items():
            for key, value in d.items():
                self.declare_parameter(f'{s}.{key}', value)

    def _param(self, name):
        return self.get_parameter(name).value

    # -- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load, verify and warm up the bundle; FAILURE (back to unconfigured) with ``error`` set
        if the bundle or the backend cannot be used."""
        enabled = [s for s in SENSORS if self._param(f'{s}.enabled')]
        bundle = self._param('bundle') or str(default_bundle())
        try:
            self._check_parameters(enabled)
            self._model = self._model_factory(
                bundle, backend=self._param('backend'), sensors=enabled,
                threads=self._param('threads'), cache_dir=self._param('engine_cache_dir') or None)
            self._model.warmup()
        except Exception as e:  # noqa: BLE001 - whatever stops the model loading fails configure
            known = isinstance(e, (BundleError, BackendError, ValueError))
            self.error = str(e) if known else f'{type(e).__name__}: {e}'
            self.get_logger().error(f'configure failed: {self.error}')
            self._release_model()
            return TransitionCallbackReturn.FAILURE
        self.error = None
        self._slots = {}
        for s in enabled:
            self._slots[s] = SensorSlot(
                name=s, topic=self._param(f'{s}.topic'),
                queue_depth=self._param(f'{s}.queue_depth'),
                encode_every_message=self._param(f'{s}.encode_every_message'),
                input=make_input(s, self._model.preprocess_params(s)))
        self._liveness = Liveness({s: self._param(f'{s}.timeout') for s in enabled},
                                  self._param('future_tolerance'))
        self._period_ns = int(1e9 / self._param('rate_hz'))
        self._frame_id = self._param('frame_id')
        self._names = ([f'class/{c}' for c in self._model.classes]
                       + [f'target/{t}' for t in self._model.targets]
                       + [f'live/{s}' for s in enabled])
        self._tokens_sum = np.zeros((1, *self._model.tokens_shape), np.float32)
        self._prediction_pub = self.create_lifecycle_publisher(
            JointState, self._param('prediction_topic'), PREDICTION_QOS)
        self._classes_pub = self.create_lifecycle_publisher(
            String, self._param('classes_topic'), LATCHED_QOS)
        self._diagnostics_pub = self.create_lifecycle_publisher(
            DiagnosticArray, '/diagnostics', 10)
        self.get_logger().info(
            f'configured: model {self._model.model_id} on {self._model.backend_detail}, '
            f'sensors {", ".join(enabled)}, {self._param("rate_hz"):g} Hz')
        return TransitionCallbackReturn.SUCCESS

    def _check_parameters(self, enabled):
        if not enabled:
            raise ValueError('every sensor is disabled (<sensor>.enabled); enable at least one')
        positive = ['rate_hz', 'diagnostics_period', 'future_tolerance'] + [
            f'{s}.{k}' for s in enabled for k in ('timeout', 'queue_depth')]
        bad = [f'{n}={self._param(n)}' for n in positive if self._param(n) <= 0]
        if bad:
            raise ValueError(f'parameters must be > 0: {", ".join(bad)}')

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the enabled sensors and start predicting."""
        self.stats = diagnostics.FuseStats(self._stats_capacity)
        self._last_tick_ns = 0
        for slot in self._slots.values():
            self._sensor_subs.append(self.create_subscription(
                MSG_TYPES[slot.name], slot.topic,
                lambda msg, s=slot: self._on_message(s, msg), sensor_qos(slot.queue_depth)))
        self._tick_timer = self.create_timer(self._period_ns / 1e9, self._on_tick)
        self._diagnostics_timer = self.create_timer(self._param('diagnostics_period'),
                                                    self._on_diagnostics)
        ret = super().on_activate(state)
        self._classes_pub.publish(String(data=','.join(self._model.classes)))
        self.get_logger().info('active')
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and stop the timers; the model stays loaded."""
        self._stop_io()
        self.get_logger().info('inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model and the publishers."""
        self._release()
        self.get_logger().info('cleaned up')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything, from whichever state the node is in."""
        self._stop_io()
        self._release()
        self.get_logger().info('shut down')
        return TransitionCallbackReturn.SUCCESS

    def _stop_io(self):
        for sub in self._sensor_subs:
            self.destroy_subscription(sub)
        self._sensor_subs = []
        for timer in (self._tick_timer, self._diagnostics_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._tick_timer = self._diagnostics_timer = None

    def _release(self):
        for pub in (self._prediction_pub, self._classes_pub, self._diagnostics_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._prediction_pub = self._classes_pub = self._diagnostics_pub = None
        self._slots = self._liveness = self._names = self._tokens_sum = None
        self._release_model()

    def _release_model(self):
        if self._model is not None:
            self._model.close()
        self._model = None

    def start(self):
        """Unmanaged mode: configure then activate; False (reason in ``error``) if either fails."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            self.error = self.error or 'configure failed (see the log above)'
            return False
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            self.error = 'activate failed (see the log above)'
            return False
        return True

    # -- data path ---------------------------------------------------------------------------

    def _on_message(self, slot, msg):
        """Check and convert one message, then encode it now or mark it for the next tick;
        a malformed message is counted and dropped, never raised."""
        now = self.get_clock().now().nanoseconds
        try:
            stamp = stamp_ns(msg.header)
            reason = self._liveness.check_stamp(slot.name, stamp, now)
            if reason is None:
                slot.input.take(msg)
        except Exception as e:  # noqa: BLE001 - bad input must never stop the node
            reason = f'{type(e).__name__}: {e}'
        if reason is not None:
            self._liveness.reject(slot.name, reason)
            return
        slot.pending_stamp_ns, slot.pending_arrival_ns = stamp, now
        if slot.encode_every_message and not self._encode(slot):
            return
        self._liveness.accept(slot.name, stamp)

    def _encode(self, slot):
        """Encode the slot's pending message into its tokens once its input is complete; False
        (counted as malformed) if preprocessing or the encoder fails on it."""
        if not slot.pending_stamp_ns or not slot.input.ready:
            return True
        t0 = time.perf_counter()
        try:
            tokens = self._model.encode(slot.name, slot.input.model_input())
            if not np.isfinite(tokens).all():
                raise ValueError('the encoder produced non-finite tokens for this input')
        except Exception as e:  # noqa: BLE001 - bad input must never stop the node
            slot.pending_stamp_ns = 0
            self._liveness.reject(slot.name, f'{type(e).__name__}: {e}')
            return False
        self.stats.window(f'encode/{slot.name}').add((time.perf_counter() - t0) * 1e3)
        slot.tokens, slot.tokens_stamp_ns = tokens, slot.pending_stamp_ns
        slot.tokens_arrival_ns, slot.tokens_used = slot.pending_arrival_ns, False
        slot.pending_stamp_ns = 0
        return True

    def live_sensors(self, now_ns):
        """Enabled sensors whose newest message is within their timeout and that have tokens."""
        return [s for s, slot in self._slots.items()
                if slot.tokens is not None and self._liveness.is_live(s, now_ns)]

    def _on_tick(self):
        stats = self.stats
        tick = time.monotonic_ns()
        if self._last_tick_ns:
            stats.missed_cycles += max(0, round((tick - self._last_tick_ns) / self._period_ns) - 1)
        self._last_tick_ns = tick
        stats.ticks += 1
        now = self.get_clock().now().nanoseconds
        for slot in self._slots.values():
            if slot.pending_stamp_ns and self._liveness.is_live(slot.name, now):
                self._encode(slot)
        live = self.live_sensors(now)
        if not live:
            stats.idle_ticks += 1
            return
        total = self._tokens_sum
        np.copyto(total, self._slots[live[0]].tokens)
        for s in live[1:]:
            total += self._slots[s].tokens
        t0 = time.perf_counter()
        try:
            out = self._model.fuse(total)
        except Exception as e:  # noqa: BLE001 - keep predicting on the next tick
            self.get_logger().error(f'fusion head failed: {e}', throttle_duration_sec=5.0)
            return
        stats.window('fuse').add((time.perf_counter() - t0) * 1e3)
        newest = max(live, key=lambda s: self._slots[s].tokens_stamp_ns)
        stamp = self._slots[newest].tokens_stamp_ns
        msg = JointState()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        msg.header.frame_id = self._frame_id
        msg.name = self._names
        msg.position = (out['probs'][0].tolist() + out['regression'][0].tolist()
                        + [1.0 if s in live else 0.0 for s in self._slots])
        self._prediction_pub.publish(msg)
        done = self.get_clock().now().nanoseconds
        stats.published += 1
        stats.window('e2e').add((done - stamp) / 1e6)
        stats.window('arrival').add((done - self._slots[newest].tokens_arrival_ns) / 1e6)
        for s in live:
            slot = self._slots[s]
            if not slot.tokens_used:
                slot.tokens_used = True
                stats.window(f'to_prediction/{s}').add((done - slot.tokens_stamp_ns) / 1e6)

    def _on_diagnostics(self):
        now = self.get_clock().now()
        self._liveness.update_rates(now.nanoseconds)
        self._diagnostics_pub.publish(diagnostics.build_array(
            self.get_name(), now.to_msg(), self._model.model_id, self._model.backend_detail,
            self.stats, self._liveness, self.live_sensors(now.nanoseconds),
            {s: slot.topic for s, slot in self._slots.items()}, now.nanoseconds))


# -- process entry points ----------------------------------------------------------------------


def make_executor():
    """One SingleThreadedExecutor. Measured on 2 cores (xmodal bench fuse): a MultiThreadedExecutor
    with 2 threads and a callback group per sensor and for the tick cost 79 % of a core instead of
    52 %, with p99 input->publish 24 ms instead of 8 ms (GIL hand-offs; 47 missed cycles in 12 s
    instead of 2); the experimental EventsExecutor hung with this lifecycle node."""
    return SingleThreadedExecutor()


def spin(args=None, **node_kwargs):
    """rclpy.init with ``args``, run a FuseNode until shutdown; returns the process exit code."""
    rclpy.init(args=args)
    node = None
    try:
        node = FuseNode(**node_kwargs)
        if node.get_parameter('autostart').value and not node.start():
            print(f'fuse_node: {node.error}', file=sys.stderr)
            return 1
        executor = make_executor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(args=None):
    """Console script ``fuse_node`` (what launch/fuse.launch.py starts)."""
    sys.exit(spin(args))


def run_cli(args):
    """``xmodal fuse``: the same node, parameters from a YAML file, no launch tooling needed."""
    params = Path(args.params)
    if not params.is_file():
        print(f'xmodal fuse: parameter file {params} not found (pass --params FILE)',
              file=sys.stderr)
        return 2
    ros_args = ['xmodal-fuse', '--ros-args', '--params-file', str(params),
                '-p', f'autostart:={"false" if args.managed else "true"}']
    if args.bundle:
        ros_args += ['-p', f'bundle:={args.bundle}']
    apply_dds_defaults()
    return spin(ros_args)


def apply_dds_defaults(environ=None):
    """Point Fast DDS at config/fastdds.xml (shared memory sized for camera images) unless the
    user chose a profile; must run before rclpy.init. Returns the profile in effect, or None."""
    environ = os.environ if environ is None else environ
    profile = config_path('fastdds.xml')
    if profile.is_file():
        environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(profile))
    return environ.get('FASTDDS_DEFAULT_PROFILES_FILE')
