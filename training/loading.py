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
Bags -> the checked datasets that training, evaluation and export read.

Every problem with the bags a user passes becomes a DataError naming the bag and the fix, before
any training starts: a sensor the config does not list, a config sensor no bag records, a bag
without labels, an oracle run on bags that lack a sensor.
"""
from pathlib import Path

import numpy as np

from xmodal_ros.sensors import (load_node_settings, load_sensor_config, model_config,
                                SensorConfigError)
from xmodal_training.data.samples import BagSamples
from xmodal_training.data.windows import SampleRule


class DataError(ValueError):
    """Bags that do not fit the run; the message names the bag and what to change."""


def open_bags(bags, sensors_config=None, node_params=None, sample_hz=None, sensors=None,
              tensors=True):
    """
    Return the dataset of ``bags``.

    The sensors of ``sensors_config`` (sensors.yaml; ``sensors`` restricts them), fresh by the
    timeouts of ``node_params`` (the fuse node's parameter YAML), sampled at ``sample_hz`` as in
    the training config's ``data`` block. ``tensors``: a torch ``BagDataset``; else the same
    samples as numpy ``BagSamples`` (no torch import).
    """
    missing = [b for b in bags if not Path(b).exists()]
    if missing:
        raise DataError(f'{missing[0]}: no such bag (a rosbag2 folder or .mcap/.db3 file)')
    try:
        config = load_sensor_config(sensors_config)
        if sensors is not None:
            config = config.subset(sensors)
        timeouts = {s: v['timeout'] for s, v in load_node_settings(config, node_params).items()}
    except SensorConfigError as e:
        raise DataError(str(e)) from None
    rule = SampleRule(timeouts=timeouts) if sample_hz is None else SampleRule(
        sample_hz=float(sample_hz), timeouts=timeouts)
    if tensors:
        from xmodal_training.data.dataset import BagDataset as samples_class
    else:
        samples_class = BagSamples
    return samples_class([Path(b) for b in bags], config=config, rule=rule)


def open_model_bags(bags, declarations, sensors_config=None, node_params=None, sample_hz=None,
                    where='the model', tensors=True):
    """
    Return the dataset of ``bags`` for a trained model.

    Its sensors (``declarations``: name -> {kind, input_shape, preprocess}) with their trained
    preprocessing, on the topics of ``sensors_config``.
    """
    try:
        config = model_config(load_sensor_config(sensors_config), declarations, where)
    except SensorConfigError as e:
        raise DataError(str(e)) from None
    return open_bags(bags, config, node_params, sample_hz, tensors=tensors)


def check_training_set(ds, sensors, config_path, need_all=False):
    """
    Raise DataError unless every bag records a labelled.

    non-empty subset of ``sensors`` and together they record all of them (``need_all``: each bag
    records all of them).
    """
    listed = set(sensors)
    for bag, have, n in zip(ds.bags, ds.bag_sensors, np.diff(ds.offsets)):
        extra = [s for s in have if s not in listed]
        if extra:
            raise DataError(f'{bag}: records {", ".join(extra)}, which {config_path} does not '
                            f'list (sensors: {list(sensors)}); add them there or train on other '
                            'bags')
        if need_all and set(have) != listed:
            raise DataError(f'{bag}: records only {", ".join(have)}; the oracle trains on bags '
                            f'holding every sensor ({", ".join(sensors)}). Record such bags (e.g. '
                            '`xmodal sim record` without --sensors) or train --method umi')
        if n == 0:
            raise DataError(f'{bag}: yields no samples (every stream must be fresh at some '
                            'instant of an episode)')
    for b, bag in enumerate(ds.bags):
        if not (ds.label[ds.sample_bag == b] >= 0).any():
            raise DataError(f'{bag}: holds no labels ({len(ds.classes)} classes known, no '
                            'ground-truth messages with a class); training needs labelled bags '
                            '(the /xmodal/ground_truth topic of config/sensors.yaml)')
    recorded = {s for have in ds.bag_sensors for s in have}
    absent = [s for s in sensors if s not in recorded]
    if absent:
        raise DataError(f'no bag records {", ".join(absent)}, which {config_path} lists; pass '
                        f'bags that do, or remove it from `sensors` there (bags: '
                        f'{", ".join(ds.bags)})')


def real_inputs(ds, sensors, n):
    """Map each sensor to (n, *shape) float32 inputs spread evenly over the samples holding it."""
    out = {}
    for s in sensors:
        rows = np.flatnonzero(ds.present[ds.sample_bag, ds.sensors.index(s)])
        if len(rows):
            pick = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(np.int64)]
            out[s] = np.asarray(ds.batch(pick)[s])
    return out
