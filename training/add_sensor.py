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
`xmodal bundle add-sensor`: a new-sensor learner into a live fusion bundle, without pairs.

The bundle's sensors, fusion head and alignment tokens stay frozen (their graphs are re-exported
from the same weights). The new sensor enters the bundle's k* x d* token space through a new
``SensorTokens``: the learner's encoder g^O (frozen: it is what the new-sensor method trained)
and a fresh feature projection, the only weights trained here. Its loss is the bundle's own on
the new sensor's tokens alone: λ·L_align (Eq. 1) toward the class token of each sample's label,
plus cross-entropy of the frozen head's two branches. The labels are the learner's predictions
(pseudo-labels, argmax of h^O(g^O(x))) on the new-sensor bags: the add step reads no label of
its own, so whatever the method was allowed to read (labelled fraction, none, all) is all that
reaches the bundle. Nothing pairs the new sensor with the others: the head already maps a sum
of tokens near a class token to that class, so tokens placed there add that class's evidence.

Regression targets get no loss (a learner carries no regression head); the new tokens still
enter the regression of the fused prediction, so `xmodal eval` reports its MAE with and without
the sensor.

The result is exported with the usual fp32 parity check over every sensor subset, through the
runtime's own classes; OUT's manifest records the learner it came from under ``added_sensors``.
"""
import copy
import json
from pathlib import Path
import sys
import tempfile
import time

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from xmodal_ros.bundle import BundleError, load_bundle, MANIFEST, write_manifest
from xmodal_training.checkpoint import (CHECKPOINT, load_bundle_checkpoint, load_run, rebuild,
                                        RunError, save_run)
from xmodal_training.methods import REGISTRY
from xmodal_training.methods.umi.modeling_umi import SensorTokens
from xmodal_training.train_sensor import (batches, LEARNER, load_learner, SensorTrainError,
                                          SUMMARY)

MAX_SAMPLES = 20000         # new-sensor samples the projection trains on (spread evenly)


class AddSensorError(ValueError):
    """A bundle, learner or bag that cannot make the new bundle; the message names it."""


def load_parts(bundle_dir, learner_dir):
    """Return (bundle checkpoint, learner, learner checkpoint, learner run.json), checked."""
    ckpt = load_bundle_checkpoint(bundle_dir)
    if not getattr(REGISTRY.get(ckpt['method']), 'exportable', False):
        exportable = [m for m, spec in REGISTRY.items() if spec.exportable]
        raise AddSensorError(f'{ckpt["run_dir"]}: a {ckpt["method"]} model; only '
                             f'projection-plus-sum models ({", ".join(exportable)}) take a '
                             'sensor by adding tokens')
    lpath = Path(learner_dir) / LEARNER
    if not lpath.is_file():
        raise AddSensorError(f'{lpath}: missing; --learner is a folder written by `xmodal train '
                             'sensor`')
    try:
        learner, lckpt = load_learner(lpath)
    except SensorTrainError as e:
        raise AddSensorError(str(e)) from None
    summary_path = Path(learner_dir) / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    new = lckpt['sensor']
    if new in ckpt['sensors']:
        raise AddSensorError(f'{lpath}: a learner for {new}, which {bundle_dir} already fuses '
                             f'(sensors: {", ".join(ckpt["sensors"])}); add a sensor the bundle '
                             'lacks')
    if sorted(lckpt['classes']) != sorted(ckpt['classes']):
        raise AddSensorError(f'{lpath}: classes {", ".join(lckpt["classes"])}; {bundle_dir} '
                             f'predicts {", ".join(ckpt["classes"])}. Train the learner from '
                             "perceptors on the bundle's classes (`xmodal train sensor "
                             f'--bundle {bundle_dir}`)')
    return ckpt, learner, lckpt, summary


def new_inputs(bags, lckpt, ckpt, sensors_config, node_params):
    """Return (N, *shape) inputs of the learner's sensor from ``bags`` (at most MAX_SAMPLES)."""
    from xmodal_training.loading import open_model_bags
    new = lckpt['sensor']
    ds = open_model_bags(bags, {new: lckpt['sensor_spec']}, sensors_config, node_params,
                         ckpt['sample_hz'], where=f'the learner of {new}', tensors=False)
    rows = np.flatnonzero(ds.present[ds.sample_bag, ds.sensors.index(new)])
    if not len(rows):
        raise AddSensorError(f'--bags ({", ".join(map(str, bags))}): no sample of {new}; pass '
                             f'bags that record it (`xmodal bag info BAG`)')
    if len(rows) > MAX_SAMPLES:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_SAMPLES).astype(np.int64)]
    return torch.cat([torch.as_tensor(np.asarray(ds.batch(rows[i], sensors=[new])[new]))
                      for i in batches(len(rows))])


def pseudo_labels(learner, x, order):
    """Return the learner's class per sample, as indices of the bundle's class ``order``."""
    with torch.no_grad():
        pred = torch.cat([learner(x[i]).argmax(-1) for i in batches(len(x))])
    return torch.as_tensor(order)[pred]


