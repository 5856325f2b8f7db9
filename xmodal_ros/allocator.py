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

"""Process-wide allocator tuning for a node that takes camera-sized messages."""
import ctypes

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MALLOC_KEEP_BYTES = 64 << 20


def keep_large_allocations(keep_bytes=MALLOC_KEEP_BYTES):
    """
    Serve large allocations from the heap and keep freed memory mapped (glibc ``mallopt``).

    Each camera-sized message is allocated and freed several times on its way into the node
    (DDS history, rmw's C message, rclpy's Python message). By default glibc maps every block
    over 128 KiB freshly and unmaps it on free, so each one page-faults in again: taking one
    640x480 32FC1 image took 1.74 ms on the executor thread, 0.50 ms with this (measured here,
    rclpy 9 / Fast DDS 3). Process-wide, so call it once from the node's process; the heap then
    keeps up to ``keep_bytes`` of freed memory instead of returning it to the system. Returns
    False where the C library has no mallopt (not glibc).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(keep_bytes) // 2)
                and mallopt(_M_TRIM_THRESHOLD, int(keep_bytes)))


def _libc_function(name):
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_function('malloc_trim')
if _MALLOC_TRIM is not None:
    _MALLOC_TRIM.argtypes, _MALLOC_TRIM.restype = [ctypes.c_size_t], ctypes.c_int


def release_free_memory():
    """
    Give the pages of free heap blocks back to the system (glibc ``malloc_trim(0)``).

    With ``keep_large_allocations`` every image-sized block lives on the heap, and the trim
    threshold only ever returns the heap's top. Messages of many sizes (a storm of malformed
    images: any size up to a full frame, on every image topic) leave freed blocks of odd sizes
    between live ones; a later block that fits none of them extends the heap, so the holes only
    add up: the node's RSS grew ~1 MB every minute or two under `xmodal bench soak`'s storm. This
    madvises the whole free pages of every arena away (their addresses stay, so the heap's
    layout is kept) and costs ~1 ms when a lot is free, ~20 us when little is: the node calls it
    once per /diagnostics period, after a prediction went out. Returns False where there is no
    malloc_trim (not glibc).
    """
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
