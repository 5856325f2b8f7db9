"""The simulated robot: deterministic per seed, physically consistent sensors, classes built so
that each sensor is blind to some differences (real MuJoCo, small images)."""
import functools

import numpy as np
import pytest

from xmodal_training.sim.episode import PHASES, TARGETS, simulate_episode
from xmodal_training.sim.objects import CLASSES, object_class
from xmodal_training.sim.sensors import DEPTH_RANGE_M, load_config
from xmodal_training.sim.scene import PAD_HALF

HW = (96, 128)
G = 9.81


@functools.lru_cache(maxsize=None)
def episode(seed, class_name=None, sensors=('camera', 'depth', 'tactile', 'force')):
    return simulate_episode(seed, class_name, sensors=sensors, camera_hw=HW)


def times(stream):
    return stream.stamps_ns / 1e9


def window(ep, sensor, key0, key1, pad=0.05):
    """Readings of ``sensor`` strictly inside the script interval [key0, key1] (+- pad s)."""
    T = ep.info['script_times']
    t = times(ep.streams[sensor])
    return ep.streams[sensor].data[(t > T[key0] + pad) & (t < T[key1] - pad)]


def test_same_seed_gives_identical_arrays_and_other_seeds_differ():
    a = episode(3)
    b = simulate_episode(3, sensors=('camera', 'depth', 'tactile', 'force'), camera_hw=HW)
    for s in a.streams:
        np.testing.assert_array_equal(a.streams[s].stamps_ns, b.streams[s].stamps_ns)
        np.testing.assert_array_equal(a.streams[s].data, b.streams[s].data)
    np.testing.assert_array_equal(a.phase, b.phase)
    np.testing.assert_array_equal(a.targets, b.targets)
    c = episode(3 + len(CLASSES))                  # same class, different seed
    assert c.class_name == a.class_name
    for s in a.streams:
        assert not np.array_equal(a.streams[s].data, c.streams[s].data, equal_nan=True), s


def test_dropping_a_sensor_leaves_the_others_unchanged():
    full, sub = episode(5), episode(5, sensors=('force',))
    assert set(sub.streams) == {'force'}
    np.testing.assert_array_equal(full.streams['force'].data, sub.streams['force'].data)


def test_streams_follow_the_config_rates_and_layouts():
    ep, cfg = episode(0), load_config()['sensors']
    n = {s: len(ep.streams[s].stamps_ns) for s in ep.streams}
    for s in ep.streams:
        assert n[s] == pytest.approx(4.0 * cfg[s]['rate_hz'], abs=1), s
        assert np.all(np.diff(ep.streams[s].stamps_ns) > 0)
    assert ep.streams['camera'].data.shape[1:] == (*HW, 3)
    assert ep.streams['camera'].data.dtype == np.uint8
    assert ep.streams['depth'].data.shape[1:] == HW
    assert ep.streams['depth'].data.dtype == np.float32
    tac = cfg['tactile']
    assert ep.streams['tactile'].data.shape[1:] == (tac['rows'], tac['pads'] * tac['cols'])
    assert ep.streams['force'].data.shape[1:] == (6,)
    assert len(ep.label_stamps_ns) == 400 and ep.targets.shape == (400, len(TARGETS))


def test_camera_and_depth_are_realistic_images():
    ep = episode(1)
    rgb = ep.streams['camera'].data
    assert rgb.std() > 20 and len(np.unique(rgb[0])) > 50       # a scene, with noise
    depth = ep.streams['depth'].data
    valid = np.isfinite(depth)
    assert 0.5 < valid.mean() < 0.98                              # background + dropouts invalid
    lo, hi = DEPTH_RANGE_M
    assert depth[valid].min() >= lo * 0.9 and depth[valid].max() <= hi * 1.1
    mm = simulate_episode(1, sensors=('depth',), camera_hw=HW, depth_encoding='16UC1')
    mm = mm.streams['depth'].data
    assert mm.dtype == np.uint16
    both = valid & (mm > 0)
    np.testing.assert_allclose(mm[both] / 1000.0, depth[both], atol=0.0006)
    np.testing.assert_array_equal(mm == 0, ~valid)


@pytest.mark.parametrize('seed', [0, 3, 4, 6])
def test_tactile_is_silent_before_contact_and_follows_the_contact_force(seed):
    ep = episode(seed)
    tac = ep.streams['tactile']
    t = times(tac)
    noise = ep.info['tactile_noise_kpa']
    before = tac.data[t < ep.info['t_contact'] - 0.02]
    assert before.max() < 6 * noise + 0.05                        # noise floor, no blobs
    assert (before > 4 * noise).mean() < 1e-3
    assert before.mean() < 0.5 * noise                            # E[max(0, N(0, s))] = 0.4 s
    # Grip force labels (h steps ahead) vs the taxel total at the same time: both pads' pressure
    # times taxel area equals twice the mean pad normal force MuJoCo computed.
    h = 20
    grip = ep.targets[:-h, 0]                      # grip force at label times t[h:]
    area = (2 * PAD_HALF[0] / 8) * (2 * PAD_HALF[2] / 8)
    total = tac.data[h:len(grip) + h].sum(axis=(1, 2)) * area * 1000.0
    held = grip > 3.0
    assert held.sum() > 100
    np.testing.assert_allclose(total[held], 2 * grip[held], rtol=0.12)
    assert ep.targets[:, 0].max() == pytest.approx(ep.info['grip_n'], rel=0.25)


