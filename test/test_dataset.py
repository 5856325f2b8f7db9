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
Bags -> dataset samples.

The window rule on hand-stamped bags, and real simulator bags through the cache (round trip, cache
hits, both storage formats, sensor subsets, worker processes).
"""
import os
import pickle

from bagfixtures import (camera, camera_frame, CLASSES, depth, depth_frame, force, label,
                         LABEL_META, MS, PHASES, storage_file, tactile, tactile_frame, write_bag)
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
import torch

from xmodal_ros.conversions import stamp_ns
from xmodal_ros.paths import config_path
from xmodal_ros.sensors import load_sensor_config, parse_sensor_config
from xmodal_training.data.cache import cache_root
from xmodal_training.data.dataset import BagDataset
from xmodal_training.data.windows import SampleRule
from xmodal_training.sim.messages import TYPESTORE
from xmodal_training.sim.record import record_bag

import yaml

CONFIG = load_sensor_config()
SENSORS = CONFIG.names
WINDOW = CONFIG['force'].params['window']
# The node's timeouts decide freshness; here every sensor's is 100 ms.
RULE = SampleRule(timeouts=dict.fromkeys(SENSORS, 0.1))


# --- the window rule, on a bag whose every stamp is chosen -------------------------------------

def _streams():
    """
    Return two labelled episodes.

    Each stream's value is its message number, so a sample shows which message it took. Episode 0
    has a camera gap (1090..1205 ms) longer than the max age.
    """
    cam = [990, 1023, 1056, 1089, 1205, 2495, 2528, 2561, 2594]
    dep = [1005, 1055, 1105, 1155, 1205, 2505, 2555, 2605]
    tac = list(range(1003, 1204, 10)) + list(range(2503, 2604, 10))
    frc = list(range(850, 1211, 2)) + list(range(2400, 2611, 2))
    lab = [(t, 0) for t in range(1000, 1201, 10)] + [(t, 1) for t in range(2500, 2601, 10)]
    return cam, dep, tac, frc, lab


@pytest.fixture(scope='module')
def stamped_bag(tmp_path_factory):
    cam, dep, tac, frc, lab = _streams()
    msgs = [camera(t * MS, 10 * k) for k, t in enumerate(cam)]
    msgs += [depth(t * MS, 0.5 + 0.01 * k) for k, t in enumerate(dep)]
    msgs += [tactile(t * MS, float(k)) for k, t in enumerate(tac)]
    msgs += [force(t * MS, float(k)) for k, t in enumerate(frc)]
    msgs += [label(t * MS, ep, 1 - ep, int(t % 1000 >= 100), t / 1000) for t, ep in lab]
    return write_bag(tmp_path_factory.mktemp('stamped') / 'bag', msgs, custom=LABEL_META)


def _expected():
    """Return the rule written out per instant: (episode, t ms) -> message numbers used."""
    cam, dep, tac, frc, lab = _streams()
    out = {}
    for ep in (0, 1):
        times = [t for t, e in lab if e == ep]
        start, end = times[0], times[-1]
        for t in range(start, end + 1, 10):
            def newest(stamps):
                k = max((i for i, s in enumerate(stamps) if s <= t), default=None)
                return k if k is not None and t - stamps[k] < 100 else None
            picks = [newest(s) for s in (cam, dep, tac, [s for s, _ in lab])]
            window = [i for i, s in enumerate(frc) if s <= t][-WINDOW:]
            ok_force = (len(window) == WINDOW and t - frc[window[-1]] < 100
                        and frc[window[0]] >= start - 100)
            if None not in picks and ok_force:
                out[(ep, t)] = (*picks, window)
    return out


def test_samples_take_the_newest_messages_at_or_before_t(stamped_bag, tmp_path):
    ds = BagDataset([stamped_bag], rule=RULE, cache_dir=tmp_path, workers=0)
    expected = _expected()
    got_keys = [(int(e), int(t) // MS) for e, t in zip(ds.episode, ds.t_ns)]
    assert got_keys == sorted(expected)
    # each edge of the rule shows up: no depth yet; force window reaching before the episode;
    # camera older than the max age; a window that would span the previous episode
    assert {(0, 1000), (0, 1010), (0, 1190), (1, 2520)}.isdisjoint(expected)
    assert {(0, 1030), (0, 1180), (1, 2530), (1, 2600)} <= expected.keys()
    lab = _streams()[4]
    b = ds.batch(np.arange(len(ds)))
    for i, key in enumerate(got_keys):
        cam_k, dep_k, tac_k, lab_k, window = expected[key]
        for sensor, frame, encoding in (('camera', camera_frame(10 * cam_k), 'rgb8'),
                                        ('depth', depth_frame(0.5 + 0.01 * dep_k), '32FC1'),
                                        ('tactile', tactile_frame(float(tac_k)), '32FC1')):
            want = CONFIG[sensor].preprocess(frame, encoding)
            assert np.array_equal(b[sensor][i].numpy(), want), (sensor, key)
        readings = np.zeros((WINDOW, 6))
        readings[:, 2] = window
        assert np.array_equal(b['force'][i].numpy(), CONFIG['force'].preprocess(readings)), key
        t_label, ep = lab[lab_k]
        assert b['label'][i] == 1 - ep and b['phase'][i] == int(t_label % 1000 >= 100)
        np.testing.assert_allclose(b['target'][i].numpy(), [t_label / 1000], rtol=1e-6)
    assert ds.classes == CLASSES and ds.phases == PHASES and ds.targets == ('mass',)
    assert [e['source'] for e in ds.episodes] == [0, 1]
    assert (b['index'].numpy() == np.arange(len(ds))).all()


def test_unlabelled_bag_splits_into_continuous_stretches(tmp_path):
    msgs = [tactile(t * MS, 1.0) for t in [*range(0, 500, 10), *range(2000, 2300, 10)]]
    bag = write_bag(tmp_path / 'bag', msgs, storage='sqlite3')
    ds = BagDataset([bag], cache_dir=tmp_path / 'cache', workers=0)
    assert [(e['start_ns'] // MS, e['end_ns'] // MS, e['samples']) for e in ds.episodes] == \
        [(0, 490, 50), (2000, 2290, 30)]
    assert set(ds.episode.tolist()) == {0, 1}
    s = ds[0]
    assert s['label'] == -1 and s['phase'] == -1 and s['target'].shape == (0,)
    assert s['present'].tolist() == [x == 'tactile' for x in SENSORS]
    assert ds.bag_sensors == [('tactile',)]


# --- real simulator bags -----------------------------------------------------------------------

@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp('sim')
    small = {'resolution': '64x48'}
    bags = {
        'mcap': record_bag(root / 'mcap', episodes=2, seed=0, **small),
        'sqlite3': record_bag(root / 'sqlite3', episodes=2, seed=0, storage='sqlite3', **small),
        'vision': record_bag(root / 'vision', episodes=1, seed=2, sensors=('camera', 'depth'),
                             **small),
        'touch': record_bag(root / 'touch', episodes=1, seed=3, sensors=('tactile', 'force'),
                            storage='sqlite3', **small),
        # what the recorder wrote before finger joints and the wrist IMU existed
        'four': record_bag(root / 'four', episodes=1, seed=4,
                           sensors=('camera', 'depth', 'tactile', 'force'), **small),
    }
    return {k: v['out'] for k, v in bags.items()}


def _all(ds):
    return ds.batch(np.arange(len(ds)))


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]) or (k == 'target' and torch.allclose(
            a[k], b[k], equal_nan=True)), k


def test_cache_round_trip_matches_direct_decoding_and_is_reused(sim, tmp_path):
    ds = BagDataset([sim['mcap']], cache_dir=tmp_path, workers=0)
    assert ds.bag_sensors == [SENSORS] and len(ds.episodes) == 2 and len(ds) > 500
    assert len(SENSORS) == 6
    # every camera tensor is exactly what preprocess makes of the newest frame at or before t
    frames = {}
    with Reader(sim['mcap']) as reader:
        conns = [c for c in reader.connections if c.topic == '/camera/color/image_raw']
        for conn, _, raw in reader.messages(conns):
            msg = TYPESTORE.deserialize_cdr(raw, conn.msgtype)
            frames[stamp_ns(msg.header)] = CONFIG['camera'].preprocess(
                CONFIG['camera'].read(msg), msg.encoding)
    stamps = np.array(sorted(frames))
    first = _all(ds)
    for i in range(0, len(ds), 7):
        newest = stamps[np.searchsorted(stamps, ds.t_ns[i], side='right') - 1]
        assert np.array_equal(first['camera'][i].numpy(), frames[newest])
    assert (first['label'] >= 0).all() and not first['target'].isnan().any()

    # A second dataset maps the same cache without reading the bag: scrambling the bag while
    # keeping its size and mtime (the cache key) cannot change a single value.
    f = storage_file(sim['mcap'])
    st = f.stat()
    original = f.read_bytes()
    try:
        f.write_bytes(bytes(len(original)))
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        _assert_same(first, _all(BagDataset([sim['mcap']], cache_dir=tmp_path, workers=0)))
    finally:
        f.write_bytes(original)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert len(list(cache_root(tmp_path).iterdir())) == 1

    # Other preprocessing parameters are another cache entry, with their own shapes.
    doc = yaml.safe_load(config_path('sensors.yaml').read_text())
    doc['sensors']['camera']['preprocess'] = {'out_hw': [24, 32]}
    other = parse_sensor_config(doc, 'edited.yaml')
    small = BagDataset([sim['mcap']], config=other, cache_dir=tmp_path, workers=0)
    assert small[0]['camera'].shape == other['camera'].input_shape == (3, 24, 32)
    assert len(list(cache_root(tmp_path).iterdir())) == 2


def test_a_four_sensor_bag_still_loads(sim, tmp_path):
    ds = BagDataset([sim['four']], cache_dir=tmp_path, workers=0)
    assert ds.bag_sensors == [('camera', 'depth', 'tactile', 'force')] and len(ds) > 300
    sample = ds[0]
    assert sample['present'].tolist() == [s not in ('finger_joints', 'wrist_imu')
                                          for s in SENSORS]
    assert (sample['wrist_imu'] == 0).all() and sample['camera'].abs().sum() > 0


def test_cache_location_follows_xmodal_cache(sim, tmp_path, monkeypatch):
    monkeypatch.setenv('XMODAL_CACHE', str(tmp_path / 'env'))
    BagDataset([sim['touch']], workers=0)
    assert len(list((tmp_path / 'env' / 'bags').iterdir())) == 1


def test_both_storage_formats_give_the_same_samples(sim, tmp_path):
    mcap = BagDataset([sim['mcap']], cache_dir=tmp_path, workers=0)
    sqlite = BagDataset([sim['sqlite3']], cache_dir=tmp_path, workers=0)
    _assert_same(_all(mcap), _all(sqlite))
    assert [c.meta['storage'] for c in mcap.caches + sqlite.caches] == ['mcap', 'sqlite3']


def test_worker_processes_decode_the_same_samples(sim, tmp_path):
    alone = BagDataset([sim['mcap']], cache_dir=tmp_path / 'a', workers=0)
    pooled = BagDataset([sim['mcap']], cache_dir=tmp_path / 'b', workers=1)
    _assert_same(_all(alone), _all(pooled))


def test_sensor_subsets_fill_zeros_and_present_false(sim, tmp_path):
    ds = BagDataset([sim['vision'], sim['touch']], cache_dir=tmp_path, workers=0)
    assert ds.bag_sensors == [('camera', 'depth'), ('tactile', 'force')]
    b = _all(ds)
    vision = torch.from_numpy(ds.sample_bag == 0)
    on_a = [s in ('camera', 'depth') for s in SENSORS]
    on_b = [s in ('tactile', 'force') for s in SENSORS]
    assert b['present'][vision].tolist() == [on_a] * int(vision.sum())
    assert b['present'][~vision].tolist() == [on_b] * int((~vision).sum())
    assert (b['tactile'][vision] == 0).all() and (b['force'][vision] == 0).all()
    assert (b['camera'][~vision] == 0).all() and (b['depth'][~vision] == 0).all()
    assert b['camera'][vision].abs().sum() > 0 and b['force'][~vision].abs().sum() > 0
    # episodes are numbered across bags; index is the position
    assert b['episode'][vision].unique().tolist() == [0]
    assert b['episode'][~vision].unique().tolist() == [1]
    assert (b['index'] == torch.arange(len(ds))).all()
    sample = ds[-1]
    assert {k: tuple(v.shape) for k, v in sample.items()} == {
        **{s: CONFIG[s].input_shape for s in SENSORS},
        'present': (len(SENSORS),), 'label': (), 'phase': (), 'target': (2,), 'episode': (),
        'index': ()}
    assert {k: v.dtype for k, v in sample.items() if k not in SENSORS} == {
        'present': torch.bool, 'label': torch.int64, 'phase': torch.int64,
        'target': torch.float32, 'episode': torch.int64, 'index': torch.int64}


def test_dataloader_workers_map_the_cache_instead_of_copying_it(sim, tmp_path):
    ds = BagDataset([sim['mcap']], cache_dir=tmp_path, workers=0)
    frames = sum(f.stat().st_size for f in ds.caches[0].root.glob('*.npy'))
    assert len(pickle.dumps(ds)) < frames / 10
    loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=2)
    _assert_same(next(iter(loader)), ds.batch(np.arange(16)))
