"""The benchmark baseline: the bundle's own trained model run eagerly in PyTorch, behind the same
interface as xmodal_ros.model.FusionModel, so the fuse node runs it unchanged (it is injected
as the node's ``model_factory``; the node itself never imports torch).

The weights come from the run folder the bundle was exported from (manifest ``export.run``, or
``run=``), verified against the checkpoint hash the export recorded.
"""
from pathlib import Path

import numpy as np
import torch

from xmodal_ros.bundle import BundleError, load_bundle
from xmodal_ros.model import FusionModel
from xmodal_training.checkpoint import load_run, rebuild


def bundle_run_dir(bundle, run=None):
    """The run folder holding ``bundle``'s PyTorch weights; BundleError says how to provide it."""
    run = run or (bundle.manifest.get('export') or {}).get('run')
    if not run:
        raise BundleError(f'{bundle.root / "manifest.yaml"}: names no training run (export.run); '
                          'pass the run folder the bundle was exported from (--torch-run DIR)')
    path = Path(run)
    if not (path / 'checkpoint.pt').is_file():
        raise BundleError(f'{path}: the PyTorch run of bundle {bundle.model_id} is not here; the '
                          'eager baseline needs it (pass --torch-run DIR)')
    return path


class TorchFusionModel:
    """``FusionModel``'s interface over the bundle's PyTorch model, eager, on the CPU."""

    def __init__(self, bundle, backend='torch', *, sensors=None, run=None, torch_threads=None,
                 **_):
        """``torch_threads``: intra-op threads (None/0: PyTorch's default). The node's own
        keyword arguments (threads, cache_dir, ...) are for ONNX Runtime and are ignored."""
        self.bundle = load_bundle(bundle)
        ckpt = load_run(bundle_run_dir(self.bundle, run))
        want = (self.bundle.manifest.get('export') or {}).get('checkpoint_sha256')
        if want and ckpt['sha256'] != want:
            raise BundleError(f'{ckpt["run_dir"]}: checkpoint SHA-256 {ckpt["sha256"][:12]}... is '
                              f'not the one bundle {self.bundle.model_id} was exported from '
                              f'({want[:12]}...)')
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
