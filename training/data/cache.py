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
Decoded-tensor cache: each bag is decoded once into .npy files that later epochs and runs map.

A bag's cache folder is named by a key over the bag's identity (file names, sizes, mtimes), the
sensor config, the preprocessing parameters, the sample rule and FORMAT_VERSION, so any change to
those decodes again. It is built in a temporary folder next to it and renamed into place only when
complete: an error or Ctrl-C leaves nothing behind. Messages are streamed in time ranges, decoded
by this process and worker processes side by side, and written into .npy files preallocated from
the bag's message counts, so memory stays bounded however large the bag.
"""
import collections
import concurrent.futures
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
from pathlib import Path
import shutil
import signal
import tempfile

import numpy as np
from tqdm import tqdm

from xmodal_ros.sensors import load_sensor_config
from xmodal_training.data.bagread import bag_files, BagError, label_names, LABELS, open_bag
from xmodal_training.data.windows import sample_table, window_table

FORMAT_VERSION = 2
# Bag bytes per decoded range: bounds a range's result in memory; small ranges keep the last ones
# from idling a process at the end.
RANGE_BYTES = 64 << 20
WINDOW_CHUNK = 4096         # samples per window write (windowed kinds)
POOL_MIN_BYTES = 768 << 20  # a worker's start costs ~0.4 CPU-s, as much as ~400 MB of decoding


def cache_root(cache_dir=None):
    """``cache_dir``, else $XMODAL_CACHE, else ~/.cache/xmodal; bag caches live in its bags/."""
    root = cache_dir or os.environ.get('XMODAL_CACHE') or Path.home() / '.cache' / 'xmodal'
    return Path(root).expanduser() / 'bags'


def cache_key(path, config, rule):
    identity = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in bag_files(path)]
    text = json.dumps([FORMAT_VERSION, identity, config.identity(), config.labels, vars(rule)],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class BagCache:
    """
    One bag's decoded samples on disk.

    Arrays are memory-mapped on first use in each process (never pickled), so DataLoader workers
    share the page cache instead of copies.

    Arrays: '<sensor>' frames (F, *input_shape) and '<sensor>_idx' (N,) for image kinds,
    '<sensor>' windows (N, *input_shape) for windowed kinds; 't_ns', 'episode' (into
    meta['episodes']), 'label', 'phase' (N,) and 'target' (N, R) in the bag's own
    class/phase/target lists (meta).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.meta = json.loads((self.root / 'meta.json').read_text())
        self.sensors = tuple(self.meta['sensors'])
        self._arrays = None

    @property
    def arrays(self):
        if self._arrays is None:
            self._arrays = {p.stem: np.load(p, mmap_mode='r') for p in self.root.glob('*.npy')}
        return self._arrays

    def __len__(self):
        return self.meta['samples']

    def __getstate__(self):
        return dict(self.__dict__, _arrays=None)


def load_caches(bags, config, rule, cache_dir=None, workers=None):
    """
    Return a BagCache per bag, decoding those not cached yet.

    ``config``: SensorConfig (its sensors' preprocessing decides the arrays); ``workers``: decoding
    processes besides this one (default: one per further CPU once there are POOL_MIN_BYTES to
    decode; 0 decodes in this process alone).
    """
    config = load_sensor_config(config)
    root = cache_root(cache_dir)
    dests = [root / cache_key(b, config, rule) for b in bags]
    todo = [(b, d) for b, d in zip(bags, dests) if not (d / 'meta.json').is_file()]
    if workers is None:
        size = sum(p.stat().st_size for b, _ in todo for p in bag_files(b))
        workers = len(os.sched_getaffinity(0)) - 1 if size >= POOL_MIN_BYTES else 0
    if todo:
        root.mkdir(parents=True, exist_ok=True)
        pool = (concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context('spawn'), initializer=_ignore_sigint)
            if workers > 0 else None)
        try:
            for bag, dest in todo:
                _build(bag, dest, config, rule, pool, workers)
        finally:
            if pool is not None:
                # running ranges only read the bag; they finish and the workers exit
                pool.shutdown(wait=True, cancel_futures=True)
    return [BagCache(d) for d in dests]