def train_projection(model, tokens_module, x, y, epochs, lr, seed, batch_size=64):
    """
    Fit ``tokens_module.projection`` (the rest frozen); returns the per-epoch curves.

    Loss: λ·L_align toward u_y (the nearest of the tokens when the model aligns to n_u tokens)
    + the frozen head's cross-entropy on both branches.
    """
    cfg = model.cfg
    gen = torch.Generator().manual_seed(seed)
    params = list(tokens_module.projection.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    curves = {'loss': [], 'align': [], 'ce': [], 'agreement': []}
    for epoch in tqdm(range(epochs), desc='projection', file=sys.stderr):
        tokens_module.projection.train()
        order = torch.randperm(len(x), generator=gen)
        sums = np.zeros(4)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            tokens = tokens_module(xb)
            logits, _ = model.head(tokens)
            mean = tokens.mean(dim=1)
            if cfg.align_tokens == 'class':
                target = model.align_tokens[yb]
            else:
                target = model.align_tokens[
                    torch.cdist(mean.detach(), model.align_tokens).argmin(dim=1)]
            align = ((mean - target) ** 2).sum(dim=1).mean()
            ce = F.cross_entropy(logits.flatten(0, 1), yb.repeat_interleave(logits.shape[1]))
            loss = cfg.lambda_align * align + ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            agree = (logits.softmax(-1).mean(1).argmax(-1) == yb).float().mean()
            sums += np.array([loss.item(), align.item(), ce.item(), agree.item()]) * len(idx)
        for k, v in zip(curves, sums / len(x)):
            curves[k].append(float(v))
    return curves


def extended_checkpoint(ckpt, lckpt, tokens_module, provenance):
    """Return the bundle's checkpoint with the new sensor appended (spec, encoder, weights)."""
    new = lckpt['sensor']
    out = {k: v for k, v in ckpt.items() if k not in ('run_dir', 'sha256', 'format')}
    out['sensors'] = list(ckpt['sensors']) + [new]
    out['sensor_specs'] = dict(ckpt['sensor_specs'], **{new: lckpt['sensor_spec']})
    cfg = copy.deepcopy(ckpt['train_config'])
    cfg['encoders'][new] = dict(lckpt['encoder'])      # a block named after the sensor wins
    out['train_config'] = cfg
    out['model'] = dict(ckpt['model'], **{f'sensors.{new}.{k}': v.detach().cpu()
                                          for k, v in tokens_module.state_dict().items()})
    out['added_sensors'] = list(ckpt.get('added_sensors', [])) + [provenance]
    return out


def run(args):
    t0 = time.time()
    ckpt, learner, lckpt, summary = load_parts(args.bundle, args.learner)
    new = lckpt['sensor']
    bags = args.bags or summary.get('bags_new')
    if not bags:
        raise AddSensorError(f'{args.learner}: its run.json names no --bags-new; pass --bags '
                             f'with {new} samples')
    torch.manual_seed(args.seed)
    model = rebuild(ckpt).requires_grad_(False)
    tokens_module = SensorTokens(lckpt['sensor_spec']['input_shape'], lckpt['encoder'],
                                 model.cfg)
    tokens_module.encoder.load_state_dict(learner.encoder[0].state_dict())
    tokens_module.encoder.requires_grad_(False).eval()
    x = new_inputs(bags, lckpt, ckpt, args.sensors_config, args.node_params)
    order = [ckpt['classes'].index(c) for c in lckpt['classes']]
    y = pseudo_labels(learner, x, order)
    print(f'bundle add-sensor: {new} from {args.learner} ({lckpt["method"]}) into '
          f'{args.bundle}: {len(x)} samples of {", ".join(map(str, bags))}, pseudo-labels '
          f'over {len(torch.unique(y))} classes', file=sys.stderr)
    curves = train_projection(model, tokens_module, x, y, args.epochs, args.lr, args.seed)
    tokens_module.eval()
    provenance = {'sensor': new, 'learner': str(Path(args.learner).resolve()),
                  'learner_method': lckpt['method'], 'learner_seed': lckpt['seed'],
                  'bags': [str(Path(b).resolve()) for b in bags], 'samples': int(len(x)),
                  'epochs': args.epochs, 'lr': args.lr, 'seed': args.seed,
                  'pseudo_label_agreement': curves['agreement'][-1]}
    extended = extended_checkpoint(ckpt, lckpt, tokens_module, provenance)
    from xmodal_training.export import export_run, PARITY_SAMPLES
    from xmodal_training.loading import open_model_bags, real_inputs
    parity_bags = args.parity_bags or [*summary.get('bags_known', []), *bags]
    ds = open_model_bags(parity_bags, extended['sensor_specs'], args.sensors_config,
                         args.node_params, ckpt['sample_hz'], where=f'{args.out}',
                         tensors=False)
    inputs = real_inputs(ds, extended['sensors'], PARITY_SAMPLES)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f'.{out.name}.run') as tmp:
        save_run(tmp, extended, {'method': extended['method'], 'added_sensors':
                                 extended['added_sensors']})
        export_run(load_run(tmp), out, inputs, log=lambda m: print(m, file=sys.stderr))
    manifest = load_bundle(out).manifest
    manifest = {k: v for k, v in manifest.items() if k not in ('files',)}
    manifest['added_sensors'] = extended['added_sensors']
    manifest['export']['run'] = f'{Path(args.bundle).name} + {new}'
    write_manifest(out, manifest, extra_files=[CHECKPOINT])
    (out / 'add_sensor_curves.json').write_text(json.dumps(curves, indent=1) + '\n')
    print(f'bundle add-sensor: pseudo-label agreement of the frozen head on {new} alone '
          f'{curves["agreement"][-1]:.3f}; {time.time() - t0:.0f} s', file=sys.stderr)
    return out


def main(args):
    from xmodal_training.data.bagread import BagError
    from xmodal_training.export import ExportError
    from xmodal_training.loading import DataError
    try:
        out = run(args)
    except (AddSensorError, BundleError, RunError, DataError, BagError, ExportError) as e:
        print(f'xmodal bundle add-sensor: {e}', file=sys.stderr)
        return 2
    print(f'bundle: {out} ({MANIFEST})')
    return 0
