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
`xmodal bench fuse`: latency of the live fuse node, ONNX Runtime vs. the same node on PyTorch.

Three processes per variant, real DDS between them: a publisher (every sensor of the bundle at
its sensors.yaml rate, images at 640x480 -- for the shipped robot camera and depth at 30 Hz,
tactile and finger joints at 100 Hz, the wrist IMU at 250 Hz, force at 500 Hz -- each message
stamped with the system clock right before ``publish``), the fuse node (config/fuse.yaml, or
--params), and a subscriber of the predictions.
The two variants run one after the other in the same invocation with identical settings; only the
node's ``model_factory`` differs (xmodal_ros.model.FusionModel vs. training/bench/torch_backend).
With --repeats N they alternate N times (ONNX Runtime first in odd rounds, PyTorch first in even
ones) and every round is reported: which sensor phase a run happens to lock into moves p99 by
~1 ms, so one round alone is not a comparison.

Latencies (all on the system clock, which the node's ROS clock is):
  input->publish   for each prediction: its publish time minus the stamp of the newest sensor
                   message in it (= its header.stamp). Covers DDS delivery into the node, waiting
                   in the executor, conversion, preprocessing, encoding, waiting for the fusion
                   tick and the fusion head.
  by stage         the same, split along the newest input's path: delivery (stamp -> taken into
                   the node's DDS reader, rmw received_timestamp), executor (-> its callback
                   starts), convert (stamp check + conversion), preprocess + encode (that
                   message's), wait (the rest: encoder thread queue and hand-back, waiting for the
                   due time, encoding other sensors pending at the tick), fuse (token sum + fusion
                   head), publish; mean over all predictions / over the slowest 1 %.
  msg->first pred  for each encoded sensor message: publish time of the first prediction that
                   contains its tokens minus its stamp (per sensor; includes the wait for the tick,
                   up to 1/rate_hz).
  arrival->publish the same from the moment the node's callback for that newest input started
                   (input->publish minus this = DDS delivery and waiting in the executor).
  input->received  the subscriber's receive time minus header.stamp (adds the output DDS hop).
Missed cycles: fusion due times (every 1/rate_hz) that passed without a tick before the next one.
CPU: user+system time of each process over the measured window, in % of one core.
"""
import functools
import gc
import multiprocessing as mp
import os
import queue
import sys
import threading
import time

import numpy as np

from xmodal_ros.bundle import BundleError
from xmodal_ros.paths import config_path, default_bundle

PATH_STAGES = ('delivery', 'executor', 'convert', 'wait', 'preprocess', 'encode', 'fuse',
               'publish')
SIZE = (480, 640)
WARMUP_S = 3.0
STATS_CAPACITY = 1 << 17        # samples per latency (60 s at 100 Hz is 6,000)


def _percentiles(values):
    v = np.asarray(values, np.float64)
    if not v.size:
        return {'n': 0, 'p50': float('nan'), 'p99': float('nan'), 'max': float('nan')}
    return {'n': int(v.size), 'p50': float(np.percentile(v, 50)),
            'p99': float(np.percentile(v, 99)), 'max': float(v.max())}


# -- child processes (spawned; each calls rclpy.init itself) --------------------------------------


def _bench_specs(bundle, sensors_config=None):
    """Return the bundle's sensors as the node runs them (topics from sensors.yaml)."""
    from xmodal_ros.bundle import load_bundle
    from xmodal_ros.sensors import load_sensor_config, model_config
    b = load_bundle(bundle)
    return model_config(load_sensor_config(sensors_config),
                        {s: b.declaration(s) for s in b.sensors}, f'bundle {bundle}').sensors


def _publishers(node, specs, rng, wait_s):
    """
    Return (messages, publishers): per sensor a full-size synthetic message and its publisher.

    Sensor-data QoS of depth 10 on the sensor's topic (what a node keeps is its own QoS); waits up
    to ``wait_s`` seconds for every topic to have a subscriber.
    """
    from xmodal_ros.qos import sensor_qos
    from xmodal_training.bench.messages import synthetic_message
    msgs = {s: synthetic_message(spec, size=SIZE, rng=rng) for s, spec in specs.items()}
    pubs = {s: node.create_publisher(type(m), specs[s].topic, sensor_qos(10))
            for s, m in msgs.items()}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not all(
            p.get_subscription_count() for p in pubs.values()):
        time.sleep(0.05)
    return msgs, pubs


