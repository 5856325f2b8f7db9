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
Run folders.

``checkpoint.pt`` (weights beside everything needed to rebuild the model) and ``run.json`` (a
readable summary holding the checkpoint's SHA-256).

The checkpoint holds only tensors and primitive containers, so it loads with
``torch.load(weights_only=True)``: opening a model never executes code from the file. The model is
rebuilt from the training config stored inside (nanoGPT style), never from the config file on disk
that may have changed since.
"""
import json
import os
from pathlib import Path

import torch

from xmodal_ros.bundle import BundleError, load_bundle, sha256_file
from xmodal_training.methods import build_model, REGISTRY

CHECKPOINT, SUMMARY, CURVES = 'checkpoint.pt', 'run.json', 'curves.json'
FORMAT = 'xmodal-run'


class RunError(RuntimeError):
    """A run folder that cannot be used; the message names the path and what to do."""


def save_run(run_dir, checkpoint, summary):
    """Write checkpoint.pt atomically, then run.json with its hash and ``summary``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f'.{CHECKPOINT}.tmp{os.getpid()}'
    torch.save(dict(checkpoint, format=FORMAT), tmp)
    os.replace(tmp, run_dir / CHECKPOINT)
    summary = dict(summary, format=FORMAT, checkpoint=CHECKPOINT,
                   sha256=sha256_file(run_dir / CHECKPOINT))
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=1) + '\n')


def load_run(run_dir, map_location='cpu'):
    """
    Return the checkpoint dict of a run folder, verified against run.json.

    RunError names the path.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f'{run_dir}: not a run folder (train one with `xmodal train fusion`)')
    summary_path, ckpt_path = run_dir / SUMMARY, run_dir / CHECKPOINT
    for path in (summary_path, ckpt_path):
        if not path.is_file():
            raise RunError(f'{path}: missing; {run_dir} is not a complete run folder '
                           '(training did not finish, or files were removed): train it again')
    try:
        summary = json.loads(summary_path.read_text())
    except ValueError as e:
        raise RunError(f'{summary_path}: not valid JSON ({e})') from None
    got = sha256_file(ckpt_path)
    if summary.get('sha256') != got:
        raise RunError(f'{ckpt_path}: SHA-256 {got[:12]}... does not match {summary_path} '
                       f'({str(summary.get("sha256"))[:12]}...): the checkpoint was changed or '
                       'corrupted; train the run again')
    ckpt = load_checkpoint(ckpt_path, map_location, sha256=got)
    ckpt.update(run_dir=str(run_dir))
    return ckpt


def load_checkpoint(path, map_location='cpu', sha256=None):
    """
    Return one checkpoint file (a run's, or the copy inside a bundle), weights only.

    RunError names the path. ``sha256``: its hash if already computed.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling fails in many ways
        raise RunError(f'{path}: not loadable as a weights-only checkpoint ({e})') from None
    if not isinstance(ckpt, dict) or ckpt.get('format') != FORMAT:
        raise RunError(f'{path}: not an {FORMAT} checkpoint')
    ckpt.update(run_dir=str(path.parent), sha256=sha256 or sha256_file(path))
    return ckpt


def load_bundle_checkpoint(bundle_dir):
    """
    Return the checkpoint a bundle carries, verified against its manifest.

    The weights its graphs were exported from; RunError names the file.
    """
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as e:
        raise RunError(str(e)) from None
    path = Path(bundle_dir) / CHECKPOINT
    if CHECKPOINT not in bundle.manifest['files'] or not path.is_file():
        raise RunError(f'{path}: missing; this bundle carries no PyTorch weights (re-export its '
                       'run with `xmodal export`)')
    return load_checkpoint(path)


def rebuild(ckpt):
    """Return the trained model of a checkpoint, in eval mode, on the CPU."""
    if 'sensor_specs' not in ckpt:
        raise RunError(f'{ckpt["run_dir"]}: trained before sensors were configuration (no '
                       'sensor_specs in the checkpoint); train it again with this version')
    if ckpt['method'] not in REGISTRY:
        raise RunError(f'{ckpt["run_dir"]}: trained with method {ckpt["method"]!r}, which this '
                       f'version does not have ({", ".join(REGISTRY)}); use the version that '
                       'trained it')
    model = build_model(ckpt['method'], ckpt['train_config'], ckpt['sensor_specs'],
                        len(ckpt['classes']), len(ckpt['targets']), ckpt['target_mean'],
                        ckpt['target_std'])
    model.load_state_dict(ckpt['model'])
    return model.eval()
