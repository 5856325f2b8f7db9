"""Sensor config (config/sensors.yaml) and the sensor models turning simulator state into readings.

Camera and depth come from MuJoCo's renderer, with noise, range limits and dropouts a structured
light camera shows. Tactile pressure is synthesised from geometry and MuJoCo's contact forces:
each taxel's share of a pad's force follows how far the contacting surface (an analytic signed
distance, in that surface's own frame) reaches into the domed pad skin at that taxel, widened by
how much the material conforms and modulated by its texture, and the shares sum to the normal
force MuJoCo computed for that pad (object and table contacts each). So no contact means exactly
zero (plus the noise floor), and moving the pad over a textured surface moves the pattern across
the taxels. Force/torque is MuJoCo's wrist sensor.
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
    """Rendered uint8 RGB + Gaussian read noise of ``noise`` grey levels."""
    lut = np.rint(_GAUSS_LUT * noise).astype(np.int16)
    out = lut[rng.integers(0, 256, rgb.shape, dtype=np.uint8)]
    out += rgb
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def depth_readout(metres, encoding, noise, dropout, rng):
    """Rendered z-depth (m) -> REP-118 image: range limits, depth-squared noise, invalid pixels
    flickering along depth edges and at random (NaN in 32FC1, 0 in 16UC1)."""
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
    """(rows, cols, 3) taxel centres (x, 0, z) over a pad, in its finger's frame; the caller
    sets y to the skin surface.

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
    """Relative pressure at taxel points ``p_local`` (in the touched body's frame): indentation
    plus conformance (a Winkler foundation), times the surface texture (rings along local z)."""
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
