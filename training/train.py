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
`xmodal train fusion`: train UMI or a baseline on bags that each hold any subset of the sensors.

Two stages, as in the paper (Sec. 4 and 6). Stage 1 trains every sensor's encoder with a linear
head (this *is* the `unimodal` / `late` baseline) and averages each training sample's predictions
over its last e epochs into pseudo-labels. Stage 2 trains UMI (or the vanilla transformer) on the
stage-1 encoders. Stage 1 runs inside the run folder (OUT/stage1, itself a complete `unimodal`
run) unless --pretrained names a finished unimodal/late run on the same bags, so late fusion,
the vanilla transformer and UMI can share one stage 1.

The same code runs on one CPU, one GPU or several under torchrun (see loop.py). Same seed, same
bags, same config -> the same weights on the CPU.
"""
import json
from pathlib import Path
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

from xmodal_training.checkpoint import CURVES, load_run, RunError, save_run
from xmodal_training.loop import Context, fit
from xmodal_training.methods import build_model, ConfigError, method_config, REGISTRY
from xmodal_training.methods.umi.processor_umi import PseudoLabelRecorder

import yaml

STAGE1 = 'unimodal'      # the method a run trains as its own stage 1 (OUT/stage1)


def target_stats(ds):
    """Mean and std of each regression target over the training samples (NaN = unknown)."""
    if not ds.targets:
        return torch.zeros(0), torch.ones(0)
    mean = np.nanmean(ds.target, axis=0)
    std = np.maximum(np.nanstd(ds.target, axis=0), 1e-6)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def sensor_specs(ds, sensors):
    """
    Return what a checkpoint records of each model sensor.

    Kind, message type, input shape and preprocessing (the dataset's), in the model's order.
    """
    return {s: ds.config[s].declaration() for s in sensors}


def shift_per_sensor(cfg, ds):
    """data.shift_px keyed by sensor name or kind -> pixels per model sensor that has one."""
    shift = cfg['data'].get('shift_px') or {}
    out = {s: shift.get(s, shift.get(ds.config[s].kind.name)) for s in cfg['sensors']}
    return {s: int(p) for s, p in out.items() if p}


def new_model(method, cfg, seed, ds, mean, std):
    torch.manual_seed(seed)
    return build_model(method, cfg, sensor_specs(ds, cfg['sensors']), len(ds.classes),
                       len(ds.targets), mean, std)


def train_unimodal(method, cfg, seed, ds, mean, std, ctx, desc):
    """
    Stage 1: unimodal encoders + heads.

    Returns (model, curves, (pseudo probs, pseudo targets, per-sensor averages)); the last is
    what sensor-subset dropout picks pseudo-labels from (``PseudoLabelRecorder.per_sensor``).

    ``ds``: anything with ``batch(indices)``, ``shapes``, ``classes``, ``targets``, ``label`` and
    ``target`` (numpy, per sample) - the bag dataset, or the GPU check's arrays.
    """
    mcfg = method_config(method, cfg)
    model = new_model(method, cfg, seed, ds, mean, std)
    recorder = PseudoLabelRecorder(len(ds), model.sensor_names, len(ds.classes), len(ds.targets))
    curves = fit(model, ds, mcfg, ctx, seed, desc, recorder=recorder,
                 record_from=mcfg.epochs - mcfg.pseudo_label_epochs,
                 shift_px=shift_per_sensor(cfg, ds))
    if ctx.world > 1:
        recorder.all_reduce()
    targets = model.normalise(torch.from_numpy(ds.target))
    pseudo = recorder.select(torch.from_numpy(ds.label), targets)
    return model, curves, (*pseudo, recorder.per_sensor())


def train_on_stage1(method, cfg, seed, ds, encoders, pseudo, mean, std, ctx):
    """
    Stage 2.

    ``method`` on the stage-1 encoders (state dict of the unimodal model) and, for UMI, its
    pseudo-labels: ``pseudo`` = (probs, targets[, per-sensor averages]); with subset dropout the
    per-sensor averages are needed. Returns (model, curves).
    """
    spec = REGISTRY[method]
    mcfg = method_config(method, cfg)
    model = new_model(method, cfg, seed, ds, mean, std)
    transform = None
    if spec.batch_transform:
        try:
            transform = spec.batch_transform(mcfg, seed, pseudo, torch.from_numpy(ds.label),
                                             model.normalise(torch.from_numpy(ds.target)),
                                             ctx.rank)
        except ValueError as e:
            raise RunError(f'{method}: {e}') from None
    for s, enc in model.encoders().items():
        enc.load_state_dict({k[len(f'encoder.{s}.'):]: v for k, v in encoders.items()
                             if k.startswith(f'encoder.{s}.')})
        enc.requires_grad_(not mcfg.freeze_encoders)
    curves = fit(model, ds, mcfg, ctx, seed, method,
                 pseudo=pseudo[:2] if spec.uses_pseudo_labels and not transform else None,
                 shift_px=shift_per_sensor(cfg, ds), transform=transform)
    return model, curves


def fingerprint(ds):
    """
    Return what pseudo-labels keyed by dataset index depend on.

    The bags in order, their sample counts and the sample rate.
    """
    return {'bags': [str(Path(b).resolve()) for b in ds.bags],
            'samples': [int(n) for n in np.diff(ds.offsets)], 'sample_hz': ds.rule.sample_hz}


def base_checkpoint(method, cfg, seed, ds, sensors_config, mean, std):
    """Everything but the weights: what rebuilds the model and what it was trained on."""
    return {'method': method, 'train_config': cfg, 'seed': seed, 'sensors': list(cfg['sensors']),
            'sensor_specs': sensor_specs(ds, cfg['sensors']),
            'sensors_config': str(sensors_config), 'timeouts': dict(ds.rule.timeouts),
            'sample_hz': ds.rule.sample_hz, 'classes': list(ds.classes),
            'targets': list(ds.targets), 'target_mean': mean, 'target_std': std,
            'data': fingerprint(ds)}


def save(out, ckpt, model, curves, seconds, ctx):
    if not ctx.main:
        return
    save_run(out, dict(ckpt, model={k: v.cpu() for k, v in model.state_dict().items()}),
             {'method': ckpt['method'], 'sensors': ckpt['sensors'], 'classes': ckpt['classes'],
              'targets': ckpt['targets'], 'bags': ckpt['data']['bags'], 'seed': ckpt['seed'],
              'train_seconds': round(seconds, 1), 'device': ctx.describe()})
    (Path(out) / CURVES).write_text(json.dumps(curves, indent=1) + '\n')
    with open(Path(out) / 'config.yaml', 'w') as f:
        yaml.safe_dump(ckpt['train_config'], f, sort_keys=False)
    print(f'{ckpt["method"]}: saved {out}', file=sys.stderr)


def pretrained_stage1(path, cfg, ds):
    """
    Return a finished unimodal/late run on exactly these bags.

    The run provides the encoders and pseudo-labels.
    """
    ckpt = load_run(path)
    if not getattr(REGISTRY.get(ckpt['method']), 'is_stage1', False):
        raise RunError(f'{path}: a {ckpt["method"]} run; --pretrained takes a run of '
                       f'{" or ".join(m for m, s in REGISTRY.items() if s.is_stage1)}')
    if ckpt['data'] != fingerprint(ds):
        raise RunError(f'{path}: trained on other samples ({ckpt["data"]}); pseudo-labels '
                       'are keyed by sample, so --pretrained needs a run on the same bags, in the '
                       'same order, at the same data.sample_hz')
    if ckpt['train_config']['encoders'] != cfg['encoders']:
        raise RunError(f'{path}: its encoders differ from the `encoders` of this config')
    return ckpt


def main(args):
    from xmodal_training.data.bagread import BagError
    from xmodal_training.loading import DataError
    ctx = Context(args.device)
    try:
        return run(args, ctx)
    except (DataError, RunError, BagError, ConfigError) as e:
        print(f'xmodal train fusion: {e}', file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run(args, ctx):
    from xmodal_training.loading import check_training_set, open_bags
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    method = args.method
    if method not in REGISTRY:
        raise ConfigError(f'--method {method}: no such method; choose one of '
                          f'{", ".join(REGISTRY)}')
    spec = REGISTRY[method]
    seed = cfg['seed'] = cfg['seed'] if args.seed is None else args.seed
    for m in (method, STAGE1) if spec.stage1 else (method,):
        method_config(m, cfg)          # fail on a bad config before decoding any bag
    ds = open_bags(args.bags, args.sensors_config, args.node_params,
                   sample_hz=cfg['data']['sample_hz'], sensors=cfg.get('sensors'))
    if not cfg.get('sensors'):          # the sensors the training bags record, in config order
        cfg['sensors'] = [s for s in ds.sensors if any(s in have for have in ds.bag_sensors)]
    check_training_set(ds, cfg['sensors'], args.config, need_all=spec.all_sensors)
    out = Path(args.out)
    if ctx.main:
        print(f'{method}: {len(ds)} samples from {len(ds.bags)} bags '
              f'({", ".join("+".join(s) for s in sorted(set(ds.bag_sensors)))}); '
              f'{len(ds.classes)} classes, {len(ds.targets)} targets; {ctx.describe()}',
              file=sys.stderr)
    mean, std = target_stats(ds)

    def stage1(method, out, desc):
        t0 = time.time()
        model, curves, (probs, targets, per_sensor) = train_unimodal(method, cfg, seed, ds, mean,
                                                                     std, ctx, desc)
        ckpt = dict(base_checkpoint(method, cfg, seed, ds, args.sensors_config, mean, std),
                    pseudo={'probs': probs, 'target': targets, 'per_sensor': per_sensor})
        save(out, ckpt, model, curves, time.time() - t0, ctx)
        return dict(ckpt, model=model.state_dict())

    if not spec.stage1:
        stage1(method, out, method)
        return 0
    if args.pretrained:
        first = pretrained_stage1(args.pretrained, cfg, ds)
        mean, std = first['target_mean'], first['target_std']
    else:
        first = stage1(STAGE1, out / 'stage1', 'stage 1')
    t0 = time.time()
    model, curves = train_on_stage1(method, cfg, seed, ds, first['model'],
                                    (first['pseudo']['probs'], first['pseudo']['target'],
                                     first['pseudo'].get('per_sensor')),
                                    mean, std, ctx)
    ckpt = dict(base_checkpoint(method, cfg, seed, ds, args.sensors_config, mean, std),
                stage1=str(args.pretrained or out / 'stage1'))
    save(out, ckpt, model, curves, time.time() - t0, ctx)
    return 0
