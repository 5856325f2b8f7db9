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
What CROMA does to data before the model sees it.

Alignment pairs (strong or weak) and N-way K-shot episodes with a class split that meta-training
cannot cross.

Strong pairs (main paper; appendix Def. 5): one-to-one, a source and a target sample recorded at
the same instant (same episode, same step). Weak pairs (appendix §11, §11.1): only sets
correspond. The sets are found by k-means with S ~ sqrt(N) clusters (Eq. 7), either on a key both
sensors share (clusters are then matched by construction) or per sensor, with the clusters matched
through a few anchor pairs; a pair is any source member and any target member of matched
clusters. In-cluster
variance (rho^2 in §11) is the price: the pairing is right only up to the cluster.

All indices are positions in the caller's source / target arrays; nothing here touches tensors of
inputs, so the same code serves synthetic arrays and bag samples.
"""
import dataclasses
import math

import numpy as np


class FewShotError(ValueError):
    """Input that cannot make the episodes or pairs asked for; the message names it and the fix."""


# ---------------------------------------------------------------- episodes

@dataclasses.dataclass
class Episode:
    """
    One N-way K-shot task.

    Positions of support and query examples and their episode labels 0..N-1 (``classes[i]`` is the
    original class of label i).
    """

    classes: np.ndarray
    support: np.ndarray
    support_y: np.ndarray
    query: np.ndarray
    query_y: np.ndarray


def check_split(train_classes, test_classes):
    """Meta-training and meta-test classes must be disjoint (the point of few-shot evaluation)."""
    both = sorted(set(np.asarray(train_classes).tolist()) & set(np.asarray(test_classes).tolist()))
    if both:
        raise FewShotError(f'class(es) {both} are both meta-training and held-out classes; '
                           'give disjoint class sets')


class EpisodeSampler:
    """
    N-way K-shot episodes over ``classes`` of one labelled pool.

    Support and query of an episode are drawn without replacement from one permutation of each
    class's examples, so a query example is never in its episode's support; only examples whose
    label is in ``classes`` are ever returned, so a meta-training sampler cannot see held-out
    classes. ``name`` says which pool it is in error messages (e.g. 'tactile, held-out classes').
    """

    def __init__(self, labels, classes, n_way, shots, n_query, name='pool'):
        labels = np.asarray(labels)
        self.classes = np.array(sorted(set(np.asarray(classes).tolist())))
        self.n_way, self.shots, self.n_query, self.name = n_way, shots, n_query, name
        if shots < 1 or n_query < 1:
            raise FewShotError(f'{name}: shots={shots}, n_query={n_query}; both must be >= 1')
        if n_way > len(self.classes):
            raise FewShotError(
                f'{name}: n_way={n_way} is larger than its {len(self.classes)} class(es) '
                f'{self.classes.tolist()}; use n_way <= {len(self.classes)} or hold out more '
                'classes')
        self.members = {int(c): np.flatnonzero(labels == c) for c in self.classes}
        need = shots + n_query
        short = {c: len(m) for c, m in self.members.items() if len(m) < need}
        if short:
            detail = ', '.join(f'class {c}: {n}' for c, n in sorted(short.items()))
            raise FewShotError(
                f'{name}: an episode needs {shots} shots + {n_query} queries = {need} examples '
                f'per class, but {detail}; record more examples of those classes or lower '
                '--shots / n_query')

    def sample(self, rng):
        chosen = rng.choice(self.classes, size=self.n_way, replace=False)
        sup, sup_y, qry, qry_y = [], [], [], []
        for label, c in enumerate(chosen):
            order = rng.permutation(self.members[int(c)])
            sup.append(order[:self.shots])
            qry.append(order[self.shots:self.shots + self.n_query])
            sup_y.append(np.full(self.shots, label))
            qry_y.append(np.full(self.n_query, label))
        return Episode(chosen, np.concatenate(sup), np.concatenate(sup_y), np.concatenate(qry),
                       np.concatenate(qry_y))


# ---------------------------------------------------------------- pairs

class PairPool:
    """Alignment pairs (P, 2): [source position, target position] per row."""

    def __init__(self, pairs, kind):
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.kind = kind

    def __len__(self):
        return len(self.pairs)

    def restricted(self, source_labels, classes):
        """Return the pairs whose source sample's label is in ``classes`` (a task's classes)."""
        keep = np.isin(np.asarray(source_labels)[self.pairs[:, 0]], classes)
        return PairPool(self.pairs[keep], self.kind)

    def sample(self, n, rng):
        """``n`` pairs (with replacement only if the pool is smaller than ``n``)."""
        if not len(self.pairs):
            raise FewShotError(f'no {self.kind} alignment pairs to draw from')
        rows = rng.choice(len(self.pairs), size=n, replace=len(self.pairs) < n)
        return self.pairs[rows]


def strong_pairs(source_ids, target_ids, what='the recordings'):
    """
    Strong pairs.

    Source and target samples with the same id (e.g. episode * 10**6 + step: recorded together).
    Fails if none is shared: strong alignment needs paired recordings.
    """
    source_ids, target_ids = np.asarray(source_ids), np.asarray(target_ids)
    common, si, ti = np.intersect1d(source_ids, target_ids, return_indices=True)
    if not len(common):
        raise FewShotError(
            f'alignment=strong needs episodes recorded with both the source and the target '
            f'sensor, but {what} have none in common; record a few paired episodes or use '
            'alignment=weak')
    return PairPool(np.stack([si, ti], 1), 'strong')


def n_clusters_for(n):
    """
    §11.1, Eq. 7.

    The alignment error c1/S + c2*S/N is smallest at S* = sqrt(c1 N / c2); with c1 = c2, S ~
    sqrt(N).
    """
    return max(1, int(round(math.sqrt(n))))


def kmeans(x, k, seed=0, iters=50):
    """
    Lloyd's k-means with k-means++ seeding; (centres (k, D), assignment (N,)).

    Empty clusters are re-seeded at the point farthest from its centre.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if not 1 <= k <= len(x):
        raise FewShotError(f'k-means: {k} clusters for {len(x)} points; need 1 <= S <= N')
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=p)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    centres = np.array(centres)
    assign = None
    for _ in range(iters):
        dist = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
        new = dist.argmin(1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = x[assign == j]
            if len(members):
                centres[j] = members.mean(0)
            else:
                far = dist[np.arange(len(x)), assign].argmax()
                centres[j], assign[far] = x[far], j
    return centres, assign


def match_clusters(source_assign, target_assign, anchors):
    """
    Source cluster -> target cluster, one-to-one.

    Greedily by how many anchor pairs (strong pairs, P x 2 positions) link them; clusters no anchor
    links stay unmatched (-1).
    """
    anchors = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)
    if not len(anchors):
        raise FewShotError('weak pairing with separate clusterings needs anchor pairs to match '
                           'the clusters; give a shared key instead, or a few paired samples')
    ks, kt = int(source_assign.max()) + 1, int(target_assign.max()) + 1
    counts = np.zeros((ks, kt), np.int64)
    np.add.at(counts, (source_assign[anchors[:, 0]], target_assign[anchors[:, 1]]), 1)
    match = np.full(ks, -1)
    used = np.zeros(kt, bool)
    for flat in np.argsort(-counts, axis=None, kind='stable'):
        i, j = divmod(int(flat), kt)
        if counts[i, j] == 0:
            break
        if match[i] < 0 and not used[j]:
            match[i], used[j] = j, True
    return match


