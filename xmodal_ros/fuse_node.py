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
The fuse node: live sensors in, one fused prediction out at a fixed rate.

Lifecycle: configure loads, verifies and warms up the model bundle and creates the publishers;
activate subscribes and starts the prediction and diagnostics timers; deactivate stops them;
cleanup releases the model. With ``autostart`` (the default for ``xmodal fuse`` and ``fuse_node``)
the node walks itself to active and exits non-zero if configuring fails.

Each sensor message is checked and converted on arrival, then encoded (per sensor ``encode``:
on the encoder thread, in its callback, or at the next tick) and its tokens kept. Fusion is due
every 1/``rate_hz``: a due tick runs as soon as the next sensor message has been taken in (or its
tokens are ready), so the newest input is fused without waiting for a timer phase, and a timer
runs it ``tick_wait_fraction`` of a period after the due time when no message came. A tick sums the
live sensors' tokens and runs the fusion head. Output: a JointState used as stamped named values,
``class/<name>`` (probability), ``target/<name>`` (regression) and ``live/<sensor>`` (1.0 / 0.0),
stamped with the newest input stamp. See docs/RUNTIME.md.
"""
import dataclasses
import math
import sys
import time
from typing import Callable, Optional

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.subscription import Subscription
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from xmodal_ros import diagnostics
from xmodal_ros.allocator import keep_large_allocations, release_free_memory
from xmodal_ros.backends import BackendError
from xmodal_ros.bundle import BundleError, load_bundle
from xmodal_ros.conversions import stamp_ns
from xmodal_ros.dds import apply_dds_defaults
from xmodal_ros.executor import make_executor
from xmodal_ros.kinds import get_kind
from xmodal_ros.liveness import Liveness
from xmodal_ros.model import FusionModel
from xmodal_ros.paths import default_bundle
from xmodal_ros.qos import LATCHED_QOS, PREDICTION_QOS, sensor_qos
from xmodal_ros.scheduling import EncoderThread, TickSchedule
from xmodal_ros.sensor_input import make_input
from xmodal_ros.sensors import (check_node_settings, declared_spec, ENCODE_MODES,
                                load_sensor_config, message_class, NODE_KEYS, SensorConfigError)

NODE_NAME = 'fuse_node'
# Parameter defaults; config/fuse.yaml documents each key and repeats these values (a test checks).
# Per-sensor blocks (<sensor>.enabled, .timeout, .queue_depth, .encode) come from the parameter
# file, keyed by the bundle's sensor names: see _sensor_settings.
PARAMETERS = {
    'bundle': '', 'sensors_config': '', 'backend': 'auto', 'threads': 1, 'engine_cache_dir': '',
    'rate_hz': 100.0, 'tick_wait_fraction': 0.5, 'frame_id': 'base_link',
    'prediction_topic': '/xmodal/prediction', 'classes_topic': '/xmodal/classes',
    'diagnostics_period': 1.0, 'future_tolerance': 0.5,
    'autostart': True,   # not in fuse.yaml: set by `xmodal fuse --managed` / launch managed:=true
}
# Dotted parameters that are not sensor blocks (rclpy's QoS override parameters).
NOT_SENSORS = ('qos_overrides',)
# rclpy hands two-argument callbacks the MessageInfo (with the rmw receive time) since Iron; on
# older distros a callback gets the message alone and the latency split has no delivery stage.
MESSAGE_INFO = hasattr(Subscription, 'CallbackType')


@dataclasses.dataclass
class Trace:
    """Where one message's time went on its way into tokens (for the latency breakdown)."""

    stamp_ns: int                     # header stamp
    received_ns: int                  # taken into the DDS reader (rmw received_timestamp; 0: n/a)
    callback_ns: int                  # node clock when its subscription callback started
    convert_ms: float                 # stamp check + conversion (take)
    preprocess_ms: float = 0.0
    encode_ms: float = 0.0


