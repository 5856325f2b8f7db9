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
One scripted episode: randomise the scene from a seed, pick up the object, feel it, put it back.

The gripper approaches the object, closes on it (position control at a limited speed with a force
limit, as parallel grippers do), lifts it and holds it (the F/T sensor feels its weight), puts it
back, loosens the grip and slides the pads 8 mm down its sides (the F/T sensor feels friction,
the taxels feel texture moving past), then opens and rises. Everything random (pose, size, mass,
paint, lights, grip force, pace, noise levels, noise) comes from the seed through independent
streams per purpose, so one seed gives bit-identical arrays, and dropping a source does not
change the others' readings.

The sources (SOURCES) are the simulated robot's hardware; their layouts (Stream.data):
  camera         uint8 (N, H, W, 3) rgb8          depth   (N, H, W) 32FC1 m or 16UC1 mm
  tactile        float32 (N, rows, 2 * cols) kPa  force   float64 (N, 6) fx fy fz tx ty tz
  finger_joints  float64 (N, 3, 2): rows position (m, 0 = open, + closing), velocity (m/s),
                 effort (N, the motor force applied); columns FINGER_JOINTS
  wrist_imu      float64 (N, 10): orientation quaternion x y z w of the IMU frame in the world,
                 angular velocity x y z (rad/s) and linear acceleration x y z (m/s^2, including
                 the reaction to gravity: about +9.81 on z at rest) in the IMU frame (z up)
What they feel of the class: squeezing a soft object lets the force-limited fingers close further;
a heavy payload sags and rings the vertical axis (IMU) when it lifts off and lands; the ribbed
can's ribs ring the wrist while the pads slide over them (IMU, see sensors.rib_snaps).

Ground truth per label step (100 Hz): the phase (PHASES; 'squeeze' starts at the first pad
contact) and TARGETS, each HORIZON_S ahead: the mean normal force of the two pads on the object
(N) and the object's height above where it rested (m).
"""
from dataclasses import dataclass, field
import functools

import mujoco
import numpy as np

from xmodal_ros.conversions import DEPTH_ENCODINGS
from xmodal_training.sim.objects import CLASSES, object_class
from xmodal_training.sim.scene import FINGER_TRAVEL, OPEN_Y, PAD_HALF, pad_surface_y, Sim, TIMESTEP
from xmodal_training.sim.sensors import (camera_readout, depth_readout, draw_finger_params,
                                         draw_imu_params, finger_readout, footprint, imu_readout,
                                         pad_pressure, rib_snaps, TABLE_CONFORM_M, taxel_points,
                                         wrist_ring)

SOURCES = ('camera', 'depth', 'tactile', 'force', 'finger_joints', 'wrist_imu')
DEFAULT_RATES = {'camera': 30.0, 'depth': 30.0, 'tactile': 100.0, 'force': 500.0,
                 'finger_joints': 100.0, 'wrist_imu': 250.0}
FINGER_JOINTS = ('left_finger_joint', 'right_finger_joint')   # finger_joints columns, in order
PHASES = ('approach', 'squeeze', 'lift', 'place', 'slide', 'release')
TARGETS = ('grip_force_future', 'object_height_future')
DURATION_S = 4.0
HORIZON_S = 0.2
LABEL_RATE_HZ = 100.0
SETTLE_S = 0.2            # unrecorded settling before t = 0; the F/T sensor is tared at its end
STEP_NS = round(TIMESTEP * 1e9)
# Script times (s, before the per-episode pace factor).
T_DESCEND, T_CLOSE, T_LIFT, T_HOLD, T_PLACE = 0.45, 0.95, 1.6, 2.1, 2.4
T_LOOSEN, T_SLIDE, T_RELEASE, T_RISE = 2.85, 3.05, 3.5, 3.65
SLIDE_M = 0.008
FINGER_KP, FINGER_KD = 2000.0, 5.0       # finger position loop (N/m, N s/m)
CONTACT_N = 0.05                          # pad force that counts as touching


@dataclass
class Stream:
    """One sensor's readings: stamps (int64 ns) and data (N, ...) in message layout."""

    stamps_ns: np.ndarray
    data: np.ndarray


