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
The sample rule: which instants become samples and which messages each one uses.

A sample at time t takes, per sensor, the newest message stamped <= t (windowed kinds: the newest
``window`` readings <= t, xmodal_ros.window), the rule the live node follows. Instants lie on a
regular grid inside each episode and are kept only where every stream the bag has is fresh: a
sensor's newest message younger than that sensor's timeout in the node's parameters (the node
fuses a sensor exactly while that holds), the labels younger than ``label_max_age_s``.
"""
import dataclasses

import numpy as np

from xmodal_ros.window import window_rows

NS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class SampleRule:
    """
    ``sample_hz`` 100.

    The label and tactile rate, so each sample sees a new label and tactile frame; faster would
    only repeat them, slower would drop them. ``timeouts``: sensor -> seconds, the fuse node's
    per-sensor timeouts (xmodal_ros.sensors.load_node_settings). Labels come at 100 Hz:
    ``label_max_age_s`` 0.1 tolerates gaps while episode gaps (~1 s) still separate episodes.
    ``episode_gap_s``: a silence that long splits an unlabelled bag into episodes.
    """

    sample_hz: float = 100.0
    timeouts: dict = dataclasses.field(default_factory=dict)
    label_max_age_s: float = 0.1
    episode_gap_s: float = 0.5

    def __post_init__(self):
        values = [self.sample_hz, self.label_max_age_s, self.episode_gap_s,
                  *self.timeouts.values()]
        if not all(v > 0 for v in values):
            raise ValueError(f'sample rule values must be positive: {self}')

    def max_age_ns(self, role):
        return int(round((self.timeouts[role] if role != 'labels' else self.label_max_age_s)
                         * NS))


def episode_spans(streams, labels, rule):
    """
    [(start ns, end ns, source episode index or -1)] in time order.

    Labelled: runs of equal episode index in the ground truth. Unlabelled: stretches of sensor data
    without a silence longer than ``episode_gap_s``.
    """
    if labels is not None:
        stamps, episode = labels
        order = np.argsort(stamps, kind='stable')
        stamps, episode = stamps[order], episode[order]
        cuts = np.flatnonzero(np.diff(episode) != 0) + 1
    else:
        stamps = np.sort(np.concatenate(list(streams.values())))
        episode = np.full(len(stamps), -1)
        cuts = np.flatnonzero(np.diff(stamps) > rule.episode_gap_s * NS) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(stamps)]]) - 1
    return [(int(stamps[a]), int(stamps[b]), int(episode[a])) for a, b in zip(starts, ends)]


def sample_table(streams, labels, rule, windows):
    """
    Sample instants and the messages each one uses.

    ``streams``: role -> header stamps (ns, in bag order) for each sensor present and 'labels'
    when labelled; ``labels``: (stamps, episode index) or None; ``windows``: windowed sensor ->
    readings per input. Returns arrays over samples: 't_ns', 'episode' (position in 'spans'),
    '<role>' = bag-order index of the message used (windowed: see ``window_table``), and
    'spans': ``episode_spans`` with each episode's sample count.
    """
    spans = episode_spans({r: s for r, s in streams.items() if r != 'labels'}, labels, rule)
    period = int(round(NS / rule.sample_hz))
    grids = [np.arange(start, end + 1, period, dtype=np.int64) for start, end, _ in spans]
    t = np.concatenate(grids) if grids else np.zeros(0, np.int64)
    episode = np.repeat(np.arange(len(spans)), [len(g) for g in grids])
    start = np.array([s for s, _, _ in spans], np.int64)[episode]

    keep = np.ones(len(t), bool)
    newest, orders = {}, {}
    for role, stamps in streams.items():
        max_age = rule.max_age_ns(role)
        orders[role] = np.argsort(stamps, kind='stable')
        ordered = stamps[orders[role]]
        newest[role] = np.searchsorted(ordered, t, side='right') - 1
        keep &= newest[role] >= 0
        keep &= t - ordered[np.maximum(newest[role], 0)] < max_age     # the node's `live`
        if role in windows:
            oldest = newest[role] - (windows[role] - 1)
            # the whole window belongs to this episode, never to the one before
            keep &= (oldest >= 0) & (ordered[np.maximum(oldest, 0)] >= start - max_age)
    table = {role: orders[role][idx[keep]] for role, idx in newest.items() if role not in windows}
    for role in windows:
        if role in streams:
            table[role] = newest[role][keep]
            table[f'{role}_order'] = orders[role]
    counts = np.bincount(episode[keep], minlength=len(spans))
    table.update(t_ns=t[keep], episode=episode[keep],
                 spans=[(*span, int(n)) for span, n in zip(spans, counts)])
    return table


def window_table(table, role, samples, length):
    """
    Return bag-order indices (len(samples), length) of windowed sensor ``role``'s readings.

    The readings behind ``samples``, oldest first (xmodal_ros.window.window_rows on the stamp
    order).
    """
    return table[f'{role}_order'][window_rows(table[role][samples], length)]
