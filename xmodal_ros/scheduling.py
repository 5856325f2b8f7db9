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
When the fuse node fuses, and where it encodes: fusion due times, and the encoder thread.

``TickSchedule``: the fixed rate as due times, one every period. A tick may run any time at or
after a due time; it serves the newest due time not after it, and each due time that passed with
no tick of its own before the next one is a missed cycle.

``EncoderThread``: one thread that preprocesses and encodes camera-sized messages outside the
executor thread, so a fusion tick never queues behind them. ONNX Runtime and TensorRT release the
GIL while a graph runs (and numpy while it filters an image), so the executor thread runs
callbacks meanwhile. It keeps only the newest job per sensor (a frame superseded before its turn
is skipped, as a subscription of depth 1 would) and hands results back through a queue; the node
applies them on its executor thread, so sensor state only ever changes on that one thread.
"""
import collections
import threading


class TickSchedule:
    """Due times ``first_due_ns + k * period_ns`` (node clock, ns)."""

    def __init__(self, period_ns, first_due_ns):
        self.period_ns = int(period_ns)
        self.next_due_ns = int(first_due_ns)

    def due(self, now_ns):
        """Return whether a due time has passed without its tick."""
        return now_ns >= self.next_due_ns

    def serve(self, now_ns):
        """
        Mark the newest due time <= ``now_ns`` as served by a tick running now.

        Returns how many earlier due times passed without one (missed cycles). Call only when
        ``due(now_ns)``.
        """
        missed = (now_ns - self.next_due_ns) // self.period_ns
        self.next_due_ns += (missed + 1) * self.period_ns
        return missed


class EncoderThread:
    """
    Runs ``work(job) -> result`` on one background thread, newest job per key first-come.

    ``notify()`` is called (on the thread) after each result is queued; ``results()`` drains them.
    ``work`` must not raise: a failure is a result like any other.
    """

    def __init__(self, work, notify, name='xmodal-encoder'):
        self._work, self._notify = work, notify
        self._cv = threading.Condition()
        self._pending = {}                       # key -> job, oldest key first
        self._results = collections.deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, key, job):
        """Queue ``job``; returns the job of the same key it replaced (never started), or None."""
        with self._cv:
            old = self._pending.pop(key, None)
            self._pending[key] = job
            self._cv.notify()
        return old

    def results(self):
        """Results finished since the last call, in the order they finished."""
        out = []
        while self._results:
            out.append(self._results.popleft())
        return out

    def _loop(self):
        while True:
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                key = next(iter(self._pending))
                job = self._pending.pop(key)
            self._results.append(self._work(job))
            self._notify()

    def stop(self, timeout=5.0):
        """Drop queued jobs, let the running one finish, and join the thread."""
        with self._cv:
            self._stopping = True
            self._pending.clear()
            self._cv.notify()
        self._thread.join(timeout)
        self._results.clear()
