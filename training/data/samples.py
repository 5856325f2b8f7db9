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
Bags -> time-window samples as numpy arrays, for any mix of sensor subsets (no torch).

Sample contract (also the trainer's, through ``BagDataset``): one entry per configured sensor
shaped as its ``SensorSpec.input_shape`` (zeros where the bag lacks the sensor), ``present`` bool
(S,) with a column per sensor in the order asked for (default: the configuration's order),
``label`` int64 (-1 unlabelled), ``phase`` int64 (-1 unlabelled), ``target`` float32 (R,) (NaN
where unknown), ``episode`` int64 (unique across the dataset) and ``index`` int64 (the sample's
position, stable for a given bag list and settings).

``batch(indices)`` builds a whole batch with a few array gathers per bag, without per-sample
Python. Evaluating an exported bundle reads samples here without importing torch.
"""
import dataclasses
import operator

import numpy as np

from xmodal_ros.sensors import load_sensor_config
from xmodal_training.data.cache import load_caches
from xmodal_training.data.windows import SampleRule


class BagSamples:
    """
    Samples of ``bags`` (rosbag2 folders or .mcap/.db3 files), decoded once into the cache.

    ``config``: sensors.yaml path or SensorConfig (default: the package's config/sensors.yaml):
    its sensors and their preprocessing, which a bundle records; ``rule``: the sample rule, whose
    per-sensor timeouts default to each kind's node defaults; ``cache_dir``: overrides
    $XMODAL_CACHE / ~/.cache/xmodal; ``workers``: decoding processes besides this one (default:
    one per further CPU for large bags; 0: this process alone).

    Besides samples it holds ``classes``, ``phases``, ``targets`` (name tuples, the union over the
    bags), ``bag_sensors`` (per bag, the sensors it records), ``episodes`` (per episode id: bag,
    source index, start/end ns, sample count), ``caches`` (per bag, the memory-mapped arrays) and
    per-sample numpy arrays for splitting and weighting: ``sample_bag``,
    ``t_ns``, ``label``, ``phase``, ``target``, ``episode``; ``present`` is per bag (B, S).
    """

    def __init__(self, bags, config=None, rule=None, cache_dir=None, workers=None):
        if not bags:
            raise ValueError('BagSamples needs at least one bag')
        self.config = load_sensor_config(config)
        rule = rule or SampleRule()
        timeouts = {s: rule.timeouts.get(s, spec.kind.node_defaults['timeout'])
                    for s, spec in self.config.sensors.items()}
        self.rule = rule = dataclasses.replace(rule, timeouts=timeouts)
        self.sensors = self.config.names
        self.params = {s: spec.params for s, spec in self.config.sensors.items()}
        self.bags = [str(b) for b in bags]
        self.caches = load_caches(self.bags, self.config, rule, cache_dir, workers)
        self.shapes = {s: spec.input_shape for s, spec in self.config.sensors.items()}
        self.bag_sensors = [c.sensors for c in self.caches]
        self.classes = _union(c.meta['classes'] for c in self.caches)
        self.phases = _union(c.meta['phases'] for c in self.caches)
        self.targets = _union(c.meta['targets'] for c in self.caches)
        self.offsets = np.cumsum([0] + [len(c) for c in self.caches])
        self.present = np.array([[s in c.sensors for s in self.sensors] for c in self.caches],
                                bool)

        # Per-sample scalars, in memory and in the dataset's name lists.
        self.episodes = []       # global episode id -> where it came from
        bag, t_ns, label, phase, target, episode = [], [], [], [], [], []
        for b, c in enumerate(self.caches):
            a = c.arrays
            bag.append(np.full(len(c), b))
            t_ns.append(a['t_ns'])
            label.append(_remap(a['label'], c.meta['classes'], self.classes))
            phase.append(_remap(a['phase'], c.meta['phases'], self.phases))
            t = np.full((len(c), len(self.targets)), np.nan, np.float32)
            t[:, [self.targets.index(n) for n in c.meta['targets']]] = a['target']
            target.append(t)
            episode.append(a['episode'] + len(self.episodes))
            self.episodes += [dict(e, bag=self.bags[b]) for e in c.meta['episodes']]
        self.sample_bag = np.concatenate(bag)
        self.t_ns = np.concatenate(t_ns)
        self.label = np.concatenate(label)
        self.phase = np.concatenate(phase)
        self.target = np.concatenate(target)
        self.episode = np.concatenate(episode)

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, i):
        i = operator.index(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f'sample {i} out of range for {len(self)} samples')
        return {k: v[0] for k, v in self.batch([i % len(self)]).items()}

    def batch(self, indices, sensors=None):
        """
        Return samples ``indices`` stacked along a first batch dimension, as one dict of arrays.

        ``sensors``: which sensors (and ``present`` columns), in that order (default: all).
        """
        sensors = self.sensors if sensors is None else tuple(sensors)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and not (0 <= idx.min() and idx.max() < len(self)):
            raise IndexError(f'indices outside [0, {len(self)})')
        bag = self.sample_bag[idx]
        groups = [(b, np.flatnonzero(bag == b)) for b in np.unique(bag)]
        result = {}
        for s in sensors:
            have = [(b, rows) for b, rows in groups if s in self.caches[b].sensors]
            if len(have) == 1 and len(have[0][1]) == len(idx):     # one bag holds the batch
                x = self._gather(have[0][0], s, idx)
            else:
                x = np.zeros((len(idx), *self.shapes[s]), np.float32)
                for b, rows in have:
                    x[rows] = self._gather(b, s, idx[rows])
            result[s] = x
        result.update(present=self.present[bag][:, [self.sensors.index(s) for s in sensors]],
                      label=self.label[idx], phase=self.phase[idx], target=self.target[idx],
                      episode=self.episode[idx], index=idx)
        return result

    def _gather(self, b, sensor, idx):
        a, local = self.caches[b].arrays, idx - self.offsets[b]
        if self.config[sensor].kind.windowed:
            return np.asarray(a[sensor][local])
        return np.asarray(a[sensor][a[f'{sensor}_idx'][local]])


def _union(lists):
    out = []
    for names in lists:
        out += [n for n in names if n not in out]
    return tuple(out)


def _remap(values, names, into):
    """Map indices into ``names`` to indices into ``into``; -1 stays -1."""
    lookup = np.array([into.index(n) for n in names] + [-1], np.int64)
    return lookup[values]
