"""One scripted episode: randomise the scene from a seed, pick up the object, feel it, put it back.

The gripper approaches the object, closes on it (position control at a limited speed with a force
limit, as parallel grippers do), lifts it and holds it (the F/T sensor feels its weight), puts it
back, loosens the grip and slides the pads 8 mm down its sides (the F/T sensor feels friction,
the taxels feel texture moving past), then opens and rises. Everything random (pose, size, mass,
paint, lights, grip force, pace, noise levels, noise) comes from the seed through independent
streams per purpose, so one seed gives bit-identical arrays, and dropping a sensor does not
change the others' readings.

Ground truth per label step (100 Hz): the phase (PHASES; 'squeeze' starts at the first pad
contact) and TARGETS, each HORIZON_S ahead: the mean normal force of the two pads on the object
(N) and the object's height above where it rested (m).
"""
import functools
from dataclasses import dataclass, field

import mujoco
import numpy as np

from xmodal_ros.preprocess import SENSORS
from xmodal_training.sim.objects import CLASSES, object_class
from xmodal_training.sim.scene import (
    FINGER_TRAVEL, OPEN_Y, PAD_HALF, TIMESTEP, Sim, pad_surface_y)
from xmodal_training.sim.sensors import (
    TABLE_CONFORM_M, camera_readout, depth_readout, footprint, load_config, pad_pressure,
    taxel_points)

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
    streams: dict                    # sensor name -> Stream, for the sensors asked for
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
    return dict(
        size=tuple(s * scale for s in cls.size),
        mass=cls.mass * rng.uniform(0.9, 1.1),
        friction=cls.friction * rng.uniform(0.9, 1.1),
        rgb=tuple(np.clip(np.asarray(cls.rgb) * shade + rng.uniform(-0.04, 0.04, 3), 0, 1)),
        table_rgb=tuple(np.array([0.6, 0.5, 0.38]) + rng.uniform(-0.06, 0.06, 3)),
        light_pos=tuple(np.array([0.2, 0.3, 1.2]) + rng.uniform(-0.3, 0.3, 3) * [1, 1, 0.2]),
        light_diffuse=(rng.uniform(0.5, 0.9),) * 3,
        ambient=(rng.uniform(0.15, 0.4),) * 3,
        object_xy=tuple(rng.uniform(-0.03, 0.03, 2)),
        yaw=rng.uniform(-yaw_range, yaw_range),
        perception_error=tuple(rng.normal(0.0, 0.0015, 2)),
        start=(*rng.uniform(-0.08, 0.08, 2), rng.uniform(0.13, 0.17)),
        grip_n=rng.uniform(10.0, 14.0),
        slide_grip_n=rng.uniform(2.5, 4.0),
        lift_m=rng.uniform(0.04, 0.06),
        pace=rng.uniform(0.95, 1.05),
        camera_noise=rng.uniform(1.0, 3.0),          # grey levels
        depth_noise=rng.uniform(0.0015, 0.004),      # sigma = this * z^2 (m)
        depth_dropout=rng.uniform(0.001, 0.01),
        tactile_noise_kpa=rng.uniform(0.05, 0.15),
        tactile_gain=rng.normal(1.0, 0.04),          # per-taxel gains are drawn later
        force_noise_n=rng.uniform(0.02, 0.06),
        torque_noise_nm=rng.uniform(0.001, 0.003),
    )


class Script:
    """Scripted gantry and finger commands for one episode (stateful: the finger set-point moves
    at a limited speed)."""

    def __init__(self, cls, p):
        pace = p['pace']
        self.t = {k: v * pace for k, v in dict(
            descend=T_DESCEND, close=T_CLOSE, lift=T_LIFT, hold=T_HOLD, place=T_PLACE,
            loosen=T_LOOSEN, slide=T_SLIDE, release=T_RELEASE, rise=T_RISE).items()}
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
    """Taxel pressure images (rows, pads*cols) kPa from the pads' contacts with object and table."""

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


