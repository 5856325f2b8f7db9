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
Export: per-sensor graphs + fusion graph that match PyTorch, and clear refusals.

The graphs match PyTorch for every sensor subset through the runtime the robot uses.
"""
import shutil

import numpy as np
import pytest
from simbags import bags, cache_env, exported, trained, xmodal
import torch

from xmodal_ros.bundle import load_bundle
from xmodal_ros.model import FusionModel
from xmodal_training.checkpoint import load_run, rebuild
from xmodal_training.export import _check, ExportError
from xmodal_training.loading import open_model_bags
from xmodal_training.subsets import sensor_subsets


def test_export_parity_for_every_subset_through_the_runtime():
    bundle = load_bundle(exported())
    trt = bundle.manifest['export']['tensorrt']       # built and checked, or why it was skipped
    assert trt['max_abs_error'] <= 1e-2 if 'gpu' in trt else trt['skipped']
    parity = bundle.manifest['export']['parity']
    assert len(parity['per_subset']) == 15 and parity['fp32_max_abs_error'] <= 1e-4
    assert bundle.method == 'umi' and (bundle.tokens_k, bundle.tokens_d) == (8, 64)

    # Independently of the export's own check: other held-out samples, a batch of 16.
    ckpt = load_run(trained('umi'))
    model = rebuild(ckpt)
    sensors = model.sensor_names
    assert list(bundle.sensors) == sensors == ['camera', 'depth', 'tactile', 'force']
    for s in sensors:                 # the manifest declares each sensor as trained
        assert bundle.declaration(s) == ckpt['sensor_specs'][s]
    with cache_env():
        ds = open_model_bags([bags()['test']], ckpt['sensor_specs'], sample_hz=10.0)
    batch = ds.batch(np.arange(3, len(ds), len(ds) // 16)[:16], sensors=sensors)
    runtime = FusionModel(bundle, backend='onnxruntime', providers=['CPUExecutionProvider'])
    worst = 0.0
    for subset in sensor_subsets(sensors):
        ref = model.predict(dict(batch, present=torch.tensor([[s in subset for s in sensors]]
                                                             * 16)))
        got = runtime.fuse(sum(runtime.encode(s, batch[s].numpy()) for s in subset))
        for k in ('probs', 'regression'):
            worst = max(worst, float(np.abs(got[k] - ref[k].numpy()).max()))
    assert worst <= 1e-4


def test_bundle_carries_its_checkpoint_and_no_machine_paths(tmp_path):
    """
    The run's checkpoint.pt travels in the bundle, hash-listed like the graphs.

    The PyTorch-eager baseline runs from a copy of the bundle anywhere, matching the runtime.
    """
    from xmodal_ros.bundle import BundleError, sha256_file
    from xmodal_training.bench.torch_backend import TorchFusionModel
    run = trained('umi')
    bundle = load_bundle(exported())
    export = bundle.manifest['export']
    assert bundle.manifest['files']['checkpoint.pt'] == export['checkpoint_sha256'] == \
        sha256_file(run / 'checkpoint.pt')
    assert (exported() / 'checkpoint.pt').read_bytes() == (run / 'checkpoint.pt').read_bytes()
    assert export['run'] == run.name and export['checkpoint'] == 'checkpoint.pt'
    assert str(run) not in (exported() / 'manifest.yaml').read_text()

    moved = shutil.copytree(exported(), tmp_path / 'elsewhere')
    eager = TorchFusionModel(moved)
    runtime = FusionModel(moved, backend='onnxruntime', providers=['CPUExecutionProvider'])
    x = {s: np.random.default_rng(1).random((2, *runtime.input_shape(s)), dtype=np.float32)
         for s in runtime.sensors}
    want = runtime.fuse(sum(runtime.encode(s, v) for s, v in x.items()))
    got = eager.fuse(sum(eager.encode(s, v) for s, v in x.items()))
    for k in ('probs', 'regression'):
        np.testing.assert_allclose(got[k], want[k], atol=1e-4)
    assert TorchFusionModel(moved, run=run).model_id == bundle.model_id      # --torch-run

    # A bundle without its checkpoint: the baseline says what to do; the runtime is unaffected.
    bare = shutil.copytree(exported(), tmp_path / 'bare')
    (bare / 'checkpoint.pt').unlink()
    with pytest.raises(BundleError, match='checkpoint.pt'):
        TorchFusionModel(bare)


def test_only_projection_plus_sum_methods_export(tmp_path, capsys):
    status = xmodal('export', '--model', trained('umi') / 'stage1', '--out', tmp_path / 'b')
    assert status != 0
    err = capsys.readouterr().err
    assert "'unimodal' is not projection-plus-sum" in err and str(trained('umi') / 'stage1') in err
    assert not (tmp_path / 'b').exists()


def test_parity_beyond_tolerance_is_an_error():
    report = {'camera': {'probs': 2e-6, 'regression': 3e-4},
              'depth': {'probs': 0, 'regression': 0}}
    with pytest.raises(ExportError, match='camera'):
        _check(report, 1e-4, 'ONNX Runtime fp32')
    assert _check(report, 1e-3, 'ONNX Runtime fp32') == 3e-4
