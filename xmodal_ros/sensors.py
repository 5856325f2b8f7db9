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
The robot's sensors as data: config/sensors.yaml -> SensorSpec per sensor (one loader for all).

A sensor is a block under ``sensors:`` with a free name, a ``kind`` (xmodal_ros.kinds), its
``topic`` and ``msg_type``, and the layout keys its kind needs (e.g. grid ``rows``/``cols``,
joints ``joints``); ``preprocess:`` overrides the kind's preprocessing defaults. The simulator,
recorder, bag reader, dataset, demo, benchmark and node all read the file through
``load_sensor_config``, so a topic is written once. ``load_node_settings`` reads the per-sensor
blocks of the fuse node's parameter file (timeouts, QoS depth, encode mode), which the bag
loader also uses: a sample in a bag is fresh by the same timeout that makes a sensor live.
"""
import dataclasses
import importlib
from pathlib import Path

from xmodal_ros.kinds import Kind, KINDS
from xmodal_ros.paths import config_path

import yaml

LABELS_TYPE = 'sensor_msgs/msg/JointState'
NODE_KEYS = ('enabled', 'timeout', 'queue_depth', 'encode')
ENCODE_MODES = ('thread', 'arrival', 'tick')
# Keys of a sensor block besides the layout keys of its kind: not preprocessing inputs.
COMMON_KEYS = ('kind', 'topic', 'msg_type', 'rate_hz', 'frame_id', 'encoding', 'width', 'height',
               'preprocess')


class SensorConfigError(ValueError):
    """A sensor or node configuration that cannot be used; names the file, the key and the fix."""


@dataclasses.dataclass(frozen=True)
class SensorSpec:
    """
    One configured sensor.

    ``layout``: its block as written (topic, rates, sizes ...); ``params``: the preprocessing
    parameters (kind defaults + input-shaping layout keys + ``preprocess`` overrides), which a
    bundle records so the robot feeds the model as trained.
    """

    name: str
    kind: Kind
    topic: str
    msg_type: str
    layout: dict
    params: dict

    @property
    def input_shape(self):
        return tuple(self.kind.input_shape(self.params))

    @property
    def rate_hz(self):
        return float(self.layout.get('rate_hz', self.kind.rate_hz))

    def read(self, msg):
        return self.kind.read(msg, self.params)

    def preprocess(self, reading, encoding=None):
        return self.kind.preprocess(reading, encoding, self.params)

    def declaration(self):
        """Return what a bundle manifest records of this sensor."""
        return {'kind': self.kind.name, 'msg_type': self.msg_type,
                'input_shape': list(self.input_shape), 'preprocess': self.params}


@dataclasses.dataclass(frozen=True)
class SensorConfig:
    path: Path
    sensors: dict                 # name -> SensorSpec, in file order
    labels: dict                  # {'topic', 'msg_type'} of the ground truth, or {}

    @property
    def names(self):
        return tuple(self.sensors)

    def __getitem__(self, name):
        return self.sensors[name]

    def subset(self, names):
        """Return the same configuration restricted to ``names`` (in file order)."""
        unknown = [n for n in names if n not in self.sensors]
        if unknown:
            raise SensorConfigError(f'{self.path}: no sensor named {", ".join(unknown)}; it '
                                    f'declares {", ".join(self.sensors)}')
        return dataclasses.replace(
            self, sensors={n: s for n, s in self.sensors.items() if n in names})

    def identity(self):
        """Return a JSON-able description (cache keys, checkpoints)."""
        return {n: {'kind': s.kind.name, 'topic': s.topic, 'params': s.params}
                for n, s in self.sensors.items()}


def make_spec(name, block, where='sensors'):
    """
    Return a SensorSpec from one YAML block (dict).

    Errors are SensorConfigErrors naming ``where.name.key``.
    """
    at = f'{where}.{name}'
    if not isinstance(block, dict):
        raise SensorConfigError(f'{at}: expected a block of keys (kind, topic, msg_type, ...)')
    kind = KINDS.get(block.get('kind'))
    if kind is None:
        raise SensorConfigError(f'{at}.kind: {block.get("kind")!r} is not a sensor kind; expected '
                                f'one of {", ".join(KINDS)}')
    topic = block.get('topic')
    if not isinstance(topic, str) or not topic.strip():
        raise SensorConfigError(f'{at}.topic: {topic!r}; expected a topic name, e.g. /{name}')
    msg_type = block.get('msg_type', kind.msg_type)
    if msg_type != kind.msg_type:
        raise SensorConfigError(f'{at}.msg_type: {msg_type!r} does not match kind {kind.name}, '
                                f'which reads {kind.msg_type}')
    missing = [k for k in kind.required_layout if k not in block]
    if missing:
        raise SensorConfigError(f'{at}: kind {kind.name} needs {", ".join(missing)}')
    unknown = sorted(set(block) - set(COMMON_KEYS) - set(kind.layout_params))
    if unknown:
        raise SensorConfigError(f'{at}: unknown key(s) {", ".join(unknown)} for kind {kind.name};'
                                f' known: {", ".join(COMMON_KEYS + kind.layout_params)}')
    if kind.encodings and 'encoding' in block and block['encoding'] not in kind.encodings:
        raise SensorConfigError(f'{at}.encoding: {block["encoding"]!r}; kind {kind.name} accepts '
                                f'{", ".join(kind.encodings)}')
    for key in ('rate_hz', 'width', 'height'):
        v = block.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise SensorConfigError(f'{at}.{key}: {v!r}; expected a number > 0')
    overrides = block.get('preprocess') or {}
    if not isinstance(overrides, dict):
        raise SensorConfigError(f'{at}.preprocess: expected a block of keys')
    try:
        params = kind.params(block, overrides, at)
    except ValueError as e:
        raise SensorConfigError(str(e)) from None
    layout = {k: v for k, v in block.items() if k != 'preprocess'}
    return SensorSpec(name, kind, topic.strip(), msg_type, layout, params)


def parse_sensor_config(doc, path):
    """
    Turn the sensors.yaml document ``doc`` (already parsed) into a SensorConfig.

    Errors name ``path``.
    """
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get('sensors'), dict) \
                or not doc['sensors']:
            raise SensorConfigError('sensors: expected a block with one entry per sensor')
        specs = {}
        for name, block in doc['sensors'].items():
            if name == 'labels':
                raise SensorConfigError('sensors.labels: "labels" names the ground truth; call '
                                        'the sensor something else')
            if not isinstance(name, str) or not name.isidentifier():
                raise SensorConfigError(f'sensors.{name}: a sensor name is letters, digits and _ '
                                        '(it names ROS parameters and bundle files)')
            specs[name] = make_spec(name, block)
        topics = {}
        for spec in specs.values():
            if spec.topic in topics:
                raise SensorConfigError(f'sensors.{spec.name}.topic: {spec.topic} is also '
                                        f'sensors.{topics[spec.topic]}.topic; one topic per '
                                        'sensor')
            topics[spec.topic] = spec.name
        labels = doc.get('labels') or {}
        if labels:
            if labels.get('msg_type', LABELS_TYPE) != LABELS_TYPE or not labels.get('topic'):
                raise SensorConfigError(f'labels: needs a topic and msg_type {LABELS_TYPE}')
            if labels['topic'] in topics:
                raise SensorConfigError(f'labels.topic: {labels["topic"]} is also '
                                        f'sensors.{topics[labels["topic"]]}.topic')
            labels = {'topic': labels['topic'], 'msg_type': LABELS_TYPE}
    except SensorConfigError as e:
        raise SensorConfigError(f'{path}: {e}') from None
    return SensorConfig(Path(path), specs, labels)


def load_sensor_config(path=None):
    """Read and check a sensors.yaml (default: the package's config/sensors.yaml)."""
    if isinstance(path, SensorConfig):
        return path
    path = Path(path or config_path('sensors.yaml'))
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SensorConfigError(f'{path}: no such sensor configuration file') from None
    except yaml.YAMLError as e:
        raise SensorConfigError(f'{path}: not valid YAML ({e})') from None
    return parse_sensor_config(doc, path)


def node_setting_defaults(spec):
    """
    Return the fuse node's per-sensor settings for ``spec``.

    For where its parameter file is silent.
    """
    return {'enabled': True, **spec.kind.node_defaults}


def check_node_settings(name, settings, where):
    """Raise SensorConfigError (naming ``where``) for per-sensor node settings that cannot run."""
    unknown = sorted(set(settings) - set(NODE_KEYS))
    if unknown:
        raise SensorConfigError(f'{where}: {name}: unknown key(s) {", ".join(unknown)}; known: '
                                f'{", ".join(NODE_KEYS)}')
    for key in ('timeout', 'queue_depth'):
        v = settings.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise SensorConfigError(f'{where}: {name}.{key}={v!r}; must be > 0')
    if settings.get('encode') not in ENCODE_MODES:
        raise SensorConfigError(f'{where}: {name}.encode={settings.get("encode")!r}; expected '
                                f'one of {", ".join(ENCODE_MODES)}')


def load_node_settings(config, params_file=None, node_name='fuse_node'):
    """
    Return per-sensor node settings {name: {enabled, timeout, queue_depth, encode}}.

    For the sensors of ``config``, from the fuse node's ROS parameter file (default
    config/fuse.yaml); a sensor the file does not mention gets its kind's defaults. What the bag
    loader reads for freshness.
    """
    path = Path(params_file or config_path('fuse.yaml'))
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SensorConfigError(f'{path}: cannot read the node parameters ({e})') from None
    params = ((doc.get(node_name) or doc.get('/**') or {}).get('ros__parameters') or {})
    out = {}
    for name, spec in config.sensors.items():
        block = params.get(name)
        settings = dict(node_setting_defaults(spec), **(block if isinstance(block, dict) else {}))
        check_node_settings(name, settings, path)
        out[name] = settings
    return out


def message_class(msg_type):
    """Return the rclpy message class of ``msg_type`` (e.g. sensor_msgs/msg/Image)."""
    package, _, name = msg_type.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def declared_spec(name, declaration, config, where):
    """
    Return the SensorSpec of a trained model's sensor.

    Kind and preprocessing from its ``declaration`` ({kind, input_shape, preprocess}: a bundle
    manifest's or a checkpoint's), so the model is fed as trained; topic and layout from
    sensors.yaml (``config``), whose kind and input-shaping layout keys must agree. ``where`` names
    the model in errors.
    """
    kind = KINDS.get(declaration['kind'])
    if kind is None:
        raise SensorConfigError(f'{where}: sensor {name!r} has kind {declaration["kind"]!r}, '
                                f'which this runtime does not know ({", ".join(KINDS)}); update '
                                'xmodal_ros or re-export the bundle')
    declared = config.sensors.get(name)
    if declared is None:
        raise SensorConfigError(
            f'{config.path}: declares no sensor {name!r}, which {where} uses; add a '
            f'sensors.{name} block (kind {kind.name}, its topic), or leave the sensor out '
            f'({name}.enabled: false in the node parameters)')
    if declared.kind is not kind:
        raise SensorConfigError(f'{config.path}: sensors.{name}.kind is {declared.kind.name}; '
                                f'{where} was trained on a {kind.name} sensor of that name')
    trained = declaration['preprocess']
    for key in kind.layout_params:
        if key in trained and declared.params.get(key) != trained[key]:
            raise SensorConfigError(
                f'{config.path}: sensors.{name}.{key} is {declared.params.get(key)!r}; {where} '
                f'was trained with {trained[key]!r}. Describe the sensor as it is, and train a '
                'model for it if it differs')
    try:
        params = kind.params({}, trained, f'{where}: sensors.{name}')
    except ValueError as e:
        raise SensorConfigError(str(e)) from None
    if tuple(kind.input_shape(params)) != tuple(declaration['input_shape']):
        raise SensorConfigError(f'{where}: sensor {name!r} declares input shape '
                                f'{list(declaration["input_shape"])}, but its preprocessing makes '
                                f'{list(kind.input_shape(params))}; re-export it')
    return SensorSpec(name, kind, declared.topic, kind.msg_type, declared.layout, params)


def model_config(config, declarations, where):
    """
    Return the SensorConfig of a trained model's sensors.

    ``declarations``: name -> declaration, in the model's order; with ``config``'s topics and
    labels (``declared_spec``).
    """
    return dataclasses.replace(config, sensors={
        n: declared_spec(n, d, config, where) for n, d in declarations.items()})
