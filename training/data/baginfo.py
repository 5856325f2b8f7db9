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
`xmodal bag info PATH`: what a bag holds, read against the sensor YAML, as plain tables.

Rates are 1 / median interval between log times, so the gaps between episodes do not lower them;
image sizes and encodings are every distinct one seen; the label summary counts episodes (runs of
one episode index) per class and label steps per phase.
"""
import collections
import sys

import numpy as np
from tqdm import tqdm

from xmodal_ros.conversions import ConversionError, stamp_ns
from xmodal_ros.sensors import SensorConfigError
from xmodal_training.data.bagread import BagError, label_names, LABELS, open_bag, parse_label


def main(args):
    try:
        with open_bag(args.path, args.config) as bag:
            print(report(bag))
    except (BagError, SensorConfigError) as e:
        print(f'xmodal bag info: {e}', file=sys.stderr)
        return 1
    return 0


def report(bag):
    logtimes, images, rows, names = _scan(bag)
    role_of = {conns[0].topic: role for role, conns in bag.roles.items()}
    size = sum(n for _, n in bag.topics.values())
    lines = [f'bag:      {bag.path}',
             f'storage:  {bag.storage}, {bag.size_bytes() / 1e6:.1f} MB, {size} messages',
             f'duration: {(bag.end_ns - bag.start_ns) / 1e9:.3f} s', '']
    table = [('topic', 'type', 'sensor:kind', 'count', 'rate Hz', 'images')]
    for topic, (msgtype, count) in sorted(bag.topics.items()):
        role = role_of.get(topic)
        label = role if role in (None, LABELS) else f'{role}:{bag.config[role].kind.name}'
        gaps = np.diff(np.sort(np.asarray(logtimes.get(role, []), np.int64)))
        rate = f'{1e9 / np.median(gaps[gaps > 0]):.1f}' if (gaps > 0).any() else '-'
        shapes = ', '.join(f'{w}x{h} {enc}' for enc, w, h in sorted(images.get(role, ())))
        table.append((topic, msgtype, label or '-', str(count), rate, shapes))
    lines += _columns(table)
    lines += ['', f'sensors:  {", ".join(bag.sensors) or "none of the configured ones"}']
    lines += _labels(bag, rows, names)
    lines += [f'problem:  {p}' for p in bag.problems]
    return '\n'.join(lines)


def _scan(bag):
    """
    Return one pass over the configured topics.

    Log times, image (encoding, width, height) sets, label rows and label name keys.
    """
    logtimes, images = collections.defaultdict(list), collections.defaultdict(set)
    rows, names = [], set()
    total = sum(bag.count(r) for r in bag.roles)
    for role, logtime, msg in tqdm(bag.messages(list(bag.roles)), total=total, unit='msg',
                                   desc=f'reading {bag.path.name}', leave=False):
        logtimes[role].append(logtime)
        if role == LABELS:
            try:
                row, key = parse_label(msg)
            except ConversionError as e:
                raise bag.invalid(role, stamp_ns(msg.header), e) from e
            rows.append(row)
            names.add(key)
        elif not bag.config[role].kind.windowed:
            images[role].add((msg.encoding, int(msg.width), int(msg.height)))
    return logtimes, images, rows, names


def _labels(bag, rows, names):
    if not rows:
        return ['labels:   none (unlabelled: each continuous stretch is one episode, label -1)']
    classes, phases, targets = label_names(bag, names)
    pos = np.array(rows)
    episode_start = np.flatnonzero(np.r_[True, np.diff(pos[:, 0]) != 0])
    per_class = collections.Counter(int(c) for c in pos[episode_start, 1])
    per_phase = collections.Counter(int(p) for p in pos[:, 2])
    return [
        f'labels:   {len(episode_start)} episode(s), {len(pos)} label steps',
        '  classes: ' + ', '.join(f'{classes[c]} {n}' for c, n in sorted(per_class.items()))
        + f' episode(s) ({len(per_class)} of the {len(classes)} known classes seen)',
        '  phases:  ' + ', '.join(f'{phases[p]} {n}' for p, n in sorted(per_phase.items()))
        + ' label steps',
        '  targets: ' + (', '.join(targets) or 'none'),
    ]


def _columns(table):
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ['  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