@pytest.mark.parametrize('seed', [0, 1, 4, 6])
def test_wrist_sensor_feels_the_weight_while_lifted(seed):
    ep = episode(seed)
    fz = window(ep, 'force', 'hold', 'place')[:, 2]
    assert fz.mean() == pytest.approx(ep.info['mass'] * G, rel=0.05)
    at_rest = ep.streams['force'].data[:10, :3]                   # t < 20 ms: parked, tared
    assert np.abs(at_rest).max() < 5 * ep.info['force_noise_n']
    assert ep.targets[:, 1].max() == pytest.approx(ep.info['lift_m'], abs=0.01)


def test_heavier_classes_weigh_more():
    weights = {c: window(episode(i, c), 'force', 'hold', 'place')[:, 2].mean()
               for i, c in enumerate(['red_foam_block', 'red_wood_block', 'blue_steel_ball'])}
    assert weights['red_foam_block'] < weights['red_wood_block'] < weights['blue_steel_ball']


def test_labels_follow_the_script():
    ep = episode(2)
    assert np.all(np.diff(ep.phase) >= 0)
    assert set(ep.phase.tolist()) == set(range(len(PHASES)))
    t = ep.label_stamps_ns / 1e9
    squeeze = t[ep.phase == PHASES.index('squeeze')]
    assert squeeze[0] == pytest.approx(ep.info['t_contact'], abs=0.011)
    lifted = ep.targets[ep.phase == PHASES.index('lift'), 1]
    assert lifted.max() > 0.03


def test_vision_twins_look_alike_but_feel_different():
    foam, wood = episode(20, 'red_foam_block'), episode(20, 'red_wood_block')
    first = slice(0, 10)                                          # before the gripper arrives
    diff = np.abs(foam.streams['camera'].data[first].astype(int)
                  - wood.streams['camera'].data[first].astype(int)).mean()
    assert diff < 0.5
    assert (window(foam, 'tactile', 'hold', 'place').mean(0) > 2).sum() > \
        1.8 * (window(wood, 'tactile', 'hold', 'place').mean(0) > 2).sum()  # foam conforms
    rubber, steel = episode(21, 'blue_rubber_ball'), episode(21, 'blue_steel_ball')
    diff = np.abs(rubber.streams['camera'].data[first].astype(int)
                  - steel.streams['camera'].data[first].astype(int)).mean()
    assert diff < 0.5
    assert window(rubber, 'tactile', 'hold', 'place').max() * 4 < \
        window(steel, 'tactile', 'hold', 'place').max()          # steel: small, sharp patch
    assert window(steel, 'force', 'hold', 'place')[:, 2].mean() > \
        1.5 * window(rubber, 'force', 'hold', 'place')[:, 2].mean()
    # Sliding the pads down the object drags the tool up (-z): rubber grips, steel slips.
    drag = {e.class_name: window(e, 'force', 'slide', 'release')[:, 2].mean()
            for e in (rubber, steel)}
    assert drag['blue_rubber_ball'] < 2 * drag['blue_steel_ball'] < -1.0


def test_touch_twins_feel_alike_but_look_different():
    red, green = episode(22, 'red_wood_block'), episode(22, 'green_wood_block')
    for s in ('depth', 'tactile', 'force'):                       # same physics, same noise
        np.testing.assert_array_equal(red.streams[s].data, green.streams[s].data)
    rgb = [e.streams['camera'].data[:10].astype(float) for e in (red, green)]
    assert np.abs(rgb[0] - rgb[1]).mean() > 0.5
    red_px = (rgb[0][..., 0] - rgb[0][..., 1]) > 80               # strongly red pixels
    assert red_px.sum() > 100 and ((rgb[1][..., 0] - rgb[1][..., 1]) > 80).sum() < red_px.sum() / 5


def test_ribbed_can_differs_from_smooth_only_to_touch():
    smooth, ribbed = episode(23, 'yellow_smooth_can'), episode(23, 'yellow_ribbed_can')
    for s in ('camera', 'depth', 'force'):
        np.testing.assert_array_equal(smooth.streams[s].data, ribbed.streams[s].data)
    assert not np.array_equal(smooth.streams['tactile'].data, ribbed.streams['tactile'].data)

    def roughness(ep):                    # row-to-row ripple of the pressure under the pads
        img = window(ep, 'tactile', 'slide', 'release')
        rows = img.sum(axis=2)
        return (np.abs(np.diff(rows, 2, axis=1)).sum(1) / (rows.sum(1) + 1e-9)).mean()
    assert roughness(ribbed) > 1.5 * roughness(smooth)


def test_every_class_is_grasped_and_lifted():
    for i, c in enumerate(CLASSES):
        ep = simulate_episode(40 + i, c, sensors=('force',), camera_hw=HW)
        assert ep.class_index == i
        assert ep.targets[:, 1].max() > 0.03, c                  # it came up with the gripper
        assert ep.info['mass'] == pytest.approx(object_class(c).mass, rel=0.11)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match='unknown object class'):
        simulate_episode(0, 'purple_cube', sensors=('force',))
    with pytest.raises(ValueError, match='unknown sensors'):
        simulate_episode(0, sensors=('lidar',))
    with pytest.raises(ValueError, match='non-negative'):
        simulate_episode(-1, sensors=('force',))
