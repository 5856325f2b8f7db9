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
The runtime fusion model: a verified bundle's graphs opened on one backend.

``encode`` turns one sensor's preprocessed input into its projected tokens; ``fuse`` turns the sum
of the live sensors' tokens into class probabilities and regression targets. The node keeps each
sensor's latest tokens and sums only the live ones, which is how a model trained on any subset of
sensors runs on whichever subset is live. The export's parity checks call this same class, so what
was checked at export is what runs on the robot.
"""
import numpy as np

from xmodal_ros import backends
from xmodal_ros.bundle import (Bundle, BundleError, ENCODER_INPUT, ENCODER_OUTPUT, FUSION_INPUT,
                               FUSION_OUTPUTS, load_bundle)


class FusionModel:
    """
    ``FusionModel(bundle, backend='auto')``; ``bundle`` is a folder (verified here) or a Bundle.

    ``sensors`` limits which encoders are opened (default: all in the bundle). Other keyword
    arguments go to the backend: ``threads`` (ONNX Runtime intra-op threads), ``providers``
    (ONNX Runtime execution providers, default the best available), ``cache_dir`` (TensorRT
    engines), ``max_batch`` (largest batch a TensorRT engine accepts).
    """

    def __init__(self, bundle, backend='auto', *, sensors=None, threads=1, providers=None,
                 cache_dir=None, max_batch=backends.DEFAULT_MAX_BATCH):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        names = tuple(self.bundle.sensors) if sensors is None else tuple(sensors)
        missing = [s for s in names if s not in self.bundle.sensors]
        if missing:
            raise BundleError(
                f'{self.bundle.root / "manifest.yaml"}: no graph for sensor(s) {missing}; this '
                f'bundle has {list(self.bundle.sensors)} (disable the others in the parameters)')
        self.backend = backends.resolve_backend(backend)
        self.model_id = self.bundle.model_id
        self.classes = self.bundle.classes
        self.targets = self.bundle.targets
        self.sensors = names
        self.tokens_shape = (self.bundle.tokens_k, self.bundle.tokens_d)
        opts = {'threads': threads, 'providers': providers, 'cache_dir': cache_dir,
                'max_batch': max_batch}
        self._encoders = {}
        self._fusion = None
        try:
            for s in names:
                g = self.bundle.sensors[s]
                self._encoders[s] = backends.open_session(
                    self.backend, g.graph, ENCODER_INPUT, [ENCODER_OUTPUT], g.input_shape, **opts)
            self._fusion = backends.open_session(self.backend, self.bundle.fusion_graph,
                                                 FUSION_INPUT, FUSION_OUTPUTS, self.tokens_shape,
                                                 **opts)
        except BaseException:
            self.close()
            raise
        self.backend_detail = self._fusion.backend

    def input_shape(self, sensor):
        return self.bundle.sensors[sensor].input_shape

    def preprocess_params(self, sensor):
        return self.bundle.sensors[sensor].preprocess

    def encode(self, sensor, x):
        """(B, *input_shape) -> (B, k, d) float32 projected tokens of ``sensor``."""
        x = np.asarray(x, dtype=np.float32)
        want = self.bundle.sensors[sensor].input_shape
        if x.ndim != len(want) + 1 or x.shape[1:] != want:
            raise ValueError(f'{sensor} input has shape {x.shape}; expected (B, *{want})')
        (tokens,) = self._encoders[sensor].run(x)
        return tokens

    def fuse(self, tokens_sum):
        """(B, k, d) sum of the live sensors' tokens -> {'probs': (B, C), 'regression': (B, R)}."""
        tokens_sum = np.asarray(tokens_sum, dtype=np.float32)
        if tokens_sum.ndim != 3 or tokens_sum.shape[1:] != self.tokens_shape:
            raise ValueError(f'fusion input has shape {tokens_sum.shape}; '
                             f'expected (B, *{self.tokens_shape})')
        return dict(zip(FUSION_OUTPUTS, self._fusion.run(tokens_sum)))

    def warmup(self, iterations=3, batch=1):
        """Run every graph a few times so the first real message pays no allocation or JIT cost."""
        for _ in range(iterations):
            tokens = np.zeros((batch, *self.tokens_shape), np.float32)
            for s in self.sensors:
                tokens += self.encode(s, np.zeros((batch, *self.input_shape(s)), np.float32))
            self.fuse(tokens)

    def close(self):
        for session in list(self._encoders.values()) + [self._fusion]:
            if session is not None:
                session.close()
        self._encoders, self._fusion = {}, None
