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
GPU check: AMP training, export, TensorRT engines, ONNX Runtime GPU parity, timings.

    scripts/gpu_check_prepare.sh     here: real sim samples -> data/gpu_check/samples.npz
    scripts/gpu_check.sh             on the CUDA machine, with data/gpu_check carried along

The GPU machine has neither MuJoCo nor rosbags, so the samples travel as arrays decoded here from
real simulated bags (split A camera+depth+wrist_imu, split B tactile+force+finger_joints,
held-out episodes with every sensor). Everything else is the project's own code: the training
loop (xmodal_training.loop.fit, autocast + GradScaler), stage 1 with pseudo-labels, UMI, the
export with its fp32 parity check through xmodal_ros.model.FusionModel, and the runtime's
TensorRT builder. Whatever cannot run here is reported as SKIPPED with the reason.
"""
import argparse
import json
import math
from pathlib import Path
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / 'data' / 'gpu_check' / 'samples.npz'
FP16_TOL = 1e-2


def prepare(args):
    """Decode ``--bags`` (A, B, held-out) into float16 arrays: a few MB that travel."""
    from xmodal_training.loading import open_bags

    import yaml
    with open(ROOT / 'config' / 'train_fusion.yaml') as f:
        hz = yaml.safe_load(f)['data']['sample_hz']
    train = open_bags(args.train, sample_hz=hz)
    test = open_bags([args.test], sample_hz=hz)
    if list(train.classes) != list(test.classes):
        sys.exit(f'class lists differ: {train.classes} vs {test.classes}')
    out = {}
    for name, ds, n in (('train', train, args.train_samples), ('test', test, args.test_samples)):
        pick = np.linspace(0, len(ds) - 1, min(n, len(ds))).astype(np.int64)
        batch = ds.batch(pick)
        for k, v in batch.items():
            v = v.numpy()
            out[f'{name}/{k}'] = v.astype(np.float16) if v.dtype == np.float32 and k != 'target' \
                else v
    out['meta'] = np.array(json.dumps({
        'classes': list(train.classes), 'targets': list(train.targets), 'sample_hz': hz,
        'sensor_specs': {s: train.config[s].declaration() for s in train.sensors}}))
    SAMPLES.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(SAMPLES, **out)
    print(f'{SAMPLES}: {SAMPLES.stat().st_size / 1e6:.1f} MB')


class ArrayDataset:
    """The samples of one split with what training reads of the bag dataset."""

    def __init__(self, arrays, split, meta):
        import torch
        self.data = {k.split('/', 1)[1]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()
                     if k.startswith(split + '/')}
        for k, v in self.data.items():
            if v.dtype == torch.float16:
                self.data[k] = v.float()
        from xmodal_ros.sensors import load_sensor_config, model_config
        self.data['index'] = torch.arange(len(self.data['label']))
        self.config = model_config(load_sensor_config(), meta['sensor_specs'], str(SAMPLES))
        self.sensors = self.config.names
        self.shapes = {s: self.config[s].input_shape for s in self.sensors}
        self.classes, self.targets = meta['classes'], meta['targets']
        self.label, self.target = self.data['label'].numpy(), self.data['target'].numpy()

    def __len__(self):
        return len(self.data['label'])

    def batch(self, idx, sensors=None):
        import torch
        idx = torch.as_tensor(np.asarray(idx))
        out = {k: v[idx] for k, v in self.data.items()}
        if sensors is not None:
            out['present'] = out['present'][:, [self.sensors.index(s) for s in sensors]]
        return out


def median_ms(fn, runs=100, sync=None):
    for _ in range(10):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def run(args):
    import onnxruntime as ort
    import torch

    from xmodal_ros import backends
    from xmodal_ros.model import FusionModel
    from xmodal_training.checkpoint import load_run, save_run
    from xmodal_training.export import export_run, FP32_TOL, parity
    from xmodal_training.loop import Context
    from xmodal_training.train import target_stats, train_on_stage1, train_unimodal

    import yaml

    t_start = time.time()
    skipped, timings = [], []
    if not SAMPLES.is_file():
        sys.exit(f'{SAMPLES} is missing: run scripts/gpu_check_prepare.sh here and carry '
                 'data/gpu_check to the GPU machine')
    arrays = dict(np.load(SAMPLES))
    meta = json.loads(str(arrays.pop('meta')))
    train, test = ArrayDataset(arrays, 'train', meta), ArrayDataset(arrays, 'test', meta)
    ctx = Context(args.device)
    print(f'torch {torch.__version__}, device {ctx.describe()}'
          + (f' ({torch.cuda.get_device_name(ctx.device)})' if ctx.device.type == 'cuda' else ''))
    if ctx.device.type != 'cuda':
        skipped.append(('CUDA / AMP', 'no CUDA device: trained on the CPU in fp32'))
    skipped.append(('DDP', 'one process here; multi-GPU runs `torchrun --nproc_per_node=N -m '
                    'xmodal_ros.cli train fusion ...` (DDP from RANK/WORLD_SIZE/LOCAL_RANK)'))

    # The training config with epochs cut to about --steps optimiser steps per stage.
    with open(ROOT / 'config' / 'train_fusion.yaml') as f:
        cfg = yaml.safe_load(f)
    for block in ('unimodal', 'umi'):
        epochs = max(2, math.ceil(args.steps / math.ceil(len(train) / cfg[block]['batch_size'])))
        cfg[block]['epochs'] = epochs
    cfg['unimodal']['pseudo_label_epochs'] = min(cfg['unimodal']['pseudo_label_epochs'],
                                                 cfg['unimodal']['epochs'])
    cfg['sensors'] = list(train.sensors)
    mean, std = target_stats(train)

    t = time.time()
    unimodal, _, pseudo = train_unimodal('unimodal', cfg, 0, train, mean, std, ctx, 'stage 1')
    sec = time.time() - t
    n = cfg['unimodal']['epochs']
    timings.append(('stage 1 training', f'{n * len(train) / sec:,.0f} samples/s '
                    f'({n} epochs of {len(train)} in {sec:.1f} s)'))
    t = time.time()
    model, curves = train_on_stage1('umi', cfg, 0, train, unimodal.state_dict(), pseudo, mean,
                                    std, ctx)
    sec = time.time() - t
    n = cfg['umi']['epochs']
    timings.append(('UMI training', f'{n * len(train) / sec:,.0f} samples/s '
                    f'({n} epochs in {sec:.1f} s)'))
    print(f'UMI loss {curves[0]["loss"]:.3f} -> {curves[-1]["loss"]:.3f}')
    if not curves[-1]['loss'] < curves[0]['loss']:
        sys.exit('FAIL: the UMI loss did not decrease')
    all_present = test.batch(np.arange(len(test)))
    acc = float((model.predict(all_present)['probs'].argmax(1) == all_present['label'])
                .float().mean())
    print(f'held-out accuracy, all sensors (never seen together in training): {acc:.1%} '
          f'(chance {1 / len(meta["classes"]):.1%}; a short check, not the benchmark)')

    # Export through the project's export (ORT CPU fp32 parity <= 1e-4, via FusionModel).
    work = Path(tempfile.mkdtemp(prefix='xmodal-gpu-check-'))
    ckpt = {'method': 'umi', 'train_config': cfg, 'seed': 0, 'sensors': list(cfg['sensors']),
            'sensor_specs': {s: train.config[s].declaration() for s in cfg['sensors']},
            'sensors_config': '', 'sample_hz': meta['sample_hz'], 'classes': meta['classes'],
            'targets': meta['targets'], 'target_mean': mean, 'target_std': std,
            'data': {'bags': [str(SAMPLES)], 'samples': [len(train)]}, 'stage1': '',
            'model': model.state_dict()}
    save_run(work / 'run', ckpt, {'note': 'gpu check'})
    inputs = {s: test.data[s][:32].numpy() for s in cfg['sensors']}
    t = time.time()
    export = export_run(load_run(work / 'run'), work / 'bundle', inputs, tensorrt=True)
    timings.append(('export + fp32 parity', f'{time.time() - t:.1f} s, max abs error '
                    f'{export["parity"]["fp32_max_abs_error"]:.2e} <= {FP32_TOL:g}'))
    if not backends.tensorrt_importable():
        skipped.append(('TensorRT engines', 'the tensorrt package is not importable'))
    elif not backends.gpu_name():
        skipped.append(('TensorRT engines', 'no CUDA GPU visible to the runtime'))

    # ONNX Runtime GPU execution providers, where this onnxruntime build has them.
    available = ort.get_available_providers()
    if 'CUDAExecutionProvider' in available and hasattr(ort, 'preload_dlls'):
        ort.preload_dlls()          # CUDA/cuDNN from the nvidia-* wheels PyTorch brought
    runtimes = {'onnxruntime CPU': FusionModel(work / 'bundle', backend='onnxruntime',
                                               providers=['CPUExecutionProvider'])}
    for ep in ('CUDAExecutionProvider', 'TensorrtExecutionProvider'):
        if ep not in available:
            skipped.append((ep, f'not in this onnxruntime build ({", ".join(available)})'))
            continue
        try:
            fm = FusionModel(work / 'bundle', backend='onnxruntime',
                             providers=[ep, 'CPUExecutionProvider'], cache_dir=work / 'engines')
        except Exception as e:  # noqa: BLE001 - report and go on with the other providers
            skipped.append((ep, f'session creation failed: {str(e)[:300]}'))
            continue
        if ep not in fm.backend_detail:
            skipped.append((ep, f'ONNX Runtime fell back to {fm.backend_detail} (its libraries '
                            'did not load; see the warnings above)'))
            continue
        report = parity(model, fm, inputs)
        worst = max(max(v.values()) for v in report.values())
        print(f'{ep}: {fm.backend_detail}, max abs error over {len(report)} subsets {worst:.2e} '
              f'(limit {FP16_TOL:g})')
        if worst > FP16_TOL:
            sys.exit(f'FAIL: {ep} parity {worst:.3g} > {FP16_TOL:g}')
        runtimes[ep] = fm
    if backends.tensorrt_importable() and backends.gpu_name():
        runtimes['TensorRT native'] = FusionModel(work / 'bundle', backend='tensorrt',
                                                  cache_dir=work / 'engines')

    # Latency of one full update (encode every sensor + fuse) at batch 1.
    sensors = model.sensor_names
    one = {s: inputs[s][:1] for s in sensors}
    for name, fm in runtimes.items():
        ms = median_ms(lambda fm=fm: fm.fuse(sum(fm.encode(s, one[s]) for s in sensors)))
        timings.append((f'batch-1 update, {name}', f'{ms:.3f} ms'))
    model.to(ctx.device)
    x = {s: torch.from_numpy(one[s]).to(ctx.device) for s in sensors}
    sync = torch.cuda.synchronize if ctx.device.type == 'cuda' else None
    with torch.no_grad():
        ms = median_ms(lambda: model.fuse(sum(model.sensors[s](x[s]) for s in sensors)),
                       sync=sync)
        timings.append((f'batch-1 update, PyTorch eager fp32 {ctx.device}', f'{ms:.3f} ms'))
        if ctx.amp is not None:
            with torch.autocast('cuda', dtype=ctx.amp):
                ms = median_ms(lambda: model.fuse(sum(model.sensors[s](x[s]) for s in sensors)),
                               sync=sync)
            timings.append((f'batch-1 update, PyTorch autocast {str(ctx.amp)[6:]}',
                            f'{ms:.3f} ms'))

    print('\nTimings')
    for name, value in timings:
        print(f'  {name:44s} {value}')
    print('\nSKIPPED' if skipped else '\nNothing skipped.')
    for name, why in skipped:
        print(f'  {name}: {why}')
    print(f'\nPASS in {time.time() - t_start:.0f} s')


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    sub = p.add_subparsers(dest='verb', required=True)
    pr = sub.add_parser('prepare')
    pr.add_argument('--train', nargs='+', required=True, help='split A and split B bags')
    pr.add_argument('--test', required=True, help='held-out bag with every sensor')
    pr.add_argument('--train-samples', type=int, default=768)
    pr.add_argument('--test-samples', type=int, default=256)
    r = sub.add_parser('run')
    r.add_argument('--steps', type=int, default=300, help='training steps per stage (about)')
    r.add_argument('--device', default='auto')
    args = p.parse_args()
    prepare(args) if args.verb == 'prepare' else run(args)


if __name__ == '__main__':
    main()
