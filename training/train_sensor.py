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
`xmodal train sensor`: a learner for a new sensor recorded in its own bags, from frozen perceptors.

The bag path of the new-sensor methods (methods/new_sensor.py, which train on tensors): bags ->
``NewSensorProblem`` -> the registry's training function -> OUT/learner.pt, run.json, curves.json.

Known perceptors g_k and heads h_k* come from a ``late``/``unimodal`` run (``--stage1``; else
one is trained here on the known bags into OUT/stage1 with the existing fusion training code):
z_k = the mean of g_k's feature tokens, h_k* = the run's head on them restricted to the class
logits (exactly what the run's late fusion reads). Or from an exported bundle (``--bundle``):
its encoders, with h_k* fitted on their features (``bundle_run``). Known rows are the labelled
samples of the known bags that hold *every* known sensor (the rows of a ``NewSensorProblem`` are
paired across known sensors); their features are computed once and cached keyed by the
perceptors' checkpoint hash and the bags' identity. g^O is the new sensor's kind's encoder from
the perceptors' ``encoders`` block with its tokens averaged, so its features are what a stage-1
run would learn for that sensor.

Labels of the new-sensor bags are read only as the method allows (``NewSensorMethod.uses_labels``):
'fraction' -> a class-balanced ``--labeled-fraction`` chosen by the seed (none with
``--unsupervised``), 'none' -> none, 'all' -> every one. Beyond that, labels present in the bags
are read only to check the run (the labelled class sets of known and new bags must match) and to
balance the labelled fraction by class, as the paper does. Samples of the new-sensor bags that
also record known sensors are paired data: counted in a warning, never used as pairs (known rows
come from --bags-known alone).

Correspondences for semi-supervised COX: the bags are recorded apart, so no instance pairs exist.
Each labelled new sample is paired with a known row of the *same class* drawn by the seed (class-
level pairing, as synergy pairs unpaired samples and as unsupervised COX pairs class centroids);
Eq. 9's connection then learns a class-conditional map rather than an instance one. This is our
reading of "a few correspondences" for bags recorded apart.

``known_probs_on_new`` (h_k*(x^O), unsupervised COX's only source of class identity) exists only
when every known perceptor can read the new sensor's input: same kind and input shape (e.g. a
second camera). Otherwise it is None and methods that need it stop with a message.
"""
import argparse
import dataclasses
import hashlib
import json
import os
from pathlib import Path
import sys
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

FORMAT = 'xmodal-new-sensor'
LEARNER, SUMMARY, CURVES = 'learner.pt', 'run.json', 'curves.json'
FEATURES_VERSION = 1


class SensorTrainError(ValueError):
    """Arguments or bags that do not fit a new-sensor run; the message names them and the fix."""


class MeanTokens(nn.Module):
    """(B, k, d) feature tokens -> (B, d): what a stage-1 head reads."""

    def forward(self, tokens):
        return tokens.mean(dim=1)


def new_sensor_encoder(input_shape, encoder_spec):
    """Return g^O: the encoder of the sensor's kind followed by the token mean."""
    from xmodal_training.methods.encoders import build_encoder
    return nn.Sequential(build_encoder(input_shape, encoder_spec), MeanTokens())


def registry_name(method, unsupervised):
    """
    Return the registry name of a CLI method.

    Where two entries share it (``cox``: cox_semi, cox_unsupervised), --unsupervised picks the
    one that reads no label.
    """
    from xmodal_training.methods.new_sensor import METHODS
    entries = [m for m in METHODS.values() if (m.cli or m.name) == method]
    if not entries:
        raise SensorTrainError(f'--method {method}: no such method')
    if len(entries) > 1:
        entries = [m for m in entries if (m.uses_labels == 'none') == bool(unsupervised)]
    return entries[0].name


def label_mode(method, unsupervised):
    """Return 'fraction', 'none' or 'all': which new-sensor labels the run may read."""
    if method.uses_labels == 'all':
        if unsupervised:
            raise SensorTrainError(f'--unsupervised: --method {method.name} trains on every '
                                   'label of the new-sensor bags; drop --unsupervised or choose '
                                   'cox, ssl, moco or random')
        return 'all'
    if method.uses_labels == 'none' or unsupervised:
        return 'none'
    return 'fraction'


def stage1_run(args, out):
    """Return the checkpoint of the known perceptors: --stage1, else a late run trained here."""
    from xmodal_training.checkpoint import load_run
    if args.stage1:
        ckpt = load_run(args.stage1)
        where = f'--stage1 {args.stage1}'
    else:
        from xmodal_training import train
        from xmodal_training.loop import Context
        import yaml
        with open(args.config) as f:
            cfg = yaml.safe_load(f)
        cfg['sensors'] = list(args.known)
        if args.seed is not None:
            cfg['seed'] = args.seed
        out.mkdir(parents=True, exist_ok=True)
        config = out / 'stage1_config.yaml'
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        print(f'train sensor: no --stage1; training late on --bags-known into {out / "stage1"}',
              file=sys.stderr)
        ns = argparse.Namespace(
            config=str(config), bags=list(args.bags_known), out=str(out / 'stage1'),
            method='late', seed=args.seed, sensors_config=args.sensors_config,
            node_params=args.node_params, pretrained=None, device=args.device)
        train.run(ns, Context(args.device))
        ckpt = load_run(out / 'stage1')
        where = f'{out / "stage1"}'
    from xmodal_training.methods import REGISTRY
    if not getattr(REGISTRY.get(ckpt['method']), 'is_stage1', False):
        raise SensorTrainError(f'{where}: a {ckpt["method"]} run; the known perceptors come from '
                               'a late or unimodal run (its per-sensor encoders and heads): train '
                               'one with `xmodal train fusion --method late`, pass its export '
                               'as --bundle, or drop --stage1')
    return check_known(ckpt, args, where, '--stage1 run trained with', '--stage1')


def bundle_run(args):
    """
    Return the checkpoint inside a bundle (verified against its manifest), for its encoders.

    A bundle has no per-sensor classifier, only the fused head, so h_k* are fitted here: a linear
    head per known sensor on its frozen features and the known labels (the COX paper's Fig. 5
    protocol for an "optimal classifier" on given features). The encoders run from the bundle's
    ``checkpoint.pt`` (the weights its ONNX graphs were exported from and parity-checked against).
    """
    from xmodal_training.checkpoint import load_bundle_checkpoint
    ckpt = load_bundle_checkpoint(args.bundle)
    return check_known(ckpt, args, f'--bundle {args.bundle}', 'bundle exported with', '--bundle')


def check_known(ckpt, args, where, with_, flag):
    """Return ``ckpt`` when its model holds every --known sensor, else raise naming ``where``."""
    missing = [s for s in args.known if s not in ckpt['sensors']]
    if missing:
        raise SensorTrainError(f'{where}: its model has no {", ".join(missing)} (sensors: '
                               f'{", ".join(ckpt["sensors"])}); pass --known among those, or a '
                               f'{with_} {", ".join(missing)}, or drop {flag} to train a late '
                               'run on --bags-known')
    return ckpt


def _bag_identity(bags):
    out = []
    for b in bags:
        p = Path(b).resolve()
        files = sorted(f for f in p.rglob('*') if f.is_file()) if p.is_dir() else [p]
        out.append([str(p), [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]])
    return out


def features_key(ckpt, known, bags, sample_hz, timeouts):
    """Return the cache key of known features: the run's checkpoint hash and the bags' identity."""
    text = json.dumps([FEATURES_VERSION, ckpt['sha256'], list(known), _bag_identity(bags),
                       sample_hz, timeouts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def features_cache_dir():
    from xmodal_training.data.cache import cache_root
    return cache_root().parent / 'sensor_features'


def batches(n, size=256):
    return [np.arange(s, min(n, s + size)) for s in range(0, n, size)]


def known_heads(ckpt, model, known, feats, labels, n_classes, seed):
    """
    Return h_k*, frozen: a late/unimodal run's head restricted to its class logits.

    For a bundle (no per-sensor head), a linear head fitted on the known features and labels.
    """
    from xmodal_training.methods import REGISTRY
    from xmodal_training.methods.cox.modeling_cox import fit_linear_head
    heads = []
    for k, s in enumerate(known):
        if REGISTRY[ckpt['method']].is_stage1:
            src = model.head[s]
            h = nn.Linear(src.in_features, n_classes)
            with torch.no_grad():
                h.weight.copy_(src.weight[:n_classes])
                h.bias.copy_(src.bias[:n_classes])
        else:
            torch.manual_seed(seed + k)
            h = fit_linear_head(feats[k], labels, n_classes, steps=300, lr=1e-2)
        heads.append(h.eval().requires_grad_(False))
    return heads


@torch.no_grad()
def known_features(encoders, ds, known, rows, desc):
    """Return one (N, d_k) tensor per known sensor: the token mean of the frozen g_k."""
    feats = {s: [] for s in known}
    for idx in tqdm(batches(len(rows)), desc=desc, leave=False, file=sys.stderr):
        b = ds.batch(rows[idx], sensors=known)
        for s in known:
            feats[s].append(encoders[s](torch.as_tensor(np.asarray(b[s]))).mean(dim=1))
    return [torch.cat(feats[s]) if feats[s] else torch.zeros(0) for s in known]


def known_set(args, ckpt, model, classes):
    """
    Return (features per known sensor, labels) of the known bags, from the cache when present.

    Rows: labelled samples holding every known sensor.
    """
    from xmodal_training.loading import open_model_bags
    known = list(args.known)
    ds = open_model_bags(args.bags_known, {s: ckpt['sensor_specs'][s] for s in known},
                         args.sensors_config, args.node_params, ckpt['sample_hz'],
                         where=f'the known perceptors of {ckpt["run_dir"]}',
                         tensors=False)
    if set(ds.classes) != set(classes):
        raise SensorTrainError(
            f'--bags-known ({", ".join(ds.bags)}): classes {", ".join(ds.classes)}; the known '
            f'perceptors ({ckpt["run_dir"]}) were trained on {", ".join(classes)}. Pass the bags '
            'they were trained on, or perceptors trained on these bags (drop --stage1)')
    key = features_key(ckpt, known, args.bags_known, ckpt['sample_hz'], ds.rule.timeouts)
    path = features_cache_dir() / f'{key}.pt'
    if path.is_file():
        cached = torch.load(path, weights_only=True)
        print(f'train sensor: known features from cache {path}', file=sys.stderr)
        return cached['features'], cached['labels'], ds, path
    cols = [ds.sensors.index(s) for s in known]
    has_all = ds.present[ds.sample_bag][:, cols].all(1)
    if not has_all.any():
        per_bag = '; '.join(f'{b}: {"+".join(h)}' for b, h in zip(ds.bags, ds.bag_sensors))
        raise SensorTrainError(f'--bags-known: no sample holds every known sensor '
                               f'({", ".join(known)}); per bag: {per_bag}. The known sensors '
                               'must be recorded together: pass such bags or fewer --known')
    labels = np.array([classes.index(ds.classes[y]) if y >= 0 and ds.classes[y] in classes
                       else -1 for y in ds.label], np.int64)
    rows = np.flatnonzero(has_all & (labels >= 0))
    if not len(rows):
        raise SensorTrainError(f'--bags-known: no labelled sample holds every known sensor '
                               f'({", ".join(ds.bags)}); the known bags carry the labels the '
                               'known heads were trained with: record them with ground truth')
    feats = known_features(model.encoders(), ds, known, rows, 'known features')
    y = torch.from_numpy(labels[rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f'.tmp{os.getpid()}')
    torch.save({'features': feats, 'labels': y, 'known': known}, tmp)
    os.replace(tmp, path)
    return feats, y, ds, path


def new_set(args, ckpt, classes):
    """Return (dataset, rows holding the new sensor, labels in the run's class order)."""
    from xmodal_training.loading import open_bags
    ds = open_bags(args.bags_new, args.sensors_config, args.node_params, ckpt['sample_hz'],
                   tensors=False)
    if set(ds.classes) != set(classes):
        raise SensorTrainError(
            f'--bags-new ({", ".join(ds.bags)}): classes {", ".join(ds.classes)}; the known '
            f'perceptors ({ckpt["run_dir"]}) know {", ".join(classes)}. The class sets must be '
            'equal: record the new sensor on the same classes, or take the known perceptors from '
            'a run on bags with these')
    col = ds.sensors.index(args.new)
    present = ds.present[ds.sample_bag]
    rows = np.flatnonzero(present[:, col])
    if not len(rows):
        raise SensorTrainError(f'--bags-new: none of {", ".join(ds.bags)} records {args.new}; '
                               f'pass bags of the new sensor (`xmodal bag info BAG`)')
    kcols = [ds.sensors.index(s) for s in args.known]
    for b, bag in enumerate(ds.bags):
        mine = rows[ds.sample_bag[rows] == b]
        both = [s for s, c in zip(args.known, kcols) if ds.present[b, c]]
        if both and len(mine):
            print(f'train sensor: warning: {bag} also records known sensor(s) '
                  f'{", ".join(both)}: {len(mine)} samples hold {args.new} with them, i.e. are '
                  'paired, not recorded apart. Their pairs are not used (only their '
                  f'{args.new} input, and labels as --method allows); record the new sensor '
                  'alone to test the unpaired setting', file=sys.stderr)
    labels = np.array([classes.index(ds.classes[y]) if y >= 0 else -1
                       for y in ds.label[rows]], np.int64)
    return ds, rows, labels


def check_class_coverage(known_labels, new_labels, args, classes):
    """Raise unless the labelled classes of the known and new bags are the same set."""
    k = set(torch.unique(known_labels).tolist())
    n = set(np.unique(new_labels[new_labels >= 0]).tolist())
    if n and k != n:
        only_k = [classes[c] for c in sorted(k - n)]
        only_n = [classes[c] for c in sorted(n - k)]
        raise SensorTrainError(
            'class sets differ: '
            + (f'--bags-known ({", ".join(args.bags_known)}) label {", ".join(only_k)}, which '
               '--bags-new never label; ' if only_k else '')
            + (f'--bags-new ({", ".join(args.bags_new)}) label {", ".join(only_n)}, which '
               '--bags-known never label; ' if only_n else '')
            + 'record both on the same classes')


def compatible(ckpt, known, decl):
    """
    Return True when every known perceptor can read the new sensor's input as it is.

    Same kind, input shape and preprocessing (a second camera declared like the first).
    """
    return all(ckpt['sensor_specs'][s]['kind'] == decl['kind']
               and list(ckpt['sensor_specs'][s]['input_shape']) == list(decl['input_shape'])
               and ckpt['sensor_specs'][s]['preprocess'] == decl['preprocess'] for s in known)


def class_pairs(new_rows, new_y, known_y, gen):
    """(L, 2) (new row, known row of the same class drawn by ``gen``) for the labelled rows."""
    out = []
    for r, c in zip(new_rows.tolist(), new_y.tolist()):
        pool = torch.nonzero(known_y == c).squeeze(1)
        out.append([r, int(pool[torch.randint(len(pool), (1,), generator=gen)])])
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2)


def method_config(method, args):
    """
    Return the method's hyperparameters: paper defaults, then --epochs and --set KEY=VALUE.

    Semi-supervised COX also records --labeled-fraction as its ``label_fraction``.
    """
    import yaml
    cfg = method.config()
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    if 'label_fraction' in fields:
        changes['label_fraction'] = args.labeled_fraction
    if args.epochs is not None:
        changes['epochs'] = args.epochs
    for item in args.set or ():
        key, sep, value = item.partition('=')
        if not sep or key not in fields:
            raise SensorTrainError(f'--set {item}: expected KEY=VALUE with KEY one of '
                                   f'{", ".join(sorted(fields))} ({method.config.__name__})')
        changes[key] = yaml.safe_load(value)
    try:
        return dataclasses.replace(cfg, **changes)
    except (TypeError, ValueError) as e:
        raise SensorTrainError(f'--set: {e}') from None


def eval_accuracy(args, learner, classes, sample_hz):
    """Return (accuracy, samples) on the labelled new-sensor samples of --bags-eval."""
    from xmodal_training.loading import open_bags
    from xmodal_training.methods.new_sensor import evaluate
    ds = open_bags(args.bags_eval, args.sensors_config, args.node_params, sample_hz,
                   tensors=False)
    col = ds.sensors.index(args.new)
    keep = ds.present[ds.sample_bag][:, col] & (ds.label >= 0)
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise SensorTrainError(f'--bags-eval: no labelled sample of {args.new} in '
                               f'{", ".join(ds.bags)}')
    x = torch.cat([torch.as_tensor(np.asarray(ds.batch(rows[i], sensors=[args.new])[args.new]))
                   for i in batches(len(rows))])
    y = torch.tensor([classes.index(ds.classes[c]) for c in ds.label[rows]])
    return evaluate(learner, x, y), len(rows)


def _jsonable(value):
    """Return ``value`` with tensors as lists and modules (e.g. synergy's projection) left out."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not isinstance(v, nn.Module)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def load_learner(path):
    """Return (learner in eval mode, checkpoint dict) of a learner.pt, weights only."""
    from xmodal_training.methods.new_sensor_core import NewSensorLearner
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get('format') != FORMAT:
        raise SensorTrainError(f'{path}: not an {FORMAT} learner (write one with `xmodal train '
                               'sensor`)')
    spec = ckpt['sensor_spec']
    learner = NewSensorLearner(new_sensor_encoder(spec['input_shape'], ckpt['encoder']),
                               ckpt['feature_dim'], len(ckpt['classes']))
    learner.load_state_dict(ckpt['model'])
    return learner.eval(), ckpt


def main(args):
    from xmodal_training.checkpoint import RunError
    from xmodal_training.data.bagread import BagError
    from xmodal_training.loading import DataError
    from xmodal_training.methods import ConfigError
    from xmodal_training.methods.new_sensor_core import ProblemError
    try:
        return run(args)
    except (SensorTrainError, DataError, RunError, BagError, ConfigError) as e:
        print(f'xmodal train sensor: {e}', file=sys.stderr)
        return 2
    except ProblemError as e:
        print(f'xmodal train sensor: --method {args.method}: {e}', file=sys.stderr)
        return 2


def check_sensors(args):
    """Raise unless the configuration declares --new and every --known, all distinct."""
    from xmodal_ros.sensors import load_sensor_config, SensorConfigError
    try:
        config = load_sensor_config(args.sensors_config)
    except SensorConfigError as e:
        raise SensorTrainError(str(e)) from None
    where = args.sensors_config or 'config/sensors.yaml'
    for flag, names in (('--new', [args.new]), ('--known', list(args.known))):
        absent = [n for n in names if n not in config.names]
        if absent:
            raise SensorTrainError(f'{flag} {", ".join(absent)}: {where} declares no such sensor '
                                   f'(it declares {", ".join(config.names)}); add a block for it '
                                   'there or pass --sensors-config FILE that does')
    if not args.known:
        raise SensorTrainError('--known: empty; name the known sensors, e.g. camera,depth')
    if args.new in args.known:
        raise SensorTrainError(f'--new {args.new} is also in --known; the new sensor is the one '
                               'without a trained perceptor')
    return config


def run(args):
    from xmodal_training.checkpoint import rebuild
    from xmodal_training.methods.cox.processor_cox import class_balanced_subset
    from xmodal_training.methods.encoders import resolve_encoders
    from xmodal_training.methods.new_sensor import METHODS
    from xmodal_training.methods.new_sensor_core import NewSensorProblem, Runtime
    torch.manual_seed(args.seed)
    check_sensors(args)
    method = METHODS[registry_name(args.method, args.unsupervised)]
    mode = label_mode(method, args.unsupervised)
    if mode == 'fraction' and not 0 < args.labeled_fraction <= 1:
        raise SensorTrainError(f'--labeled-fraction {args.labeled_fraction}: expected a '
                               'fraction in (0, 1]')
    out = Path(args.out)
    ckpt = bundle_run(args) if args.bundle else stage1_run(args, out)
    model = rebuild(ckpt).requires_grad_(False)
    classes = list(ckpt['classes'])
    t_data = time.time()
    feats, known_y, _, cache = known_set(args, ckpt, model, classes)
    ds_new, rows, labels_all = new_set(args, ckpt, classes)
    check_class_coverage(known_y, labels_all, args, classes)
    heads = known_heads(ckpt, model, args.known, feats, known_y, len(classes), args.seed)
    decl = ds_new.config[args.new].declaration()
    if mode == 'all':
        keep = labels_all >= 0
        if not keep.any():
            raise SensorTrainError(f'--bags-new ({", ".join(ds_new.bags)}): no labelled sample '
                                   f'of {args.new}; --method {args.method} trains on every '
                                   'label: record ground truth or choose an unsupervised method')
        rows, labels_all = rows[keep], labels_all[keep]
    x_new = torch.cat([torch.as_tensor(np.asarray(
        ds_new.batch(rows[i], sensors=[args.new])[args.new])) for i in batches(len(rows))])
    gen = torch.Generator().manual_seed(args.seed)
    y_all = torch.from_numpy(labels_all)
    new_labels, pairs = None, None
    if mode == 'all':
        new_labels = y_all.clone()
    elif mode == 'fraction':
        valid = torch.nonzero(y_all >= 0).squeeze(1)
        picked = valid[class_balanced_subset(y_all[valid], args.labeled_fraction, gen)] \
            if len(valid) else valid
        if not len(picked):
            raise SensorTrainError(
                f'--labeled-fraction {args.labeled_fraction}: the labelled set is empty: '
                f'--bags-new ({", ".join(ds_new.bags)}) hold no labelled {args.new} sample. '
                f'Semi-supervised --method {args.method} needs a few: record ground truth with '
                'some episodes, or pass --unsupervised')
        new_labels = torch.full_like(y_all, -1)
        new_labels[picked] = y_all[picked]
        if 'correspondences' in method.needs:
            pairs = class_pairs(picked, y_all[picked], known_y, gen)
    probs = None
    if compatible(ckpt, args.known, decl):
        encoders = model.encoders()
        with torch.no_grad():
            probs = torch.stack([torch.cat([h(encoders[s](x_new[i]).mean(1)).softmax(-1)
                                            for i in batches(len(x_new))])
                                 for s, h in zip(args.known, heads)])
    elif 'known_on_new' in method.needs or (mode == 'none' and method.name != 'random'):
        raise SensorTrainError(
            f'--method {args.method} --unsupervised: with no label, only the known classifiers '
            f'reading {args.new} (h_k*(x^O)) say which class is which, and they cannot: '
            f'{args.new} is {decl["kind"]} {tuple(decl["input_shape"])}, the known sensors '
            + ', '.join(f'{s} {ckpt["sensor_specs"][s]["kind"]} '
                        f'{tuple(ckpt["sensor_specs"][s]["input_shape"])}' for s in args.known)
            + '. Drop --unsupervised (labels on --labeled-fraction of the new samples) or use '
            'known sensors of the same kind, shape and preprocessing')
    problem = NewSensorProblem(
        known_features=feats, known_heads=heads,
        new_inputs=x_new, n_classes=len(classes), known_labels=known_y, new_labels=new_labels,
        pairs=pairs, known_probs_on_new=probs)
    enc = resolve_encoders(ckpt['train_config']['encoders'], {args.new: decl['kind']})[args.new]
    cfg = method_config(method, args)
    n_labelled = 0 if new_labels is None else int((new_labels >= 0).sum())
    rt = Runtime(args.device)
    print(f'train sensor: {method.name} for {args.new}: {len(x_new)} new samples '
          f'({n_labelled} labelled, {mode}), {len(known_y)} known rows '
          f'({", ".join(args.known)}); {rt.device}', file=sys.stderr)
    data_seconds = time.time() - t_data
    t0 = time.time()
    learner, curves = method.train(problem, lambda: new_sensor_encoder(decl['input_shape'], enc),
                                   cfg, device=args.device, seed=args.seed, progress=True)
    seconds = time.time() - t0
    learner = learner.cpu().eval()
    summary = {'format': FORMAT, 'method': method.name, 'cli_method': args.method,
               'seed': args.seed, 'new_sensor': args.new, 'known': list(args.known),
               'labels': mode, 'labeled_fraction': args.labeled_fraction if mode == 'fraction'
               else None, 'labelled': n_labelled, 'new_samples': int(len(x_new)),
               'known_rows': int(len(known_y)), 'pairs': 0 if pairs is None else len(pairs),
               'known_probs_on_new': probs is not None, 'classes': classes,
               'bags_known': [str(Path(b).resolve()) for b in args.bags_known],
               'bags_new': [str(Path(b).resolve()) for b in args.bags_new],
               'stage1': None if args.bundle else str(ckpt['run_dir']),
               'bundle': str(Path(args.bundle).resolve()) if args.bundle else None,
               'perceptors_method': ckpt['method'], 'features_cache': str(cache),
               'data_seconds': round(data_seconds, 1), 'train_seconds': round(seconds, 1),
               'device': str(rt.device), 'config': dataclasses.asdict(cfg)}
    if args.bags_eval:
        acc, n = eval_accuracy(args, learner, classes, ckpt['sample_hz'])
        summary.update(bags_eval=[str(Path(b).resolve()) for b in args.bags_eval],
                       eval_accuracy=acc,
                       eval_samples=n, chance=1 / len(classes))
        print(f'train sensor: held-out accuracy {acc:.3f} on {n} samples '
              f'(chance {1 / len(classes):.3f})', file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({'format': FORMAT, 'method': method.name, 'seed': args.seed,
                'model': {k: v.cpu() for k, v in learner.state_dict().items()},
                'config': dataclasses.asdict(cfg), 'sensor': args.new, 'sensor_spec': decl,
                'encoder': enc, 'feature_dim': learner.feature_dim, 'classes': classes,
                'known': list(args.known), 'sample_hz': ckpt['sample_hz']}, out / LEARNER)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1) + '\n')
    (out / CURVES).write_text(json.dumps(_jsonable(curves), indent=1) + '\n')
    print(f'train sensor: saved {out}', file=sys.stderr)
    return 0
