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
`xmodal demo`: the main job on the simulated robot, end to end over real ROS 2.

1. Record a few simulated episodes to a rosbag2 file (every sensor of config/sensors.yaml:
   640x480 camera and depth, tactile, force, finger joints, wrist IMU; ground truth), with the
   simulator's recorder.
2. Start the fuse node (`xmodal fuse`, a separate process) with the shipped default bundle.
3. Replay the bag to it from another process over real DDS, in real time, restamped with the
   current time, looping as needed; sensors drop out and come back on a fixed schedule.
4. Print one line a second: live sensors, prediction, true class, and the running accuracy for
   every subset of live sensors seen so far (subsets that only flicker by while sensors time out
   are left out of that line, not out of the final summary). The replay is sized so that the
   whole run takes about --duration seconds; then it exits 0.
Ctrl-C stops the replay and the node and removes the recording.
"""
from collections import defaultdict
import contextlib
import multiprocessing as mp
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from xmodal_ros.bundle import BundleError, load_bundle
from xmodal_ros.dds import apply_dds_defaults
from xmodal_ros.paths import config_path, default_bundle
from xmodal_ros.sensors import load_sensor_config

EPISODES = 4             # recorded once (~3 s each at 640x480), replayed in a loop
SEGMENT_S = 6.0


def schedule(sensors):
    """
    Live sensor subsets, one per SEGMENT_S of replay, cycled.

    All of them, each half, then every sensor alone or left out in turn, so each one drops out and
    comes back.
    """
    sensors = tuple(sensors)
    half = (len(sensors) + 1) // 2
    out = [sensors, sensors[:half], sensors[half:]]
    for i, s in enumerate(sensors):
        out.append((s,) if i % 2 == 0 else tuple(x for x in sensors if x != s))
    return tuple(x for x in out if x)


def short(sensor):
    """
    Abbreviate a sensor name to its initials: camera -> C, finger_joints -> FJ.

    For the one-line-a-second display.
    """
    return ''.join(w[0] for w in sensor.split('_') if w).upper()


def scheduled(sensors, elapsed_s):
    plan = schedule(sensors)
    return plan[int(elapsed_s // SEGMENT_S) % len(plan)]


def _replay(bag, sensors, duration, pipe):
    """
    Process: publish the bag's sensor and ground-truth messages in real time, looping.

    ``sensors``: the bundle's sensors, dropped out and back on the schedule (the bag's other
    topics are not replayed). ``pipe``: connection to the parent; 'ready' is sent once the fuse
    node has subscribed, anything received means stop. (A pipe, not multiprocessing Events, so
    Ctrl-C leaves no semaphores.)
    """
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.serialization import deserialize_message
    from rclpy.signals import SignalHandlerOptions
    from rosbags.rosbag2 import Reader

    from xmodal_ros.qos import sensor_qos
    from xmodal_ros.sensors import message_class
    from xmodal_training.data.bagread import topic_roles

    config = load_sensor_config()
    roles = {topic: role for role, (topic, _) in topic_roles(config).items()
             if role in sensors or role == 'labels'}
    types = {role: message_class(msg_type) for role, (_, msg_type) in
             topic_roles(config).items()}
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: KeyboardInterrupt
    node = rclpy.create_node('xmodal_demo_replay')
    labels_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                            reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.VOLATILE)
    pubs = {role: node.create_publisher(types[role], topic,
                                        labels_qos if role == 'labels' else sensor_qos(5))
            for topic, role in roles.items()}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            pubs[s].get_subscription_count() for s in sensors):
        time.sleep(0.05)
    pipe.send('ready')
    start = time.monotonic()
    try:
        with Reader(bag) as reader:
            while not pipe.poll() and time.monotonic() - start < duration:
                bag_t0, wall_t0 = reader.start_time, time.monotonic()
                for conn, t, raw in reader.messages():
                    now = time.monotonic()
                    if now - start >= duration or pipe.poll():
                        break
                    time.sleep(max(0.0, wall_t0 + (t - bag_t0) / 1e9 - now))
                    role = roles.get(conn.topic)
                    if role is None or (role != 'labels'
                                        and role not in scheduled(sensors, now - start)):
                        continue
                    msg = deserialize_message(bytes(raw), types[role])
                    msg.header.stamp = node.get_clock().now().to_msg()
                    pubs[role].publish(msg)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


class Scoreboard:
    """Predictions vs. ground truth, by live subset; fed from the printer node's callbacks."""

    def __init__(self, sensors):
        self.sensors = tuple(sensors)
        self.lock = threading.Lock()
        self.truth = None            # (receive time, class name)
        self.last = None             # (receive time, live subset, class, probability)
        self.score = defaultdict(lambda: [0, 0])

    def on_truth(self, msg):
        with self.lock:
            self.truth = (time.monotonic(), msg.name[1][len('class/'):])

    def on_prediction(self, msg):
        v = dict(zip(msg.name, msg.position))
        live = tuple(s for s in self.sensors if v.get(f'live/{s}') == 1.0)
        probs = {n[len('class/'):]: p for n, p in v.items() if n.startswith('class/')}
        best = max(probs, key=probs.get)
        with self.lock:
            self.last = (time.monotonic(), live, best, probs[best])
            if self.truth and time.monotonic() - self.truth[0] < 0.1:
                entry = self.score[live]
                entry[0] += best == self.truth[1]
                entry[1] += 1

    def accuracy(self, min_n=1):
        """
        Return e.g. 'C+D+T+F 93% (412)  C+D 80% (120) ...'.

        Subsets with at least ``min_n`` predictions.
        """
        rows = sorted(self.score.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        return '  '.join(f'{"+".join(short(s) for s in k)} {100 * c / n:3.0f}% ({n})'
                         for k, (c, n) in rows if n >= min_n)

    def line(self, t):
        now = time.monotonic()
        with self.lock:
            fresh = self.last if self.last and now - self.last[0] < 0.5 else None
            truth = self.truth[1] if self.truth and now - self.truth[0] < 0.5 else '-'
            acc = self.accuracy(min_n=10)
        live = '+'.join(short(s) for s in fresh[1]) if fresh else 'none'
        pred = f'{fresh[2]} {fresh[3]:.2f}' if fresh else '(no prediction)'
        return f'{t:4.0f}s  {live:<16} {pred:<26} {truth:<20} {acc}'


class Printer:
    """This process's own node, spun by a thread, feeding a Scoreboard."""

    def __init__(self, board):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import JointState

        from xmodal_ros.qos import PREDICTION_QOS
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: KeyboardInterrupt
        self.node = rclpy.create_node('xmodal_demo_printer')
        self.node.create_subscription(JointState, '/xmodal/prediction', board.on_prediction,
                                      PREDICTION_QOS)
        self.node.create_subscription(JointState, load_sensor_config().labels['topic'],
                                      board.on_truth, 100)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def close(self):
        import rclpy
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown()


def main(args):
    apply_dds_defaults()
    bundle_dir = Path(args.bundle or default_bundle())
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as e:
        print(f'xmodal demo: {e}', file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix='xmodal-demo-'))
    procs = []
    ctx = mp.get_context('spawn')
    pipe, child_pipe = ctx.Pipe()
    printer = None
    try:
        from xmodal_training.sim.record import record_bag
        print(f'xmodal demo: bundle {bundle_dir} ({bundle.model_id}, classes: '
              f'{", ".join(bundle.classes)})')
        t0 = time.monotonic()
        summary = record_bag(work / 'bag', episodes=EPISODES, seed=args.seed)
        print(f'recorded {summary["episodes"]} simulated episodes ({summary["resolution"]}, '
              f'{", ".join(summary["sensors"])}, {summary["bytes"] / 1e9:.2f} GB) in '
              f'{time.monotonic() - t0:.1f} s')
        with open(work / 'fuse_node.log', 'w') as log:
            node = subprocess.Popen([sys.executable, '-m', 'xmodal_ros.cli', 'fuse', '--params',
                                     str(config_path('fuse.yaml')), '--bundle', str(bundle_dir)],
                                    stdout=log, stderr=subprocess.STDOUT)
        procs.append(node)
        sensors = tuple(bundle.sensors)
        board = Scoreboard(sensors)
        printer = Printer(board)
        replay_s = max(10.0, args.duration - (time.monotonic() - t0) - 3.0)
        replay = ctx.Process(target=_replay, name='xmodal-demo-replay',
                             args=(str(work / 'bag'), sensors, replay_s, child_pipe))
        replay.start()
        procs.append(replay)
        while not pipe.poll(0.2):
            if node.poll() is not None:
                print((work / 'fuse_node.log').read_text(), file=sys.stderr)
                print(f'xmodal demo: the fuse node exited ({node.returncode})', file=sys.stderr)
                return 1
        pipe.recv()
        print(f'fuse node up; replaying until {args.duration:g} s after start, sensors dropping '
              f'out every {SEGMENT_S:g} s (accuracy by live subset: '
              f'{", ".join(f"{short(s)} {s}" for s in sensors)})')
        print(f'{"t":>5}  {"live":<16} {"prediction":<26} {"truth":<20} accuracy (n)')
        start = time.monotonic()
        while replay.is_alive() and time.monotonic() - start < replay_s + 1:
            time.sleep(max(0.0, start + int(time.monotonic() - start) + 1 - time.monotonic()))
            print(board.line(time.monotonic() - start), flush=True)
        with board.lock:
            print(f'accuracy by live subset (predictions): {board.accuracy() or "none"}')
        print(f'done in {time.monotonic() - t0:.0f} s')
        return 0
    finally:
        if not pipe.closed:
            with contextlib.suppress(OSError):
                pipe.send('stop')
        for proc in procs:
            _end(proc)
        if printer is not None:
            printer.close()
        shutil.rmtree(work, ignore_errors=True)


def _end(proc, timeout=10):
    """Stop a child politely (SIGINT / the stop message already sent), then firmly."""
    if isinstance(proc, subprocess.Popen):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
