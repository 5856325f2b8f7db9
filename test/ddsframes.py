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
Full-size camera frames over best-effort DDS: how many of N sent frames arrive.

A publisher and a subscriber, each its own process (as a camera driver and the fuse node are),
exchange 640x480 rgb8 images (900 KiB) at 30 Hz with REP-2003 sensor-data QoS (best effort), the
subscriber with the fuse node's camera QoS. Each frame carries its index, so distinct intact
frames are counted. Run without a profile, with config/fastdds.xml under each of the two profile
variables alone (Fast DDS 3 reads FASTDDS_..., 2.x FASTRTPS_...), and under both:

    python test/ddsframes.py [--frames 150] [--repeats 2]

prints one line per run. Used by test_dds_frames.py; the README's numbers come from this script.
"""
import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / 'config' / 'fastdds.xml'
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
# (xmodal_ros.dds sets the one the installed Fast DDS reads)
TOPIC = '/xmodal_test/frames'
WIDTH, HEIGHT, RATE_HZ = 640, 480, 30.0


def distro():
    """
    ROS distribution of this rclpy.

    ROS_DISTRO on installs, else told by the PyPI wheel's rclpy version (7.x Jazzy, 9.x Kilted).
    """
    if os.environ.get('ROS_DISTRO'):
        return os.environ['ROS_DISTRO']
    from importlib.metadata import PackageNotFoundError, version
    try:
        rclpy = version('ros-rclpy')
    except PackageNotFoundError:
        return 'unknown'
    name = {'7': 'jazzy', '9': 'kilted'}.get(rclpy.split('.')[0], 'unknown')
    return f'{name} (rclpy {rclpy})'


def _node(name):
    import rclpy
    rclpy.init()
    return rclpy, rclpy.create_node(name)


def publish(frames):
    """Wait for the subscriber, send ``frames`` images at RATE_HZ, return 0."""
    import numpy as np
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    rclpy, node = _node('xmodal_frames_pub')
    pub = node.create_publisher(Image, TOPIC, qos_profile_sensor_data)
    deadline = time.monotonic() + 20.0
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                       # let both ends finish matching their transports
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    start = time.monotonic()
    for i in range(frames):
        pixels[0, 0, :] = (i & 0xFF, i >> 8, 0x5A)
        msg = Image(height=HEIGHT, width=WIDTH, encoding='rgb8', is_bigendian=0, step=WIDTH * 3)
        msg.data = pixels.tobytes()
        pub.publish(msg)
        time.sleep(max(0.0, start + (i + 1) / RATE_HZ - time.monotonic()))
    time.sleep(0.5)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def subscribe():
    """Count distinct intact frames until SIGINT; print 'ready', then the count."""
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import Image

    from xmodal_ros.kinds import get_kind
    from xmodal_ros.qos import sensor_qos
    rclpy, node = _node('xmodal_frames_sub')
    seen = set()

    def on_frame(msg):
        if len(msg.data) == WIDTH * HEIGHT * 3 and msg.data[2] == 0x5A:
            seen.add(msg.data[0] | msg.data[1] << 8)

    node.create_subscription(Image, TOPIC, on_frame,
                             sensor_qos(get_kind('rgb').node_defaults['queue_depth']))
    print('ready', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    print(len(seen), flush=True)
    return 0


def profile_env(variables):
    """
    Return this environment with ``PROFILE`` under ``variables``, no other profile variable.

    No ``variables``: Fast DDS's defaults.
    """
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    env.update(dict.fromkeys(variables, str(PROFILE)))
    return env


def measure(frames, env):
    """Return how many of ``frames`` arrive, publisher and subscriber both run with ``env``."""
    cmd = [sys.executable, str(Path(__file__).resolve())]
    sub = subprocess.Popen(cmd + ['sub'], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        if sub.stdout.readline().strip() != 'ready':
            raise RuntimeError(f'frame subscriber failed: {sub.communicate()[1]}')
        pub = subprocess.run(cmd + ['pub', '--frames', str(frames)], env=env, timeout=60,
                             capture_output=True, text=True)
        if pub.returncode != 0:
            raise RuntimeError(f'frame publisher failed ({pub.returncode}): {pub.stderr}')
        sub.send_signal(signal.SIGINT)
        out, err = sub.communicate(timeout=15)
        return int(out.split()[-1])
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.communicate()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('role', nargs='?', choices=('pub', 'sub', 'compare'), default='compare')
    parser.add_argument('--frames', type=int, default=150)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args(argv)
    if args.role == 'pub':
        return publish(args.frames)
    if args.role == 'sub':
        return subscribe()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    for r in range(args.repeats):
        for variables in ((), *((v,) for v in PROFILE_VARIABLES), PROFILE_VARIABLES):
            got = measure(args.frames, profile_env(variables))
            where = ' + '.join(variables) or 'no profile'
            print(f'{distro()}: {where}: {got} of {args.frames} frames arrived (run {r + 1})',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
