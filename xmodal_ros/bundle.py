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
Model bundle: a folder with manifest.yaml and the ONNX graphs it names, verified by SHA-256.

The export (training side) writes bundles with ``write_manifest``; the robot loads them with
``load_bundle``, which refuses a bundle whose files are missing or differ from their recorded
hashes before anything runs. Layout of manifest.yaml:

    format: xmodal-bundle
    format_version: 2
    model_id: umi-1a2b3c4d        # method + first hash digits: names the exact weights
    method: umi
    task: {classes: [...], targets: [...]}     # either list may be empty
    tokens: {k: 16, d: 256}                     # shape of one sensor's projected tokens
    sensors:                                    # one graph per sensor: input -> tokens (B, k, d)
      camera: {graph: camera.onnx, kind: rgb, msg_type: sensor_msgs/msg/Image,
               input_shape: [3, 48, 64], preprocess: {...}}
    fusion: {graph: fusion.onnx}                # summed tokens (B, k, d) -> probs, regression
    files: {camera.onnx: <sha256>, ...}         # every file above, and any extra file
    export: {...}                               # provenance and measured parity, informative

Each sensor carries its declaration (name, kind, message type, preprocessing), so the robot feeds
the model exactly as it was trained whatever its sensors.yaml says about other sensors. Bundles
of format_version 1 (before sensor kinds) name only the four original sensors; they load with
the kinds those names had (LEGACY_KINDS).

Extra files ride along verified like the graphs but are never opened by the runtime: the export
adds ``checkpoint.pt``, the PyTorch weights the graphs came from, so the eager baseline of
``xmodal bench fuse`` runs from the bundle alone, wherever it is copied.
"""
import dataclasses
import hashlib
from pathlib import Path

import yaml

MANIFEST = 'manifest.yaml'
FORMAT = 'xmodal-bundle'
FORMAT_VERSION = 2
# format_version 1 bundles: the four sensors of that time, their kinds and renamed parameters.
LEGACY_KINDS = {'camera': 'rgb', 'depth': 'depth', 'tactile': 'grid', 'force': 'wrench'}
LEGACY_PARAMS = {'scale_kpa': 'scale'}
ENCODER_INPUT, ENCODER_OUTPUT = 'input', 'tokens'
FUSION_INPUT, FUSION_OUTPUTS = 'tokens', ('probs', 'regression')


class BundleError(RuntimeError):
    """A bundle that must not be run; the message names the offending path and the fix."""


@dataclasses.dataclass(frozen=True)
class SensorGraph:
    name: str
    kind: str
    msg_type: str
    graph: Path
    input_shape: tuple
    preprocess: dict


@dataclasses.dataclass(frozen=True)
class Bundle:
    root: Path
    model_id: str
    method: str
    classes: tuple
    targets: tuple
    tokens_k: int
    tokens_d: int
    sensors: dict           # name -> SensorGraph, in manifest order
    fusion_graph: Path
    manifest: dict

    def declaration(self, sensor):
        """{kind, msg_type, input_shape, preprocess} of one sensor (xmodal_ros.sensors)."""
        g = self.sensors[sensor]
        return {'kind': g.kind, 'msg_type': g.msg_type, 'input_shape': list(g.input_shape),
                'preprocess': g.preprocess}


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(root, manifest, extra_files=()):
    """
    Record the SHA-256 of every graph and extra file, then write manifest.yaml.

    The graphs the manifest names, and ``extra_files`` (paths relative to ``root``, e.g.
    ``['checkpoint.pt']``).
    """
    root = Path(root)
    names = [s['graph'] for s in manifest['sensors'].values()] + [manifest['fusion']['graph']]
    names += [str(n) for n in extra_files if str(n) not in names]
    manifest = dict(manifest, format=FORMAT, format_version=FORMAT_VERSION,
                    files={n: sha256_file(root / n) for n in names})
    with open(root / MANIFEST, 'w') as f:
        yaml.safe_dump(manifest, f, sort_keys=False)
    return root / MANIFEST


def _require(cond, path, what):
    if not cond:
        raise BundleError(f'{path}: {what}')


def _legacy_sensor(name, s, mpath):
    """Return a format_version 1 sensor entry with the kind and parameter names of version 2."""
    _require(name in LEGACY_KINDS, mpath,
             f'format_version 1 sensor {name!r} has no known kind; re-export the run with this '
             'version: `xmodal export --model RUN --out DIR`')
    kind = LEGACY_KINDS[name]
    params = {LEGACY_PARAMS.get(k, k): v for k, v in (s.get('preprocess') or {}).items()}
    msg_type = ('geometry_msgs/msg/WrenchStamped' if kind == 'wrench'
                else 'sensor_msgs/msg/Image')
    return dict(s, kind=kind, msg_type=msg_type, preprocess=params)


def load_bundle(root):
    """Parse and verify a bundle folder; raises BundleError naming the file at fault."""
    root = Path(root)
    mpath = root / MANIFEST
    _require(root.is_dir(), root, 'is not a model bundle folder (export one with `xmodal export`)')
    _require(mpath.is_file(), mpath, 'missing; this folder is not a complete bundle '
             '(re-run `xmodal export --model DIR`)')
    try:
        with open(mpath) as f:
            m = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise BundleError(f'{mpath}: not valid YAML ({e})') from None
    _require(isinstance(m, dict) and m.get('format') == FORMAT, mpath,
             f'not an {FORMAT} manifest '
             f'(format: {m.get("format") if isinstance(m, dict) else m!r})')
    version = m.get('format_version')
    _require(version in (1, FORMAT_VERSION), mpath,
             f'format_version {version!r}; this runtime reads 1 and {FORMAT_VERSION} (re-export '
             'the run with this version: `xmodal export --model RUN --out DIR`)')
    for key in ('model_id', 'method', 'task', 'tokens', 'sensors', 'fusion', 'files'):
        _require(key in m, mpath, f'missing key {key!r}')
    _require(m['sensors'], mpath, 'names no sensors')
    files = m['files']
    sensors = {}
    for name, s in m['sensors'].items():
        _require(isinstance(s, dict) and s.get('graph') in files, mpath,
                 f'sensor {name!r} graph is not listed under files')
        if version == 1:
            s = _legacy_sensor(name, s, mpath)
        _require(s.get('kind') and s.get('msg_type') and s.get('input_shape'), mpath,
                 f'sensor {name!r} lacks kind, msg_type or input_shape (re-export the bundle)')
        sensors[name] = SensorGraph(name, str(s['kind']), str(s['msg_type']), root / s['graph'],
                                    tuple(s['input_shape']), dict(s.get('preprocess') or {}))
    _require(m['fusion'].get('graph') in files, mpath, 'fusion graph is not listed under files')
    for rel, want in files.items():
        path = root / rel
        _require(path.is_file(), path, 'missing from the bundle (re-export it)')
        got = sha256_file(path)
        _require(got == want, path, f'SHA-256 {got[:12]}... does not match the manifest '
                 f'({str(want)[:12]}...): the file was changed or corrupted; re-export the bundle')
    task = m['task'] or {}
    return Bundle(root=root, model_id=str(m['model_id']), method=str(m['method']),
                  classes=tuple(task.get('classes') or ()),
                  targets=tuple(task.get('targets') or ()),
                  tokens_k=int(m['tokens']['k']), tokens_d=int(m['tokens']['d']),
                  sensors=sensors, fusion_graph=root / m['fusion']['graph'], manifest=m)
