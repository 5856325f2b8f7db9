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
`xmodal export`: a trained UMI run -> a model bundle (manifest + ONNX graphs), parity-checked.

Layout: one graph per sensor (preprocessed input -> its k* x d* projected tokens: encoder plus
feature projection) and one fusion graph (summed tokens -> dual-branch head -> branch-averaged
``probs`` and de-normalised ``regression``). Projection-plus-sum is what makes this split exact:
a sensor's tokens do not depend on the others, so the live node encodes each sensor when its
message arrives and only the small fusion graph runs on every prediction.

Measured against the alternative, one graph with all four inputs and a sensor-presence mask
(ONNX Runtime CPU, one thread, batch 1, median of 500 runs, the default model, this 2-core
machine; scripts/measure_layout.py):

    single graph, any update (always encodes all four sensors)    0.90 ms
    per-sensor graphs, all four sensors encoded + fusion          0.97 ms
    per-sensor graphs, one new message (encode it + fusion)       0.54-0.62 ms
    fusion graph alone                                            0.44 ms

The single graph saves 7-10% only when every sensor changes at once; sensors arrive at their own
rates (force 500 Hz, tactile 100 Hz, camera and depth 30 Hz), so the node's common case is one new
message, where per-sensor graphs take 29-40% less time. Per-sensor graphs are kept.

The bundle also carries the run's ``checkpoint.pt`` (hash-verified like the graphs, never loaded
by the runtime) so the PyTorch-eager baseline of ``xmodal bench fuse`` needs nothing outside it.