@dataclass
class Episode:
    seed: int
    class_name: str
    class_index: int                 # index into CLASSES
    streams: dict                    # source name -> Stream, for the sources asked for
    label_stamps_ns: np.ndarray      # int64 (L,), 100 Hz
    phase: np.ndarray                # int64 (L,), index into PHASES
    targets: np.ndarray              # float64 (L, len(TARGETS))
    encodings: dict                  # sensor -> Image encoding
    info: dict = field(default_factory=dict)   # the drawn randomisation, for inspection


def _smooth(a, b, t0, t1, t):
    """Minimum-jerk blend from a to b over [t0, t1]."""
    s = min(max((t - t0) / (t1 - t0), 0.0), 1.0)
    return a + (b - a) * s * s * s * (10 - 15 * s + 6 * s * s)


def draw_params(cls, rng):
    """Per-episode randomisation of the scene, the script and the sensor noise."""
    scale = rng.uniform(0.96, 1.04)
    shade = rng.uniform(0.9, 1.1)
    yaw_range = 0.26 if cls.shape == 'box' else np.pi
    return {
        'size': tuple(s * scale for s in cls.size),
        'mass': cls.mass * rng.uniform(0.9, 1.1),
        'friction': cls.friction * rng.uniform(0.9, 1.1),
        'rgb': tuple(np.clip(np.asarray(cls.rgb) * shade + rng.uniform(-0.04, 0.04, 3), 0, 1)),
        'table_rgb': tuple(np.array([0.6, 0.5, 0.38]) + rng.uniform(-0.06, 0.06, 3)),
        'light_pos': tuple(np.array([0.2, 0.3, 1.2]) + rng.uniform(-0.3, 0.3, 3) * [1, 1, 0.2]),
        'light_diffuse': (rng.uniform(0.5, 0.9),) * 3,
        'ambient': (rng.uniform(0.15, 0.4),) * 3,
        'object_xy': tuple(rng.uniform(-0.03, 0.03, 2)),
        'yaw': rng.uniform(-yaw_range, yaw_range),
        'perception_error': tuple(rng.normal(0.0, 0.0015, 2)),
        'start': (*rng.uniform(-0.08, 0.08, 2), rng.uniform(0.13, 0.17)),
        'grip_n': rng.uniform(10.0, 14.0),
        'slide_grip_n': rng.uniform(2.5, 4.0),
        'lift_m': rng.uniform(0.04, 0.06),
        'pace': rng.uniform(0.95, 1.05),
        'camera_noise': rng.uniform(1.0, 3.0),          # grey levels
        'depth_noise': rng.uniform(0.0015, 0.004),      # sigma = this * z^2 (m)
        'depth_dropout': rng.uniform(0.001, 0.01),
        'tactile_noise_kpa': rng.uniform(0.05, 0.15),
        'tactile_gain': rng.normal(1.0, 0.04),          # per-taxel gains are drawn later
        'force_noise_n': rng.uniform(0.02, 0.06),
        'torque_noise_nm': rng.uniform(0.001, 0.003),
    }


