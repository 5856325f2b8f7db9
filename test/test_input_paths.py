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
One input path.

The same bag messages through the dataset (training) and through the node's own input classes
(rclpy messages, xmodal_ros.sensor_input) give identical model inputs, for every sensor kind.
"""
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

from xmodal_ros.conversions import stamp_ns
from xmodal_ros.sensor_input import make_input
from xmodal_ros.sensors import load_sensor_config, message_class
from xmodal_training.data.dataset import BagDataset
from xmodal_training.sim.record import record_bag


@pytest.fixture(scope='module')
def sim_bag(tmp_path_factory):
    return record_bag(tmp_path_factory.mktemp('paths') / 'bag', episodes=2, seed=11,
                      resolution='64x48')['out']


def node_messages(bag, config):
    """Map each sensor to [(stamp ns, rclpy message)] in stamp order, deserialised by rclpy."""
    topics = {config[s].topic: s for s in config.names}
    out = {s: [] for s in config.names}
    with Reader(bag) as reader:
        for conn, _, raw in reader.messages():
            s = topics.get(conn.topic)
            if s is not None:
                msg = deserialize_message(bytes(raw), message_class(config[s].msg_type))
                out[s].append((stamp_ns(msg.header), msg))
    return {s: sorted(v, key=lambda x: x[0]) for s, v in out.items()}


def test_dataset_and_node_inputs_are_identical_for_every_kind(sim_bag, tmp_path):
    config = load_sensor_config()
    assert {s.kind.name for s in config.sensors.values()} == {
        'rgb', 'depth', 'grid', 'wrench', 'imu', 'joints'}
    ds = BagDataset([sim_bag], config=config, cache_dir=tmp_path, workers=0)
    picks = np.arange(0, len(ds), 37)
    batch = ds.batch(picks)
    messages = node_messages(sim_bag, config)
    for s, spec in config.sensors.items():
        inp, queue, checked = make_input(spec), iter(messages[s]), 0
        pending = next(queue, None)
        for row, i in enumerate(picks):
            while pending is not None and pending[0] <= ds.t_ns[i]:
                inp.take(pending[1])           # the node's take(): conversion and checks
                pending = next(queue, None)
            assert inp.ready, (s, i)
            np.testing.assert_array_equal(inp.model_input()[0], batch[s][row].numpy(),
                                          err_msg=f'{s} ({spec.kind.name}) at sample {i}')
            checked += 1
        assert checked == len(picks) > 10, s
