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
`xmodal sim record`: simulate episodes and write them to a rosbag2 file (MCAP or sqlite3).

Episodes are laid end to end in simulated time, EPISODE_GAP_S apart (no messages in the gaps),
each written as soon as it is simulated so memory holds one episode at most. Every message's bag
log time equals its header stamp. Topics, types, frames and rates come from the sensor YAML.
"""
from collections import Counter
from pathlib import Path
import sys
import time

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from tqdm import tqdm

from xmodal_ros.sensors import load_sensor_config
from xmodal_training.sim.episode import (DURATION_S, FINGER_JOINTS, PHASES, simulate_episode,
                                         TARGETS)
from xmodal_training.sim.messages import (image_msg, imu_msg, joint_state_msg, label_msg,
                                          LABEL_QOS, SENSOR_QOS, serialize, TYPESTORE, wrench_msg)
from xmodal_training.sim.objects import CLASSES

EPISODE_GAP_S = 1.0
STORAGE = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
# The simulated robot's hardware source behind a configured sensor of each kind: one of each.
SIM_SOURCES = {'rgb': 'camera', 'depth': 'depth', 'grid': 'tactile', 'wrench': 'force',
               'imu': 'wrist_imu', 'joints': 'finger_joints'}
SIM_PADS = 2


def parse_resolution(text):
    """Parse 'WxH' into (height, width)."""
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ValueError(f'resolution {text!r} is not WxH, e.g. 640x480 or 128x96') from None
    if w < 8 or h < 8:
        raise ValueError(f'resolution {text!r} is too small; use at least 8x8')
    return h, w


def sim_sources(config, sensors, resolution=None, depth_encoding=None):
    """
    Return how the simulator produces the configured ``sensors``.

    {sensor: source} and the keyword arguments of ``simulate_episode`` (rates, image sizes,
    layouts); ValueError naming the sensor YAML for a sensor the simulated robot cannot produce as
    configured.
    """
    where = config.path
    sources, kwargs, rates = {}, {'depth_encoding': depth_encoding or '32FC1'}, {}
    for name in sensors:
        spec = config[name]
        source = SIM_SOURCES[spec.kind.name]
        if source in sources.values():
            other = next(n for n, src in sources.items() if src == source)
            raise ValueError(f'{where}: sensors {other} and {name} are both {spec.kind.name}; '
                             f'the simulated robot has one {spec.kind.name} sensor: record one '
                             'of them (--sensors)')
        sources[name] = source
        rates[source] = spec.rate_hz
        layout = spec.layout
        if spec.kind.name in ('rgb', 'depth'):
            hw = (parse_resolution(resolution) if isinstance(resolution, str) else resolution) \
                or (int(layout.get('height', 480)), int(layout.get('width', 640)))
            kwargs['camera_hw' if spec.kind.name == 'rgb' else 'depth_hw'] = tuple(hw)
        if spec.kind.name == 'rgb' and layout.get('encoding', 'rgb8') != 'rgb8':
            raise ValueError(f'{where}: sensors.{name}.encoding: the simulator publishes rgb8')
        if spec.kind.name == 'depth' and depth_encoding is None:
            kwargs['depth_encoding'] = layout.get('encoding', '32FC1')
        if spec.kind.name == 'grid':
            if spec.params['pads'] != SIM_PADS or layout.get('encoding', '32FC1') != '32FC1':
                raise ValueError(f'{where}: sensors.{name}: the simulated gripper has {SIM_PADS} '
                                 'tactile pads publishing 32FC1; set pads: 2, encoding: 32FC1')
            kwargs['tactile_rc'] = (spec.params['rows'], spec.params['cols'])
        if spec.kind.name == 'joints':
            unknown = [j for j in spec.params['joints'] if j not in FINGER_JOINTS]
            if unknown:
                raise ValueError(f'{where}: sensors.{name}.joints: the simulated gripper has '
                                 f'{", ".join(FINGER_JOINTS)}, not {", ".join(unknown)}')
    if 'depth_hw' in kwargs and 'camera_hw' not in kwargs:
        kwargs['camera_hw'] = kwargs['depth_hw']
    kwargs['rates'] = rates
    return sources, kwargs


def episode_start_ns(index):
    """
    Return the simulated time of episode ``index``'s t = 0.

    The first episode starts after a gap, then one gap lies between episodes.
    """
    return round((EPISODE_GAP_S + index * (DURATION_S + EPISODE_GAP_S)) * 1e9)


def _check(config, sensors, classes, storage, episodes):
    bad = [s for s in sensors if s not in config.sensors]
    if bad or not sensors:
        raise ValueError(f'--sensors {",".join(sensors)!r}: expected a non-empty subset of '
                         f'{",".join(config.names)} (the sensors of {config.path})')
    bad = [c for c in classes if c not in CLASSES]
    if bad or not classes:
        raise ValueError(f'--classes: unknown {", ".join(bad) or "(none given)"}; choose from '
                         f'{",".join(CLASSES)}')
    if storage not in STORAGE:
        raise ValueError(f'--storage {storage!r}; expected one of {", ".join(STORAGE)}')
    if episodes < 1:
        raise ValueError(f'--episodes {episodes}: record at least one episode')
    if not config.labels:
        raise ValueError(f'{config.path}: no labels block; the simulator records ground truth')


def message(spec, data, row, stamp, encoding):
    """Return one row of a simulated stream as the ROS message of ``spec``'s kind."""
    frame = spec.layout.get('frame_id', '')
    kind = spec.kind.name
    if kind == 'wrench':
        return wrench_msg(data[row], stamp, frame)
    if kind == 'imu':
        r = data[row]
        return imu_msg(r[:4], r[4:7], r[7:10], stamp, frame)
    if kind == 'joints':
        r = data[row]
        return joint_state_msg(list(FINGER_JOINTS), r[0], r[1], r[2], stamp, frame)
    return image_msg(data[row], encoding, stamp, frame)


