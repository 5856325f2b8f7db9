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
Which sensors are live: per-sensor timeouts on message stamps, and the counters diagnostics show.

A sensor is live while its newest accepted message is younger than that sensor's own timeout,
age measured as (node clock now - header stamp), so transport delay counts against it and a
replay under ``use_sim_time`` behaves like the robot. A message is refused before it touches any
state if its stamp is unset, not newer than the sensor's previous one (out of order or repeated),
or further in the future than ``future_tolerance`` (a clock that is off).
"""
import dataclasses
from typing import Optional

NS = 1_000_000_000
# Longest reason kept per sensor. A reason quotes the message (its encoding, joint names): a
# sender may put a megabyte there, which would be held and republished on /diagnostics each
# period. Counting and dropping never depend on the text.
MAX_REASON_CHARS = 300


def _short(reason):
    if len(reason) <= MAX_REASON_CHARS:
        return reason
    return f'{reason[:MAX_REASON_CHARS - 40]}... ({len(reason)} characters)'


@dataclasses.dataclass
class SensorHealth:
    timeout_ns: int
    newest_stamp_ns: int = 0          # 0: nothing accepted yet
    accepted: int = 0
    malformed: int = 0
    last_malformed: str = ''
    encode_failures: int = 0          # accepted messages whose preprocessing or encoder failed
    last_encode_error: str = ''
    encode_failing: bool = False      # the newest encode failed: no tokens to fuse until one works
    rate_hz: float = 0.0              # accepted messages per second over the last rate window
    _rate_count: int = 0
    _rate_since_ns: Optional[int] = None   # start of the current rate window


class Liveness:
    """Per-sensor stamp checks, timeouts and counters; every time is node-clock nanoseconds."""

    def __init__(self, timeouts_s, future_tolerance_s=0.5):
        self.sensors = {name: SensorHealth(timeout_ns=int(t * NS))
                        for name, t in timeouts_s.items()}
        self.future_tolerance_ns = int(future_tolerance_s * NS)

    def check_stamp(self, sensor, stamp_ns, now_ns, in_flight_ns=0):
        """
        Why a message with this stamp must be dropped, or None if it may be used.

        ``in_flight_ns``: stamp of a message of this sensor taken in but not accepted yet (being
        encoded on another thread); the new one must be newer than that one too.
        """
        h = self.sensors[sensor]
        if stamp_ns <= 0:
            return 'header stamp is zero (unset); stamp messages with the capture time'
        if stamp_ns > now_ns + self.future_tolerance_ns:
            return (f'stamp is {(stamp_ns - now_ns) / NS:.3f} s in the future (tolerance '
                    f"{self.future_tolerance_ns / NS:g} s): is the sender's clock synchronised?")
        previous = max(h.newest_stamp_ns, in_flight_ns)
        if stamp_ns <= previous:
            return (f"stamp is not newer than the previous message's (by "
                    f'{(previous - stamp_ns) / 1e6:.3f} ms): out of order or repeated')
        return None

    def accept(self, sensor, stamp_ns):
        h = self.sensors[sensor]
        h.newest_stamp_ns = stamp_ns
        h.accepted += 1
        h._rate_count += 1

    def reject(self, sensor, reason):
        h = self.sensors[sensor]
        h.malformed += 1
        h.last_malformed = _short(reason)

    def encode_failed(self, sensor, reason):
        h = self.sensors[sensor]
        h.encode_failures += 1
        h.last_encode_error = _short(reason)
        h.encode_failing = True

    def encoded(self, sensor):
        self.sensors[sensor].encode_failing = False

    def age_s(self, sensor, now_ns):
        """Seconds since the newest accepted stamp, or None if nothing was accepted yet."""
        h = self.sensors[sensor]
        return (now_ns - h.newest_stamp_ns) / NS if h.newest_stamp_ns else None

    def is_live(self, sensor, now_ns):
        h = self.sensors[sensor]
        return h.newest_stamp_ns > 0 and now_ns - h.newest_stamp_ns < h.timeout_ns

    def update_rates(self, now_ns):
        """Recompute every sensor's rate over the time since the previous call (diagnostics)."""
        for h in self.sensors.values():
            if h._rate_since_ns is not None:
                h.rate_hz = h._rate_count * NS / max(now_ns - h._rate_since_ns, 1)
            h._rate_count, h._rate_since_ns = 0, now_ns
