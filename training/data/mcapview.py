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
Messages of uncompressed MCAP chunks as views of the memory-mapped file, not copies.

rosbags reads each chunk into memory and each message out of it again (two to three copies of
every byte; for 640x480 images that is most of a bag's size, and two decoding processes then
compete for memory bandwidth). Where every chunk of an indexed MCAP file is uncompressed,
``zero_copy(reader)`` replaces that file's message source with one that maps each chunk when the
time-ordered merge reaches it, walks its records and yields each message's payload as a
memoryview: the CDR decoder's arrays then point into the page cache. A chunk is unmapped once its
messages are consumed and dropped, so a process maps the chunks in flight, not the whole bag.
Same messages, same order (time, then chunk, then position in the chunk, as rosbags yields them),
same range semantics; any other file (compressed or unindexed MCAP, sqlite3) keeps rosbags'
reader. A chunk with a CRC is checked, as rosbags does.
"""
import binascii
import heapq
import mmap
import struct

from rosbags.rosbag2.storage_mcap import McapReader, ReaderError

_RECORD = struct.Struct('<BQ')           # opcode, record length
_MESSAGE = struct.Struct('<HIQQ')        # channel id, sequence, log time, publish time
_CHUNK_CRC = 9 + 24                      # chunk record: opcode+length, 3 x u64, then the CRC
_CHUNK_DATA = 9 + 40                     # ... u32 CRC, u32 compression length, u64 records size


def _storages(reader):
    storage = getattr(reader, 'storage', None)
    return list(getattr(storage, 'storages', None) or [storage])


def zero_copy(reader):
    """Use mapped views for every eligible MCAP file of an open rosbags Reader; return how many."""
    patched = 0
    for storage in _storages(reader):
        if (type(storage) is McapReader and storage.chunks and getattr(storage, 'bio', None)
                and all(c.compression == '' for c in storage.chunks)):
            storage.messages = _Messages(storage, storage.bio.fileno())
            patched += 1
    return patched


class _Messages:
    """``McapReader.messages`` over mapped chunks: (connection, log time, payload view)."""

    def __init__(self, storage, fileno):
        self.storage, self.fileno = storage, fileno

    def __call__(self, connections, start=None, stop=None):
        channels = {c.id: c for c in connections}
        chunks = [c for c in self.storage.chunks
                  if (start is None or start < c.message_end_time + 1)
                  and (stop is None or c.message_start_time < stop)
                  and any(c.channel_count.get(cid, 0) for cid in channels)]
        sources = [self._chunk(c, channels, c.message_start_time if start is None else start,
                               c.message_end_time + 1 if stop is None else stop)
                   for c in chunks]
        for log_time, _, conn, data in heapq.merge(*sources, key=lambda m: m[:2]):
            if conn is not None:            # not a chunk's opening placeholder
                yield conn, log_time, data

    def _chunk(self, chunk, channels, lo, hi):
        # A placeholder at the chunk's first time lets the merge order the chunks before any is
        # mapped; the chunk is mapped when the merge reaches it.
        yield chunk.message_start_time, -1, None, None
        at = chunk.chunk_start_offset
        base = at - at % mmap.ALLOCATIONGRANULARITY
        try:
            view = memoryview(mmap.mmap(self.fileno, at + chunk.chunk_length - base,
                                        access=mmap.ACCESS_READ, offset=base))
        except (ValueError, OSError) as e:
            raise ReaderError(f'chunk at byte {at}: cannot map it ({e})') from None
        pos = at - base + _CHUNK_DATA
        end = pos + chunk.uncompressed_size
        if end > len(view):
            raise ReaderError(f'chunk at byte {at} runs past its record')
        (crc,) = struct.unpack_from('<I', view, at - base + _CHUNK_CRC)
        if crc and binascii.crc32(view[pos:end]) != crc:
            raise ReaderError('Chunk checksum mismatch.')
        found = []
        while pos < end:
            op, length = _RECORD.unpack_from(view, pos)
            body = pos + 9
            pos = body + length
            if op == 0x05:
                channel, _, log_time, _ = _MESSAGE.unpack_from(view, body)
                if lo <= log_time < hi and channel in channels:
                    found.append((log_time, at, channels[channel], view[body + 22:pos]))
        if pos != end:
            raise ReaderError(f'chunk at byte {at}: its records overrun the chunk')
        del view                    # the payload views hold the mapping while they are in use
        found.sort(key=lambda m: m[0])      # stable: same-time messages keep the file's order
        found.reverse()
        while found:                # handed out oldest first and let go of as they go
            yield found.pop()
