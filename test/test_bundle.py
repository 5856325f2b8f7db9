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

"""The shipped default bundle and what happens with broken bundles."""
import re
import shutil

import numpy as np
import pytest
from simbags import exported

from xmodal_ros.bundle import BundleError, load_bundle
from xmodal_ros.model import FusionModel
from xmodal_ros.paths import default_bundle
from xmodal_ros.sensors import load_sensor_config


def test_default_bundle_is_complete_and_runs():
    bundle = load_bundle(default_bundle())
    config = load_sensor_config()
    assert bundle.method == 'umi' and tuple(bundle.sensors) == config.names
    assert bundle.manifest['export']['parity']['fp32_max_abs_error'] <= 1e-4
    size = sum(p.stat().st_size for p in default_bundle().iterdir())
    assert size < 16 << 20, f'{size} bytes: the shipped bundle should stay a few MB'
    # The PyTorch weights ride along (for the eager baseline), hash-listed; no machine paths.
    export = bundle.manifest['export']
    assert bundle.manifest['files']['checkpoint.pt'] == export['checkpoint_sha256']
    assert not str(export.get('run', '')).startswith('/')
    assert sorted(p.name for p in default_bundle().iterdir()) == sorted(
        ['manifest.yaml', *bundle.manifest['files']])
    for s, g in bundle.sensors.items():
        assert (g.kind, g.msg_type) == (config[s].kind.name, config[s].msg_type)
        assert g.preprocess == config[s].params and g.input_shape == config[s].input_shape
    model = FusionModel(bundle, backend='onnxruntime', providers=['CPUExecutionProvider'])
    tokens = sum(model.encode(s, np.zeros((2, *model.input_shape(s)), np.float32))
                 for s in ('camera', 'force'))
    out = model.fuse(tokens)
    assert out['probs'].shape == (2, len(bundle.classes)) and len(bundle.classes) == 8
    np.testing.assert_allclose(out['probs'].sum(axis=1), 1, rtol=1e-5)
    assert out['regression'].shape == (2, len(bundle.targets))


@pytest.fixture
def bundle_copy(tmp_path):
    return shutil.copytree(exported(), tmp_path / 'bundle')


def test_missing_file_names_the_path(bundle_copy):
    (bundle_copy / 'fusion.onnx').unlink()
    with pytest.raises(BundleError, match=re.escape(str(bundle_copy / 'fusion.onnx'))):
        load_bundle(bundle_copy)
    (bundle_copy / 'manifest.yaml').unlink()
    with pytest.raises(BundleError, match=re.escape(str(bundle_copy / 'manifest.yaml'))):
        FusionModel(bundle_copy)


def test_extra_files_are_listed_and_verified(bundle_copy):
    """write_manifest lists extra files with their hashes; load_bundle checks them like graphs."""
    from xmodal_ros.bundle import write_manifest
    manifest = load_bundle(bundle_copy).manifest
    (bundle_copy / 'notes.txt').write_text('provenance')
    write_manifest(bundle_copy, manifest, extra_files=['checkpoint.pt', 'notes.txt'])
    assert 'notes.txt' in load_bundle(bundle_copy).manifest['files']
    (bundle_copy / 'notes.txt').write_text('changed')
    with pytest.raises(BundleError, match=re.escape(f'{bundle_copy / "notes.txt"}: SHA-256')):
        load_bundle(bundle_copy)
    checkpoint = bundle_copy / 'checkpoint.pt'
    checkpoint.unlink()
    with pytest.raises(BundleError, match=re.escape(f'{checkpoint}: missing')):
        load_bundle(bundle_copy)


def test_tampered_graph_fails_the_hash_check(bundle_copy):
    graph = bundle_copy / 'tactile.onnx'
    data = bytearray(graph.read_bytes())
    data[-1] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=re.escape(f'{graph}: SHA-256')):
        FusionModel(bundle_copy, backend='onnxruntime')