def _publisher_proc(bundle, ready, stop, results):
    """
    Publish every sensor of the bundle on its configured topic at its configured rate.

    The rate is sensors.yaml's rate_hz; images are full-size.
    """
    import rclpy

    from xmodal_training.bench.messages import set_stamp
    rclpy.init()
    node = rclpy.create_node('xmodal_bench_publisher')
    specs = _bench_specs(bundle)
    msgs, pubs = _publishers(node, specs, np.random.default_rng(0), wait_s=10)
    rates = {s: spec.rate_hz for s, spec in specs.items()}
    ready.set()
    counts = dict.fromkeys(msgs, 0)
    start = time.monotonic()
    due = dict.fromkeys(msgs, start)
    while not stop.is_set():
        now = time.monotonic()
        for s, rate in rates.items():
            if now >= due[s]:
                pubs[s].publish(set_stamp(msgs[s], time.time_ns()))
                counts[s] += 1
                due[s] = max(due[s] + 1.0 / rate, now - 1.0 / rate)
        time.sleep(max(0.0, min(due.values()) - time.monotonic()))
    elapsed = time.monotonic() - start
    results.put(('publisher', {s: n / elapsed for s, n in counts.items()}))
    node.destroy_node()
    rclpy.try_shutdown()


def _subscriber_proc(ready, measure, stop, results):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    from xmodal_ros.qos import PREDICTION_QOS
    rclpy.init()
    node = rclpy.create_node('xmodal_bench_subscriber')
    lat = []

    def on_prediction(msg):
        if measure.is_set():
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            lat.append((time.time_ns() - stamp) / 1e6)
    node.create_subscription(JointState, '/xmodal/prediction', on_prediction, PREDICTION_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    ready.set()
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.1)
    results.put(('subscriber', _percentiles(lat)))
    node.destroy_node()
    rclpy.try_shutdown()


def _breakdown(stats):
    """
    Mean of each path stage over all predictions and over the slowest 1 % (e2e >= its p99).

    The stages of one prediction add up to its input->publish.
    """
    e2e = stats.latency.get('e2e')
    if e2e is None or not e2e.count:
        return {}
    windows = {k: stats.latency.get(f'path/{k}') for k in PATH_STAGES}
    # The node may still be adding a prediction while this runs: keep the ones every stage has.
    values = {k: (w.values() if w is not None else None) for k, w in windows.items()}
    v = e2e.values()
    n = min([v.size] + [x.size for x in values.values() if x is not None])
    v = v[:n]
    tail = v >= np.percentile(v, 99)
    out = {}
    for stage, x in values.items():
        x = np.zeros(n) if x is None else x[:n]
        out[stage] = {'mean': float(x.mean()), 'tail': float(x[tail].mean())}
    out['e2e'] = {'mean': float(v.mean()), 'tail': float(v[tail].mean())}
    return out


