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
Confidence intervals over episodes: a cluster bootstrap.

Samples of one episode are strongly correlated (25 a second of the same grasp), so the unit of
resampling is the episode: a resample draws as many episodes as there are, with replacement, and
a statistic is recomputed as a ratio (sum over the drawn episodes' samples / their count). Every
statistic on the same episodes uses the same draws, so a difference between two models is a
paired interval, not two intervals compared by eye. Percentile intervals.
"""
import numpy as np

N_BOOT = 2000
LEVEL = 0.95


class EpisodeBootstrap:
    """
    ``n_boot`` resamples of ``episodes`` (the ids of the episodes a statistic ranges over).

    The draws depend on the episode ids and ``seed`` alone, so two models evaluated on the same
    episodes share them.
    """

    def __init__(self, episodes, n_boot=N_BOOT, seed=0, level=LEVEL):
        self.episodes = np.unique(np.asarray(episodes, np.int64))
        if self.episodes.size == 0:
            raise ValueError('a bootstrap over episodes needs at least one episode')
        n = self.episodes.size
        rng = np.random.default_rng([seed, n, int(self.episodes.sum()) % (1 << 32)])
        self.weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
        self.n_boot, self.level = n_boot, level

    def _sums(self, episode, values):
        """Per-episode sums of ``values`` and counts, in ``self.episodes`` order."""
        episode = np.asarray(episode, np.int64)
        at = np.searchsorted(self.episodes, episode)
        inside = at < self.episodes.size
        if not inside.all() or np.any(self.episodes[at[inside]] != episode):
            raise ValueError('values from an episode outside this bootstrap')
        n = self.episodes.size
        sums = np.bincount(at, weights=np.asarray(values, np.float64), minlength=n)
        return sums, np.bincount(at, minlength=n).astype(np.float64)

    def _draws(self, episode, values):
        sums, counts = self._sums(episode, values)
        with np.errstate(invalid='ignore', divide='ignore'):
            return sums.sum() / counts.sum(), (self.weights @ sums) / (self.weights @ counts)

    def _interval(self, estimate, draws):
        tail = 100 * (1 - self.level) / 2
        lo, hi = np.nanpercentile(draws, [tail, 100 - tail])
        return {'estimate': float(estimate), 'ci': [float(lo), float(hi)]}

    def mean(self, episode, values):
        """
        Mean of per-sample ``values`` with its interval.

        ``episode``: each sample's episode id. Returns {'estimate', 'ci': [lo, hi]}.
        """
        return self._interval(*self._draws(episode, values))

    def difference(self, a, b):
        """
        Paired interval of mean(a) - mean(b).

        ``a``, ``b``: (episode, values) of two models on these episodes (their samples need not
        match one to one).
        """
        (ea, da), (eb, db) = self._draws(*a), self._draws(*b)
        return self._interval(ea - eb, da - db)
