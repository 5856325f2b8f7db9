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
Every kind of bad bag ends in one BagError naming the file, the problem and the fix.

Never leaves a cache entry (complete or partial) behind, whether the decoding ran here, in a worker
process, or was cut short by Ctrl-C.
"""
import dataclasses
import multiprocessing
import shutil
import signal
import threading
import time

from bagfixtures import (camera, cut_in_half, force, garbage, MS, storage_file, tactile, TOPIC,
                         TYPE, write_bag)
import pytest

from xmodal_training.data.bagread import BagError
from xmodal_training.data.cache import cache_root
from xmodal_training.data.dataset import BagDataset
from xmodal_training.sim.messages import TYPESTORE
from xmodal_training.sim.record import record_bag


@pytest.fixture(scope='module')
def sim_bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('sim')
    return {s: record_bag(root / s, episodes=2, seed=1, resolution='64x48', storage=s)['out']
            for s in ('mcap', 'sqlite3')}


def _copy(bag, tmp_path):
    return shutil.copytree(bag, tmp_path / 'bag')


def _fails(bag, tmp_path, *parts, workers=0):
    """Check that loading ``bag`` raises a BagError holding ``parts`` and leaves no cache entry."""
    with pytest.raises(BagError) as err:
        BagDataset([bag], cache_dir=tmp_path / 'cache', workers=workers)
    text = str(err.value)
    for part in (str(bag), *parts):
        assert part in text, f'{part!r} not in: {text}'
    assert 'Fix:' in text
    assert _left(tmp_path) == []
    return text


def _left(tmp_path):
    root = cache_root(tmp_path / 'cache')
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _frames(n=30, start_ms=0, period_ms=10):
    return [camera((start_ms + period_ms * k) * MS, k) for k in range(n)]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_file_cut_in_half(sim_bags, tmp_path, storage):
    _fails(cut_in_half(_copy(sim_bags[storage], tmp_path)), tmp_path, 'cannot read the bag',
           'truncated or corrupt')


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_storage_file_is_garbage(sim_bags, tmp_path, storage):
    _fails(garbage(_copy(sim_bags[storage], tmp_path)), tmp_path, 'cannot read the bag')


def test_missing_metadata_yaml(sim_bags, tmp_path):
    bag = _copy(sim_bags['mcap'], tmp_path)
    (bag / 'metadata.yaml').unlink()
    _fails(bag, tmp_path, 'no metadata.yaml', storage_file(bag).name, 'ros2 bag reindex')


def test_missing_bag(tmp_path):
    _fails(tmp_path / 'nothing', tmp_path, 'does not exist')


def test_unknown_image_encoding_midway(tmp_path):
    msgs = _frames()
    _, _, stamp, msg = msgs[15]
    msgs[15] = (TOPIC['camera'], TYPE['camera'], stamp, dataclasses.replace(
        msg, encoding='yuv422', step=msg.width * 2, data=msg.data[:msg.width * 2 * msg.height]))
    _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, TOPIC['camera'], "'yuv422'", 'rgb8',
           str(150 * MS))


def test_error_in_a_worker_process(tmp_path):
    msgs = _frames(60)
    _, _, stamp, msg = msgs[2]          # in the first time range: a worker decodes that one
    msgs[2] = (TOPIC['camera'], TYPE['camera'], stamp, dataclasses.replace(msg, encoding='yuv422'))
    _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, "'yuv422'", workers=1)


def test_wrong_message_type_on_a_sensor_topic(tmp_path):
    msgs = _frames() + [(TOPIC['tactile'], TYPE['force'], s, m)
                        for _, _, s, m in (force(k * 2 * MS, 1.0) for k in range(100))]
    _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, TOPIC['tactile'], TYPE['force'],
           'expects sensor_msgs/msg/Image')


def test_none_of_the_configured_topics(tmp_path):
    chatter = TYPESTORE.types['std_msgs/msg/String'](data='hi')
    bag = write_bag(tmp_path / 'bag', [('/chatter', 'std_msgs/msg/String', k * MS, chatter)
                                       for k in range(5)])
    _fails(bag, tmp_path, 'none of the configured sensor topics', '/chatter',
           TOPIC['camera'], '--config')


@pytest.mark.parametrize('change, found', [
    (lambda m: {'step': m.width * 3 - 1}, 'step 47 is smaller'),
    (lambda m: {'data': m.data[:-16]}, 'image data holds 560 bytes'),
    (lambda m: {'height': m.height + 1}, 'step*height'),
])
def test_image_size_or_step_does_not_match_its_data(tmp_path, change, found):
    msgs = _frames()
    _, _, stamp, msg = msgs[3]
    msgs[3] = (TOPIC['camera'], TYPE['camera'], stamp, dataclasses.replace(msg, **change(msg)))
    _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, TOPIC['camera'], found)


def test_tactile_layout_does_not_match_the_config(tmp_path):
    _, _, stamp, msg = tactile(0, 1.0)
    small = dataclasses.replace(msg, width=8, step=32, data=msg.data[:256])
    bag = write_bag(tmp_path / 'bag', [(TOPIC['tactile'], TYPE['tactile'], stamp, small)])
    _fails(bag, tmp_path, TOPIC['tactile'], 'grid image is 8x8; expected 16x8')


def test_message_bytes_that_are_not_cdr(tmp_path):
    msgs = _frames()
    msgs[7] = msgs[7][:3] + (b'\x00\x01\x00\x00garbage',)
    _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, TOPIC['camera'], 'not valid CDR')


def test_ctrl_c_while_decoding(sim_bags, tmp_path):
    """
    A real SIGINT to this thread once the cache files exist.

    KeyboardInterrupt, no entry left, worker processes gone. On a busy machine the watcher
    thread may not get the GIL before the build is done; then nothing was tested and the build is
    tried again with a fresh cache (a signal sent without an interrupt still fails).
    """
    # Python's own Ctrl-C handler, also where the test runner was started in the background by a
    # shell, which leaves SIGINT ignored (and Python then keeps it so).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_build(sim_bags, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_build(sim_bags, tmp_path):
    for attempt in range(3):
        cache = tmp_path / f'cache{attempt}'
        bags = cache_root(cache)
        main, done, fired = threading.main_thread().ident, threading.Event(), threading.Event()

        def press_ctrl_c():
            while not done.is_set():
                if list(bags.glob('.tmp-*/*.npy')):
                    fired.set()
                    signal.pthread_kill(main, signal.SIGINT)
                    return
                time.sleep(0.001)

        watcher = threading.Thread(target=press_ctrl_c)
        watcher.start()
        interrupted = False
        try:
            BagDataset([sim_bags['mcap']], cache_dir=cache, workers=1)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            done.set()
            watcher.join()
        assert interrupted or not fired.is_set(), 'SIGINT sent, but the build went on'
        if interrupted:
            break
    assert interrupted, 'the build finished before the watcher saw it, three times'
    assert not bags.exists() or list(bags.iterdir()) == []      # no entry, no .tmp- folder
    assert multiprocessing.active_children() == []
    # and the next run builds the cache normally
    assert len(BagDataset([sim_bags['mcap']], cache_dir=tmp_path / 'cache', workers=0)) > 0


def test_no_samples_when_streams_never_meet(tmp_path):
    # camera in the first second, tactile in the third: no instant has both fresh
    msgs = _frames(50) + [tactile((2000 + 10 * k) * MS, 1.0) for k in range(50)]
    text = _fails(write_bag(tmp_path / 'bag', msgs), tmp_path, 'no sample instants')
    assert 'camera' in text and 'tactile' in text
