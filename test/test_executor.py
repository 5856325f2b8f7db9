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
The node's executor with real rclpy subscriptions: priority while it keeps up, no starvation after.

Two subscriptions in one node, the first created served first. When the executor falls behind,
the first is ready at every wait; the second must still get its turn (a fast force stream must
not starve the IMU or the camera's encoder results).
"""
import threading
import time

import rclpy
from rclpy.context import Context
from std_msgs.msg import String

from xmodal_ros.executor import make_executor
from xmodal_ros.qos import sensor_qos


def _run(fast_hz, fast_cost_s, slow_hz, duration_s=1.5):
    """Publish on /fast and /slow; return (fast, slow) callbacks run and slow messages sent."""
    context = Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('executor_test', context=context)
        counts = {'fast': 0, 'slow': 0}

        def on_fast(_):
            counts['fast'] += 1
            time.sleep(fast_cost_s)       # a callback slower than the stream: always behind

        def on_slow(_):
            counts['slow'] += 1

        node.create_subscription(String, '/xmodal_test/fast', on_fast, sensor_qos(10))
        node.create_subscription(String, '/xmodal_test/slow', on_slow, sensor_qos(10))
        pubs = {name: node.create_publisher(String, f'/xmodal_test/{name}', sensor_qos(10))
                for name in ('fast', 'slow')}
        deadline = time.monotonic() + 10.0
        while any(p.get_subscription_count() == 0 for p in pubs.values()):
            assert time.monotonic() < deadline, 'subscriptions never matched'
            time.sleep(0.05)
        sent = {'slow': 0}
        stop = threading.Event()

        def publish():
            start = time.monotonic()
            due = {'fast': start, 'slow': start}
            rates = {'fast': fast_hz, 'slow': slow_hz}
            while not stop.is_set():
                t = time.monotonic()
                for name, rate in rates.items():
                    if t >= due[name]:
                        pubs[name].publish(String(data=name))
                        sent[name] = sent.get(name, 0) + 1
                        due[name] += 1.0 / rate
                time.sleep(max(0.0, min(due.values()) - time.monotonic()))

        executor = make_executor(context)
        executor.add_node(node)
        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        end = time.monotonic() + duration_s
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        stop.set()
        publisher.join()
        executor.shutdown()
        node.destroy_node()
        return counts['fast'], counts['slow'], sent['slow']
    finally:
        rclpy.shutdown(context=context)


def test_a_stream_the_executor_cannot_keep_up_with_does_not_starve_the_next():
    fast, slow, slow_sent = _run(fast_hz=1000.0, fast_cost_s=0.002, slow_hz=50.0)
    assert fast > 100, f'the fast stream ran only {fast} callbacks'
    # Each slow message waits at most one fast callback once the executor is behind.
    assert slow >= 0.7 * slow_sent, f'{slow} of {slow_sent} slow messages taken'


def test_both_streams_served_when_the_executor_keeps_up():
    fast, slow, slow_sent = _run(fast_hz=200.0, fast_cost_s=0.0, slow_hz=50.0)
    assert fast > 100 and slow >= 0.7 * slow_sent, (fast, slow, slow_sent)
