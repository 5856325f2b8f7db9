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
What the fuse node measures about itself, and its /diagnostics message.

Latencies are kept as raw samples in fixed rings (no allocation per sample), so /diagnostics can
show recent percentiles and the benchmark can read every sample of a run.
"""
import dataclasses

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np

OK, WARN = DiagnosticStatus.OK, DiagnosticStatus.WARN


class LatencyWindow:
    """The newest ``capacity`` samples of one latency, in milliseconds."""

    def __init__(self, capacity):
        self._buf = np.empty(int(capacity), np.float64)   # only [:count] is ever read
        self.count = 0

    def add(self, ms):
        self._buf[self.count % self._buf.size] = ms
        self.count += 1

    def values(self):
        """Return the samples still held, oldest first."""
        n = min(self.count, self._buf.size)
        start = self.count % self._buf.size if self.count > self._buf.size else 0
        return np.roll(self._buf[:n], -start)

    def percentiles(self, qs=(50, 99)):
        """
        Percentiles of the samples held.

        One partial sort of the buffer as it lies (their order does not matter), so /diagnostics
        costs the executor thread little.
        """
        n = min(self.count, self._buf.size)
        if not n:
            return (None,) * len(qs)
        return tuple(float(x) for x in np.percentile(self._buf[:n], qs))


@dataclasses.dataclass
class FuseStats:
    """
    Counters and latency windows of one activation of the node (reset on activate).

    Latency names: ``e2e`` publish time - newest input stamp of each prediction; ``arrival``
    publish time - callback entry of that newest input; ``fuse`` fusion head run;
    ``encode/<sensor>`` preprocess + encoder run of one message; ``to_prediction/<sensor>``
    publish time - stamp, for each encoded message, at the first prediction that contains it;
    ``path/<stage>`` one prediction's input->publish split over its newest input's path
    (delivery, executor, convert, preprocess, encode, wait, fuse, publish; they add up to
    ``e2e``). ``superseded``: per sensor, messages the encoder thread skipped because a newer one
    of the same sensor arrived before their turn. ``tick_starts``: ticks started by a message
    taken in ('message'), by encoder-thread results ('encoder') or by the fallback timer ('timer').
    """

    capacity: int
    ticks: int = 0
    published: int = 0
    missed_cycles: int = 0
    idle_ticks: int = 0
    latency: dict = dataclasses.field(default_factory=dict)
    superseded: dict = dataclasses.field(default_factory=dict)
    tick_starts: dict = dataclasses.field(default_factory=dict)

    def window(self, name):
        w = self.latency.get(name)
        if w is None:
            w = self.latency[name] = LatencyWindow(self.capacity)
        return w


def _fmt(x, unit=''):
    return 'n/a' if x is None else f'{x:.3f}{unit}'


def _kv(values):
    return [KeyValue(key=k, value=str(v)) for k, v in values]


def build_array(node_name, stamp, model_id, backend, stats, liveness, live, topics, now_ns):
    """
    DiagnosticArray: one status for the prediction loop.

    One per enabled sensor (``topics``: sensor -> topic of each enabled sensor).
    """
    statuses = []
    enabled = list(topics)
    e2e = stats.window('e2e').percentiles()
    values = [('model_id', model_id), ('backend', backend),
              ('live_sensors', ','.join(live) or 'none'),
              ('predictions_published', stats.published), ('missed_cycles', stats.missed_cycles),
              ('e2e_latency_p50_ms', _fmt(e2e[0])), ('e2e_latency_p99_ms', _fmt(e2e[1]))]
    fuse = stats.window('fuse').percentiles()
    values += [('inference_fuse_p50_ms', _fmt(fuse[0])), ('inference_fuse_p99_ms', _fmt(fuse[1]))]
    for s in enabled:
        enc = stats.window(f'encode/{s}').percentiles()
        values += [(f'inference_encode_{s}_p50_ms', _fmt(enc[0])),
                   (f'inference_encode_{s}_p99_ms', _fmt(enc[1]))]
    if live:
        level, message = OK, f'predicting from {len(live)} live sensor(s): {", ".join(live)}'
    else:
        level, message = WARN, 'no sensor live: not publishing predictions'
    statuses.append(DiagnosticStatus(level=level, name=f'{node_name}: prediction', message=message,
                                     hardware_id=model_id, values=_kv(values)))
    for s in enabled:
        h = liveness.sensors[s]
        age = liveness.age_s(s, now_ns)
        is_live = s in live
        if is_live:
            level, message = OK, 'live'
        elif age is None:
            level, message = WARN, f'stale: no valid message yet on {topics[s]}'
        else:
            level, message = WARN, (f'stale: newest message is {age:.3f} s old '
                                    f'(timeout {h.timeout_ns / 1e9:g} s)')
        if h.encode_failing:
            level = WARN
            message = f'not fused: its newest encode failed ({h.last_encode_error}); ' + message
        if h.malformed and h.last_malformed:
            message += f'; {h.malformed} dropped, last: {h.last_malformed}'
        lat = stats.window(f'to_prediction/{s}').percentiles()
        statuses.append(DiagnosticStatus(
            level=level, name=f'{node_name}: {s}', message=message, hardware_id=topics[s],
            values=_kv([('topic', topics[s]), ('live', is_live), ('rate_hz', f'{h.rate_hz:.2f}'),
                        ('age_s', _fmt(age)), ('accepted', h.accepted), ('malformed', h.malformed),
                        ('last_malformed', h.last_malformed or 'none'),
                        ('encode_failures', h.encode_failures),
                        ('last_encode_error', h.last_encode_error or 'none'),
                        ('to_prediction_p50_ms', _fmt(lat[0])),
                        ('to_prediction_p99_ms', _fmt(lat[1]))])))
    msg = DiagnosticArray(status=statuses)
    msg.header.stamp = stamp
    return msg
