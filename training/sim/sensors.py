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
Sensor config (config/sensors.yaml) and the sensor models turning simulator state into readings.

Camera and depth come from MuJoCo's renderer, with noise, range limits and dropouts a structured
light camera shows. Tactile pressure is synthesised from geometry and MuJoCo's contact forces:
each taxel's share of a pad's force follows how far the contacting surface (an analytic signed
distance, in that surface's own frame) reaches into the domed pad skin at that taxel, widened by
how much the material conforms and modulated by its texture, and the shares sum to the normal
force MuJoCo computed for that pad (object and table contacts each). So no contact means exactly
zero (plus the noise floor), and moving the pad over a textured surface moves the pattern across
the taxels. Force/torque is MuJoCo's wrist sensor. Finger joints are MuJoCo's joint position,
velocity and actuator force sensors read through an encoder and a motor-current model. The wrist
IMU is MuJoCo's accelerometer, gyro and frame orientation on a slightly misaligned site, with bias
and noise, plus the rib texture vibration the physics cannot make (rib_snaps, wrist_ring).
"""
from statistics import NormalDist

import numpy as np

DEPTH_RANGE_M = (0.1, 1.5)      # readings outside are "no return" (REP-118 invalid)
EDGE_JUMP_M = 0.02              # depth discontinuity that makes pixels flicker invalid
TABLE_CONFORM_M = 0.0003


# Standard normal quantiles of 256 equiprobable bins: a random byte indexes a Gaussian sample
# (tails cut at 2.9 sigma), 4x cheaper than drawing floats for every pixel of every frame.
_GAUSS_LUT = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)],
                      dtype=np.float32)


def gaussian_like(shape, rng):
    """float32 standard normal samples (quantised to 256 levels) of ``shape``."""
    return _GAUSS_LUT[rng.integers(0, 256, shape, dtype=np.uint8)]


def camera_readout(rgb, noise, rng):
    """Render uint8 RGB with Gaussian read noise of ``noise`` grey levels."""
    lut = np.rint(_GAUSS_LUT * noise).astype(np.int16)
    out = lut[rng.integers(0, 256, rgb.shape, dtype=np.uint8)]
    out += rgb
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def depth_readout(metres, encoding, noise, dropout, rng):
    """
    Render z-depth (m) as a REP-118 image.

    Range limits, depth-squared noise, invalid pixels flickering along depth edges and at random
    (NaN in 32FC1, 0 in 16UC1).
    """
    lo, hi = DEPTH_RANGE_M
    z = metres.astype(np.float32)
    invalid = (z < lo) | (z > hi)
    edge = np.zeros_like(invalid)
    edge[:, 1:] |= np.abs(np.diff(z, axis=1)) > EDGE_JUMP_M
    edge[1:, :] |= np.abs(np.diff(z, axis=0)) > EDGE_JUMP_M
    u = rng.integers(0, 1 << 16, z.shape, dtype=np.uint16)
    invalid |= (edge & (u < 1 << 15)) | (u >= round((1 - dropout) * (1 << 16)))
    z += gaussian_like(z.shape, rng) * (noise * z * z)
    if encoding == '16UC1':
        mm = np.rint(z * 1000.0)
        mm[invalid] = 0
        return mm.astype(np.uint16)
    z[invalid] = np.nan
    return z


def taxel_points(rows, cols, pad_half):
    """
    (rows, cols, 3) taxel centres (x, 0, z) over a pad, in its finger's frame.

    The caller sets y to the skin surface.

    Row 0 is nearest the fingertip (lowest z), column 0 at the pad's -x edge (far from the
    camera), in both pads.
    """
    px, _, pz = pad_half
    x = (np.arange(cols) + 0.5) * (2 * px / cols) - px
    z = (np.arange(rows) + 0.5) * (2 * pz / rows) - pz
    pts = np.zeros((rows, cols, 3))
    pts[..., 0] = x[None, :]
    pts[..., 2] = z[:, None]
    return pts


def signed_distance(shape, size, p):
    """Signed distance (m, negative inside) of points ``p`` (..., 3) in a primitive's frame."""
    if shape == 'sphere':
        return np.linalg.norm(p, axis=-1) - size[0]
    if shape == 'box':
        q = np.abs(p) - np.asarray(size[:3])
    elif shape == 'cylinder':
        q = np.stack([np.linalg.norm(p[..., :2], axis=-1) - size[0],
                      np.abs(p[..., 2]) - size[1]], axis=-1)
    else:
        raise ValueError(f'no signed distance for shape {shape!r}')
    return np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0)