def _node_proc(variant, bundle, params, torch_run, torch_threads, ready, measure, stop, results):
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from xmodal_ros.allocator import keep_large_allocations
    from xmodal_ros.diagnostics import FuseStats
    from xmodal_ros.executor import make_executor
    from xmodal_ros.fuse_node import FuseNode
    from xmodal_ros.model import FusionModel
    if variant == 'torch':
        from xmodal_training.bench.torch_backend import TorchFusionModel
        factory = functools.partial(TorchFusionModel, run=torch_run, torch_threads=torch_threads)
    else:
        factory = FusionModel
    keep_large_allocations()           # as the node's own process (fuse_node.spin) does
    rclpy.init(args=['bench-fuse-node', '--ros-args', '--params-file', str(params),
                     '-p', f'bundle:={bundle}'])
    node = FuseNode(model_factory=factory, stats_capacity=STATS_CAPACITY)
    if not node.start():
        results.put(('error', f'{variant} node: {node.error}'))
        return
    executor = make_executor()
    executor.add_node(node)
    gc_pauses = {}                 # generation -> [ms], while measuring
    gc_start = [None]

    def on_gc(phase, info):
        if phase == 'start':
            gc_start[0] = time.perf_counter() if measuring.is_set() else None
        elif gc_start[0] is not None:
            gc_pauses.setdefault(info['generation'], []).append(
                (time.perf_counter() - gc_start[0]) * 1e3)
    measuring = threading.Event()
    gc.callbacks.append(on_gc)

    def control():
        ready.set()
        measure.wait()
        node.stats = FuseStats(STATS_CAPACITY)
        measuring.set()
        stop.wait()
        measuring.clear()
        stats = node.stats
        out = {name: _percentiles(w.values()) for name, w in stats.latency.items()}
        out['gc'] = {g: {'n': len(v), 'max': max(v), 'total': sum(v)}
                     for g, v in sorted(gc_pauses.items())}
        out.update(ticks=stats.ticks, published=stats.published,
                   missed_cycles=stats.missed_cycles, idle_ticks=stats.idle_ticks,
                   superseded=dict(stats.superseded), tick_starts=dict(stats.tick_starts),
                   breakdown=_breakdown(stats),
                   backend=node._model.backend_detail, rate_hz=node._param('rate_hz'),
                   sensors=list(node._slots))
        results.put(('node', out))
        executor.shutdown(timeout_sec=5.0)
    threading.Thread(target=control, daemon=True).start()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    node.destroy_node()
    rclpy.try_shutdown()


# -- one measured run ---------------------------------------------------------------------------


def _cpu_seconds(procs):
    import psutil
    out = {}
    for name, p in procs.items():
        t = psutil.Process(p.pid).cpu_times()
        out[name] = t.user + t.system
    return out


def run_variant(variant, bundle, duration, torch_run=None, torch_threads=None, params=None):
    """
    Run publisher, node and subscriber; return the node's, subscriber's and CPU numbers.

    ``params``: the node's parameter file (default config/fuse.yaml).
    """
    import psutil
    ctx = mp.get_context('spawn')
    results = ctx.Queue()
    ev = {k: ctx.Event() for k in ('node_ready', 'sub_ready', 'pub_ready', 'measure', 'stop')}
    procs = {'node': ctx.Process(target=_node_proc, name='fuse-node', args=(
        variant, str(bundle), str(params or config_path('fuse.yaml')), torch_run, torch_threads,
        ev['node_ready'], ev['measure'],
        ev['stop'], results))}
    procs['node'].start()
    try:
        _wait(ev['node_ready'], results, procs, 120, 'the fuse node to start')
        procs['subscriber'] = ctx.Process(target=_subscriber_proc, name='bench-sub', args=(
            ev['sub_ready'], ev['measure'], ev['stop'], results))
        procs['publisher'] = ctx.Process(target=_publisher_proc, name='bench-pub', args=(
            str(bundle), ev['pub_ready'], ev['stop'], results))
        procs['subscriber'].start()
        procs['publisher'].start()
        _wait(ev['sub_ready'], results, procs, 60, 'the subscriber')
        _wait(ev['pub_ready'], results, procs, 60, 'the publisher')
        time.sleep(WARMUP_S)
        cpu0, t0 = _cpu_seconds(procs), time.monotonic()
        psutil.cpu_percent()
        ev['measure'].set()
        time.sleep(duration)
        cpu1, wall = _cpu_seconds(procs), time.monotonic() - t0
        machine = psutil.cpu_percent() * psutil.cpu_count()
        ev['stop'].set()
        out = {}
        deadline = time.monotonic() + 30
        while len(out) < 3 and time.monotonic() < deadline:
            try:
                kind, value = results.get(timeout=1.0)
            except queue.Empty:
                continue
            if kind == 'error':
                raise RuntimeError(value)
            out[kind] = value
        out['cpu'] = {k: 100.0 * (cpu1[k] - cpu0[k]) / wall for k in procs}
        out['cpu']['machine'] = machine
        out['wall'] = wall
        return out
    finally:
        ev['stop'].set()
        for p in procs.values():
            p.join(timeout=15)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()


