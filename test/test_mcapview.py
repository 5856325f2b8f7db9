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

"""Mapped MCAP message views: rosbags' messages exactly, compressed files left to rosbags."""
import shutil
import struct

import pytest
from simbags import bags, ROOT

pytest.importorskip('rosbags')


def _read(path, patch, start=None, stop=None):
    from rosbags.rosbag2 import Reader
    from xmodal_training.data.mcapview import zero_copy
    reader = Reader(path)
    reader.open()
    try:
        patched = zero_copy(reader) if patch else 0
        got = [(c.topic, c.msgtype, t, bytes(d))
               for c, t, d in reader.messages(connections=reader.connections, start=start,
                                              stop=stop)]
        return patched, got, (reader.start_time, reader.end_time)
    finally:
        reader.close()


def test_views_equal_rosbags_messages_in_order_and_in_ranges():
    bag = bags()['test']
    patched, mine, (t0, t1) = _read(bag, True)
    assert patched == 1
    assert mine == _read(bag, False)[1]
    assert len({m[0] for m in mine}) == 7          # six sensors and the ground truth
    lo, hi = t0 + (t1 - t0) // 3, t0 + 2 * (t1 - t0) // 3
    part = _read(bag, True, lo, hi)[1]
    assert part == _read(bag, False, lo, hi)[1]
    assert 0 < len(part) < len(mine) and all(lo <= m[2] < hi for m in part)


def test_compressed_chunks_stay_with_rosbags(tmp_path):
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores
    from rosbags.typesys.stores.ros2_kilted import std_msgs__msg__String as String
    out = tmp_path / 'zstd'
    writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    store = get_typestore(Stores.ROS2_KILTED)
    with writer:
        conn = writer.add_connection('/chatter', String.__msgtype__, typestore=store)
        for i in range(5):
            writer.write(conn, 1000 + i, store.serialize_cdr(String(data=f'm{i}'),
                                                             String.__msgtype__))
    patched, got, _ = _read(out, True)
    assert patched == 0 and [m[2] for m in got] == [1000, 1001, 1002, 1003, 1004]


def test_a_chunk_failing_its_checksum_fails_the_bag_with_its_path():
    from xmodal_training.data.bagread import BagError, open_bag
    from xmodal_training.data.mcapview import _CHUNK_CRC
    bag = ROOT / 'bags' / 'bad-crc'
    shutil.rmtree(bag, ignore_errors=True)
    shutil.copytree(bags()['test'], bag)
    mcap = next(bag.glob('*.mcap'))
    data = bytearray(mcap.read_bytes())
    assert data[8] == 0x01                    # the header record; the first chunk follows it
    first_chunk = 8 + 9 + struct.unpack_from('<Q', data, 9)[0]
    assert data[first_chunk] == 0x06
    struct.pack_into('<I', data, first_chunk + _CHUNK_CRC, 12345)
    mcap.write_bytes(bytes(data))
    with open_bag(bag, None) as b:
        with pytest.raises(BagError, match=str(bag)) as err:
            list(b.decoded())
    assert 'checksum' in str(err.value)
