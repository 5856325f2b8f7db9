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

"""The fuse node's executor: one thread that re-waits after every callback."""
from rclpy.executors import SingleThreadedExecutor


class OrderedExecutor(SingleThreadedExecutor):
    """
    A SingleThreadedExecutor that looks at what is ready again after every callback, fairly.

    rclpy's executors run every entity that one wait found ready before waiting again, so a force
    reading that arrives while a camera frame is being taken (~0.5 ms) waited for the depth frame
    of the same wait as well. Starting each callback from a fresh wait means the first ready
    subscription in creation order runs next, and the node creates its subscriptions cheapest
    first. It costs one more wait-set pass only where a wait found several entities ready.

    Priority alone starves: once the executor falls behind a stream (a slow moment of the
    machine), that stream is ready at every wait and nothing created after it runs (force at
    250 Hz left the IMU stale and the encoder's results unapplied). So when two fresh waits in a
    row start with the same entity, the second wait's list is run to its end, as rclpy would:
    under load every ready entity gets one turn per two of the hog's.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._first = None          # the entity the latest fresh wait yielded first
        self._finish_list = False   # run the current wait's list to its end

    def wait_for_ready_callbacks(self, *args, **kwargs):
        before = getattr(self, '_cb_iter', None)
        handler, entity, node = super().wait_for_ready_callbacks(*args, **kwargs)
        if getattr(self, '_cb_iter', None) is not before:      # from a fresh wait
            self._finish_list = entity is self._first
            self._first = entity
        return handler, entity, node

    def _spin_once_impl(self, *args, **kwargs):     # its signature differs between distros
        try:
            super()._spin_once_impl(*args, **kwargs)
        finally:
            # rclpy keeps the rest of the last wait's list in _cb_iter (every distro since Foxy);
            # where it does not, this is a plain SingleThreadedExecutor.
            ready = getattr(self, '_cb_iter', None)
            if ready is not None and not self._finish_list:
                self._cb_iter = None
                ready.close()


def make_executor(context=None):
    """
    Return the node's executor: one thread (OrderedExecutor).

    Measured on 2 cores (xmodal bench fuse): a MultiThreadedExecutor with 2 threads and a callback
    group per sensor and for the tick cost 79 % of a core instead of 52 %, with p99 input->publish
    24 ms instead of 8 ms (GIL hand-offs; 47 missed cycles in 12 s instead of 2); the experimental
    EventsExecutor hung with this lifecycle node and has no guard conditions (the encoder thread
    hands results back through one).
    """
    return OrderedExecutor(context=context)
