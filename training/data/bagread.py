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
Open and validate rosbag2 bags against the sensor YAML, and iterate their decoded messages.

Everything that can go wrong with a user's bag surfaces here as one exception, ``BagError``, whose
text names the file (and topic), what was found, what was expected and how to fix it. Decoding goes
through ``xmodal_ros.conversions`` and ``xmodal_ros.preprocess``, the code the live node runs.
"""
import contextlib
import functools
import math
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader
from rosbags.typesys import get_typestore, Stores

from xmodal_ros.conversions import ConversionError, stamp_ns
from xmodal_ros.sensors import load_sensor_config
from xmodal_training.data.mcapview import zero_copy

LABELS = 'labels'
_TYPESTORE = get_typestore(Stores.ROS2_KILTED)


class BagError(ValueError):
    """A bag that cannot become training data; the text names the file, the problem and the fix."""


def topic_roles(config):
    """
    Map each role to (topic, msg_type).

    The roles: every configured sensor and, when configured, the labels.
    """
    config = load_sensor_config(config)
    roles = {n: (s.topic, s.msg_type) for n, s in config.sensors.items()}
    if config.labels:
        roles[LABELS] = (config.labels['topic'], config.labels['msg_type'])
    return roles


def bag_files(path):
    """Return the files making up a bag (a rosbag2 folder or a bare .mcap/.db3 file), sorted."""
    path = Path(path)
    if not path.exists():
        raise BagError(f'{path}: does not exist; expected a rosbag2 folder or a .mcap/.db3 file. '
                       f'Fix: check the path')
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith('.'))
    return [path]


def _unreadable(path, err):
    text = f'{type(err).__name__}: {err}'.rstrip('.')
    return BagError(
        f'{path}: cannot read the bag ({text}); expected a complete rosbag2 bag. It looks '
        f'truncated or corrupt, as a recorder killed mid-write leaves it. Fix: copy or record it '
        f'again (`ros2 bag reindex` can rebuild a lost index)')


class Bag:
    """
    An open bag.

    Which of its connections carry which configured sensor (or the labels), and ``problems`` that
    keep it from becoming training data (``check`` raises the first).
    """

    def __init__(self, path, reader, config):
        self.path = Path(path)
        self.reader = reader
        self.config = load_sensor_config(config)
        self.storage = _storage(self.path)
        self.custom = dict(reader.storage.metadata.custom or {})
        self.start_ns, self.end_ns = reader.start_time, reader.end_time
        self.topics = {name: (info.msgtype, info.msgcount) for name, info in reader.topics.items()}
        self.roles = {}       # role -> connections of the configured topic and type, with messages
        self.problems = []
        wanted = topic_roles(self.config)
        for role, (topic, msg_type) in wanted.items():
            conns = [c for c in reader.connections if c.topic == topic]
            wrong = sorted({c.msgtype for c in conns} - {msg_type})
            if wrong:
                self.problems.append(
                    f'{self.path}: topic {topic} has type {", ".join(wrong)}; the sensor '
                    f'config expects {msg_type} for {role}. Fix: point {role}.topic in '
                    f'{self.config.path} at a {msg_type} topic, or drop it there')
            elif sum(c.msgcount for c in conns):
                self.roles[role] = conns
        if not set(self.roles) - {LABELS}:
            found = ', '.join(f'{t} ({m})' for t, (m, _) in sorted(self.topics.items())) or 'none'
            expected = ', '.join(f'{t} ({m})' for r, (t, m) in wanted.items() if r != LABELS)
            self.problems.append(
                f'{self.path}: holds none of the configured sensor topics (with messages); found '
                f'{found}; expected at least one of {expected}. Fix: pass a sensor YAML '
                f'(--config) whose topics match this robot')
        self.sensors = tuple(s for s in self.config.names if s in self.roles)
        self.labelled = LABELS in self.roles

    def check(self):
        if self.problems:
            raise BagError(self.problems[0])

    def count(self, role):
        return sum(c.msgcount for c in self.roles.get(role, ()))

    def size_bytes(self):
        return sum(p.stat().st_size for p in bag_files(self.path))

    def messages(self, roles, start=None, stop=None):
        """Yield (role, log time ns, deserialised message) for ``roles`` in [start, stop)."""
        role_of = {c.id: r for r in roles for c in self.roles.get(r, ())}
        conns = [c for r in roles for c in self.roles.get(r, ())]
        if not conns:
            return
        it = self.reader.messages(connections=conns, start=start, stop=stop)
        while True:
            try:
                conn, logtime, raw = next(it)
            except StopIteration:
                return
            except Exception as e:  # rosbags, apsw and struct errors alike
                raise _unreadable(self.path, e) from e
            try:
                msg = _TYPESTORE.deserialize_cdr(memoryview(raw), conn.msgtype)  # no copy
            except Exception as e:  # any CDR failure means the same thing
                raise BagError(
                    f'{self.path}: topic {conn.topic}: the message logged at {logtime} ns is not '
                    f'valid CDR for {conn.msgtype} ({type(e).__name__}: {e}); the bag is corrupt. '
                    f'Fix: copy or record it again') from e
            yield role_of[conn.id], logtime, msg

    def decoded(self, start=None, stop=None):
        """
        Yield (role, header stamp ns, value).

        Model inputs for image kinds, reading vectors for windowed kinds (their windows are cut
        later), labels as ``parse_label`` gives them.
        """
        convert = {role: self._converter(role) for role in self.roles}
        for role, _, msg in self.messages(list(self.roles), start, stop):
            try:
                value = convert[role](msg)
            except ConversionError as e:
                raise self.invalid(role, stamp_ns(msg.header), e) from e
            yield role, stamp_ns(msg.header), value

    def _converter(self, role):
        """Return message -> value for ``role``, chosen once, not per message."""
        if role == LABELS:
            return parse_label
        spec = self.config.sensors[role]
        if spec.kind.windowed:
            return spec.read
        return lambda msg: spec.preprocess(spec.read(msg), msg.encoding)

    def invalid(self, role, stamp, err):
        """Return a BagError for a message of ``role`` that cannot be converted (``err``)."""
        return BagError(
            f'{self.path}: topic {self.roles[role][0].topic} ({role}), message stamped {stamp} '
            f'ns: {err}. Fix: record {role} as {self.config.path} describes it, or leave that '
            'topic out of the sensor YAML (--config)')


def parse_label(msg):
    """
    Parse JointState ground truth, checking the documented layout.

    It returns (position float64, (class index, class name, phase index, phase name, target
    names)).
    """
    names = tuple(msg.name)
    position = np.asarray(msg.position, dtype=np.float64)
    head = position[:3].tolist()
    ok = (len(names) == len(position) >= 3 and _label_layout(names)
          and all(math.isfinite(v) and v == round(v) for v in head))
    if not ok:
        raise ConversionError(
            f'ground truth name={list(names)} position={position.tolist()}; expected name = '
            f'["episode", "class/<name>", "phase/<name>", "target/<name>", ...] with as many '
            f'positions, the first three whole numbers')
    return position, (int(head[1]), names[1][6:], int(head[2]), names[2][6:],
                      tuple(n[7:] for n in names[3:]))


@functools.lru_cache(maxsize=256)
def _label_layout(names):
    """Return whether ground truth names follow the layout (checked once per name list)."""
    return (names[0] == 'episode' and names[1].startswith('class/')
            and names[2].startswith('phase/') and all(n.startswith('target/') for n in names[3:]))


def label_names(bag, seen):
    """
    Class, phase and target name lists of a bag.

    Its metadata lists, checked against ``seen`` (the name keys of its ground truth messages);
    built from ``seen`` alone without metadata.
    """
    lists = []
    for kind, idx_at, name_at in (('classes', 0, 1), ('phases', 2, 3)):
        listed = _listed(bag, kind)
        pairs = {(s[idx_at], s[name_at]) for s in seen}
        if listed:
            bad = sorted((i, n) for i, n in pairs if not (0 <= i < len(listed) and listed[i] == n))
            if bad:
                raise BagError(
                    f'{bag.path}: ground truth names {kind[:-2]} {bad[0][1]!r} with index '
                    f'{bad[0][0]}, but metadata xmodal.{kind} lists {listed}. Fix: record the '
                    f'index of each name in xmodal.{kind}')
            lists.append(listed)
        else:
            by_index = dict(pairs)
            if len(by_index) < len(pairs):
                raise BagError(f'{bag.path}: ground truth gives one {kind[:-2]} index several '
                               f'names: {sorted(pairs)}; expected one name per index')
            lists.append([by_index.get(i, f'{kind[:-2]}{i}')
                          for i in range(max(by_index, default=-1) + 1)])
    target_sets = {s[4] for s in seen}
    if len(target_sets) > 1:
        raise BagError(f'{bag.path}: ground truth target names change between messages: '
                       f'{sorted(target_sets)}; expected one list throughout')
    targets = list(target_sets.pop()) if target_sets else _listed(bag, 'targets')
    if _listed(bag, 'targets') not in ([], targets):
        raise BagError(f'{bag.path}: ground truth targets are {targets} but metadata '
                       f'xmodal.targets lists {_listed(bag, "targets")}; expected the same names '
                       f'in the same order')
    return lists[0], lists[1], targets


def _listed(bag, kind):
    return [n.strip() for n in bag.custom.get(f'xmodal.{kind}', '').split(',') if n.strip()]


def _storage(path):
    suffix = {'.mcap': 'mcap', '.db3': 'sqlite3'}
    return next((suffix[p.suffix] for p in bag_files(path) if p.suffix in suffix), 'unknown')


@contextlib.contextmanager
def open_bag(path, config):
    """
    Open ``path`` with its topics mapped to the sensors of ``config``.

    ``path``: a rosbag2 folder or a bare .mcap/.db3; ``config``: a SensorConfig or a sensors.yaml
    path. ``Bag.check`` raises what does not fit.
    """
    path = Path(path)
    files = bag_files(path)
    if path.is_dir() and not (path / 'metadata.yaml').is_file():
        storage = [p.name for p in files if p.suffix in ('.mcap', '.db3')]
        fix = (f'pass the storage file itself ({path / storage[0]}) or regenerate metadata.yaml '
               f'with `ros2 bag reindex {path}`') if storage else 'point at a rosbag2 folder'
        found = ', '.join(storage) or 'no .mcap/.db3 files'
        raise BagError(f'{path}: has no metadata.yaml (found {found}); expected a rosbag2 folder. '
                       f'Fix: {fix}')
    try:
        reader = Reader(path)
        reader.open()
        zero_copy(reader)
    except Exception as e:  # rosbags, apsw, yaml and OS errors alike
        raise _unreadable(path, e) from e
    try:
        yield Bag(path, reader, config)
    finally:
        reader.close()