def _wait(event, results, procs, timeout, what):
    deadline = time.monotonic() + timeout
    while not event.wait(0.2):
        try:
            kind, value = results.get_nowait()
            if kind == 'error':
                raise RuntimeError(value)
        except queue.Empty:
            pass
        dead = [n for n, p in procs.items() if p.exitcode not in (None, 0)]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f'timed out waiting for {what}' if not dead
                               else f'{", ".join(dead)} process exited while waiting for {what}')


# -- batch-1 model cost ---------------------------------------------------------------------------


def micro(bundle, torch_run, torch_threads, repeats=300):
    """Median batch-1 encode (every sensor) + fuse, ONNX Runtime vs. PyTorch eager, in ms."""
    from xmodal_ros.model import FusionModel
    from xmodal_training.bench.torch_backend import TorchFusionModel
    factories = {'onnxruntime': lambda: FusionModel(bundle),
                 'torch': lambda: TorchFusionModel(bundle, run=torch_run,
                                                   torch_threads=torch_threads)}
    out = {}
    for name, factory in factories.items():
        model = factory()
        rng = np.random.default_rng(0)
        xs = {s: rng.random((1, *model.input_shape(s)), dtype=np.float32) for s in model.sensors}
        model.warmup(10)
        parts = {s: [] for s in (*model.sensors, 'fuse')}
        for _ in range(repeats):
            tokens = np.zeros((1, *model.tokens_shape), np.float32)
            for s, x in xs.items():
                t = time.perf_counter()
                tokens += model.encode(s, x)
                parts[s].append(time.perf_counter() - t)
            t = time.perf_counter()
            model.fuse(tokens)
            parts['fuse'].append(time.perf_counter() - t)
        out[name] = {k: float(np.median(v)) * 1e3 for k, v in parts.items()}
        out[name]['total'] = float(np.median(np.sum(list(parts.values()), axis=0))) * 1e3
        out[name]['backend'] = model.backend_detail
        model.close()
    return out


# -- report ---------------------------------------------------------------------------------------


def _row(label, p):
    return (f'  {label:<24} p50 {p["p50"]:7.2f}  p99 {p["p99"]:7.2f}  max {p["max"]:7.2f} ms  '
            f'(n={p["n"]})')


def report(name, r, duration):
    n = r['node']
    print(f'{name}: {n["backend"]}')
    print(_row('input->publish', n['e2e']))
    print(_row('  of it, arrival->publish', n['arrival']))
    for s in n['sensors']:
        if f'to_prediction/{s}' in n:
            print(_row(f'{s} msg->first pred', n[f'to_prediction/{s}']))
    print(_row('input->received', r['subscriber']))
    for s in n['sensors']:
        if f'encode/{s}' in n:
            print(_row(f'encode {s} (in node)', n[f'encode/{s}']))
    print(_row('fuse (in node)', n['fuse']))
    b = n.get('breakdown')
    if b:
        print('  input->publish by stage of the newest input (ms; mean over all predictions / '
              'over the slowest 1 %):')
        print('    ' + '  '.join(f'{k} {b[k]["mean"]:.2f}/{b[k]["tail"]:.2f}'
                                 for k in (*PATH_STAGES, 'e2e')))
    expected = int(duration * n['rate_hz'])
    skipped = ', '.join(f'{s} {k}' for s, k in n.get('superseded', {}).items()) or 'none'
    starts = ', '.join(f'{k} {v}' for k, v in sorted(n.get('tick_starts', {}).items()))
    print(f'  predictions {n["published"]} in {r["wall"]:.1f} s (rate {n["rate_hz"]:g} Hz, '
          f'~{expected} expected), missed cycles {n["missed_cycles"]}, idle ticks '
          f'{n["idle_ticks"]}; ticks started by: {starts}; superseded before encoding: {skipped}')
    gcs = ', '.join(f'gen{g} {v["n"]}x max {v["max"]:.2f} ms' for g, v in n.get('gc', {}).items())
    print(f'  Python GC pauses in the node: {gcs or "none"}')
    pub = ', '.join(f'{s} {v:.1f}' for s, v in r['publisher'].items())
    print(f'  published rates (Hz): {pub}')
    c = r['cpu']
    print(f'  CPU (% of one core): node {c["node"]:.1f}, publisher {c["publisher"]:.1f}, '
          f'subscriber {c["subscriber"]:.1f}; whole machine {c["machine"]:.1f} of '
          f'{100 * os.cpu_count()}')


