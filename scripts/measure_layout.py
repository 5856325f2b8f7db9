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
Per-sensor graphs + fusion graph vs. one graph with a sensor-presence mask.

At batch 1 on ONNX Runtime CPU (one thread, as the live node runs it). The numbers behind
training/export.py's choice.

    .venv/bin/python scripts/measure_layout.py --model RUN [--runs 300]
"""
import argparse
from pathlib import Path
import tempfile

from gpu_check import median_ms  # this folder: the scripts' one timing helper
import numpy as np
import onnxruntime as ort
import torch

from xmodal_ros.backends import ort_session_options
from xmodal_training.checkpoint import load_run, rebuild
from xmodal_training.export import _Fusion, _onnx


class SingleGraph(torch.nn.Module):
    """All sensors in, presence mask (B, S) in, fused outputs out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        *xs, mask = inputs
        total = sum(self.model.sensors[s](x) * mask[:, i, None, None]
                    for i, (s, x) in enumerate(zip(self.model.sensor_names, xs)))
        return self.model.fuse(total)


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--runs', type=int, default=300)
    args = p.parse_args()
    ckpt = load_run(args.model)
    model = rebuild(ckpt)
    names = model.sensor_names
    shapes = {s: tuple(ckpt['input_shapes'][s]) for s in names}
    k, d = model.cfg.k_tokens, model.cfg.d_model
    tmp = Path(tempfile.mkdtemp())
    opts = ort_session_options(1)

    def session(path):
        return ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])

    enc = {}
    for s in names:
        _onnx(model.sensors[s], torch.zeros(2, *shapes[s]), tmp / f'{s}.onnx', 'input', ['tokens'])
        enc[s] = session(tmp / f'{s}.onnx')
    _onnx(_Fusion(model), torch.zeros(2, k, d), tmp / 'fusion.onnx', 'tokens',
          ['probs', 'regression'])
    fusion = session(tmp / 'fusion.onnx')
    batch = torch.export.Dim('batch', min=1, max=4096)
    examples = tuple(torch.zeros(2, *shapes[s]) for s in names) + (torch.ones(2, len(names)),)
    torch.onnx.export(SingleGraph(model), examples, str(tmp / 'single.onnx'),
                      input_names=[*names, 'present'], output_names=['probs', 'regression'],
                      dynamic_shapes=(tuple({0: batch} for _ in examples),), opset_version=18,
                      external_data=False, verbose=False)
    single = session(tmp / 'single.onnx')

    x = {s: np.random.rand(1, *shapes[s]).astype(np.float32) for s in names}
    feeds = dict(x, present=np.ones((1, len(names)), np.float32))
    latest = {s: enc[s].run(None, {'input': x[s]})[0] for s in names}

    def all_sensors():
        fusion.run(None, {'tokens': sum(enc[s].run(None, {'input': x[s]})[0] for s in names)})

    def one_sensor(s):
        latest[s] = enc[s].run(None, {'input': x[s]})[0]
        fusion.run(None, {'tokens': sum(latest.values())})

    rows = [('per-sensor: encode all sensors + fuse', median_ms(all_sensors, args.runs)),
            ('single graph (mask input), any update',
             median_ms(lambda: single.run(None, feeds), args.runs)),
            ('per-sensor: fuse only',
             median_ms(lambda: fusion.run(None, {'tokens': latest[names[0]]}), args.runs))]
    rows += [(f'per-sensor: new {s} message (encode {s} + fuse)',
              median_ms(lambda s=s: one_sensor(s), args.runs)) for s in names]
    for name, ms in rows:
        print(f'{name:56s} {ms:7.3f} ms')


if __name__ == '__main__':
    main()