class Script:
    """
    Scripted gantry and finger commands for one episode.

    Stateful: the finger set-point moves at a limited speed.
    """

    def __init__(self, cls, p):
        pace = p['pace']
        self.t = {k: v * pace for k, v in {
            'descend': T_DESCEND, 'close': T_CLOSE, 'lift': T_LIFT, 'hold': T_HOLD,
            'place': T_PLACE, 'loosen': T_LOOSEN, 'slide': T_SLIDE, 'release': T_RELEASE,
            'rise': T_RISE}.items()}
        rest_z = p['size'][2] if cls.shape == 'box' else p['size'][-1]
        half_width = p['size'][1] if cls.shape == 'box' else p['size'][0]
        self.target_xy = np.array(p['object_xy']) + p['perception_error']
        self.start = np.array(p['start'])
        self.grasp_z = rest_z + 0.004
        self.lift_z = self.grasp_z + p['lift_m']
        self.pre_q = OPEN_Y - half_width - 0.012
        self.grip_n, self.slide_grip_n = p['grip_n'], p['slide_grip_n']
        self.q_cmd = np.zeros(2)
        self.opening = False

    def gantry(self, t):
        T, z = self.t, self.grasp_z
        xy = self.start[:2] + (self.target_xy - self.start[:2]) * _smooth(0, 1, 0, T['descend'], t)
        if t < T['descend']:
            zc = _smooth(self.start[2], z + 0.06, 0, T['descend'], t)
        elif t < T['lift']:
            zc = _smooth(z + 0.06, z, T['descend'], T['close'], t)
        elif t < T['place']:
            zc = _smooth(z, self.lift_z, T['lift'], T['hold'], t)
        elif t < T['slide']:
            zc = _smooth(self.lift_z, z, T['place'], T['loosen'], t)
        elif t < T['rise']:
            zc = _smooth(z, z - SLIDE_M, T['slide'], T['release'], t)
        else:
            zc = _smooth(z - SLIDE_M, z + 0.06, T['rise'], T['rise'] + 0.5, t)
        return xy[0], xy[1], zc

    def fingers(self, t, q, qd):
        T = self.t
        limit = self.grip_n
        if t < T['descend']:
            goal, speed = 0.0, 0.1
        elif t < T['close']:
            goal, speed = self.pre_q, 0.1
        elif t < T['release']:
            goal, speed = FINGER_TRAVEL, 0.06
            limit = _smooth(self.grip_n, self.slide_grip_n, T['loosen'], T['slide'], t)
        else:
            if not self.opening:
                self.q_cmd[:] = q
                self.opening = True
            goal, speed = 0.0, 0.1
        self.q_cmd += np.clip(goal - self.q_cmd, -speed * TIMESTEP, speed * TIMESTEP)
        return np.clip(FINGER_KP * (self.q_cmd - q) - FINGER_KD * qd, -limit, limit)


def _schedule(rate_hz, n_steps):
    """Physics step indices at which a sensor of ``rate_hz`` samples, within n_steps."""
    if rate_hz > 1.0 / TIMESTEP + 1e-9:
        raise ValueError(f'sensor rate {rate_hz} Hz exceeds the physics rate '
                         f'{1.0 / TIMESTEP:.0f} Hz; lower rate_hz in the sensor config')
    steps = np.rint(np.arange(int(np.ceil(n_steps * TIMESTEP * rate_hz))) / (rate_hz * TIMESTEP))
    steps = steps.astype(np.int64)
    return steps[steps < n_steps]


class Tactile:
    """
    Taxel pressure images (rows, pads*cols), kPa.

    From the pads' contacts with object and table.
    """

    def __init__(self, sim, rows, cols):
        self.sim, self.rows, self.cols = sim, rows, cols
        pts = taxel_points(rows, cols, PAD_HALF).reshape(-1, 3)
        self.pad_points = []                # taxels on the domed skin, in the finger frames
        for sign in (-1, 1):
            p = pts.copy()
            p[:, 1] = sign * pad_surface_y(p[:, 0], p[:, 2])
            self.pad_points.append(p)
        self.area = (2 * PAD_HALF[0] / cols) * (2 * PAD_HALF[2] / rows)
        table = sim.table_geom
        self.table_size = tuple(sim.model.geom_size[table])
        self._buf = np.zeros(6)

    def pad_forces(self):
        """(2 pads, [object, table]) normal contact forces, N."""
        sim, d = self.sim, self.sim.data
        out = np.zeros((2, 2))
        if d.ncon == 0:
            return out
        geoms = d.contact.geom[:d.ncon]
        for i, (g1, g2) in enumerate(geoms):
            for p, pad in enumerate(sim.pad_geoms):
                if pad not in (g1, g2):
                    continue
                other = g2 if g1 == pad else g1
                k = 0 if other == sim.object_geom else 1 if other == sim.table_geom else -1
                if k >= 0:
                    mujoco.mj_contactForce(sim.model, d, i, self._buf)
                    out[p, k] += self._buf[0]
        return out

    def image(self, forces, cls, size):
        sim, d = self.sim, self.sim.data
        out = np.zeros((self.rows, 2 * self.cols), dtype=np.float64)
        touched = ((sim.object_geom, cls.shape, size, cls.conform_m, cls.rib_depth,
                    cls.rib_pitch_m),
                   (sim.table_geom, 'box', self.table_size, TABLE_CONFORM_M, 0.0, 1.0))
        for p, body in enumerate(sim.finger_bodies):
            world = d.xpos[body] + self.pad_points[p] @ d.xmat[body].reshape(3, 3).T
            for k, (geom, shape, gsize, conform, rib, pitch) in enumerate(touched):
                if forces[p, k] <= 0.0:
                    continue
                local = (world - d.geom_xpos[geom]) @ d.geom_xmat[geom].reshape(3, 3)
                w = footprint(shape, gsize, local, conform, rib, pitch)
                pressure = pad_pressure(forces[p, k], w, self.area)
                out[:, p * self.cols:(p + 1) * self.cols] += pressure.reshape(self.rows, self.cols)
        return out


