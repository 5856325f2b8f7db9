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
`xmodal bench soak`.

Does the live fuse node's memory stay flat, with valid traffic and under a storm of malformed
messages?

Processes, real DDS between them: the fuse node as ``xmodal fuse`` starts it (its own process:
Fast DDS profile, allocator tuning, the bundle given, config/fuse.yaml with the blocks of sensors
the bundle lacks switched off), and a publisher of every bundle sensor at its configured rate
(sensors.yaml rate_hz; 640x480 images). This process samples the node's memory (RSS, and USS/PSS
from /proc/<pid>/smaps) every few seconds and listens to /diagnostics and the predictions.

Two phases, one after the other on the same node: valid traffic only, then the same traffic plus
a storm of malformed messages (training/bench/storm.py: random sizes, encodings, truncations,
steps, NaN/Inf, absurd values, zero/future/old stamps, unknown joint names, wrong lengths) spread
round-robin over every sensor topic at --storm-rate (--storm-only: that phase alone). Each phase
has a warm-up, then its growth is the least-squares slope of the samples over the rest, in MB per
hour. After the storm the publisher stops it and the node's /diagnostics malformed counts are
compared with what was sent.
"""
import csv
import multiprocessing as mp
import os
from pathlib import Path
import queue
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from xmodal_ros.paths import config_path, default_bundle
from xmodal_training.bench.fuse import _bench_specs, _publishers

import yaml

TARGET_MB_PER_HOUR = 5.0
SAMPLE_S = 3.0
NODE_START_S = 120
# The node's subscriptions keep at least this many messages (config/fuse.yaml has 1 for cameras):
# with a storm on top of 30 Hz frames a depth of 1 loses a few percent of them in DDS, and then
# no count can be checked against what was sent. 0: the parameter file's own depths.
QUEUE_DEPTH = 10


# -- publisher process ------------------------------------------------------------------------


def _publisher_proc(bundle, storm_rate, seed, ready, storm, stop, sent, errors):
    """
    Every bundle sensor at its configured rate.

    While ``storm`` is set, also ``storm_rate`` malformed messages per second, round-robin over the
    sensors. ``sent``: shared counters, [valid per sensor..., malformed per sensor...] in bundle
    order.
    """
    try:
        import rclpy

        from xmodal_training.bench.messages import set_stamp
        from xmodal_training.bench.storm import StormMaker
        rclpy.init()
        node = rclpy.create_node('xmodal_soak_publisher')
        specs = _bench_specs(bundle)
        names = list(specs)
        msgs, pubs = _publishers(node, specs, np.random.default_rng(seed), wait_s=30)
        maker = StormMaker(specs, seed=seed + 1)
        ready.set()
        periods = {s: 1.0 / spec.rate_hz for s, spec in specs.items()}
        now = time.monotonic()
        due = dict.fromkeys(names, now)
        storm_due, turn = None, 0
        while not stop.is_set():
            now = time.monotonic()
            for i, s in enumerate(names):
                if now >= due[s]:
                    pubs[s].publish(set_stamp(msgs[s], time.time_ns()))
                    sent[i] += 1
                    due[s] = max(due[s] + periods[s], now - periods[s])
            if storm.is_set():
                storm_due = now if storm_due is None else storm_due
                if now >= storm_due:
                    i = turn % len(names)
                    turn += 1
                    msg, _ = maker.make(names[i], time.time_ns())
                    pubs[names[i]].publish(msg)
                    sent[len(names) + i] += 1
                    storm_due = max(storm_due + 1.0 / storm_rate, now - 1.0 / storm_rate)
            else:
                storm_due = None
            nxt = min(due.values()) if storm_due is None else min(min(due.values()), storm_due)
            time.sleep(max(0.0, nxt - time.monotonic()))
        node.destroy_node()
        rclpy.try_shutdown()
    except Exception as e:  # noqa: BLE001 - reported by the parent
        errors.put(f'publisher: {type(e).__name__}: {e}')
        raise


# -- /diagnostics and predictions (a thread of this process) -----------------------------------


class Monitor:
    """The node's newest per-sensor diagnostics and the arrival times of its predictions."""

    def __init__(self, sensors):
        from diagnostic_msgs.msg import DiagnosticArray
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState

        from xmodal_ros.qos import PREDICTION_QOS
        self.sensors = list(sensors)
        self._lock = threading.Lock()
        self.diag = {}                 # sensor -> {key: value}
        self.diag_time = 0.0           # monotonic time of the newest /diagnostics
        self.predictions = []          # (monotonic time, all sensors live)
        rclpy.init()
        self._node = rclpy.create_node('xmodal_soak_monitor')
        self._node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self._node.create_subscription(JointState, '/xmodal/prediction', self._on_pred,
                                       PREDICTION_QOS)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self._node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.1)

    def _on_diag(self, msg):
        out = {}
        for st in msg.status:
            name = st.name.split(': ', 1)[-1]
            if name in self.sensors:
                out[name] = {kv.key: kv.value for kv in st.values}
        if out:
            with self._lock:
                self.diag, self.diag_time = out, time.monotonic()

    def _on_pred(self, msg):
        live = [v for n, v in zip(msg.name, msg.position) if n.startswith('live/')]
        with self._lock:
            self.predictions.append((time.monotonic(), all(v == 1.0 for v in live)))

    def counts(self, key):
        with self._lock:
            return {s: int(self.diag.get(s, {}).get(key, 0)) for s in self.sensors}

    def fresh_diagnostics(self, after, timeout=10.0):
        """Wait for a /diagnostics published after monotonic time ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.diag_time > after:
                    return True
            time.sleep(0.1)
        return False

    def prediction_stats(self, t0, t1):
        with self._lock:
            ts = [(t, full) for t, full in self.predictions if t0 <= t <= t1]
        times = np.array([t for t, _ in ts])
        gaps = np.diff(np.concatenate([[t0], times, [t1]])) if times.size else np.array([t1 - t0])
        return {'n': len(ts), 'rate_hz': len(ts) / max(t1 - t0, 1e-9),
                'max_gap_s': float(gaps.max()),
                'all_live': float(np.mean([f for _, f in ts])) if ts else 0.0}

    def close(self):
        import rclpy
        self._stop.set()
        self._thread.join(5)
        self._node.destroy_node()
        rclpy.try_shutdown()


# -- memory ------------------------------------------------------------------------------------


def memory_mb(pid):
    """RSS, USS and PSS of ``pid`` in MB (USS/PSS: NaN where smaps cannot be read)."""
    import psutil
    p = psutil.Process(pid)
    try:
        m = p.memory_full_info()
        return m.rss / 1e6, m.uss / 1e6, getattr(m, 'pss', float('nan')) / 1e6
    except psutil.AccessDenied:
        return p.memory_info().rss / 1e6, float('nan'), float('nan')


def slope_mb_per_hour(t_s, mb):
    """Least-squares slope of ``mb`` over ``t_s`` (seconds), in MB per hour; NaN if < 3 points."""
    t, y = np.asarray(t_s, np.float64), np.asarray(mb, np.float64)
    ok = np.isfinite(y)
    if ok.sum() < 3:
        return float('nan')
    return float(np.polyfit(t[ok] / 3600.0, y[ok], 1)[0])


def node_params(bundle_sensors, params, out, queue_depth=0):
    """
    Write ``params`` (a fuse node parameter file) to ``out``, adjusted for ``bundle_sensors``.

    The blocks of sensors the bundle lacks are set to enabled: false, so any bundle runs with the
    shipped config/fuse.yaml, and every sensor's queue_depth is raised to at least
    ``queue_depth``.
    """
    doc = yaml.safe_load(Path(params).read_text())
    p = (doc.get('fuse_node') or doc.get('/**'))['ros__parameters']
    for name, block in p.items():
        if not isinstance(block, dict) or name == 'qos_overrides':
            continue
        if name not in bundle_sensors:
            block['enabled'] = False
        elif queue_depth:
            block['queue_depth'] = max(int(block.get('queue_depth', 1)), int(queue_depth))
    Path(out).write_text(yaml.safe_dump(doc))
    return out


# -- the run -------------------------------------------------------------------------------------


def _phase(name, node_pid, monitor, sent, warmup, duration, rows, t_start):
    """Sample memory for ``warmup`` + ``duration`` s; the growth is over the last ``duration``."""
    t0 = time.monotonic()
    measure_from = t0 + warmup
    end = measure_from + duration
    samples = []
    sent0 = None
    while True:
        now = time.monotonic()
        rss, uss, pss = memory_mb(node_pid)
        rows.append({'phase': name, 't_s': round(now - t_start, 2), 'rss_mb': round(rss, 3),
                     'uss_mb': round(uss, 3), 'pss_mb': round(pss, 3)})
        if now >= measure_from:
            if sent0 is None:
                sent0 = list(sent[:])
            samples.append((now, rss, uss, pss))
        if now >= end:
            break
        time.sleep(min(SAMPLE_S, max(0.0, end - time.monotonic())))
    t = np.array([s[0] for s in samples])
    out = {'name': name, 'samples': len(samples), 'seconds': float(t[-1] - t[0]),
           'rss_start': samples[0][1], 'rss_end': samples[-1][1],
           'pred': monitor.prediction_stats(measure_from, end),
           'sent': [b - a for a, b in zip(sent0, sent[:])]}
    for i, key in enumerate(('rss', 'uss', 'pss'), start=1):
        out[key] = slope_mb_per_hour(t - t[0], [s[i] for s in samples])
    return out


def _print_phase(r, names):
    ok = '✔' if r['rss'] < TARGET_MB_PER_HOUR else '✘'
    print(f"{r['name']}: {r['samples']} samples over {r['seconds'] / 60:.1f} min after warm-up; "
          f"RSS {r['rss_start']:.1f} -> {r['rss_end']:.1f} MB")
    print(f"  growth (least squares): RSS {r['rss']:+.2f} MB/hour (target < "
          f"{TARGET_MB_PER_HOUR:g}) {ok};  USS {r['uss']:+.2f}, PSS {r['pss']:+.2f} MB/hour")
    p = r['pred']
    print(f"  predictions {p['n']} ({p['rate_hz']:.1f} Hz), longest gap {p['max_gap_s']:.3f} s, "
          f"all sensors live in {100 * p['all_live']:.1f} % of them")
    n = len(names)
    valid = ', '.join(f'{s} {r["sent"][i]}' for i, s in enumerate(names))
    print(f'  valid messages sent: {valid}')
    bad = sum(r['sent'][n:])
    if bad:
        print(f'  malformed messages sent: {bad} ({bad / max(r["seconds"], 1e-9):.0f}/s)')


def run(bundle, params, duration, warmup, storm_rate, csv_path=None, seed=0, queue_depth=0,
        storm_only=False):
    """Both phases (or the storm alone) on one node; returns (results, check, node log path)."""
    from xmodal_ros.bundle import load_bundle
    names = list(load_bundle(bundle).sensors)
    n = len(names)
    tmp = Path(tempfile.mkdtemp(prefix='xmodal-soak-'))
    params_file = node_params(names, params, tmp / 'fuse.yaml', queue_depth)
    log_path = tmp / 'node.log'
    env = dict(os.environ)
    cmd = [sys.executable, '-m', 'xmodal_ros.cli', 'fuse', '--params', str(params_file),
           '--bundle', str(bundle)]
    ctx = mp.get_context('spawn')
    ev = {k: ctx.Event() for k in ('ready', 'storm', 'stop')}
    sent = ctx.Array('q', 2 * n, lock=False)
    errors = ctx.Queue()
    monitor = Monitor(names)
    rows = []
    with open(log_path, 'w') as log:
        node = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    pub = ctx.Process(target=_publisher_proc, name='soak-pub', args=(
        str(bundle), storm_rate, seed, ev['ready'], ev['storm'], ev['stop'], sent, errors))
    try:
        if not monitor.fresh_diagnostics(0.0, NODE_START_S) or node.poll() is not None:
            raise RuntimeError(f'the fuse node did not start (log: {log_path}):\n'
                               + log_path.read_text()[-2000:])
        pub.start()
        if not ev['ready'].wait(60):
            raise RuntimeError('the publisher did not start')
        t_start = time.monotonic()
        results = [] if storm_only else [
            _phase('valid only', node.pid, monitor, sent, warmup, duration, rows, t_start)]
        bad_before = monitor.counts('malformed')
        ev['storm'].set()
        results.append(_phase(f'storm ({storm_rate:g} malformed/s + valid)', node.pid, monitor,
                              sent, warmup, duration, rows, t_start))
        ev['stop'].set()                 # everything sent is final; the node takes the rest
        pub.join(15)
        monitor.fresh_diagnostics(time.monotonic() + 1.0, 10.0)
        bad, accepted = monitor.counts('malformed'), monitor.counts('accepted')
        check = {s: {'sent': int(sent[n + i]), 'counted': bad[s] - bad_before[s],
                     'before': bad_before[s], 'valid_sent': int(sent[i]),
                     'accepted': accepted[s]} for i, s in enumerate(names)}
        try:
            raise RuntimeError(errors.get_nowait())
        except queue.Empty:
            pass
        if node.poll() is not None:
            raise RuntimeError(f'the fuse node exited ({node.returncode}); log: {log_path}')
    finally:
        ev['stop'].set()
        pub.join(15)
        if pub.is_alive():
            pub.terminate()
            pub.join(5)
        node.terminate()
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        monitor.close()
        if csv_path and rows:
            with open(csv_path, 'w', newline='') as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    return names, results, check, log_path


def _check_args(args):
    bad = [f'--{k.replace("_", "-")} {getattr(args, k)}' for k in ('duration', 'storm_rate')
           if not getattr(args, k) > 0]
    bad += [f'--warmup {args.warmup}'] if args.warmup < 0 else []
    if bad:
        raise SystemExit(f'xmodal bench soak: {", ".join(bad)}: durations and rates must be > 0 '
                         '(warm-up >= 0)')


def main(args):
    from xmodal_ros.dds import apply_dds_defaults
    _check_args(args)
    # A DDS domain of its own, discovery on this machine: another node or bag player on the
    # default domain (a shared machine) would otherwise feed the node and spoil every count.
    domain = getattr(args, 'domain_id', None)
    os.environ['ROS_DOMAIN_ID'] = str(domain if domain is not None else 1 + os.getpid() % 100)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    profile = apply_dds_defaults()
    bundle = args.bundle or str(default_bundle())
    params = getattr(args, 'params', None) or str(config_path('fuse.yaml'))
    print(__doc__.split('\n\n', 1)[1].rstrip())
    print(f'\nbundle {bundle}; node parameters {params}; {os.cpu_count()} cores; '
          f'FASTDDS_DEFAULT_PROFILES_FILE={profile}; per phase {args.warmup:g} s warm-up + '
          f'{args.duration:g} s measured; storm {args.storm_rate:g} malformed messages/s; '
          f'subscription depth >= {getattr(args, "queue_depth", QUEUE_DEPTH)}; '
          f'ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]} (localhost); '
          f'memory sampled every {SAMPLE_S:g} s\n', flush=True)
    names, results, check, log_path = run(
        bundle, params, args.duration, args.warmup, args.storm_rate,
        csv_path=getattr(args, 'csv', None),
        queue_depth=getattr(args, 'queue_depth', QUEUE_DEPTH),
        storm_only=getattr(args, 'storm_only', False))
    for r in results:
        _print_phase(r, names)
    depth = getattr(args, 'queue_depth', QUEUE_DEPTH)
    if depth:
        ok, verdict = all(c['sent'] == c['counted'] for c in check.values()), 'all counted'
    else:   # a depth-1 subscription keeps only the newest message: the rest never reach the node
        ok = all(c['counted'] <= c['sent'] for c in check.values())
        verdict = ('none counted twice (with the shipped depths an image topic keeps only its '
                   'newest message, so superseded ones never reach the node)')
    print('malformed messages sent / counted on /diagnostics (counted before the storm): '
          + ', '.join(f'{s} {c["sent"]}/{c["counted"]} ({c["before"]})'
                      for s, c in check.items())
          + (f' — {verdict} ✔' if ok else ' — MISMATCH ✘'))
    print('  valid messages sent / accepted by the node, whole run (best-effort DDS may lose some'
          ' of both; thread-encoded sensors also skip frames superseded before encoding): '
          + ', '.join(f'{s} {c["valid_sent"]}/{c["accepted"]}' for s, c in check.items()))
    flat = all(r['rss'] < TARGET_MB_PER_HOUR for r in results)
    storm = results[-1]
    valid = '' if len(results) < 2 else f'valid only {results[0]["rss"]:+.2f} MB/hour, '
    print(f'node memory growth after warm-up: {valid}storm '
          f'{storm["rss"]:+.2f} MB/hour (target < {TARGET_MB_PER_HOUR:g}) '
          f'{"✔" if flat else "✘"}; predictions kept coming under the storm: '
          f'{storm["pred"]["rate_hz"]:.1f} Hz, longest gap {storm["pred"]["max_gap_s"]:.3f} s; '
          f'node log {log_path}')
    return 0 if flat and ok else 1