def footprint(shape, size, p_local, conform_m, rib_depth=0.0, rib_pitch_m=1.0):
    """
    Relative pressure at taxel points ``p_local`` (in the touched body's frame).

    Indentation plus conformance (a Winkler foundation), times the surface texture (rings along
    local z).
    """
    w = np.maximum(conform_m - signed_distance(shape, size, p_local), 0.0)
    if rib_depth:
        w *= 1.0 + rib_depth * np.cos(2 * np.pi * p_local[..., 2] / rib_pitch_m)
    return w


def pad_pressure(force_n, weights, taxel_area_m2):
    """Distribute a pad's normal force over taxels in proportion to ``weights``; kPa."""
    total = weights.sum()
    if force_n <= 0.0 or total <= 0.0:
        return np.zeros_like(weights)
    return weights * (force_n / (total * taxel_area_m2) / 1000.0)


# Finger encoders and motor force sensing: the gripper reports what its drive measures.
ENCODER_STEP_M = 1e-5           # finger position resolution (a 10 um encoder count)


def finger_readout(raw, p, rng):
    """
    (N, 3, 2) true [position, velocity, actuator force] of the two finger joints -> readings.

    Positions quantised to encoder counts (plus a per-episode zero offset of a few counts),
    velocities with differentiation noise, efforts with motor-current noise and offset.
    """
    out = np.array(raw, dtype=np.float64)
    out[:, 0] = np.rint((out[:, 0] + p['finger_offset_m']) / ENCODER_STEP_M) * ENCODER_STEP_M
    out[:, 1] += rng.standard_normal(out[:, 1].shape) * p['finger_vel_noise']
    out[:, 2] += p['finger_effort_offset'] + rng.standard_normal(out[:, 2].shape) \
        * p['finger_effort_noise']
    return out


def draw_finger_params(rng):
    """Per-episode encoder offsets and noise levels of the finger drives."""
    return {'finger_offset_m': rng.integers(-3, 4, 2) * ENCODER_STEP_M,
            'finger_vel_noise': rng.uniform(0.5e-3, 1.5e-3),          # m/s
            'finger_effort_noise': rng.uniform(0.03, 0.1),            # N
            'finger_effort_offset': rng.normal(0.0, 0.05, 2)}         # N


# Wrist IMU (MEMS class, e.g. BMI088-like): MuJoCo's accelerometer, gyro and frame orientation on
# a site whose mounting is misaligned by a small per-episode rotation, averaged over each sample
# interval (the chip's decimation filter), plus per-episode bias and white noise.
def draw_imu_params(rng):
    """Per-episode IMU mounting tilt (MuJoCo quaternion w, x, y, z), biases and noise levels."""
    tilt = rng.normal(0.0, np.radians(0.3), 3)                     # rotation vector, rad
    angle = np.linalg.norm(tilt)
    axis = tilt / angle if angle > 0 else np.array([0.0, 0.0, 1.0])
    return {'imu_mount_quat': (np.cos(angle / 2), *(np.sin(angle / 2) * axis)),
            'accel_bias': rng.normal(0.0, 0.03, 3),               # m/s^2
            'accel_noise': rng.uniform(0.015, 0.03),              # m/s^2 per sample
            'gyro_bias': rng.normal(0.0, 0.003, 3),               # rad/s
            'gyro_noise': rng.uniform(0.002, 0.004),              # rad/s per sample
            'orientation_noise': rng.uniform(0.001, 0.003)}       # rad per sample