@dataclasses.dataclass
class SensorSlot:
    """One enabled sensor while configured: its input state and its latest projected tokens."""

    name: str
    spec: object                      # sensors.SensorSpec: topic, kind, preprocessing
    queue_depth: int
    encode: str                       # one of ENCODE_MODES
    sensor_input: object              # sensor_input.ImageInput / WindowInput
    tokens: Optional[np.ndarray] = None
    trace: Optional[Trace] = None     # of the message the tokens come from
    tokens_used: bool = True          # already counted in a prediction's latency
    pending: Optional[Trace] = None   # newest accepted message not encoded yet (encode: tick)
    in_flight_ns: int = 0             # stamp of the newest message handed to the encoder thread

    @property
    def topic(self):
        return self.spec.topic

    @property
    def tokens_stamp_ns(self):
        return self.trace.stamp_ns if self.trace is not None else 0


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
        self._diagnostics_ns = self._next_diagnostics_ns = 0   # /diagnostics period, next due
        self._tokens_sum: Optional[np.ndarray] = None       # (1, k, d) reused every tick
        self._schedule: Optional[TickSchedule] = None
        self._wait_fraction = 0.0
        self._encoder: Optional[EncoderThread] = None
        self._encoded_gc = None                             # guard condition: encoder results
        self._prediction: Optional[JointState] = None       # reused every tick
        self.stats: Optional[diagnostics.FuseStats] = None
        self.error: Optional[str] = None                    # why the last configure failed
        # Sensor blocks are named by the bundle, which is only known at configure: parameters
        # given in the file or on the command line are declared as they come.
        kwargs.setdefault('automatically_declare_parameters_from_overrides', True)
        super().__init__(node_name, **kwargs)
        for name, value in PARAMETERS.items():
            if not self.has_parameter(name):
                self.declare_parameter(name, value)

    def _param(self, name):
        return self.get_parameter(name).value

    # -- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """
        Load, verify and warm up the bundle.

        Match its sensors with sensors.yaml and the per-sensor parameters; FAILURE (back to
        unconfigured) with ``error`` set if any of them cannot be used.
        """
        try:
            self._check_parameters()
            bundle = load_bundle(self._param('bundle') or default_bundle())
            settings = self._sensor_settings(bundle)
            enabled = [s for s in bundle.sensors if settings[s]['enabled']]
            if not enabled:
                raise ValueError('every sensor of the bundle is disabled (<sensor>.enabled); '
                                 'enable at least one')
            config = load_sensor_config(self._param('sensors_config') or None)
            specs = {s: declared_spec(s, bundle.declaration(s), config, f'bundle {bundle.root}')
                     for s in enabled}
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
        self._slots = {s: SensorSlot(name=s, spec=specs[s],
                                     queue_depth=int(settings[s]['queue_depth']),
                                     encode=settings[s]['encode'],
                                     sensor_input=make_input(specs[s]))
                       for s in enabled}
        self._liveness = Liveness({s: settings[s]['timeout'] for s in enabled},
                                  self._param('future_tolerance'))
        self._period_ns = int(1e9 / self._param('rate_hz'))
        self._wait_fraction = float(self._param('tick_wait_fraction'))
        self._frame_id = self._param('frame_id')
        self._names = ([f'class/{c}' for c in self._model.classes]
                       + [f'target/{t}' for t in self._model.targets]
                       + [f'live/{s}' for s in enabled])
        self._tokens_sum = np.zeros((1, *self._model.tokens_shape), np.float32)
        self._prediction = JointState()
        self._prediction.header.frame_id = self._frame_id
        self._prediction.name = self._names
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

    def _check_parameters(self):
        bad = [f'{n}={self._param(n)}'
               for n in ('rate_hz', 'diagnostics_period', 'future_tolerance')
               if self._param(n) <= 0]
        if bad:
            raise ValueError(f'parameters must be > 0: {", ".join(bad)}')
        wait = self._param('tick_wait_fraction')
        if not 0.0 <= wait < 1.0:
            raise ValueError(f'tick_wait_fraction={wait}: must be >= 0 and < 1 (a fraction of '
                             'the fusion period)')

    def _sensor_settings(self, bundle):
        """
        {sensor: {enabled, timeout, queue_depth, encode}} for every sensor of ``bundle``.

        From the <sensor>.* parameters; ValueError for a bundle sensor without them, for parameters
        of a sensor the bundle does not have, and for values that cannot run.
        """
        blocks = {}
        for name in self.list_parameters([], 0).names:
            head, dot, key = name.partition('.')
            if dot and head not in NOT_SENSORS:
                blocks.setdefault(head, {})[key] = self._param(name)
        extra = [s for s, b in blocks.items()
                 if s not in bundle.sensors and b.get('enabled', True)]
        if extra:
            raise ValueError(
                f'parameters name sensor(s) {", ".join(extra)}, which bundle {bundle.root} does '
                f'not have (it has {", ".join(bundle.sensors)}); remove their blocks from the '
                'parameter file or set <sensor>.enabled: false')
        missing = [s for s in bundle.sensors if s not in blocks]
        if missing:
            raise ValueError(
                f'bundle {bundle.root} has sensor(s) {", ".join(missing)} with no parameters; add '
                f'a block per sensor to the parameter file ({", ".join(NODE_KEYS)}; see '
                'config/fuse.yaml), with enabled: false to leave one out')
        settings = {}
        for s in bundle.sensors:
            block = blocks[s]
            if block.get('enabled', True) is False:
                settings[s] = {'enabled': False}
                continue
            kind_defaults = {'enabled': True, **get_kind(bundle.sensors[s].kind).node_defaults}
            settings[s] = dict(kind_defaults, **block)
            try:
                check_node_settings(s, settings[s], 'parameters')
            except SensorConfigError as e:
                raise ValueError(str(e)) from None
        return settings

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the enabled sensors and start predicting."""
        self.stats = diagnostics.FuseStats(self._stats_capacity)
        if any(slot.encode == 'thread' for slot in self._slots.values()):
            self._encoded_gc = self.create_guard_condition(self._on_encoded)
            self._encoder = EncoderThread(self._encode_job, self._encoded_gc.trigger)
        # The executor takes ready messages in subscription order: the cheap ones (encoded at the
        # tick or on arrival) first, so a force reading that is ready together with a camera frame
        # is not held up behind the frame's ~0.5 ms take.
        for slot in sorted(self._slots.values(), key=lambda sl: -ENCODE_MODES.index(sl.encode)):
            self._sensor_subs.append(self.create_subscription(
                message_class(slot.spec.msg_type), slot.topic,
                (lambda msg, info, s=slot: self._on_message(s, msg, info)) if MESSAGE_INFO
                else (lambda msg, s=slot: self._on_message(s, msg, {})),
                sensor_qos(slot.queue_depth)))
        # The timer fires tick_wait_fraction of a period after each due time: the fallback for
        # due ticks that no message started (see _maybe_tick).
        self._tick_timer = self.create_timer(self._period_ns / 1e9, self._on_timer)
        first_fire = self.get_clock().now().nanoseconds + self._tick_timer.time_until_next_call()
        self._schedule = TickSchedule(
            self._period_ns, first_fire - int(self._wait_fraction * self._period_ns))
        self._diagnostics_ns = int(self._param('diagnostics_period') * 1e9)
        self._next_diagnostics_ns = self._schedule.next_due_ns + self._diagnostics_ns
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
        if self._tick_timer is not None:
            self.destroy_timer(self._tick_timer)
        self._tick_timer = None
        if self._encoder is not None:
            self._encoder.stop()         # before the guard condition it triggers goes
        self._encoder = None
        if self._encoded_gc is not None:
            self.destroy_guard_condition(self._encoded_gc)
        self._encoded_gc = None

    def destroy_node(self):
        """Stop the encoder thread before the node (and the model it uses) goes."""
        self._stop_io()
        super().destroy_node()

    def _release(self):
        for pub in (self._prediction_pub, self._classes_pub, self._diagnostics_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._prediction_pub = self._classes_pub = self._diagnostics_pub = None
        self._slots = self._liveness = self._names = self._tokens_sum = None
        self._schedule = self._prediction = None
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
    #
    # Everything below runs on the executor thread, except _encode_job (the encoder thread),
    # which touches no node state: it gets a snapshot of the input and returns a result that
    # _on_encoded applies here.

    def _on_message(self, slot, msg, info):
        """
        Check and convert one message.

        Then encode it (encoder thread, here, or at the next tick) and run a due tick; a malformed
        message is counted and dropped, never raised.
        """
        now = self.get_clock().now().nanoseconds
        t0 = time.perf_counter()
        try:
            stamp = stamp_ns(msg.header)
            reason = self._liveness.check_stamp(slot.name, stamp, now, slot.in_flight_ns)
            if reason is None:
                slot.sensor_input.take(msg)
        except Exception as e:  # noqa: BLE001 - bad input must never stop the node
            reason = f'{type(e).__name__}: {e}'
        if reason is not None:
            self._liveness.reject(slot.name, reason)
            return
        trace = Trace(stamp, info.get('received_timestamp', 0), now,
                      (time.perf_counter() - t0) * 1e3)
        if slot.encode == 'thread':
            if not slot.sensor_input.ready:   # a force window still filling: nothing to encode
                self._liveness.accept(slot.name, stamp)
                return
            slot.in_flight_ns = stamp
            job = (slot, slot.sensor_input.snapshot(), trace)
            if self._encoder.submit(slot.name, job) is not None:
                self.stats.superseded[slot.name] = self.stats.superseded.get(slot.name, 0) + 1
            return                     # accepted, and a due tick run, once its tokens are ready
        slot.pending = trace
        if slot.encode == 'arrival' and not self._encode(slot):
            return
        self._liveness.accept(slot.name, stamp)
        self._maybe_tick('message')

    def _encode(self, slot):
        """
        Encode the slot's pending message into its tokens, here, once its input is complete.

        False (counted as malformed) if preprocessing or the encoder fails on it.
        """
        if slot.pending is None or not slot.sensor_input.ready:
            return True
        trace, slot.pending = slot.pending, None
        result = self._run_encoder(slot, None, trace)
        if isinstance(result, str):
            self._encode_failed(slot, result)
            return False
        self._set_tokens(slot, result, trace)
        return True

    def _encode_failed(self, slot, reason):
        """
        Drop ``slot``'s older tokens: its newest input could not be encoded.

        So the sensor is not fused on them, and /diagnostics counts and shows why.
        """
        slot.tokens, slot.trace, slot.tokens_used = None, None, True
        self._liveness.encode_failed(slot.name, reason)

    def _run_encoder(self, slot, snapshot, trace):
        """
        Preprocess + encode ``snapshot`` (None: the input's current state), on either thread.

        Fills in ``trace``; returns the tokens, or the error text.
        """
        t0 = time.perf_counter()
        try:
            x = slot.sensor_input.model_input(snapshot)
            t1 = time.perf_counter()
            tokens = self._model.encode(slot.name, x)
            t2 = time.perf_counter()
            if not np.isfinite(tokens).all():
                raise ValueError('the encoder produced non-finite tokens for this input')
        except Exception as e:  # noqa: BLE001 - bad input must never stop the node
            return f'{type(e).__name__}: {e}'
        trace.preprocess_ms, trace.encode_ms = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        return tokens

    def _set_tokens(self, slot, tokens, trace):
        self.stats.window(f'encode/{slot.name}').add(trace.preprocess_ms + trace.encode_ms)
        slot.tokens, slot.trace, slot.tokens_used = tokens, trace, False
        self._liveness.encoded(slot.name)

    def _encode_job(self, job):
        """On the encoder thread: (slot, tokens or error text, trace)."""
        slot, snapshot, trace = job
        return slot, self._run_encoder(slot, snapshot, trace), trace

    def _on_encoded(self):
        """Guard condition: apply the encoder thread's results, then run a due tick."""
        if self._encoder is None:
            return
        for slot, result, trace in self._encoder.results():
            if isinstance(result, str):
                self._encode_failed(slot, result)
                continue
            self._set_tokens(slot, result, trace)
            self._liveness.accept(slot.name, trace.stamp_ns)
        self._maybe_tick('encoder')

    def live_sensors(self, now_ns):
        """Return the enabled sensors with tokens and a newest message within their timeout."""
        return [s for s, slot in self._slots.items()
                if slot.tokens is not None and self._liveness.is_live(s, now_ns)]

    def _maybe_tick(self, started_by):
        """
        After a message was taken in (or encoder results applied).

        Run the fusion tick if one is due (tick_wait_fraction > 0; with 0 only the timer ticks, at
        the due times).
        """
        if self._wait_fraction > 0.0:
            now = self.get_clock().now().nanoseconds
            if self._schedule.due(now):
                self._tick(now, started_by)

    def _on_timer(self):
        """Fallback: a due tick that no message started by now runs without a new message."""
        now = self.get_clock().now().nanoseconds
        if self._schedule.due(now):
            self._tick(now, 'timer')

    def _tick(self, now, started_by):
        """
        Run the fusion tick, then /diagnostics when due.

        Built right after a prediction went out, in the slack before the next due time, it never
        holds up a tick (it takes ~0.5 ms).
        """
        starts = self.stats.tick_starts
        starts[started_by] = starts.get(started_by, 0) + 1
        self._fuse(now)
        if now >= self._next_diagnostics_ns:
            self._next_diagnostics_ns = max(self._next_diagnostics_ns + self._diagnostics_ns,
                                            now)
            self._publish_diagnostics()
            release_free_memory()    # odd-sized messages must not pile up heap holes (soak)

    def _fuse(self, now):
        stats = self.stats
        stats.missed_cycles += self._schedule.serve(now)
        stats.ticks += 1
        for slot in self._slots.values():
            if slot.pending is not None and self._liveness.is_live(slot.name, now):
                self._encode(slot)
        live = self.live_sensors(now)
        if not live:
            stats.idle_ticks += 1
            return
        t0 = time.perf_counter()
        total = self._tokens_sum
        np.copyto(total, self._slots[live[0]].tokens)
        for s in live[1:]:
            total += self._slots[s].tokens
        try:
            out = self._model.fuse(total)
        except Exception as e:  # noqa: BLE001 - keep predicting on the next tick
            self.get_logger().error(f'fusion head failed: {e}', throttle_duration_sec=5.0)
            return
        t1 = time.perf_counter()
        newest = max(live, key=lambda s: self._slots[s].tokens_stamp_ns)
        trace = self._slots[newest].trace
        msg = self._prediction
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(trace.stamp_ns, 1_000_000_000)
        msg.position = (out['probs'][0].tolist() + out['regression'][0].tolist()
                        + [1.0 if s in live else 0.0 for s in self._slots])
        self._prediction_pub.publish(msg)
        done = self.get_clock().now().nanoseconds
        t2 = time.perf_counter()
        stats.published += 1
        e2e = (done - trace.stamp_ns) / 1e6
        stats.window('e2e').add(e2e)
        stats.window('arrival').add((done - trace.callback_ns) / 1e6)
        fuse_ms, publish_ms = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        stats.window('fuse').add(fuse_ms)
        self._add_path(stats, trace, e2e, fuse_ms, publish_ms)
        for s in live:
            slot = self._slots[s]
            if not slot.tokens_used:
                slot.tokens_used = True
                stats.window(f'to_prediction/{s}').add((done - slot.tokens_stamp_ns) / 1e6)

    @staticmethod
    def _add_path(stats, trace, e2e, fuse_ms, publish_ms):
        """Split one prediction's input->publish over the stages of its newest input's path."""
        if trace.received_ns:
            delivery = (trace.received_ns - trace.stamp_ns) / 1e6
            executor = (trace.callback_ns - trace.received_ns) / 1e6
        else:                          # rmw without a receive time: all of it is "delivery"
            delivery, executor = (trace.callback_ns - trace.stamp_ns) / 1e6, 0.0
        parts = {'delivery': delivery, 'executor': executor, 'convert': trace.convert_ms,
                 'preprocess': trace.preprocess_ms, 'encode': trace.encode_ms, 'fuse': fuse_ms,
                 'publish': publish_ms}
        parts['wait'] = e2e - math.fsum(parts.values())
        for name, ms in parts.items():
            stats.window(f'path/{name}').add(ms)

    def _publish_diagnostics(self):
        now = self.get_clock().now()
        self._liveness.update_rates(now.nanoseconds)
        self._diagnostics_pub.publish(diagnostics.build_array(
            self.get_name(), now.to_msg(), self._model.model_id, self._model.backend_detail,
            self.stats, self._liveness, self.live_sensors(now.nanoseconds),
            {s: slot.topic for s, slot in self._slots.items()}, now.nanoseconds))


# -- process entry points ----------------------------------------------------------------------


def spin(args=None, **node_kwargs):
    """
    rclpy.init with ``args``, run a FuseNode until shutdown; returns the process exit code.

    The Fast DDS profile and the allocator tuning are applied first, however the node is
    started (``ros2 run``, launch, ``xmodal fuse``).
    """
    apply_dds_defaults()
    keep_large_allocations()
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
