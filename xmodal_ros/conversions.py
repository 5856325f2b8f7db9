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
sensor_msgs/msg/Image -> numpy and header stamps, shared by the live node and the bag loader.

Both sides decode bytes through these functions so that a model sees the same arrays live as in
training. They accept rclpy messages and rosbags-deserialised messages alike (same field names),
return views of the message buffer where the layout allows, and raise ConversionError, whose text
names what was found and what was expected, for anything malformed.
"""
import sys

import numpy as np

# encoding -> (dtype, channels); REP-118 depth: 32FC1 metres, 16UC1 millimetres.
IMAGE_ENCODINGS = {
    'rgb8': (np.uint8, 3),
    'bgr8': (np.uint8, 3),
    'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1),
    '32FC1': (np.float32, 1),
    '16UC1': (np.uint16, 1),
    'mono16': (np.uint16, 1),
}
COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')
DEPTH_ENCODINGS = ('32FC1', '16UC1')
_HOST_BIG_ENDIAN = sys.byteorder == 'big'


class ConversionError(ValueError):
    """
    A message that cannot become an array.

    The text says what was found and what was expected.
    """


def stamp_ns(header):
    """Header stamp as integer nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def image_to_array(msg, accept):
    """
    Image -> (H, W, C) or (H, W) array in the message's own dtype, a view where possible.

    ``accept`` lists the encodings the caller can use (e.g. DEPTH_ENCODINGS).
    """
    enc = msg.encoding
    if enc not in accept:
        raise ConversionError(
            f'image encoding {enc!r} is not accepted here; expected one of {", ".join(accept)}')
    if enc not in IMAGE_ENCODINGS:
        raise ConversionError(f'image encoding {enc!r} is not supported')
    dtype, channels = IMAGE_ENCODINGS[enc]
    dtype = np.dtype(dtype)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ConversionError(f'empty image ({width}x{height})')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ConversionError(
            f'image step {step} is smaller than width*channels*bytes = {row_bytes} '
            f'for {width}x{height} {enc}')
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != step * height:
        raise ConversionError(
            f'image data holds {buf.size} bytes; step*height = {step}*{height} = '
            f'{step * height} expected for {width}x{height} {enc}')
    rows = buf.reshape(height, step)[:, :row_bytes]
    arr = rows.view(dtype)
    if dtype.itemsize > 1 and bool(msg.is_bigendian) != _HOST_BIG_ENDIAN:
        arr = arr.byteswap()
    if channels == 1:
        return arr.reshape(height, width)
    return arr.reshape(height, width, channels)