@functools.lru_cache(maxsize=2)
def _sim(camera_hw, depth_hw):
    return Sim(camera_hw, depth_hw)


def _check_args(seed, sources, rates, camera_hw, depth_hw, depth_encoding, tactile_rc):
    """
    Validate the arguments.

    It returns (rates with defaults filled in, camera_hw, depth_hw, tactile_rc).
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    if isinstance(sources, str):
        raise ValueError(f'sources must be a sequence of source names, got the string '
                         f'{sources!r}; e.g. sources=({sources!r},)')
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f'unknown sources {unknown}; expected a subset of {", ".join(SOURCES)}')
    if rates is not None and not isinstance(rates, dict):
        raise ValueError(f'rates must be a dict source -> Hz, got {rates!r}')
    rates = {**DEFAULT_RATES, **(rates or {})}
    for s, hz in rates.items():
        if s not in SOURCES:
            raise ValueError(f'rates: unknown source {s!r}; expected one of {", ".join(SOURCES)}')
        if not isinstance(hz, (int, float, np.number)) or not hz > 0:
            raise ValueError(f'rates[{s!r}] = {hz!r}; give a positive rate in Hz')
    sizes = {}
    for name, v in (('camera_hw', camera_hw), ('depth_hw', depth_hw), ('tactile_rc', tactile_rc)):
        try:
            a, b = (int(x) for x in v)
        except (TypeError, ValueError):
            raise ValueError(f'{name} must be a pair of positive integers, got {v!r}') from None
        if a < 1 or b < 1:
            raise ValueError(f'{name} must be a pair of positive integers, got {v!r}')
        sizes[name] = (a, b)
    if depth_encoding not in DEPTH_ENCODINGS:
        raise ValueError(f'depth_encoding {depth_encoding!r}; expected one of '
                         f'{", ".join(DEPTH_ENCODINGS)}')
    return rates, sizes['camera_hw'], sizes['depth_hw'], sizes['tactile_rc']


def simulate_episode(seed, class_name=None, sources=SOURCES, rates=None, camera_hw=(480, 640),
                     depth_hw=None, depth_encoding='32FC1', tactile_rc=(8, 8), start_ns=0):
    """
    Simulate one episode and return its sensor streams and labels.

    seed: non-negative int; the same seed gives bit-identical arrays.
    class_name: one of CLASSES (default: CLASSES[seed % len(CLASSES)]).
    sources: the subset of SOURCES to produce (the others are not rendered or synthesised, and
        leaving one out does not change the others' readings).
    rates: dict source -> Hz, at most the physics rate (500 Hz); missing ones: DEFAULT_RATES.
    camera_hw, depth_hw: (height, width) of the colour and depth images (depth: camera_hw).
    depth_encoding: '32FC1' (m, NaN invalid) or '16UC1' (mm, 0 invalid).
    tactile_rc: (rows, cols) of taxels per pad (two pads side by side in the image).
    start_ns: stamp of the episode's t = 0 (simulated time).
    """
    depth_hw = camera_hw if depth_hw is None else depth_hw
    rates, cam_hw, depth_hw, (rows, cols) = _check_args(
        seed, sources, rates, camera_hw, depth_hw, depth_encoding, tactile_rc)
    class_name = CLASSES[seed % len(CLASSES)] if class_name is None else class_name
    cls = object_class(class_name)
    # One stream per purpose; new purposes are spawned after the old ones, whose draws stay put.
    (rng_params, rng_cam, rng_depth, rng_tact, rng_force, rng_finger, rng_imu) = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(7))
    p = draw_params(cls, rng_params)
    p.update(draw_finger_params(rng_finger))
    p.update(draw_imu_params(rng_imu))
    sim = _sim(cam_hw, depth_hw)
    m, d = sim.model, sim.data
    sim.configure(cls, p['size'], p['mass'], p['friction'], p['rgb'], p['table_rgb'],
                  p['light_pos'], p['light_diffuse'], p['ambient'], p['imu_mount_quat'])
    rest_z = p['size'][2] if cls.shape == 'box' else p['size'][-1]
    half_yaw = p['yaw'] / 2
    d.qpos[sim.object_qpos:sim.object_qpos + 7] = (
        *p['object_xy'], rest_z, np.cos(half_yaw), 0.0, 0.0, np.sin(half_yaw))
    d.qpos[sim.gantry_qpos] = p['start']
    script = Script(cls, p)
    tactile = Tactile(sim, rows, cols)

    n_rec = round(DURATION_S / TIMESTEP)
    n_total = n_rec + round(HORIZON_S / TIMESTEP)
    label_steps = _schedule(LABEL_RATE_HZ, n_total)
    label_at = {int(k): j for j, k in enumerate(label_steps)}
    sched = {s: _schedule(float(rates[s]), n_rec) for s in sources}
    at = {s: {int(k): j for j, k in enumerate(sched[s])} for s in sources}
    data = {}
    if 'camera' in sources:
        data['camera'] = np.empty((len(sched['camera']), *cam_hw, 3), dtype=np.uint8)
    if 'depth' in sources:
        data['depth'] = np.empty((len(sched['depth']), *depth_hw),
                                 dtype=np.uint16 if depth_encoding == '16UC1' else np.float32)
    if 'tactile' in sources:
        data['tactile'] = np.empty((len(sched['tactile']), rows, 2 * cols), dtype=np.float32)
        gains = rng_tact.normal(p['tactile_gain'], 0.04, (rows, 2 * cols))
    wrench = np.empty((n_rec, 6))
    imu = 'wrist_imu' in sources
    ribs = imu and cls.rib_depth > 0
    if imu:
        imu_raw = np.empty((n_rec, 10))      # accelerometer; gyro; quaternion w, x, y, z
    if ribs:
        pad_z = np.zeros((n_rec, 2))         # pad centres along the rib axis, object frame
        pad_n = np.zeros((n_rec, 2))         # pad normal forces on the object
        rib_axis = np.empty((n_rec, 3))      # the object's rib axis in the IMU frame
    if 'finger_joints' in sources:
        finger_raw = np.empty((len(sched['finger_joints']), 3, 2))
    fa, ia = sim.finger_adr, sim.imu_adr

    # Settle on the table with the gripper parked, then tare the wrist sensor.
    fq, fd = sim.finger_qpos, sim.finger_dof
    tare = np.zeros(6)
    n_settle = round(SETTLE_S / TIMESTEP)
    for k in range(n_settle):
        d.ctrl[:3] = p['start']
        d.ctrl[3:5] = script.fingers(0.0, d.qpos[fq], d.qvel[fd])
        mujoco.mj_step(m, d)
        if k >= n_settle - 25:
            tare -= d.sensordata[sim.ft_adr:sim.ft_adr + 6] / 25
    z_ref = d.qpos[sim.object_qpos + 2]
    script.q_cmd[:] = 0.0

    grip = np.zeros(len(label_steps))
    height = np.zeros(len(label_steps))
    t_contact = None
    og = sim.object_geom
    for k in range(n_total):
        t = k * TIMESTEP
        d.ctrl[:3] = script.gantry(t)
        d.ctrl[3:5] = script.fingers(t, d.qpos[fq], d.qvel[fd])
        mujoco.mj_step(m, d)   # derived quantities (contacts, sensors, poses) now describe time t
        forces = None
        if k in label_at:
            forces = tactile.pad_forces()
            j = label_at[k]
            grip[j] = forces[:, 0].mean()
            height[j] = d.xpos[sim.object_body][2] - z_ref
            if t_contact is None and t >= script.t['close'] and forces[:, 0].sum() > CONTACT_N:
                t_contact = t
        if k >= n_rec:
            continue
        # The published wrench is the load the tool exerts on the sensor (z towards the fingers).
        wrench[k] = -d.sensordata[sim.ft_adr:sim.ft_adr + 6] - tare
        if imu:
            imu_raw[k] = d.sensordata[ia:ia + 10]
        if ribs:
            if forces is None:
                forces = tactile.pad_forces()
            pad_n[k] = forces[:, 0]
            axis = d.geom_xmat[og].reshape(3, 3)[:, 2]
            pad_z[k] = (d.xpos[sim.finger_bodies] - d.geom_xpos[og]) @ axis
            rib_axis[k] = axis @ d.site_xmat[sim.imu_site].reshape(3, 3)
        if k in at.get('finger_joints', ()):
            finger_raw[at['finger_joints'][k]] = d.sensordata[fa:fa + 6].reshape(3, 2)
        if k in at.get('tactile', ()):
            if forces is None:
                forces = tactile.pad_forces()
            img = tactile.image(forces, cls, p['size']) * gains
            img += rng_tact.standard_normal(img.shape) * p['tactile_noise_kpa']
            data['tactile'][at['tactile'][k]] = np.maximum(img, 0.0)
        if k in at.get('camera', ()):
            data['camera'][at['camera'][k]] = camera_readout(
                sim.render('camera'), p['camera_noise'], rng_cam)
        if k in at.get('depth', ()):
            data['depth'][at['depth'][k]] = depth_readout(
                sim.render('depth'), depth_encoding, p['depth_noise'], p['depth_dropout'],
                rng_depth)
    if 'force' in sources:
        sigma = np.array([p['force_noise_n']] * 3 + [p['torque_noise_nm']] * 3)
        n = len(sched['force'])
        data['force'] = wrench[sched['force']] + rng_force.standard_normal((n, 6)) * sigma
    if 'finger_joints' in sources:
        data['finger_joints'] = finger_readout(finger_raw, p, rng_finger)
    if imu:
        if ribs:
            snaps = rib_snaps(pad_z, pad_n, cls.rib_depth, cls.rib_pitch_m, TIMESTEP)
            imu_raw[:, :3] += wrist_ring(snaps, TIMESTEP)[:, None] * rib_axis
        # Each sample averages the physics steps since the previous one (decimation filter).
        steps = sched['wrist_imu']
        csum = np.concatenate([np.zeros((1, 6)), np.cumsum(imu_raw[:, :6], axis=0)])
        first = np.concatenate([[steps[0]], steps[:-1] + 1])
        mean = (csum[steps + 1] - csum[first]) / (steps + 1 - first)[:, None]
        data['wrist_imu'] = imu_readout(imu_raw[steps, 6:], mean[:, 3:], mean[:, :3], p,
                                        rng_imu)

    label_t = label_steps * TIMESTEP
    T = script.t
    bounds = [min(t_contact if t_contact is not None else T['lift'], T['lift']),
              T['lift'], T['place'], T['loosen'], T['release']]
    phase = np.searchsorted(bounds, label_t + 1e-9, side='right').astype(np.int64)
    h = round(HORIZON_S * LABEL_RATE_HZ)
    n_labels = int((label_steps < n_rec).sum())
    targets = np.stack([grip[h:h + n_labels], height[h:h + n_labels]], axis=1)
    return Episode(
        seed=int(seed), class_name=class_name, class_index=CLASSES.index(class_name),
        streams={s: Stream(start_ns + sched[s] * STEP_NS, data[s]) for s in sources},
        label_stamps_ns=start_ns + label_steps[:n_labels] * STEP_NS,
        phase=phase[:n_labels], targets=targets,
        encodings={'camera': 'rgb8', 'depth': depth_encoding, 'tactile': '32FC1'},
        info=dict(p, t_contact=t_contact, script_times=T, rest_z=z_ref))
