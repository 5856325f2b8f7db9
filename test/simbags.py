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
Small simulated bags and tiny trained runs shared by the training, export and bundle tests.

Made once per test session (functools.cache) in a temporary folder: split A records {camera,
depth}, split B {tactile, force} (disjoint episodes), the held-out bag every sensor (unseen seeds).
The tiny config is config/train_fusion.yaml with narrower layers and fewer epochs.
"""
import atexit
import contextlib
import functools
import os
from pathlib import Path
import shutil
import tempfile

import pytest

from xmodal_ros import cli
from xmodal_ros.paths import config_path

import yaml

ROOT = Path(tempfile.mkdtemp(prefix='xmodal-umi-tests-'))
atexit.register(shutil.rmtree, ROOT, ignore_errors=True)
EPISODES = 16          # per training split: 2 per class


@contextlib.contextmanager
def cache_env():
    """Keep decoded-bag caches inside this session's folder."""
    old = os.environ.get('XMODAL_CACHE')
    os.environ['XMODAL_CACHE'] = str(ROOT / 'cache')
    try:
        yield
    finally:
        if old is None:
            os.environ.pop('XMODAL_CACHE')
        else:
            os.environ['XMODAL_CACHE'] = old


def _needs(*modules):
    """
    Skip the calling test where the training side is not installed.

    Runtime-only installs still run the tests of this module that need no bags.
    """
    for m in modules:
        pytest.importorskip(m, reason=f'needs {m} (the training side: pip install .[train])')


@functools.cache
def bags():
    """
    Return the simulator bags by split: {'a', 'b', 'test'} -> bag.

    'a': camera+depth, 'b': tactile+force, 'test': every configured sensor (the two proprioceptive
    ones too, which the tiny runs never train on), unseen seeds.
    """
    _needs('mujoco', 'rosbags', 'torch')
    from xmodal_training.sim.record import record_bag
    out = {}
    every = None
    for name, seed, episodes, sensors in [('a', 0, EPISODES, ('camera', 'depth')),
                                          ('b', 100, EPISODES, ('tactile', 'force')),
                                          ('test', 900, 8, every)]:
        out[name] = ROOT / 'bags' / name
        record_bag(out[name], episodes=episodes, seed=seed, sensors=sensors, resolution='128x96')
    return out


def tiny_config(path=None, **blocks):
    """Write the tiny training config (``blocks`` update its sections) and return its path."""
    with open(config_path('train_fusion.yaml')) as f:
        cfg = yaml.safe_load(f)
    cfg['data']['sample_hz'] = 10.0
    for s, spec in cfg['encoders'].items():
        spec['channels'] = [max(8, c // 2) for c in spec['channels']]
    cfg['unimodal'].update(epochs=10, pseudo_label_epochs=5, lr=0.003, batch_size=64,
                           warmup_steps=10)
    small = {'d_model': 64, 'heads': 4, 'ff_mult': 2, 'lr': 0.002, 'batch_size': 64,
             'warmup_steps': 10}
    cfg['umi'].update(small, k_tokens=8, projection_layers=1, fusion_layers=1, epochs=8)
    cfg['vanilla'].update(small, layers=1, epochs=2)
    for block, values in blocks.items():
        if isinstance(cfg.get(block), dict):
            cfg[block].update(values)
        else:
            cfg[block] = values
    path = Path(path or tempfile.mkstemp(suffix='.yaml', dir=ROOT)[1])
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def xmodal(*argv):
    """Run the `xmodal` command in this process; returns its exit status."""
    with cache_env():
        return cli.main([str(a) for a in argv])


@functools.cache
def trained(method='umi'):
    """Return a tiny run of ``method`` on splits A and B (UMI trains its stage 1 inside)."""
    b = bags()
    out = ROOT / 'runs' / method
    status = xmodal('train', 'fusion', '--config', tiny_config(), '--bags', b['a'], b['b'],
                    '--out', out, '--method', method)
    assert status == 0, f'training {method} failed ({status})'
    return out


@functools.cache
def exported():
    """Return the tiny UMI run exported to a bundle (parity-checked on the held-out bag)."""
    out = ROOT / 'bundle'
    assert xmodal('export', '--model', trained('umi'), '--out', out, '--bags', bags()['test'],
                  '--tensorrt') == 0
    return out
