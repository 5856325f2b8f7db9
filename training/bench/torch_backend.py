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
The benchmark baseline.

The bundle's own trained model run eagerly in PyTorch, behind the same interface as
xmodal_ros.model.FusionModel, so the fuse node runs it unchanged (it is injected as the node's
``model_factory``; the node itself never imports torch).

The weights are the bundle's own ``checkpoint.pt`` (copied in by the export, listed and
SHA-256-verified in the manifest's files like the graphs), so the baseline runs wherever the bundle
is; ``run=`` (``--torch-run DIR``) takes them from a training run folder instead. Either way they
must be the checkpoint the bundle was exported from (manifest ``export.checkpoint_sha256``).
"""
import numpy as np
import torch

from xmodal_ros.bundle import Bundle, BundleError, load_bundle
from xmodal_ros.model import FusionModel
from xmodal_training.checkpoint import CHECKPOINT, load_checkpoint, load_run, rebuild


def bundle_checkpoint(bundle, run=None):
    """
    Return the checkpoint dict of ``bundle``'s PyTorch model.

    From the run folder ``run`` if given, else the bundle's own copy; BundleError says how to
    provide it.
    """
    if run:
        ckpt = load_run(run)
    else:
        path = bundle.root / CHECKPOINT
        if CHECKPOINT not in bundle.manifest['files']:
            raise BundleError(f'{bundle.root / "manifest.yaml"}: bundle {bundle.model_id} carries '
                              f'no {CHECKPOINT} (exported before bundles did); re-export it, or '
                              'pass the run folder it was exported from (--torch-run DIR)')
        ckpt = load_checkpoint(path)           # load_bundle already checked its hash
    want = (bundle.manifest.get('export') or {}).get('checkpoint_sha256')
    if want and ckpt['sha256'] != want:
        raise BundleError(f'{ckpt["run_dir"]}: checkpoint SHA-256 {ckpt["sha256"][:12]}... is '
                          f'not the one bundle {bundle.model_id} was exported from '
                          f'({want[:12]}...)')
    return ckpt


class TorchFusionModel:
    """``FusionModel``'s interface over the bundle's PyTorch model, eager, on the CPU."""

    def __init__(self, bundle, backend='torch', *, sensors=None, run=None, torch_threads=None,
                 **_):
        """
        ``torch_threads``: intra-op threads (None/0: PyTorch's default).

        The node's own keyword arguments (threads, cache_dir, ...) are for ONNX Runtime and are
        ignored.
        """
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        ckpt = bundle_checkpoint(self.bundle, run)
        if torch_threads:
            torch.set_num_threads(int(torch_threads))
        self._model = rebuild(ckpt)
        self.model_id = self.bundle.model_id
        self.classes, self.targets = self.bundle.classes, self.bundle.targets
        self.sensors = tuple(sensors or self.bundle.sensors)
        self.tokens_shape = (self.bundle.tokens_k, self.bundle.tokens_d)
        self.backend = 'torch'
        self.backend_detail = f'torch-eager:{torch.__version__}:{torch.get_num_threads()}threads'

    def input_shape(self, sensor):
        return self.bundle.sensors[sensor].input_shape

    def preprocess_params(self, sensor):
        return self.bundle.sensors[sensor].preprocess

    @torch.inference_mode()
    def encode(self, sensor, x):
        return self._model.sensors[sensor](torch.from_numpy(np.asarray(x, np.float32))).numpy()

    @torch.inference_mode()
    def fuse(self, tokens_sum):
        probs, regression = self._model.fuse(torch.from_numpy(np.asarray(tokens_sum, np.float32)))
        return {'probs': probs.numpy(), 'regression': regression.numpy()}

    # The same warm-up as the runtime's: it only uses the interface both classes share.
    warmup = FusionModel.warmup

    def close(self):
        self._model = None
