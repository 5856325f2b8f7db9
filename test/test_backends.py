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
Runtime model and inference backends on a real (small) bundle in real ONNX Runtime.

The TensorRT path where TensorRT and a GPU exist.
"""
import shutil

from bundles import CLASSES, K, make_bundle, SENSORS, TARGETS
import numpy as np
import pytest

from xmodal_ros import backends
from xmodal_ros.bundle import BundleError
from xmodal_ros.model import FusionModel

N = len(SENSORS)
D = 2 * N


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp('bundle'))


@pytest.fixture(scope='module')
def model(bundle):
    m = FusionModel(bundle, backend='onnxruntime')
    yield m
    m.close()


def test_encode_and_fuse_shapes_and_values(model):
    assert model.sensors == SENSORS and model.classes == CLASSES and model.targets == TARGETS
    assert model.tokens_shape == (K, D)
    tokens = np.zeros((3, K, D), np.float32)
    for i, s in enumerate(SENSORS):
        x = np.full((3, *model.input_shape(s)), 0.25 * (i + 1), np.float32)
        t = model.encode(s, x)
        assert t.shape == (3, K, D) and t.dtype == np.float32
        tokens += t
    out = model.fuse(tokens)
    assert set(out) == {'probs', 'regression'}
    assert out['probs'].shape == (3, len(CLASSES)) and out['regression'].shape == (3, len(TARGETS))
    np.testing.assert_allclose(out['probs'].sum(axis=1), 1.0, rtol=1e-6)
    # The test graphs report each sensor's presence and input mean (see bundles.py).
    np.testing.assert_allclose(out['regression'][:, :N], 1.0)
    np.testing.assert_allclose(out['regression'][0, N:], 0.25 * np.arange(1, N + 1), rtol=1e-6)


def test_batch_one_and_warmup(model):
    model.warmup(iterations=2)
    t = model.encode('force', np.zeros((1, *model.input_shape('force')), np.float32))
    assert t.shape == (1, K, D)


def test_wrong_input_shapes_are_refused(model):
    with pytest.raises(ValueError, match='camera input has shape'):
        model.encode('camera', np.zeros((1, 3, 10, 10), np.float32))
    with pytest.raises(ValueError, match='fusion input'):
        model.fuse(np.zeros((1, K + 1, D), np.float32))


def test_cpu_session_is_single_threaded_and_sequential():
    so = backends.ort_session_options()
    assert so.intra_op_num_threads == 1 and so.inter_op_num_threads == 1
    import onnxruntime as ort
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL


def test_provider_preference():
    assert backends.ort_providers(['CPUExecutionProvider', 'CUDAExecutionProvider',
                                   'TensorrtExecutionProvider']) == list(
        backends.ORT_PROVIDER_PREFERENCE)
    assert backends.ort_providers(['CPUExecutionProvider']) == ['CPUExecutionProvider']


def test_auto_backend_without_tensorrt_is_onnxruntime():
    if backends.tensorrt_importable() and backends.gpu_name():
        assert backends.resolve_backend('auto') == 'tensorrt'
    else:
        assert backends.resolve_backend('auto') == 'onnxruntime'
    with pytest.raises(backends.BackendError, match='unknown backend'):
        backends.resolve_backend('tflite')


def test_tensorrt_request_without_tensorrt_says_what_to_do():
    if backends.tensorrt_importable() and backends.gpu_name():
        pytest.skip('TensorRT and a GPU are present here')
    with pytest.raises(backends.BackendError, match='backend: onnxruntime'):
        backends.resolve_backend('tensorrt')


def test_engine_cache_key_names_model_tensorrt_and_gpu(bundle, tmp_path):
    key = backends.engine_cache_key(bundle / 'camera.onnx', trt_version='10.3.0',
                                    device='NVIDIA Orin (nvgpu)')
    assert key.startswith('camera-') and 'trt10.3.0' in key and 'NVIDIA-Orin-nvgpu' in key
    assert key == backends.engine_cache_key(bundle / 'camera.onnx', trt_version='10.3.0',
                                            device='NVIDIA Orin (nvgpu)')
    for other in ({'trt_version': '10.4.0', 'device': 'NVIDIA Orin (nvgpu)'},
                  {'trt_version': '10.3.0', 'device': 'NVIDIA H100'},
                  {'trt_version': '10.3.0', 'device': 'NVIDIA Orin (nvgpu)', 'fp16': False}):
        assert backends.engine_cache_key(bundle / 'camera.onnx', **other) != key
    changed = tmp_path / 'camera.onnx'
    shutil.copy(bundle / 'camera.onnx', changed)
    with open(changed, 'ab') as f:
        f.write(b'\0')
    assert backends.engine_cache_key(changed, trt_version='10.3.0',
                                     device='NVIDIA Orin (nvgpu)') != key


def test_tampered_bundle_is_refused_before_any_session(bundle, tmp_path):
    bad = shutil.copytree(bundle, tmp_path / 'bad')
    with open(bad / 'depth.onnx', 'ab') as f:
        f.write(b'\0')
    with pytest.raises(BundleError, match='depth.onnx: SHA-256'):
        FusionModel(bad)


def test_sensor_missing_from_bundle_is_named(tmp_path):
    b = make_bundle(tmp_path / 'b', sensors=('camera',))
    with pytest.raises(BundleError, match=r"no graph for sensor\(s\) \['force'\]"):
        FusionModel(b, sensors=('camera', 'force'))


def test_tensorrt_engine_matches_onnxruntime(bundle, tmp_path):
    """Real TensorRT: FP16 engines built once, cached, and reloaded without a rebuild."""
    pytest.importorskip('tensorrt',
                        reason='TensorRT is not installed here (Jetson/GPU hosts only)')
    if not backends.gpu_name():
        pytest.skip('no CUDA GPU here')
    ref = FusionModel(bundle, backend='onnxruntime')
    trt_model = FusionModel(bundle, backend='tensorrt', cache_dir=tmp_path)
    engines = sorted(tmp_path.glob('*.engine'))
    assert len(engines) == len(SENSORS) + 1
    mtimes = [p.stat().st_mtime_ns for p in engines]
    x = np.random.default_rng(0).random((2, *ref.input_shape('camera')), dtype=np.float32)
    np.testing.assert_allclose(trt_model.encode('camera', x), ref.encode('camera', x), atol=1e-2)
    trt_model.close()
    FusionModel(bundle, backend='tensorrt', cache_dir=tmp_path).close()
    assert [p.stat().st_mtime_ns for p in sorted(tmp_path.glob('*.engine'))] == mtimes
