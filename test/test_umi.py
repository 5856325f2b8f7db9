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
UMI and baseline model contracts.

Shapes for every sensor subset, the sum over present sensors, the masked attention of Eq. 2 and the
loss terms of Eqs. 1 and 3 against hand-computed values.
"""
import itertools
import math

import pytest
import torch

from xmodal_ros.paths import config_path
from xmodal_ros.sensors import load_sensor_config
from xmodal_training.methods import build_model, REGISTRY
from xmodal_training.methods.task import supervised_loss
from xmodal_training.methods.transformer import group_mask
from xmodal_training.methods.umi.modeling_umi import align_loss, pseudo_loss
from xmodal_training.subsets import sensor_subsets

import yaml

CONFIG = load_sensor_config()
SENSORS = CONFIG.names
SHAPES = {s: CONFIG[s].input_shape for s in SENSORS}
DECLARED = {s: CONFIG[s].declaration() for s in SENSORS}
SUBSETS = sensor_subsets(SENSORS)
C, R, B = 5, 3, 4


@pytest.fixture(scope='module')
def cfg():
    with open(config_path('train_fusion.yaml')) as f:
        return yaml.safe_load(f)


def make_batch(subset, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = {s: torch.randn(B, *SHAPES[s], generator=g) for s in SENSORS}
    batch['present'] = torch.tensor([[s in subset for s in SENSORS]] * B)
    batch['label'] = torch.randint(0, C, (B,), generator=g)
    batch['target'] = torch.randn(B, R, generator=g)
    batch['pseudo_probs'] = torch.softmax(torch.randn(B, C, generator=g), -1)
    batch['pseudo_target'] = torch.randn(B, R, generator=g)
    return batch


def model(cfg, method, seed=0):
    torch.manual_seed(seed)
    return build_model(method, cfg, DECLARED, C, R, torch.randn(R), torch.rand(R) + 0.5).eval()


@pytest.mark.parametrize('method', sorted(REGISTRY))
def test_shapes_for_every_subset(cfg, method):
    m = model(cfg, method)
    for subset in SUBSETS:
        batch = make_batch(subset)
        out = m.predict(batch)
        assert out['probs'].shape == (B, C) and out['regression'].shape == (B, R), subset
        torch.testing.assert_close(out['probs'].sum(-1), torch.ones(B))
        terms = m.train()(batch)
        m.eval()
        assert terms['loss'].ndim == 0 and torch.isfinite(terms['loss']), (subset, terms)


def test_sensor_tokens_shape_and_projection_weights(cfg):
    m = model(cfg, 'umi')
    k, d = m.cfg.k_tokens, m.cfg.d_model
    for s in SENSORS:
        x = make_batch(SENSORS)[s]
        assert m.sensors[s](x).shape == (B, k, d)
        f = m.sensors[s].encoder(x)
        o = m.sensors[s].projection.weights(f)
        assert o.shape == (B, f.shape[1], k)
        # O_m is softmax-normalised over the k_m input tokens (Sec. 4).
        torch.testing.assert_close(o.sum(dim=1), torch.ones(B, k))


def test_sum_is_order_independent_and_absent_sensors_add_nothing(cfg):
    m = model(cfg, 'umi')
    full = make_batch(SENSORS, seed=1)
    with torch.no_grad():
        tokens = {s: m.sensors[s](full[s]) for s in SENSORS}
        outs = [m.fuse(sum(tokens[s] for s in order)) for order in itertools.permutations(SENSORS)]
    for probs, reg in outs[1:]:
        torch.testing.assert_close(probs, outs[0][0], rtol=0, atol=1e-6)
        torch.testing.assert_close(reg, outs[0][1], rtol=0, atol=1e-5)
    for subset in SUBSETS:
        batch = make_batch(subset, seed=1)
        noisy = dict(batch, **{s: 100 * torch.randn_like(batch[s]) for s in SENSORS
                               if s not in subset})
        zeros = dict(batch, **{s: torch.zeros_like(batch[s]) for s in SENSORS if s not in subset})
        a, b = m.predict(noisy), m.predict(zeros)
        assert torch.equal(a['probs'], b['probs'])
        assert torch.equal(a['regression'], b['regression'])
        with torch.no_grad():
            total, _ = m.tokens(batch)
        torch.testing.assert_close(total, sum(tokens[s] for s in subset), rtol=0, atol=1e-5)


def test_mixed_presence_rows_match_single_rows(cfg):
    """Rows with different sensor sets in one batch give what each gives alone."""
    m = model(cfg, 'umi')
    batch = make_batch(SENSORS, seed=2)
    batch['present'] = torch.tensor([[True, False, False, True, False, True],
                                     [False, True, True, False, True, False],
                                     [True] * 6, [False, False, True, False, False, False]])
    mixed = m.predict(batch)
    for i in range(B):
        one = {k: v[i:i + 1] for k, v in batch.items()}
        alone = m.predict(one)
        torch.testing.assert_close(mixed['probs'][i:i + 1], alone['probs'], rtol=0, atol=1e-5)


def test_masked_attention_isolates_the_two_groups(cfg):
    m = model(cfg, 'umi')
    k, d = m.cfg.k_tokens, m.cfg.d_model
    x = torch.randn(B, k, d)
    y = x.clone()
    y[:, k // 2:] += torch.randn(B, k // 2, d)      # change only the pseudo-label group
    head = m.head
    with torch.no_grad():
        hx = head.transformer(x + head.pos, head.allowed)
        hy = head.transformer(y + head.pos, head.allowed)
        assert torch.equal(hx[:, :k // 2], hy[:, :k // 2])
        assert not torch.allclose(hx[:, k // 2:], hy[:, k // 2:])
        # Without the mask the change leaks into the other group: the check above can fail.
        assert not torch.allclose(head.transformer(x)[:, :k // 2], head.transformer(y)[:, :k // 2])
        lx, _ = head(x)
        ly, _ = head(y)
    assert torch.equal(lx[:, 0], ly[:, 0]) and not torch.allclose(lx[:, 1], ly[:, 1])
    assert torch.equal(group_mask(4, 2), torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1],
                                                       [0, 0, 1, 1]], dtype=torch.bool))


def test_align_loss_by_hand():
    tokens = torch.tensor([[0.0, 0.0], [1.0, 1.0], [4.0, 0.0]])
    labels = torch.tensor([1, 2])
    # Sensor a in both rows, sensor b in row 1 only.
    means = [(torch.tensor([0, 1]), torch.tensor([[1.0, 2.0], [3.0, 0.0]])),
             (torch.tensor([1]), torch.tensor([[0.5, 0.5]]))]
    by_class = (0 ** 2 + 1 ** 2) + (1 ** 2 + 0 ** 2) + (3.5 ** 2 + 0.5 ** 2)
    assert align_loss(means, tokens, labels, True).item() == pytest.approx(by_class / 2)
    # Nearest tokens: [1,2] -> [1,1]; [3,0] -> [4,0]; [0.5,0.5] -> [0,0] (tie with [1,1]: first).
    nearest = 1.0 + 1.0 + 0.5
    assert align_loss(means, tokens, labels, False).item() == pytest.approx(nearest / 2)
    # Unlabelled rows (-1) have no class token to align to.
    assert align_loss(means, tokens, torch.tensor([1, -1]), True).item() == pytest.approx(1.0 / 2)


def test_supervised_and_pseudo_losses_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    reg = torch.tensor([[1.0, 2.0]])
    ce = -math.log(0.75)
    l2 = ((1 - 0) ** 2 + (2 - 4) ** 2) / 2
    got = supervised_loss(logits, reg, torch.tensor([1]), torch.tensor([[0.0, 4.0]]), 0.5)
    assert got.item() == pytest.approx(ce + 0.5 * l2)
    p = torch.tensor([[0.5, 0.5]])
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    got = pseudo_loss(logits, reg, p, torch.tensor([[1.0, 0.0]]), 3.0, 2.0, 0.5)
    assert got.item() == pytest.approx(3.0 * kl + 2.0 * 0.5 * (0 + 4) / 2)


def test_umi_total_loss_is_eq3(cfg):
    m = model(cfg, 'umi').train()
    terms = m(make_batch(('camera', 'tactile')))
    c = m.cfg
    expected = c.lambda_align * terms['align'] + terms['supervised'] + terms['pseudo']
    torch.testing.assert_close(terms['loss'], expected)


def test_late_fusion_averages_present_sensors(cfg):
    m = model(cfg, 'late')
    batch = make_batch(SENSORS, seed=3)
    singles = {}
    for s in SENSORS:
        singles[s] = m.predict(dict(batch, present=torch.tensor([[x == s for x in SENSORS]] * B)))
    pair = m.predict(dict(batch, present=torch.tensor([[x in ('depth', 'force')
                                                        for x in SENSORS]] * B)))
    torch.testing.assert_close(pair['probs'],
                               (singles['depth']['probs'] + singles['force']['probs']) / 2)
    torch.testing.assert_close(
        pair['regression'], (singles['depth']['regression'] + singles['force']['regression']) / 2)


def test_vanilla_ignores_absent_sensor_data(cfg):
    m = model(cfg, 'vanilla')
    batch = make_batch(('camera', 'force'), seed=4)
    noisy = dict(batch, depth=50 * torch.randn_like(batch['depth']),
                 tactile=50 * torch.randn_like(batch['tactile']))
    assert torch.equal(m.predict(batch)['probs'], m.predict(noisy)['probs'])
