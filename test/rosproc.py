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
Test helpers: start the fuse node as a real process, and drive it from a real rclpy node.

``start_fuse`` runs ``xmodal fuse`` (the real CLI) in a subprocess with a parameter file written
from a dict. ``Driver`` owns its own rclpy Context in the test process (never the global one, and
never forked): a node that publishes sensor messages and records what the fuse node publishes,
spun by a background thread.
"""
import os
from pathlib import Path
import subprocess
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from xmodal_ros.qos import LATCHED_QOS, PREDICTION_QOS, sensor_qos
from xmodal_ros.sensors import load_sensor_config, message_class
from xmodal_training.bench.messages import synthetic_message

import yaml

CONFIG = load_sensor_config()            # the package's config/sensors.yaml: six sensors
SENSORS = CONFIG.names

ROOT = Path(__file__).resolve().parents[1]


def write_params(path, overrides, drop=()):
    """
    Return a fuse_node parameter file.

    config/fuse.yaml with ``overrides`` (dotted keys) applied and the blocks or keys named in
    ``drop`` removed.
    """
    with open(ROOT / 'config' / 'fuse.yaml') as f:
        doc = yaml.safe_load(f)
    params = doc['fuse_node']['ros__parameters']
    for key, value in overrides.items():
        *parents, leaf = key.split('.')
        node = params
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    for key in drop:
        *parents, leaf = key.split('.')
        node = params
        for p in parents:
            node = node[p]
        node.pop(leaf)
    with open(path, 'w') as f:
        yaml.safe_dump(doc, f)
    return path


def start_fuse(params_file, bundle=None, managed=False, log=None, sensors=None):
    cmd = [sys.executable, '-m', 'xmodal_ros.cli', 'fuse', '--params', str(params_file)]
    if bundle is not None:
        cmd += ['--bundle', str(bundle)]
    if sensors is not None:
        cmd += ['--sensors', str(sensors)]
    if managed:
        cmd.append('--managed')
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log or subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def stop(proc, timeout=10):
    """SIGINT, then wait; returns (exit code, output)."""
    if proc.poll() is None:
        proc.send_signal(2)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out


def now_ns(node):
    return node.get_clock().now().nanoseconds


def set_stamp(header, ns):
    header.stamp.sec, header.stamp.nanosec = divmod(int(ns), 1_000_000_000)


def image(encoding, array, stamp_ns):
    """Image message from an array (rows first), step = row bytes."""
    array = np.ascontiguousarray(array)
    msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=0)
    msg.step = array.strides[0]
    msg.data = array.tobytes()
    set_stamp(msg.header, stamp_ns)
    return msg


def valid_message(sensor, stamp_ns, level=0.5, size=(96, 128), config=CONFIG):
    """Return a well-formed message for the configured ``sensor`` (whatever its kind), stamped."""
    msg = synthetic_message(config[sensor], level, size)
    set_stamp(msg.header, stamp_ns)
    return msg


class Driver:
    """Publishes sensor messages and records predictions, diagnostics and the class list."""

    def __init__(self, name='xmodal_test_driver', config=CONFIG):
        self.config = config
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.pubs = {
            s: self.node.create_publisher(message_class(config[s].msg_type), config[s].topic,
                                          sensor_qos(10))
            for s in config.names}
        self.lock = threading.Lock()
        self.last_sent = {}          # sensor -> stamp (ns) of the newest valid message published
        self.predictions = []        # (receive time ns, JointState)
        self.diagnostics = []        # (receive time ns, DiagnosticArray)
        self.classes = []
        self.node.create_subscription(JointState, '/xmodal/prediction', self._on_prediction,
                                      PREDICTION_QOS)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.node.create_subscription(String, '/xmodal/classes', self.classes.append, LATCHED_QOS)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - shutdown races end the thread quietly
            pass

    def _on_prediction(self, msg):
        with self.lock:
            self.predictions.append((now_ns(self.node), msg))

    def _on_diagnostics(self, msg):
        with self.lock:
            self.diagnostics.append((now_ns(self.node), msg))

    def now(self):
        return now_ns(self.node)

    def publish(self, sensor, msg):
        self.pubs[sensor].publish(msg)

    def wait_for_subscribers(self, timeout=10.0, sensors=None):
        """Wait until the node subscribes to ``sensors`` (default: every configured one)."""
        pubs = [self.pubs[s] for s in (sensors or self.pubs)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in pubs):
                return True
            time.sleep(0.05)
        return False

    def run(self, duration, rates, level=0.5, extra=None):
        """
        Publish valid messages of the sensors in ``rates`` (Hz) for ``duration`` seconds.

        ``extra(t)`` may return [(sensor, msg)] to publish additionally at each step.
        """
        start = time.monotonic()
        due = {s: start for s in rates}
        while True:
            t = time.monotonic()
            if t - start >= duration:
                return
            for s, rate in rates.items():
                if t >= due[s]:
                    self.last_sent[s] = self.now()
                    self.publish(s, valid_message(s, self.last_sent[s], level,
                                                  config=self.config))
                    due[s] += 1.0 / rate
            if extra is not None:
                for sensor, msg in extra(t - start) or ():
                    self.publish(sensor, msg)
            time.sleep(max(0.0, min(due.values(), default=t + 0.005) - time.monotonic()))

    def received(self, kind, t0_ns=0, t1_ns=float('inf')):
        """
        Return (receive time ns, message) of ``kind`` received in [t0_ns, t1_ns].

        ``kind``: 'predictions' or 'diagnostics'.
        """
        with self.lock:
            return [(t, m) for t, m in getattr(self, kind) if t0_ns <= t <= t1_ns]

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(timeout=2.0)


def values(msg):
    """Map a JointState prediction to {name: position}."""
    return dict(zip(msg.name, msg.position))