def write_episode(writer, connections, episode, index, config, sources):
    """Write one Episode's messages in stamp order; returns messages written per sensor."""
    names = {src: name for name, src in sources.items()}
    keys, stamps, rows = [], [], []
    for source, stream in episode.streams.items():
        keys += [names[source]] * len(stream.stamps_ns)
        stamps.append(stream.stamps_ns)
        rows.append(np.arange(len(stream.stamps_ns)))
    keys += ['labels'] * len(episode.label_stamps_ns)
    stamps.append(episode.label_stamps_ns)
    rows.append(np.arange(len(episode.label_stamps_ns)))
    stamps, rows = np.concatenate(stamps), np.concatenate(rows)
    for i in np.argsort(stamps, kind='stable'):
        name, row, stamp = keys[i], int(rows[i]), int(stamps[i])
        if name == 'labels':
            msg = label_msg(index, episode.class_index, int(episode.phase[row]),
                            episode.targets[row], stamp, CLASSES, PHASES, TARGETS)
        else:
            source = sources[name]
            msg = message(config[name], episode.streams[source].data, row, stamp,
                          episode.encodings.get(source))
        writer.write(connections[name], stamp, serialize(msg))
    return Counter(keys)


def record_bag(out, episodes=8, seed=0, sensors=None, storage='mcap', classes=None,
               config=None, resolution=None, depth_encoding=None, progress=False):
    """
    Simulate ``episodes`` episodes and write them to a new rosbag2 folder ``out``.

    Episode i: seed + i, class classes[(seed + i) % len]. It returns a summary dict.

    sensors: names in the sensor YAML ``config`` to record (default: all of them); each maps to the
    simulated robot's source of its kind. resolution: (height, width) or 'WxH' for the rgb and
    depth sensors, overriding the sensor YAML. A KeyboardInterrupt stops after the episode being
    written and still closes a valid bag (summary['interrupted'] is then True).
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f'{out} already exists; refusing to overwrite a recording. '
                              'Choose a new --out path or delete the old one first.')
    config = load_sensor_config(config)
    sensors = list(config.names if sensors is None else sensors)
    classes = list(CLASSES if classes is None else classes)
    _check(config, sensors, classes, storage, episodes)
    sources, kwargs = sim_sources(config, sensors, resolution, depth_encoding)
    counts, per_class = Counter(), Counter()
    start, interrupted, done = time.perf_counter(), False, 0
    writer = Writer(out, version=9, storage_plugin=STORAGE[storage])
    writer.set_custom_data('xmodal.classes', ','.join(CLASSES))
    writer.set_custom_data('xmodal.phases', ','.join(PHASES))
    writer.set_custom_data('xmodal.targets', ','.join(TARGETS))
    writer.set_custom_data('xmodal.source', f'xmodal_training.sim seed={seed} episodes={episodes}')
    with writer:
        connections = {
            name: writer.add_connection(config[name].topic, config[name].msg_type,
                                        typestore=TYPESTORE, offered_qos_profiles=[SENSOR_QOS])
            for name in sensors}
        connections['labels'] = writer.add_connection(
            config.labels['topic'], config.labels['msg_type'], typestore=TYPESTORE,
            offered_qos_profiles=[LABEL_QOS])
        try:
            for i in tqdm(range(episodes), desc='episodes', unit='ep', disable=not progress):
                ep_seed = seed + i
                ep = simulate_episode(ep_seed, classes[ep_seed % len(classes)],
                                      sources=tuple(sources.values()),
                                      start_ns=episode_start_ns(i), **kwargs)
                counts += write_episode(writer, connections, ep, i, config, sources)
                per_class[ep.class_name] += 1
                done += 1
        except KeyboardInterrupt:
            interrupted = True
    topics = {config[k].topic if k != 'labels' else config.labels['topic']: n
              for k, n in counts.items()}
    hw = kwargs.get('camera_hw')
    return {'out': str(out), 'storage': storage, 'episodes': done, 'interrupted': interrupted,
            'classes': dict(per_class), 'sensors': sensors, 'messages': topics,
            'bytes': sum(f.stat().st_size for f in out.rglob('*') if f.is_file()),
            'sim_seconds': done * DURATION_S, 'wall_seconds': time.perf_counter() - start,
            'resolution': f'{hw[1]}x{hw[0]}' if hw else '-',
            'depth_encoding': kwargs['depth_encoding']}


def summary_text(s):
    msgs = ', '.join(f'{t} {n}' for t, n in s['messages'].items())
    classes = ', '.join(f'{c} x{n}' for c, n in s['classes'].items())
    return (f'{"Interrupted: " if s["interrupted"] else ""}Recorded {s["episodes"]} episodes '
            f'({s["sim_seconds"]:.1f} s simulated in {s["wall_seconds"]:.1f} s wall, '
            f'{s["wall_seconds"] / max(s["sim_seconds"], 1e-9):.2f} s per simulated s) to '
            f'{s["out"]} ({s["storage"]}, {s["bytes"] / 1e6:.1f} MB): classes {classes}; '
            f'sensors {",".join(s["sensors"])} at {s["resolution"]}, depth {s["depth_encoding"]}; '
            f'messages: {msgs}.')


def main(args):
    """Entry point of `xmodal sim record` (arguments parsed in xmodal_ros.cli)."""
    try:
        summary = record_bag(args.out, args.episodes, args.seed, args.sensors, args.storage,
                             args.classes, args.config, args.resolution, args.depth_encoding,
                             progress=True)
    except (FileExistsError, ValueError, FileNotFoundError) as e:
        print(f'xmodal sim record: {e}', file=sys.stderr)
        return 2
    print(summary_text(summary))
    return 130 if summary['interrupted'] else 0