def _ignore_sigint():
    # Ctrl-C reaches the whole process group; the parent alone handles it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode(bag, start, stop):
    """Decode the messages logged in [start, stop) -> per-role stamps, values and label names."""
    stamps, values, names = collections.defaultdict(list), collections.defaultdict(list), set()
    for role, stamp, value in bag.decoded(start, stop):
        stamps[role].append(stamp)
        if role == LABELS:
            value, key = value
            names.add(key)
        values[role].append(value)
    return ({r: np.array(s, np.int64) for r, s in stamps.items()},
            {r: np.stack(v) for r, v in values.items()}, names)


# The bag a worker process holds open between its jobs: opening parses metadata.yaml and the
# storage index again, ~50 ms each time.
_worker = {'path': None, 'bag': None, 'stack': contextlib.ExitStack()}


def _worker_decode(path, config, start, stop):
    if _worker['path'] != path:
        _worker['stack'].close()
        _worker['bag'] = _worker['stack'].enter_context(open_bag(path, config))
        _worker['path'] = path
    return _decode(_worker['bag'], start, stop)


def _results(bag, ranges, config, pool, workers):
    """
    Yield decoded ranges as they complete.

    This process decodes too, taking ranges from the other end, so decoding starts while the
    workers start up; at most 2 * workers results wait.
    """
    ranges, pending = collections.deque(ranges), collections.deque()
    while ranges or pending:
        while pool is not None and ranges and len(pending) < 2 * workers:
            pending.append(pool.submit(_worker_decode, bag.path, config, *ranges.popleft()))
        done = [f for f in pending if f.done()]
        for f in done:
            pending.remove(f)
            yield f.result()
        if ranges:
            yield _decode(bag, *ranges.pop())
        elif pending and not done:
            yield pending.popleft().result()


def _build(path, dest, config, rule, pool, workers):
    tmp = Path(tempfile.mkdtemp(prefix=f'.tmp-{dest.name}-', dir=dest.parent))
    try:
        with open_bag(path, config) as bag:
            bag.check()
            streams, labels, names = _stream(bag, tmp, config, pool, workers)
            _write_samples(bag, tmp, streams, labels, names, rule)
        if not (dest / 'meta.json').is_file():      # another process may have published it
            os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stream(bag, tmp, config, pool, workers):
    """
    Decode every message into preallocated files.

    Image kinds: model inputs; windowed kinds: raw readings, <sensor>.readings.npy. It returns the
    stamps per role, the label rows and the label name keys seen.
    """
    counts = {role: bag.count(role) for role in bag.roles}
    files = {}
    for s in bag.sensors:
        spec = config[s]
        if spec.kind.windowed:
            files[s] = np.lib.format.open_memmap(tmp / f'{s}.readings.npy', 'w+', np.float64,
                                                 (counts[s], spec.kind.width(spec.params)))
        else:
            files[s] = np.lib.format.open_memmap(tmp / f'{s}.npy', 'w+', np.float32,
                                                 (counts[s], *spec.input_shape))
    n_ranges = max(4 * workers + 1, math.ceil(bag.size_bytes() / RANGE_BYTES))
    edges = np.linspace(bag.start_ns, bag.end_ns, n_ranges + 1).astype(np.int64)
    edges[-1] = bag.end_ns
    ranges = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    filled = dict.fromkeys(counts, 0)
    stamps, labels, names = collections.defaultdict(list), [], set()
    with tqdm(total=sum(counts.values()), unit='msg', desc=f'decoding {bag.path.name}') as bar:
        for got_stamps, got, got_names in _results(bag, ranges, config, pool, workers):
            for role, st in got_stamps.items():
                at, n = filled[role], len(st)
                if at + n > counts[role]:
                    raise _count_error(bag, role, counts[role], 'more')
                if role == LABELS:
                    labels.append(got[role])
                else:
                    files[role][at:at + n] = got[role]
                stamps[role].append(st)
                filled[role] += n
                bar.update(n)
            names |= got_names
    for role in counts:
        if filled[role] != counts[role]:
            raise _count_error(bag, role, counts[role], 'fewer')
    streams = {r: np.concatenate(s) for r, s in stamps.items()}
    return streams, np.concatenate(labels) if labels else None, names