@dataclasses.dataclass
class WeakPairing:
    """Cluster memberships of source and target samples and which clusters correspond."""

    source_assign: np.ndarray
    target_assign: np.ndarray
    match: np.ndarray            # source cluster -> target cluster (-1: none)
    n_clusters: int

    def pairs(self, n, seed=0):
        """
        ``n`` weak pairs.

        Uniform over all (source, target) combinations of matched clusters (a cluster is drawn with
        weight n_source * n_target).
        """
        rng = np.random.default_rng(seed)
        groups = []
        for i, j in enumerate(self.match):
            s = np.flatnonzero(self.source_assign == i)
            t = np.flatnonzero(self.target_assign == j) if j >= 0 else np.empty(0, np.int64)
            if len(s) and len(t):
                groups.append((s, t))
        if not groups:
            raise FewShotError('weak pairing: no cluster holds both source and target samples; '
                               'the key does not relate the two sensors, or S is too large')
        w = np.array([len(s) * len(t) for s, t in groups], float)
        pick = rng.choice(len(groups), size=n, p=w / w.sum())
        rows = [(rng.choice(groups[g][0]), rng.choice(groups[g][1])) for g in pick]
        return PairPool(np.array(rows), 'weak')


def weak_pairing(source_keys, target_keys, n_clusters=0, seed=0):
    """
    §11.1 weak pairing on a key both sensors share (e.g. proprioception, object pose).

    One k-means over the union of keys, S = n_clusters or round(sqrt(N)), N all keyed samples; a
    source and a target sample are matched when they fall in the same cluster.
    """
    source_keys = np.asarray(source_keys, np.float64).reshape(len(source_keys), -1)
    target_keys = np.asarray(target_keys, np.float64).reshape(len(target_keys), -1)
    if source_keys.shape[1] != target_keys.shape[1]:
        raise FewShotError(f'weak pairing: source keys have {source_keys.shape[1]} columns, '
                           f'target keys {target_keys.shape[1]}; the key must be shared')
    both = np.concatenate([source_keys, target_keys])
    k = n_clusters or n_clusters_for(len(both))
    _, assign = kmeans(both, k, seed)
    return WeakPairing(assign[:len(source_keys)], assign[len(source_keys):], np.arange(k), k)


def weak_pairing_separate(source_x, target_x, anchors, n_clusters=0, seed=0):
    """
    §11.1 weak pairing without a shared key.

    k-means per sensor (S ~ sqrt(N) each) on the inputs (or features) themselves, clusters matched
    through anchor pairs.
    """
    source_x = np.asarray(source_x, np.float64).reshape(len(source_x), -1)
    target_x = np.asarray(target_x, np.float64).reshape(len(target_x), -1)
    ks = n_clusters or n_clusters_for(len(source_x))
    kt = n_clusters or n_clusters_for(len(target_x))
    _, sa = kmeans(source_x, ks, seed)
    _, ta = kmeans(target_x, kt, seed + 1)
    return WeakPairing(sa, ta, match_clusters(sa, ta, anchors), max(ks, kt))


def require_sensor(sensor, recorded, role):
    """
    Fail, naming the bags, if none of them records ``sensor``.

    ``recorded``: bag -> sensors it holds.
    """
    if not any(sensor in s for s in recorded.values()):
        listing = '; '.join(f'{b}: {",".join(sorted(s)) or "none"}' for b, s in recorded.items())
        raise FewShotError(f'{role} sensor {sensor!r} is in none of the bags ({listing}); '
                           f'record it or choose another --{role}')