def _quat_mul(a, b):
    """Hamilton product of (..., 4) quaternions (w, x, y, z)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw],
                    axis=-1)


def imu_readout(quat_wxyz, gyro, accel, p, rng):
    """
    Turn the true IMU motion into (N, 10) readings with noise.

    True orientation (N, 4 w, x, y, z, in the world), angular velocity and specific force (N, 3,
    IMU frame) -> readings [qx, qy, qz, qw, wx, wy, wz, ax, ay, az]: the orientation estimate
    jitters by a small random rotation, the rates and accelerations carry bias and white noise.
    """
    n = len(quat_wxyz)
    half = rng.standard_normal((n, 3)) * (p['orientation_noise'] / 2)
    dq = np.concatenate([np.ones((n, 1)), half], axis=1)
    q = _quat_mul(quat_wxyz, dq)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)                        # one hemisphere: w >= 0
    w = gyro + p['gyro_bias'] + rng.standard_normal((n, 3)) * p['gyro_noise']
    a = accel + p['accel_bias'] + rng.standard_normal((n, 3)) * p['accel_noise']
    return np.concatenate([q[:, 1:], q[:, :1], w, a], axis=1)


# Rib texture vibration. The ribs exist only in the tactile synthesis (MuJoCo's can is a smooth
# cylinder), so the physics cannot make the wrist feel them: this model adds what it would, on the
# IMU only (the F/T stream stays the physics'). A pad dragged across a rib crest climbs the rib's
# slope, then snaps over the crest; each snap suddenly releases the extra tangential force the
# slope added (normal force x steepest slope pi h / pitch, scaled by rib_depth, the share of the
# pad's pressure the ribs modulate) and rings the wrist's first structural mode, as the texture
# vibrations tool-mounted accelerometers record do (Kuchenbecker et al., haptography). Snaps come
# at the slide speed over the rib pitch and fade out for crest crossings slower than
# RIB_SNAP_SPEED (no slip, no snap).
RIB_HEIGHT_M = 0.0003           # the cans' ribs (objects.py)
WRIST_MODE_HZ = 60.0            # first structural mode of the wrist, Hz
WRIST_MODE_DAMPING = 0.06       # its damping ratio
WRIST_MODAL_MASS_KG = 0.5       # hand and fingers
RIB_SNAP_SPEED = 0.005          # m/s


def rib_snaps(pad_z, normal_n, rib_depth, pitch_m, dt):
    """
    (n,) snap forces (N) released per step.

    From the pads' positions along the rib axis ``pad_z`` (n, pads; m, object frame) and their
    normal forces on the object (n, pads; N).
    """
    if not rib_depth or len(pad_z) < 2:
        return np.zeros(len(pad_z))
    crest = np.floor(pad_z / pitch_m)
    crossed = np.zeros_like(pad_z)
    crossed[1:] = np.abs(np.diff(crest, axis=0))
    speed = np.zeros_like(pad_z)
    speed[1:] = np.abs(np.diff(pad_z, axis=0)) / dt
    slope = np.pi * RIB_HEIGHT_M / pitch_m
    force = crossed * normal_n * (rib_depth * slope) * np.minimum(speed / RIB_SNAP_SPEED, 1.0)
    return force.sum(axis=1)


def wrist_ring(snaps, dt):
    """
    Acceleration (m/s^2, along the snaps' direction) of the wrist mode rung by ``snaps`` (N).

    A two-pole resonator whose response to one snap peaks at force / WRIST_MODAL_MASS_KG.
    """
    out = np.zeros(len(snaps))
    if not snaps.any():
        return out
    r = np.exp(-WRIST_MODE_DAMPING * 2 * np.pi * WRIST_MODE_HZ * dt)
    theta = 2 * np.pi * WRIST_MODE_HZ * np.sqrt(1 - WRIST_MODE_DAMPING ** 2) * dt
    a1, a2 = 2 * r * np.cos(theta), -r * r
    y1 = y2 = 0.0
    for k, u in enumerate(snaps.tolist()):
        y = a1 * y1 + a2 * y2 + u
        out[k] = y
        y1, y2 = y, y1
    return out * (np.sin(theta) / WRIST_MODAL_MASS_KG)