def _write_samples(bag, tmp, streams, labels, names, rule):
    """Sample table, label columns, windows and meta.json, from what ``_stream`` wrote."""
    specs = bag.config.sensors
    windows = {s: specs[s].params['window'] for s in bag.sensors if specs[s].kind.windowed}
    table = sample_table(streams, None if labels is None else (streams[LABELS], labels[:, 0]),
                         rule, windows)
    n = len(table['t_ns'])
    if n == 0:
        ages = ', '.join(f'{r} {rule.max_age_ns(r) / 1e9:g} s' for r in streams)
        need = ''.join(f' ({s}: {w} readings within the episode)' for s, w in windows.items())
        raise BagError(
            f'{bag.path}: no sample instants: nowhere within an episode do all of '
            f'{", ".join(streams)} have a message younger than their timeouts ({ages}){need}. '
            f'Fix: check that the header stamps of these topics agree, or leave a sensor out '
            f'of the sensor YAML (--config)')
    classes, phases, targets = label_names(bag, names)
    arrays = {'t_ns': table['t_ns'], 'episode': table['episode'].astype(np.int64)}
    for s in bag.sensors:
        if s not in windows:
            arrays[f'{s}_idx'] = table[s].astype(np.int64)
    if labels is not None:
        rows = labels[table[LABELS]]
        arrays.update(label=rows[:, 1].astype(np.int64), phase=rows[:, 2].astype(np.int64),
                      target=rows[:, 3:].astype(np.float32))
    else:
        arrays.update(label=np.full(n, -1, np.int64), phase=np.full(n, -1, np.int64),
                      target=np.full((n, len(targets)), np.nan, np.float32))
    for name, arr in arrays.items():
        np.save(tmp / f'{name}.npy', arr)
    for s, length in windows.items():
        spec = specs[s]
        readings = np.load(tmp / f'{s}.readings.npy', mmap_mode='r')
        out = np.lib.format.open_memmap(tmp / f'{s}.npy', 'w+', np.float32,
                                        (n, *spec.input_shape))
        for a in range(0, n, WINDOW_CHUNK):
            chunk = readings[window_table(table, s, np.arange(a, min(a + WINDOW_CHUNK, n)),
                                          length)]
            for i, win in enumerate(chunk, a):
                out[i] = spec.preprocess(win)
        del readings, out
        (tmp / f'{s}.readings.npy').unlink()
    meta = {
        'format_version': FORMAT_VERSION, 'bag': str(bag.path), 'storage': bag.storage,
        'sensors': list(bag.sensors), 'counts': {r: len(s) for r, s in streams.items()},
        'samples': n, 'classes': classes, 'phases': phases, 'targets': targets,
        'episodes': [{'source': src, 'start_ns': a, 'end_ns': b, 'samples': k}
                     for a, b, src, k in table['spans']],
        'sensor_config': bag.config.identity(), 'rule': vars(rule),
    }
    (tmp / 'meta.json').write_text(json.dumps(meta, indent=1))


def _count_error(bag, role, expected, more_or_fewer):
    return BagError(
        f'{bag.path}: {role} has {more_or_fewer} messages than the {expected} its metadata '
        f'records; the bag index is inconsistent. Fix: `ros2 bag reindex {bag.path}`')