def main(args):
    from xmodal_ros.dds import apply_dds_defaults
    from xmodal_training.bench.torch_backend import TorchFusionModel
    from xmodal_training.checkpoint import RunError
    profile = apply_dds_defaults()
    bundle = args.bundle or str(default_bundle())
    params = getattr(args, 'params', None) or str(config_path('fuse.yaml'))
    rounds = max(1, int(getattr(args, 'repeats', 1) or 1))
    torch_run = getattr(args, 'torch_run', None)
    torch_threads = getattr(args, 'torch_threads', 1) or None
    print(__doc__.split('\n\n', 1)[1].rstrip())
    print(f'\nbundle {bundle}; node parameters {params}; {os.cpu_count()} cores; '
          f'FASTDDS_DEFAULT_PROFILES_FILE={profile}; {rounds} round(s) of '
          f'{args.duration:g} s per variant after {WARMUP_S:g} s warm-up, variants alternating; '
          f'PyTorch intra-op threads: {torch_threads or "default"}, ONNX Runtime: 1\n')
    try:
        TorchFusionModel(bundle, run=torch_run).close()
        baseline = None
    except (BundleError, RunError, OSError) as e:
        baseline = str(e)
    variants = [('onnxruntime', 'ONNX Runtime node')]
    if baseline is None:
        m = micro(bundle, torch_run, torch_threads)
        print('batch-1 model cost, median ms (encode per sensor + fuse):')
        for name, v in m.items():
            parts = ', '.join(f'{k} {v[k]:.3f}' for k in v if k not in ('total', 'backend'))
            print(f'  {name:<12} total {v["total"]:.3f}  ({parts})  [{v["backend"]}]')
        print(f'  ONNX Runtime is {m["torch"]["total"] / m["onnxruntime"]["total"]:.2f}x faster '
              '(target >= 2x)\n')
        variants.append(('torch', 'PyTorch-eager node'))
    rows = []
    for i in range(rounds):
        # Alternate which variant goes first, so a drift in the machine's load hits both.
        order = variants if i % 2 == 0 else variants[::-1]
        results = {}
        for variant, name in order:
            results[variant] = run_variant(variant, bundle, args.duration, torch_run,
                                           torch_threads, params)
            report(f'{name} (round {i + 1}/{rounds})' if rounds > 1 else name, results[variant],
                   args.duration)
            print()
        rows.append({v: results[v]['node'] for v, _ in variants})
    for i, row in enumerate(rows):
        ort = row['onnxruntime']
        line = (f'input->publish p99: ONNX Runtime {ort["e2e"]["p99"]:.2f} ms (target <= 10), '
                f'missed cycles {ort["missed_cycles"]} (target 0)')
        if 'torch' in row:
            tch = row['torch']
            line += (f'; PyTorch eager {tch["e2e"]["p99"]:.2f} ms: '
                     f'{tch["e2e"]["p99"] / ort["e2e"]["p99"]:.2f}x lower (target >= 3x)')
        print(f'round {i + 1}: {line}' if rounds > 1 else line)
    if baseline is not None:
        print(f'PyTorch-eager baseline not measured: {baseline}', file=sys.stderr)
        return 1
    if rounds > 1:
        ratios = [row['torch']['e2e']['p99'] / row['onnxruntime']['e2e']['p99'] for row in rows]
        print(f'p99 ratio over {rounds} rounds: min {min(ratios):.2f}x, '
              f'median {float(np.median(ratios)):.2f}x, max {max(ratios):.2f}x')
    return 0
