"""A small but real model bundle for tests, made with onnx.helper (no torch, no training).

Every graph runs in ONNX Runtime like an exported one, and the outputs say exactly which sensors'
tokens reached the fusion head, so node tests can check the live-subset logic end to end:

* sensor ``s`` (index i in SENSORS) encodes to tokens with channel i = 1 and channel 4 + i = the
  mean of its input, in every one of the k tokens;
* the fusion head averages the tokens over k: ``regression`` = that (d = 8) vector, so targets
  ``on/<sensor>`` are 1 for the sensors in the sum and ``mean/<sensor>`` their input means;
  ``probs`` = softmax of a fixed linear map of it over three classes.
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from xmodal_ros.bundle import write_manifest
from xmodal_ros.preprocess import SENSORS, default_params, input_shape

K, D = 2, 8
CLASSES = ('mug', 'ball', 'box')
TARGETS = tuple(f'on/{s}' for s in SENSORS) + tuple(f'mean/{s}' for s in SENSORS)
OPSET = 17


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='xmodal-test')
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def encoder_graph(index, shape):
    lift = np.zeros((1, K * D), np.float32)
    bias = np.zeros((K * D,), np.float32)
    for t in range(K):
        lift[0, t * D + 4 + index] = 1.0
        bias[t * D + index] = 1.0
    nodes = [
        helper.make_node('Flatten', ['input'], ['flat'], axis=1),
        helper.make_node('ReduceMean', ['flat'], ['mean'], axes=[1], keepdims=1),
        helper.make_node('MatMul', ['mean', 'lift'], ['lifted']),
        helper.make_node('Add', ['lifted', 'bias'], ['tok_flat']),
        helper.make_node('Reshape', ['tok_flat', 'tok_shape'], ['tokens']),
    ]
    inits = [numpy_helper.from_array(lift, 'lift'), numpy_helper.from_array(bias, 'bias'),
             numpy_helper.from_array(np.array([-1, K, D], np.int64), 'tok_shape')]
    return helper.make_graph(
        nodes, f'encoder{index}',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['B', *shape])],
        [helper.make_tensor_value_info('tokens', TensorProto.FLOAT, ['B', K, D])], inits)


def fusion_graph():
    weights = np.random.default_rng(0).normal(size=(D, len(CLASSES))).astype(np.float32)
    nodes = [
        helper.make_node('ReduceMean', ['tokens'], ['regression'], axes=[1], keepdims=0),
        helper.make_node('MatMul', ['regression', 'w'], ['logits']),
        helper.make_node('Softmax', ['logits'], ['probs'], axis=-1),
    ]
    return helper.make_graph(
        nodes, 'fusion', [helper.make_tensor_value_info('tokens', TensorProto.FLOAT, ['B', K, D])],
        [helper.make_tensor_value_info('probs', TensorProto.FLOAT, ['B', len(CLASSES)]),
         helper.make_tensor_value_info('regression', TensorProto.FLOAT, ['B', D])],
        [numpy_helper.from_array(weights, 'w')])


def make_bundle(root, sensors=SENSORS, model_id='test-0001'):
    """Write the test bundle into ``root`` (created) and return its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    params = default_params()
    entries = {}
    for s in sensors:
        shape = input_shape(s, params[s])
        _save(encoder_graph(SENSORS.index(s), shape), root / f'{s}.onnx')
        entries[s] = {'graph': f'{s}.onnx', 'input_shape': list(shape), 'preprocess': params[s]}
    _save(fusion_graph(), root / 'fusion.onnx')
    write_manifest(root, {'model_id': model_id, 'method': 'test',
                          'task': {'classes': list(CLASSES), 'targets': list(TARGETS)},
                          'tokens': {'k': K, 'd': D}, 'sensors': entries,
                          'fusion': {'graph': 'fusion.onnx'}, 'export': {'note': 'test bundle'}})
    return root


if __name__ == '__main__':
    print(make_bundle(sys.argv[1]))
