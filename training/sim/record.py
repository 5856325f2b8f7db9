"""`xmodal sim record`: simulate episodes and write them to a rosbag2 file (MCAP or sqlite3).

Episodes are laid end to end in simulated time, EPISODE_GAP_S apart (no messages in the gaps),
each written as soon as it is simulated so memory holds one episode at most. Every message's bag
log time equals its header stamp. Topics, types, frames and rates come from the sensor YAML.
"""
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from tqdm import tqdm

from xmodal_ros.preprocess import SENSORS
from xmodal_training.sim.episode import DURATION_S, PHASES, TARGETS, simulate_episode
from xmodal_training.sim.messages import (
    LABEL_QOS, SENSOR_QOS, TYPESTORE, image_msg, label_msg, serialize, wrench_msg)
from xmodal_training.sim.objects import CLASSES
from xmodal_training.sim.sensors import load_config

EPISODE_GAP_S = 1.0
STORAGE = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
MSG_TYPES = {'camera': 'sensor_msgs/msg/Image', 'depth': 'sensor_msgs/msg/Image',
             'tactile': 'sensor_msgs/msg/Image', 'force': 'geometry_msgs/msg/WrenchStamped',
             'labels': 'sensor_msgs/msg/JointState'}


def episode_start_ns(index):
    """Simulated time of episode ``index``'s t = 0: after a gap, then one gap between episodes."""
    return round((EPISODE_GAP_S + index * (DURATION_S + EPISODE_GAP_S)) * 1e9)


def _check(sensors, classes, storage, episodes, cfg):
    bad = [s for s in sensors if s not in SENSORS]
    if bad or not sensors:
        raise ValueError(f'--sensors {",".join(sensors)!r}: expected a non-empty subset of '
                         f'{",".join(SENSORS)}')
    bad = [c for c in classes if c not in CLASSES]
    if bad or not classes:
        raise ValueError(f'--classes: unknown {", ".join(bad) or "(none given)"}; choose from '
                         f'{",".join(CLASSES)}')
    if storage not in STORAGE:
        raise ValueError(f'--storage {storage!r}; expected one of {", ".join(STORAGE)}')
    if episodes < 1:
        raise ValueError(f'--episodes {episodes}: record at least one episode')
    blocks = {**cfg['sensors'], 'labels': cfg['labels']}
    for name in (*sensors, 'labels'):
        found = blocks[name].get('msg_type')
        if found != MSG_TYPES[name]:
            raise ValueError(f'sensor config: {name}.msg_type is {found!r}; the simulator '
                             f'publishes {MSG_TYPES[name]}')


def write_episode(writer, connections, episode, index, cfg):
    """Write one Episode's messages in stamp order; returns messages written per connection key."""
    sensors = cfg['sensors']
    keys, stamps, rows = [], [], []
    for name, stream in episode.streams.items():
        keys += [name] * len(stream.stamps_ns)
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
        elif name == 'force':
            msg = wrench_msg(episode.streams[name].data[row], stamp, sensors[name]['frame_id'])
        else:
            msg = image_msg(episode.streams[name].data[row], episode.encodings[name], stamp,
                            sensors[name]['frame_id'])
        writer.write(connections[name], stamp, serialize(msg))
    return Counter(keys)


def record_bag(out, episodes=8, seed=0, sensors=SENSORS, storage='mcap', classes=None,
               config=None, resolution=None, depth_encoding=None, progress=False):
    """Simulate ``episodes`` episodes (episode i: seed + i, class classes[(seed + i) % len]) and
    write them to a new rosbag2 folder ``out``; returns a summary dict.

    resolution: (height, width) or 'WxH' for camera and depth, overriding the sensor config.
    A KeyboardInterrupt stops after the episode being written and still closes a valid bag
    (summary['interrupted'] is then True).
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f'{out} already exists; refusing to overwrite a recording. '
                              'Choose a new --out path or delete the old one first.')
    cfg = load_config(config, resolution, depth_encoding)
    sensors = list(sensors)
    classes = list(CLASSES if classes is None else classes)
    _check(sensors, classes, storage, episodes, cfg)
    hw = (int(cfg['sensors']['camera']['height']), int(cfg['sensors']['camera']['width']))
    counts, per_class = Counter(), Counter()
    start, interrupted, done = time.perf_counter(), False, 0
    writer = Writer(out, version=9, storage_plugin=STORAGE[storage])
    writer.set_custom_data('xmodal.classes', ','.join(CLASSES))
    writer.set_custom_data('xmodal.phases', ','.join(PHASES))
    writer.set_custom_data('xmodal.targets', ','.join(TARGETS))
    writer.set_custom_data('xmodal.source', f'xmodal_training.sim seed={seed} episodes={episodes}')
    with writer:
        connections = {
            name: writer.add_connection(
                cfg['sensors'][name]['topic'], MSG_TYPES[name], typestore=TYPESTORE,
                offered_qos_profiles=[SENSOR_QOS])
            for name in sensors}
        connections['labels'] = writer.add_connection(
            cfg['labels']['topic'], MSG_TYPES['labels'], typestore=TYPESTORE,
            offered_qos_profiles=[LABEL_QOS])
        try:
            for i in tqdm(range(episodes), desc='episodes', unit='ep', disable=not progress):
                ep_seed = seed + i
                ep = simulate_episode(ep_seed, classes[ep_seed % len(classes)], sensors, hw,
                                      cfg['sensors']['depth']['encoding'], cfg,
                                      start_ns=episode_start_ns(i))
                counts += write_episode(writer, connections, ep, i, cfg)
                per_class[ep.class_name] += 1
                done += 1
        except KeyboardInterrupt:
            interrupted = True
    topics = {cfg['sensors'][k]['topic'] if k != 'labels' else cfg['labels']['topic']: n
              for k, n in counts.items()}
    return dict(out=str(out), storage=storage, episodes=done, interrupted=interrupted,
                classes=dict(per_class), sensors=sensors, messages=topics,
                bytes=sum(f.stat().st_size for f in out.rglob('*') if f.is_file()),
                sim_seconds=done * DURATION_S, wall_seconds=time.perf_counter() - start,
                resolution=f'{hw[1]}x{hw[0]}', depth_encoding=cfg['sensors']['depth']['encoding'])


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