Parity: every sensor combination of ``subsets.sensor_subsets`` (all of them up to six sensors) is
run through the runtime class the robot
uses (``xmodal_ros.model.FusionModel``, ONNX Runtime CPU, fp32) on real preprocessed inputs and
compared with PyTorch; any output off by more than 1e-4 fails the export (non-zero exit) and
leaves no bundle behind. ``--tensorrt`` builds FP16 engines with the runtime's own builder (engine
cache keyed by ONNX hash, TensorRT version and GPU name) and checks them against 1e-2.
"""
import hashlib
import importlib.metadata
import logging
from pathlib import Path
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch

from xmodal_ros import backends
from xmodal_ros.bundle import (BundleError, ENCODER_INPUT, ENCODER_OUTPUT, FUSION_INPUT,
                               FUSION_OUTPUTS, sha256_file, write_manifest)
from xmodal_ros.model import FusionModel
from xmodal_training.checkpoint import CHECKPOINT, load_run, rebuild, RunError
from xmodal_training.methods import REGISTRY
from xmodal_training.subsets import sensor_subsets

OPSET = 18
FP32_TOL, FP16_TOL = 1e-4, 1e-2
PARITY_SAMPLES = 32


class ExportError(RuntimeError):
    """An export that must not produce a bundle; the message says why."""


class _Fusion(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens):
        return self.model.fuse(tokens)


def _onnx(module, example, path, input_name, output_names):
    logging.getLogger('torch.onnx').setLevel(logging.ERROR)    # exporter chatter, not problems
    batch = torch.export.Dim('batch', min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        program = torch.onnx.export(module, (example,), input_names=[input_name],
                                    output_names=list(output_names), dynamic_shapes=({0: batch},),
                                    opset_version=OPSET, verbose=False)
    # Nodes carry the exporter's stack traces (source paths, line numbers), and the graph the
    # exported program's signature, which lists every parameter of ``module`` (the fusion graph's
    # named each sensor's weights): drop them, so a graph and the model_id hashed from it depend
    # on the weights and the computation alone (adding a sensor leaves the others' graphs and
    # the fusion graph byte for byte).
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]
    del proto.graph.metadata_props[:]
    onnx.save(proto, str(path))


def write_graphs(model, ckpt, out):
    """Export every sensor graph and the fusion graph into ``out``; returns the manifest dict."""
    sensors = {}
    for s in model.sensor_names:
        declaration = ckpt['sensor_specs'][s]
        _onnx(model.sensors[s], torch.zeros(2, *declaration['input_shape']), out / f'{s}.onnx',
              ENCODER_INPUT, [ENCODER_OUTPUT])
        sensors[s] = {'graph': f'{s}.onnx', **declaration}
    k, d = model.cfg.k_tokens, model.cfg.d_model
    _onnx(_Fusion(model), torch.zeros(2, k, d), out / 'fusion.onnx', FUSION_INPUT, FUSION_OUTPUTS)
    graphs = [*(v['graph'] for v in sensors.values()), 'fusion.onnx']
    digest = hashlib.sha256(''.join(sha256_file(out / n) for n in graphs).encode()).hexdigest()
    return {'model_id': f'{ckpt["method"]}-{digest[:8]}', 'method': ckpt['method'],
            'task': {'classes': list(ckpt['classes']), 'targets': list(ckpt['targets'])},
            'tokens': {'k': k, 'd': d}, 'sensors': sensors, 'fusion': {'graph': 'fusion.onnx'},
            'export': {'xmodal_version': package_version(),
                       'torch': str(torch.__version__), 'opset': OPSET,
                       # Informative only: the run folder's name, not its path on this machine.
                       'run': Path(ckpt['run_dir']).name, 'sample_hz': ckpt['sample_hz'],
                       'checkpoint': CHECKPOINT,
                       'checkpoint_sha256': ckpt['sha256']}}


def package_version():
    """Return the installed xmodal_ros version; a plain checkout (e.g. the GPU check) has none."""
    try:
        return importlib.metadata.version('xmodal_ros')
    except importlib.metadata.PackageNotFoundError:
        return 'uninstalled checkout'


def copy_checkpoint(ckpt, out):
    """
    Copy the run's checkpoint into the bundle, byte for byte.

    Its hash goes into the manifest's files. The PyTorch-eager baseline of `xmodal bench fuse`
    loads it, the runtime never does.
    """
    src = Path(ckpt['run_dir']) / CHECKPOINT
    shutil.copyfile(src, Path(out) / CHECKPOINT)
    if sha256_file(Path(out) / CHECKPOINT) != ckpt['sha256']:
        raise ExportError(f'{src}: changed while it was being exported; export again')


def parity(model, runtime, inputs):
    """
    Max abs difference per output between PyTorch and ``runtime`` for every sensor subset.

    ``inputs``: sensor -> (n, *shape) real preprocessed inputs; a subset pairs row i of each of its
    sensors (the sum never looks across sensors, so the pairing needs no common sample).
    """
    n = min(len(x) for x in inputs.values())
    report = {}
    for subset in sensor_subsets(model.sensor_names):
        batch = {s: torch.as_tensor(inputs[s][:n]) for s in subset}
        batch['present'] = torch.tensor([[s in subset for s in model.sensor_names]] * n)
        ref = model.predict(batch)
        total = sum(runtime.encode(s, inputs[s][:n]) for s in subset)
        got = runtime.fuse(total)
        report['+'.join(subset)] = {k: float(np.abs(got[k] - ref[k].numpy()).max())
                                    for k in FUSION_OUTPUTS}
    return report


def _check(report, tol, what):
    worst = max(max(v.values()) for v in report.values())
    bad = {k: v for k, v in report.items() if max(v.values()) > tol}
    if bad:
        raise ExportError(f'{what} parity failed: max abs error {worst:.3g} > {tol:g} for '
                          f'{", ".join(bad)} ({bad})')
    return worst


def tensorrt_engines(bundle_dir, model, inputs):
    """Build FP16 engines for every graph and check them; returns a report or a skip reason."""
    if not backends.tensorrt_importable():
        return {'skipped': 'the tensorrt Python package is not importable here'}
    if not backends.gpu_name():
        return {'skipped': 'no CUDA GPU found'}
    runtime = FusionModel(bundle_dir, backend='tensorrt')
    try:
        report = parity(model, runtime, inputs)
    finally:
        runtime.close()
    return {'gpu': backends.gpu_name(), 'max_abs_error': _check(report, FP16_TOL, 'TensorRT FP16'),
            'per_subset': report}


def export_run(ckpt, out, inputs, tensorrt=False, log=print):
    """Export a loaded run into ``out`` and check it; returns the manifest's ``export`` block."""
    if not getattr(REGISTRY.get(ckpt['method']), 'exportable', False):
        exportable = [m for m, spec in REGISTRY.items() if spec.exportable]
        raise ExportError(
            f'{ckpt["run_dir"]}: method {ckpt["method"]!r} is not projection-plus-sum; only '
            f'{", ".join(exportable)} runs export to per-sensor graphs + a fusion graph '
            '(evaluate the baselines with `xmodal eval` instead)')
    model = rebuild(ckpt)
    missing = [s for s in model.sensor_names if s not in inputs]
    if missing:
        raise ExportError(f'no real inputs for sensor(s) {missing} to check parity with; pass '
                          '--bags that record them')
    out = Path(out)
    staging = out.with_name(f'.{out.name}.partial')
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = write_graphs(model, ckpt, staging)
        copy_checkpoint(ckpt, staging)
        write_manifest(staging, manifest, extra_files=[CHECKPOINT])
        runtime = FusionModel(staging, backend='onnxruntime', providers=['CPUExecutionProvider'])
        try:
            report = parity(model, runtime, inputs)
        finally:
            runtime.close()
        worst = _check(report, FP32_TOL, 'ONNX Runtime fp32')
        log(f'parity (ONNX Runtime CPU fp32, {len(report)} subsets x '
            f'{min(len(x) for x in inputs.values())} real inputs): max abs error {worst:.2e} '
            f'<= {FP32_TOL:g}')
        manifest['export'].update(parity={'fp32_max_abs_error': worst, 'per_subset': report})
        write_manifest(staging, manifest, extra_files=[CHECKPOINT])
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if tensorrt:
        trt = tensorrt_engines(out, model, inputs)
        if 'skipped' in trt:
            log(f'TensorRT: skipped ({trt["skipped"]})')
        else:
            log(f'TensorRT FP16 engines for {trt["gpu"]}: max abs error '
                f'{trt["max_abs_error"]:.2e} <= {FP16_TOL:g}')
        manifest['export']['tensorrt'] = trt     # provenance only: engines live in the cache
        write_manifest(out, manifest, extra_files=[CHECKPOINT])
    return manifest['export']


def main(args):
    # Bag reading (rosbags) only here: export_run itself also runs where rosbags is absent.
    from xmodal_training.data.bagread import BagError
    from xmodal_training.loading import DataError, open_model_bags, real_inputs
    run_dir = Path(args.model)
    out = Path(args.out) if args.out else run_dir / 'bundle'
    try:
        ckpt = load_run(run_dir)
        bags = args.bags or ckpt['data']['bags']
        ds = open_model_bags(bags, ckpt['sensor_specs'],
                             args.sensors_config or ckpt['sensors_config'],
                             sample_hz=ckpt['sample_hz'], where=str(run_dir))
        export_run(ckpt, out, real_inputs(ds, ckpt['sensors'], PARITY_SAMPLES),
                   tensorrt=args.tensorrt)
    except (ExportError, RunError, DataError, BagError, BundleError) as e:
        print(f'xmodal export: {e}', file=sys.stderr)
        return 1
    print(f'bundle: {out}')
    return 0
