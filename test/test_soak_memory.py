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
Check the node's memory under a storm of malformed messages.

The fast, in-process part of `xmodal bench soak`: nothing the node keeps grows with the messages
it drops, and freed heap holes left by odd-sized images go back to the system.
"""
import subprocess
import sys
import textwrap
import tracemalloc

from bundles import make_bundle
import pytest
from rosproc import valid_message, write_params

from xmodal_ros.allocator import release_free_memory
from xmodal_training.bench.messages import set_stamp

STORM = 3000                 # malformed messages measured (after as many to warm up)
BOUND_BYTES = 256 * 1024     # Python memory the node may gain over them


def _node(tmp_path):
    import rclpy
    from rclpy.context import Context

    from xmodal_ros.fuse_node import FuseNode
    bundle = make_bundle(tmp_path / 'bundle')
    # Camera and depth encoded on arrival: one thread, so the test needs no executor.
    params = write_params(tmp_path / 'fuse.yaml', {'bundle': str(bundle),
                                                   'camera.encode': 'arrival',
                                                   'depth.encode': 'arrival'})
    ctx = Context()
    rclpy.init(context=ctx, args=['--ros-args', '--params-file', str(params)])
    node = FuseNode(context=ctx)
    assert node.start(), node.error
    return node


def test_a_storm_grows_nothing_and_every_message_is_counted(tmp_path):
    """
    Thousands of malformed messages of every fault on every sensor.

    Then two that quote a megabyte (encoding, joint names): the node's Python memory stays within a
    bound, each one is counted and dropped, and it keeps predicting from all six sensors.
    """
    import rclpy

    from xmodal_training.bench.storm import StormMaker
    node = _node(tmp_path)
    try:
        slots = node._slots
        storm = StormMaker({s: sl.spec for s, sl in slots.items()}, seed=7)
        names = list(slots)
        sent = dict.fromkeys(names, 0)
        last = dict.fromkeys(names, 0)
        valid = {s: valid_message(s, 1) for s in names}

        def feed(n):
            for i in range(n):
                for s in names:            # one valid message per sensor per storm message
                    stamp = last[s] = max(node.get_clock().now().nanoseconds, last[s] + 1)
                    set_stamp(valid[s], stamp)
                    node._on_message(slots[s], valid[s], {})
                s = names[i % len(names)]
                msg, _ = storm.make(s, node.get_clock().now().nanoseconds)
                node._on_message(slots[s], msg, {})
                sent[s] += 1
        feed(STORM)                        # warm-up: caches, rings, first reasons
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            feed(STORM)
            now = node.get_clock().now().nanoseconds
            huge = valid_message('camera', now + 1)
            huge.encoding = 'x' * 1_000_000
            node._on_message(slots['camera'], huge, {})
            joints = valid_message('finger_joints', now + 1)
            joints.name = ['j' * 500_000, 'k' * 500_000]
            node._on_message(slots['finger_joints'], joints, {})
            sent['camera'] += 1
            sent['finger_joints'] += 1
            del huge, joints               # the test's own references
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        health = node._liveness.sensors
        assert {s: health[s].malformed for s in names} == sent
        assert grown < BOUND_BYTES, f'the node kept {grown} bytes over {STORM} malformed messages'
        assert 'x' * 100 in health['camera'].last_malformed       # the reason still says why
        assert all(len(h.last_malformed) <= 300 for h in health.values())
        now = node.get_clock().now().nanoseconds
        assert node.live_sensors(now) == names
        assert node.stats.published > 0
    finally:
        ctx = node.context
        node.destroy_node()
        rclpy.shutdown(context=ctx)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc heap, /proc')
def test_release_free_memory_returns_heap_holes():
    """
    Image-sized blocks of random sizes, freed between small live ones.

    Leave holes that the heap keeps under the node's allocator settings; release_free_memory hands
    their pages back. (A fresh process: the allocator settings are process-wide.)
    """
    if not release_free_memory():
        pytest.skip('no malloc_trim (not glibc)')
    code = textwrap.dedent("""
        import numpy as np
        from xmodal_ros.allocator import keep_large_allocations, release_free_memory

        def private_mb():
            with open('/proc/self/smaps_rollup') as f:
                return sum(int(line.split()[1]) for line in f
                           if line.startswith('Private_')) / 1e3
        keep_large_allocations()
        rng = np.random.default_rng(0)
        live, small = [], []
        base = private_mb()
        for i in range(3000):
            live.append(np.ones(int(rng.integers(1, 1_250_000)), np.uint8))
            if len(live) > 8:
                live.pop(int(rng.integers(len(live))))
            if i % 20 == 0:
                small.append(np.ones(int(rng.integers(100, 5000)), np.uint8))
        live.clear()
        held = private_mb()
        release_free_memory()
        print(base, held, private_mb())
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    base, held, after = map(float, out.stdout.split())
    assert held - base > 8.0, (base, held)          # the churn did leave holes behind
    assert after - base < 0.25 * (held - base), (base, held, after)
