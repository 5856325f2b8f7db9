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
A small but real model bundle for tests, made with onnx.helper (no torch, no training).

Every graph runs in ONNX Runtime like an exported one, and the outputs say exactly which sensors'
tokens reached the fusion head, so node tests can check the live-subset logic end to end:

* sensor ``s`` (index i among the configured sensors, n of them) encodes to tokens with channel
  i = 1 and channel n + i = the mean of its input, in every one of the k tokens;
* the fusion head averages the tokens over k: ``regression`` = that (d = 2n) vector, so targets
  ``on/<sensor>`` are 1 for the sensors in the sum and ``mean/<sensor>`` their input means;
  ``probs`` = softmax of a fixed linear map of it over three classes.
"""
from pathlib import Path
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from xmodal_ros.bundle import write_manifest
from xmodal_ros.sensors import load_sensor_config

CONFIG = load_sensor_config()            # the package's six sensors
SENSORS = CONFIG.names
K = 2
CLASSES = ('mug', 'ball', 'box')
OPSET = 17


def targets(sensors=SENSORS):
    return tuple(f'on/{s}' for s in sensors) + tuple(f'mean/{s}' for s in sensors)


TARGETS = targets()


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='xmodal-test')
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def encoder_graph(index, shape, n):
    d = 2 * n
    lift = np.zeros((1, K * d), np.float32)
    bias = np.zeros((K * d,), np.float32)
    for t in range(K):
        lift[0, t * d + n + index] = 1.0
        bias[t * d + index] = 1.0
    nodes = [
        helper.make_node('Flatten', ['input'], ['flat'], axis=1),
        helper.make_node('ReduceMean', ['flat'], ['mean'], axes=[1], keepdims=1),
        helper.make_node('MatMul', ['mean', 'lift'], ['lifted']),
        helper.make_node('Add', ['lifted', 'bias'], ['tok_flat']),
        helper.make_node('Reshape', ['tok_flat', 'tok_shape'], ['tokens']),
    ]
    inits = [numpy_helper.from_array(lift, 'lift'), numpy_helper.from_array(bias, 'bias'),
             numpy_helper.from_array(np.array([-1, K, d], np.int64), 'tok_shape')]
    return helper.make_graph(
        nodes, f'encoder{index}',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['B', *shape])],
        [helper.make_tensor_value_info('tokens', TensorProto.FLOAT, ['B', K, d])], inits)


def fusion_graph(n):
    d = 2 * n
    weights = np.random.default_rng(0).normal(size=(d, len(CLASSES))).astype(np.float32)
    nodes = [
        helper.make_node('ReduceMean', ['tokens'], ['regression'], axes=[1], keepdims=0),
        helper.make_node('MatMul', ['regression', 'w'], ['logits']),
        helper.make_node('Softmax', ['logits'], ['probs'], axis=-1),
    ]
    return helper.make_graph(
        nodes, 'fusion', [helper.make_tensor_value_info('tokens', TensorProto.FLOAT, ['B', K, d])],
        [helper.make_tensor_value_info('probs', TensorProto.FLOAT, ['B', len(CLASSES)]),
         helper.make_tensor_value_info('regression', TensorProto.FLOAT, ['B', d])],
        [numpy_helper.from_array(weights, 'w')])


def make_bundle(root, sensors=None, model_id='test-0001', config=CONFIG):
    """
    Write the test bundle for ``sensors`` of ``config`` into ``root``; return its path.

    ``sensors``: default all; ``config``: a SensorConfig; ``root`` is created. Token channels
    follow the configuration's order.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = config.names
    entries = {}
    for s in (names if sensors is None else sensors):
        declaration = config[s].declaration()
        _save(encoder_graph(names.index(s), declaration['input_shape'], len(names)),
              root / f'{s}.onnx')
        entries[s] = {'graph': f'{s}.onnx', **declaration}
    _save(fusion_graph(len(names)), root / 'fusion.onnx')
    write_manifest(root, {'model_id': model_id, 'method': 'test',
                          'task': {'classes': list(CLASSES), 'targets': list(targets(names))},
                          'tokens': {'k': K, 'd': 2 * len(names)}, 'sensors': entries,
                          'fusion': {'graph': 'fusion.onnx'}, 'export': {'note': 'test bundle'}})
    return root


if __name__ == '__main__':
    print(make_bundle(sys.argv[1]))