def simulate_episode(seed, class_name=None, sensors=SENSORS, camera_hw=None, depth_encoding=None,
                     config=None, start_ns=0):
    """Simulate one episode and return its sensor streams and labels.

    seed: non-negative int; the same seed gives bit-identical arrays.
    class_name: one of CLASSES (default: CLASSES[seed % len(CLASSES)]).
    sensors: the subset of SENSORS to produce (the others are not rendered or synthesised).
    camera_hw: (height, width) of camera and depth images (default: the sensor config's).
    depth_encoding: '32FC1' (m, NaN invalid) or '16UC1' (mm, 0 invalid); default from config.
    config: sensor config (path, dict or None for config/sensors.yaml): rates and tactile layout.
    start_ns: stamp of the episode's t = 0 (simulated time).
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    unknown = [s for s in sensors if s not in SENSORS]
    if unknown:
        raise ValueError(f'unknown sensors {unknown}; expected a subset of {", ".join(SENSORS)}')
    cfg = load_config(config, resolution=camera_hw, depth_encoding=depth_encoding)['sensors']
    class_name = CLASSES[seed % len(CLASSES)] if class_name is None else class_name
    cls = object_class(class_name)
    rng_params, rng_cam, rng_depth, rng_tact, rng_force = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5))
    p = draw_params(cls, rng_params)
    cam_hw = (int(cfg['camera']['height']), int(cfg['camera']['width']))
    depth_hw = (int(cfg['depth']['height']), int(cfg['depth']['width']))
    sim = _sim(cam_hw, depth_hw)
    m, d = sim.model, sim.data
    sim.configure(cls, p['size'], p['mass'], p['friction'], p['rgb'], p['table_rgb'],
                  p['light_pos'], p['light_diffuse'], p['ambient'])
    rest_z = p['size'][2] if cls.shape == 'box' else p['size'][-1]
    half_yaw = p['yaw'] / 2
    d.qpos[sim.object_qpos:sim.object_qpos + 7] = (
        *p['object_xy'], rest_z, np.cos(half_yaw), 0.0, 0.0, np.sin(half_yaw))
    d.qpos[sim.gantry_qpos] = p['start']
    script = Script(cls, p)
    rows, cols = int(cfg['tactile']['rows']), int(cfg['tactile']['cols'])
    tactile = Tactile(sim, rows, cols)

    n_rec = round(DURATION_S / TIMESTEP)
    n_total = n_rec + round(HORIZON_S / TIMESTEP)
    label_steps = _schedule(LABEL_RATE_HZ, n_total)
    label_at = {int(k): j for j, k in enumerate(label_steps)}
    sched = {s: _schedule(float(cfg[s]['rate_hz']), n_rec) for s in sensors}
    at = {s: {int(k): j for j, k in enumerate(sched[s])} for s in sensors}
    data = {}
    if 'camera' in sensors:
        data['camera'] = np.empty((len(sched['camera']), *cam_hw, 3), dtype=np.uint8)
    if 'depth' in sensors:
        data['depth'] = np.empty((len(sched['depth']), *depth_hw),
                                 dtype=np.uint16 if cfg['depth']['encoding'] == '16UC1'
                                 else np.float32)
    if 'tactile' in sensors:
        data['tactile'] = np.empty((len(sched['tactile']), rows, 2 * cols), dtype=np.float32)
        gains = rng_tact.normal(p['tactile_gain'], 0.04, (rows, 2 * cols))
    wrench = np.empty((n_rec, 6))

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
    for k in range(n_total):
        t = k * TIMESTEP
        d.ctrl[:3] = script.gantry(t)
        d.ctrl[3:5] = script.fingers(t, d.qpos[fq], d.qvel[fd])
        mujoco.mj_step(m, d)   # derived quantities (contacts, sensors, poses) now describe time t
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
        if k in at.get('tactile', ()):
            if k not in label_at:
                forces = tactile.pad_forces()
            img = tactile.image(forces, cls, p['size']) * gains
            img += rng_tact.standard_normal(img.shape) * p['tactile_noise_kpa']
            data['tactile'][at['tactile'][k]] = np.maximum(img, 0.0)
        if k in at.get('camera', ()):
            data['camera'][at['camera'][k]] = camera_readout(
                sim.render('camera'), p['camera_noise'], rng_cam)
        if k in at.get('depth', ()):
            data['depth'][at['depth'][k]] = depth_readout(
                sim.render('depth'), cfg['depth']['encoding'], p['depth_noise'],
                p['depth_dropout'], rng_depth)
    if 'force' in sensors:
        sigma = np.array([p['force_noise_n']] * 3 + [p['torque_noise_nm']] * 3)
        n = len(sched['force'])
        data['force'] = wrench[sched['force']] + rng_force.standard_normal((n, 6)) * sigma

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
        streams={s: Stream(start_ns + sched[s] * STEP_NS, data[s]) for s in sensors},
        label_stamps_ns=start_ns + label_steps[:n_labels] * STEP_NS,
        phase=phase[:n_labels], targets=targets,
        encodings={'camera': 'rgb8', 'depth': cfg['depth']['encoding'], 'tactile': '32FC1'},
        info=dict(p, t_contact=t_contact, script_times=T, rest_z=z_ref))
