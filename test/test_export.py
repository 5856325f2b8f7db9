"""Export: per-sensor graphs + fusion graph that match PyTorch for every sensor subset through the
runtime the robot uses, and clear refusals."""
import itertools

import numpy as np
import pytest
import torch

from simbags import bags, cache_env, exported, trained, xmodal
from xmodal_ros.bundle import load_bundle
from xmodal_ros.model import FusionModel
from xmodal_ros.preprocess import SENSORS
from xmodal_training.checkpoint import load_run, rebuild
from xmodal_training.export import ExportError, _check
from xmodal_training.loading import open_bags


def test_export_parity_for_every_subset_through_the_runtime():
    bundle = load_bundle(exported())
    trt = bundle.manifest['export']['tensorrt']       # built and checked, or why it was skipped
    assert trt['max_abs_error'] <= 1e-2 if 'gpu' in trt else trt['skipped']
    parity = bundle.manifest['export']['parity']
    assert len(parity['per_subset']) == 15 and parity['fp32_max_abs_error'] <= 1e-4
    assert bundle.method == 'umi' and (bundle.tokens_k, bundle.tokens_d) == (8, 64)

    # Independently of the export's own check: other held-out samples, a batch of 16.
    model = rebuild(load_run(trained('umi')))
    with cache_env():
        ds = open_bags([bags()['test']], sample_hz=10.0)
    batch = ds.batch(np.arange(3, len(ds), len(ds) // 16)[:16])
    runtime = FusionModel(bundle, backend='onnxruntime', providers=['CPUExecutionProvider'])
    worst = 0.0
    for r in range(1, 5):
        for subset in itertools.combinations(SENSORS, r):
            ref = model.predict(dict(batch, present=torch.tensor([[s in subset for s in SENSORS]]
                                                                 * 16)))
            got = runtime.fuse(sum(runtime.encode(s, batch[s].numpy()) for s in subset))
            for k in ('probs', 'regression'):
                worst = max(worst, float(np.abs(got[k] - ref[k].numpy()).max()))
    assert worst <= 1e-4


def test_only_projection_plus_sum_methods_export(tmp_path, capsys):
    status = xmodal('export', '--model', trained('umi') / 'stage1', '--out', tmp_path / 'b')
    assert status != 0
    err = capsys.readouterr().err
    assert "'unimodal' is not projection-plus-sum" in err and str(trained('umi') / 'stage1') in err
    assert not (tmp_path / 'b').exists()


def test_parity_beyond_tolerance_is_an_error():
    report = {'camera': {'probs': 2e-6, 'regression': 3e-4}, 'depth': {'probs': 0, 'regression': 0}}
    with pytest.raises(ExportError, match='camera'):
        _check(report, 1e-4, 'ONNX Runtime fp32')
    assert _check(report, 1e-3, 'ONNX Runtime fp32') == 3e-4
