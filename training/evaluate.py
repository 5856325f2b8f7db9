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
`xmodal eval`: accuracy and MAE with intervals, for every sensor subset of runs and bundles.

A model is a training run folder (evaluated with PyTorch) or an exported bundle (evaluated through
the runtime's own ``FusionModel`` on ONNX Runtime, exactly what the robot runs; no torch import).
Each subset S is evaluated on the samples whose bag records every sensor of S, with only the
sensors of S present: the same model told that the others are missing (a bundle sums the tokens
of S alone, as the node does). A `unimodal` run is read one sensor at a time.

Runs of one method whose training configs differ only in the seed form one column: mean ± std
over the seeds, and the interval of the seeds' pooled predictions. Every figure carries a 95 %
interval from a bootstrap over episodes (``xmodal_training.stats``), and every column after the
first its paired difference to the first column, on the same episode draws. Accuracy per task
phase (approach, squeeze, ...) comes with it. Writes results.json, results.md and PNG plots.
"""
import dataclasses
import json
import os
from pathlib import Path
import sys

import numpy as np

from xmodal_ros.bundle import BundleError
from xmodal_training.data.bagread import BagError
from xmodal_training.loading import DataError, open_model_bags
from xmodal_training.stats import EpisodeBootstrap, N_BOOT
from xmodal_training.subsets import sensor_subsets, subset_rule

BATCH = 256


class EvalError(ValueError):
    """A model folder that cannot be evaluated; the message names it and the fix."""


def subset_name(subset):
    return '+'.join(subset)


class RunModel:
    """A training run folder, predicting with PyTorch on ``device``."""

    def __init__(self, path, device):
        import torch
        from xmodal_training.checkpoint import load_run, rebuild, RunError
        from xmodal_training.methods import REGISTRY
        try:
            ckpt = load_run(path)
            self.model = rebuild(ckpt).to(device)
        except RunError as e:
            raise EvalError(str(e)) from None
        self.torch, self.device = torch, device
        self.method, self.classes, self.targets = ckpt['method'], ckpt['classes'], ckpt['targets']
        self.sensors = tuple(self.model.sensor_names)
        self.declarations, self.sample_hz = ckpt['sensor_specs'], ckpt['sample_hz']
        self.one_at_a_time = REGISTRY[self.method].subsets == 'single'
        self.run_dir = ckpt['run_dir']
        self.info = {'kind': 'run', 'path': str(path), 'method': self.method,
                     'model_id': f'{self.method}-{ckpt["sha256"][:8]}', 'seed': ckpt['seed'],
                     'backend': f'PyTorch {torch.__version__} on {device}'}
        # Same method and effective config but for the seed: one column, the seeds pooled. The
        # method's own hyperparameters as its dataclass resolves them (so a block another method
        # reads, or a key spelled out at its default, does not split a column), its encoders, data
        # rule and sensors.
        from xmodal_training.methods import method_config
        cfg = ckpt['train_config']
        config = {'method': dataclasses.asdict(method_config(self.method, cfg)),
                  'encoders': cfg.get('encoders'), 'data': cfg.get('data'),
                  'sensors': list(ckpt['sensors'])}
        self.group = json.dumps([self.method, config], sort_keys=True, default=str)

    def predict(self, batch, subset):
        torch = self.torch
        b = {k: torch.from_numpy(np.ascontiguousarray(v)).to(self.device)
             for k, v in batch.items()}
        b['present'] = torch.tensor([s in subset for s in self.sensors],
                                    device=self.device).expand(len(b['present']), -1)
        with torch.inference_mode():
            out = self.model.predict(b)
        return out['probs'].cpu().numpy(), out['regression'].cpu().numpy()

    def sensor_parts(self, batch):
        """Per-sensor parts of every row where the model decomposes by sensor, else None."""
        if not hasattr(self.model, 'sensor_parts'):
            return None
        torch = self.torch
        b = {s: torch.from_numpy(np.ascontiguousarray(batch[s])).to(self.device)
             for s in self.sensors}
        with torch.inference_mode():
            return self.model.sensor_parts(b)

    def predict_parts(self, parts, subset, rows):
        """Predict ``subset`` for the batch ``rows`` from ``sensor_parts``."""
        torch = self.torch
        rows = torch.from_numpy(rows).to(self.device)
        pick = {s: (tuple(p.index_select(0, rows) for p in parts[s]) if isinstance(parts[s], tuple)
                    else parts[s].index_select(0, rows)) for s in subset}
        with torch.inference_mode():
            out = self.model.predict_parts(pick)
        return out['probs'].cpu().numpy(), out['regression'].cpu().numpy()


class BundleModel:
    """An exported bundle, predicting through ``xmodal_ros.model.FusionModel``."""

    def __init__(self, path):
        from xmodal_ros.model import FusionModel
        self.fusion = FusionModel(path, threads=len(os.sched_getaffinity(0)))
        b = self.fusion.bundle
        self.method, self.classes, self.targets = b.method, list(b.classes), list(b.targets)
        self.sensors = tuple(b.sensors)
        self.declarations = {s: b.declaration(s) for s in self.sensors}
        self.sample_hz = (b.manifest.get('export') or {}).get('sample_hz')
        self.one_at_a_time = False
        self.run_dir = None
        self.info = {'kind': 'bundle', 'path': str(path), 'method': self.method,
                     'model_id': b.model_id, 'seed': None,
                     'backend': f'{self.fusion.backend_detail} (xmodal_ros FusionModel)'}
        self.group = json.dumps(['bundle', str(Path(path).resolve())])

    def predict(self, batch, subset):
        tokens = sum(self.fusion.encode(s, batch[s]) for s in subset)
        out = self.fusion.fuse(tokens)
        return out['probs'], out['regression']

    def sensor_parts(self, batch):
        """Each sensor's tokens for every row (the node encodes each message once, too)."""
        return {s: self.fusion.encode(s, batch[s]) for s in self.sensors}

    def predict_parts(self, parts, subset, rows):
        """Fuse ``subset``'s summed tokens for the batch ``rows``, in the node's order."""
        out = self.fusion.fuse(sum(parts[s][rows] for s in subset))
        return out['probs'], out['regression']


def open_model(path, device):
    """Open ``path`` as a bundle where it holds manifest.yaml, else as a training run."""
    if (Path(path) / 'manifest.yaml').is_file():
        return BundleModel(path)
    return RunModel(path, device)


def class_map(ds, classes, path):
    """Test-set class index -> model class index (by name); unknown classes are an error."""
    unknown = [c for c in ds.classes if c not in classes]
    if unknown:
        raise DataError(f'{", ".join(ds.bags)}: class(es) {unknown} were never trained by {path} '
                        f'(it knows {list(classes)})')
    return np.array([list(classes).index(c) for c in ds.classes] + [-1], np.int64)


def predict_subsets(model, ds):
    """
    Per subset: the test rows' episode, phase, correctness and absolute errors.

    Returns (summary of the model, {subset name: outcome}).
    """
    labels = class_map(ds, model.classes, model.info['path'])[ds.label]
    if not (labels >= 0).any():
        raise DataError(f'{", ".join(ds.bags)}: no labelled samples (ground-truth topic of the '
                        'sensor YAML); evaluation needs labelled bags')
    tcols = {t: ds.targets.index(t) for t in model.targets if t in ds.targets}
    bag_present = ds.present[ds.sample_bag]
    subset_rows = {}
    for subset in sensor_subsets(model.sensors):
        if model.one_at_a_time and len(subset) > 1:
            continue
        cols = [ds.sensors.index(s) for s in subset]
        rows = np.flatnonzero(bag_present[:, cols].all(axis=1) & (labels >= 0))
        if len(rows):
            subset_rows[subset] = rows
    # Each batch of samples is read once and, where the model decomposes by sensor (UMI: tokens
    # summed; late fusion: predictions averaged), each sensor encoded once for every subset.
    every = np.unique(np.concatenate(list(subset_rows.values()))) if subset_rows else []
    preds = {subset: ([], []) for subset in subset_rows}
    for start in range(0, len(every), BATCH):
        chunk = every[start:start + BATCH]
        batch = ds.batch(chunk, sensors=model.sensors)
        parts = model.sensor_parts(batch)
        for subset, rows in subset_rows.items():
            sel = np.flatnonzero(np.isin(chunk, rows))
            if not len(sel):
                continue
            if parts is None:
                p, r = model.predict({k: v[sel] for k, v in batch.items()}, subset)
            else:
                p, r = model.predict_parts(parts, subset, sel)
            preds[subset][0].append(p)
            preds[subset][1].append(r)
    outcomes, confusion = {}, None
    for subset, rows in subset_rows.items():
        pred, truth = np.concatenate(preds[subset][0]).argmax(axis=1), labels[rows]
        reg = np.concatenate(preds[subset][1])
        errors = {}
        for j, t in enumerate(model.targets):
            if t in tcols:
                truth_t = ds.target[rows, tcols[t]]
                known = ~np.isnan(truth_t)
                errors[t] = (known, np.abs(reg[known, j] - truth_t[known]))
        outcomes[subset_name(subset)] = {'episode': ds.episode[rows], 'phase': ds.phase[rows],
                                         'correct': (pred == truth).astype(np.float64),
                                         'errors': errors}
        if len(subset) == len(model.sensors):
            confusion = np.zeros((len(model.classes),) * 2, np.int64)
            np.add.at(confusion, (truth, pred), 1)
    counts = np.bincount(labels[labels >= 0], minlength=len(model.classes))
    summary = dict(model.info, classes=list(model.classes), targets=list(model.targets),
                   sensors=list(model.sensors), subset_rule=subset_rule(model.sensors),
                   sample_hz=ds.rule.sample_hz, run=model.run_dir,
                   chance_accuracy=float(counts.max() / max(counts.sum(), 1)),
                   confusion_all_sensors=None if confusion is None else confusion.tolist(),
                   subsets={n: {'samples': int(len(o['correct'])),
                                'episodes': int(len(np.unique(o['episode']))),
                                'accuracy': float(o['correct'].mean()),
                                'mae': {t: float(e.mean()) if e.size else None
                                        for t, (_, e) in o['errors'].items()}}
                            for n, o in outcomes.items()})
    return summary, outcomes


def _pooled(outcomes, name, values):
    """Return (episode, values) of subset ``name`` over a group's models (``values``: getter)."""
    got = [values(o[name]) for o in outcomes if name in o]
    return np.concatenate([e for e, _ in got]), np.concatenate([v for _, v in got])


def _correct(o):
    return o['episode'], o['correct']


def _error(t):
    def get(o):
        known, err = o['errors'][t]
        return o['episode'][known], err
    return get


def _spread(values):
    values = [v for v in values if v is not None]
    return {'mean': float(np.mean(values)),
            'std': float(np.std(values, ddof=1)) if len(values) > 1 else None,
            'per_model': values}


def summarize(groups, phase_names, n_boot=N_BOOT):
    """
    Columns: per group (label, summaries, outcomes) the pooled figures with intervals.

    Differences to the first group (in results.json also to every other group) are paired (one
    bootstrap per subset's episodes); accuracy per phase is keyed by ``phase_names``.
    """
    names = list(dict.fromkeys(n for _, summaries, _ in groups for s in summaries
                               for n in s['subsets']))
    boots = {}

    def boot(episodes):
        key = tuple(np.unique(episodes))
        if key not in boots:
            boots[key] = EpisodeBootstrap(key, n_boot)
        return boots[key]

    columns = [{'label': label, 'models': [s['path'] for s in summaries],
                'seeds': [s['seed'] for s in summaries], 'subsets': {}}
               for label, summaries, _ in groups]
    targets = groups[0][1][0]['targets']
    for name in names:
        # Each group's pooled (episode, correct) of this subset, once; None where it lacks it.
        pooled = [_pooled(outcomes, name, _correct) if any(name in o for o in outcomes) else None
                  for _, _, outcomes in groups]
        b = boot(np.concatenate([p[0] for p in pooled if p is not None]))
        for col, (_, summaries, outcomes), mine in zip(columns, groups, pooled):
            if mine is None:
                continue
            figures = [s['subsets'][name] for s in summaries if name in s['subsets']]
            entry = {'samples': max(f['samples'] for f in figures),
                     'accuracy': dict(b.mean(*mine),
                                      **_spread([f['accuracy'] for f in figures]))}
            if col is not columns[0] and pooled[0] is not None:
                entry['accuracy_difference'] = b.difference(mine, pooled[0])
            # Paired against every other column too (results.json): mine − theirs.
            entry['accuracy_differences'] = {
                other['label']: b.difference(mine, theirs)
                for other, theirs in zip(columns, pooled)
                if other is not col and theirs is not None}
            entry['mae'] = {}
            for t in targets:
                if all(t in o[name]['errors'] for o in outcomes if name in o):
                    episode, err = _pooled(outcomes, name, _error(t))
                    if err.size:
                        entry['mae'][t] = dict(boot(episode).mean(episode, err), **_spread(
                            [f['mae'].get(t) for f in figures]))
            entry['phases'] = {}
            episode, correct = mine
            phase = np.concatenate([o[name]['phase'] for o in outcomes if name in o])
            for p in np.unique(phase[phase >= 0]):
                at = phase == p
                entry['phases'][phase_names[p]] = dict(
                    boot(episode[at]).mean(episode[at], correct[at]), samples=int(at.sum()))
            col['subsets'][name] = entry
    return names, columns


def group_models(models):
    """Group (model, summary, outcomes) by ``model.group``, in first-seen order, with labels."""
    order = []
    for m, summary, outcomes in models:
        for g in order:
            if g['key'] == m.group:
                g['summaries'].append(summary)
                g['outcomes'].append(outcomes)
                break
        else:
            order.append({'key': m.group, 'method': m.method, 'kind': m.info['kind'],
                          'path': m.info['path'], 'summaries': [summary],
                          'outcomes': [outcomes]})
    labels = []
    for g in order:
        label = g['method'] if g['kind'] == 'run' else f'{g["method"]} bundle'
        if sum(h['method'] == g['method'] and h['kind'] == g['kind'] for h in order) > 1:
            label += f' ({Path(g["path"]).name})'
        labels.append(label)
    return [(label, g['summaries'], g['outcomes']) for label, g in zip(labels, order)]


def _pct(x):
    return f'{100 * x:.1f}'


def _cell(entry, scale=100.0, digits=1):
    if entry is None:
        return '—'
    lo, hi = entry['ci']
    spread = f' ± {scale * entry["std"]:.{digits}f}' if entry.get('std') is not None else ''
    return (f'{scale * entry["mean"]:.{digits}f}{spread} '
            f'[{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]')


def _mae_cell(entry):
    if entry is None:
        return '—'
    lo, hi = entry['ci']
    spread = f' ± {entry["std"]:.3g}' if entry.get('std') is not None else ''
    return f'{entry["mean"]:.4g}{spread} [{lo:.4g}, {hi:.4g}]'


def _diff_cell(entry):
    if entry is None:
        return '—'
    lo, hi = entry['ci']
    return f'{100 * entry["estimate"]:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]'


def markdown(report):
    cols, names, first = report['columns'], report['subsets'], report['models'][0]
    labels = [c['label'] for c in cols]
    lines = ['Evaluated:', '']
    for m in report['models']:
        seed = f', seed {m["seed"]}' if m['seed'] is not None else ''
        lines.append(f'- {m["method"]}: {m["kind"]} {m["path"]} (model {m["model_id"]}{seed}; '
                     f'{m["backend"]})')
    lines += ['', f'Bags: {", ".join(report["bags"])}; {report["episodes"]} episodes. Chance '
              f'(majority class): {_pct(first["chance_accuracy"])}%. One sample every '
              f'{1000 / first["sample_hz"]:g} ms ({first["sample_hz"]:g} Hz). Subsets: '
              f'{first["subset_rule"]}. Cells: mean ± std over the seeds of a column (no ± with '
              f'one model), then the 95 % interval of the pooled predictions from '
              f'{report["bootstrap"]} bootstrap resamples of the episodes.', '',
              '**Accuracy (%)**', '',
              '| sensors | ' + ' | '.join(labels) + ' | samples |',
              '|---|' + '---:|' * (len(labels) + 1)]
    for n in names:
        samples = max((c['subsets'].get(n) or {}).get('samples', 0) for c in cols)
        lines.append(f'| {n} | ' + ' | '.join(
            _cell((c['subsets'].get(n) or {}).get('accuracy')) for c in cols)
            + f' | {samples} |')
    if len(cols) > 1:
        lines += ['', f'**Accuracy difference, column − {labels[0]} (points, paired over the '
                  'same episode draws)**', '', '| sensors | ' + ' | '.join(labels[1:]) + ' |',
                  '|---|' + '---:|' * (len(labels) - 1)]
        for n in names:
            lines.append(f'| {n} | ' + ' | '.join(
                _diff_cell((c['subsets'].get(n) or {}).get('accuracy_difference'))
                for c in cols[1:]) + ' |')
    for t in first['targets']:
        lines += ['', f'**MAE {t}**', '', '| sensors | ' + ' | '.join(labels) + ' |',
                  '|---|' + '---:|' * len(labels)]
        for n in names:
            lines.append(f'| {n} | ' + ' | '.join(
                _mae_cell(((c['subsets'].get(n) or {}).get('mae') or {}).get(t))
                for c in cols) + ' |')
    full = subset_name(first['sensors'])
    phases = report['phases']
    if any(full in c['subsets'] for c in cols) and phases:
        lines += ['', f'**Accuracy (%) per task phase, {full}**', '',
                  '| phase | ' + ' | '.join(labels) + ' | samples |',
                  '|---|' + '---:|' * (len(labels) + 1)]
        for p in phases:
            entries = [((c['subsets'].get(full) or {}).get('phases') or {}).get(p) for c in cols]
            samples = max((e or {}).get('samples', 0) for e in entries)
            if samples:
                lines.append(f'| {p} | ' + ' | '.join(
                    '—' if e is None else
                    f'{_pct(e["estimate"])} [{_pct(e["ci"][0])}, {_pct(e["ci"][1])}]'
                    for e in entries) + f' | {samples} |')
    return '\n'.join(lines) + '\n'


def plots(report, out):
    """
    Write subsets.png (bars with their intervals) and per column's first model its plots.

    Those: its confusion matrix and, for a run, its training curves.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols, order, first = report['columns'], report['subsets'], report['models'][0]
    metrics = [('accuracy (%)', 100.0, lambda e: e['accuracy'])] + [
        (f'MAE {t}', 1.0, lambda e, t=t: (e.get('mae') or {}).get(t)) for t in first['targets']]
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False,
                             figsize=(max(8, len(order) * 0.9), 3.2 * len(metrics)))
    width = 0.8 / len(cols)
    x = np.arange(len(order))
    for ax, (label, scale, get) in zip(axes[:, 0], metrics):
        for i, c in enumerate(cols):
            got = [get(c['subsets'][n]) if n in c['subsets'] else None for n in order]
            mid = np.array([np.nan if g is None else scale * g['estimate'] for g in got])
            lo = np.array([np.nan if g is None else scale * g['ci'][0] for g in got])
            hi = np.array([np.nan if g is None else scale * g['ci'][1] for g in got])
            ax.bar(x + (i - (len(cols) - 1) / 2) * width, mid, width,
                   yerr=np.nan_to_num([mid - lo, hi - mid]), capsize=1.5,
                   error_kw={'lw': 0.6}, label=c['label'])
        ax.set_ylabel(label)
        ax.set_xticks(x, order, rotation=35, ha='right', fontsize=8)
        ax.grid(axis='y', alpha=0.3)
    axes[0, 0].axhline(100 * first['chance_accuracy'], color='k', ls='--', lw=0.8,
                       label='chance')
    axes[0, 0].set_title('error bars: 95 % interval over episodes', fontsize=8)
    axes[0, 0].legend(fontsize=8, ncol=len(cols) + 1)
    fig.tight_layout()
    fig.savefig(out / 'subsets.png', dpi=110)
    plt.close(fig)

    for c in cols:
        m = next(m for m in report['models'] if m['path'] == c['models'][0])
        slug = ''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in c['label'])
        if m['confusion_all_sensors'] is not None:
            cm = np.array(m['confusion_all_sensors'], float)
            cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1)
            fig, ax = plt.subplots(figsize=(6.5, 5.5))
            im = ax.imshow(cm, cmap='Blues', vmin=0, vmax=1)
            ax.set_xticks(range(len(m['classes'])), m['classes'], rotation=45, ha='right',
                          fontsize=7)
            ax.set_yticks(range(len(m['classes'])), m['classes'], fontsize=7)
            ax.set_xlabel('predicted')
            ax.set_ylabel('true')
            ax.set_title(f'{c["label"]} ({Path(m["path"]).name}): {"+".join(m["sensors"])}')
            fig.colorbar(im)
            fig.tight_layout()
            fig.savefig(out / f'confusion_{slug}.png', dpi=110)
            plt.close(fig)
        if m['run'] is None:            # a bundle: no training curves
            continue
        from xmodal_training.checkpoint import CURVES
        run = Path(m['run'])
        stages = [(p.parent.name if p.parent != run else c['label'], p)
                  for p in (run / 'stage1' / CURVES, run / CURVES) if p.is_file()]
        if stages:
            fig, axes = plt.subplots(1, len(stages), figsize=(5.5 * len(stages), 3.5),
                                     squeeze=False)
            for ax, (stage, path) in zip(axes[0], stages):
                curves = json.loads(path.read_text())
                keys = [k for k in curves[0] if k not in ('epoch', 'lr', 'seconds')]
                for k in keys:
                    ax.plot([e['epoch'] for e in curves], [e[k] for e in curves], label=k)
                ax.set_yscale('log')
                ax.set_xlabel('epoch')
                ax.set_title(stage)
                ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / f'curves_{slug}.png', dpi=110)
            plt.close(fig)


def evaluate(model_paths, bags, sensors_config=None, node_params=None, device='cpu',
             sample_hz=None, n_boot=N_BOOT):
    """
    Evaluate every model on ``bags``; returns the report (what results.json holds).

    ``sample_hz``: the evaluation's sampling rate (default: each model's training rate).
    """
    datasets, models = {}, []
    for path in model_paths:
        model = open_model(path, device)
        hz = sample_hz or model.sample_hz
        if hz is None:
            raise EvalError(f'{path}/manifest.yaml: records no sample_hz (exported before it '
                            'did). Fix: pass --sample-hz (the data.sample_hz it was trained '
                            'with) or export it again')
        key = (json.dumps(model.declarations, sort_keys=True), hz)
        if key not in datasets:
            datasets[key] = open_model_bags(bags, model.declarations, sensors_config,
                                            node_params, hz, str(path),
                                            tensors=isinstance(model, RunModel))
        models.append((model, *predict_subsets(model, datasets[key])))
    groups = group_models(models)
    ds = next(iter(datasets.values()))
    names, columns = summarize(groups, ds.phases, n_boot)
    return {'bags': [str(b) for b in bags], 'episodes': len(ds.episodes),
            'phases': list(ds.phases), 'bootstrap': n_boot,
            'models': [summary for _, summary, _ in models], 'subsets': names,
            'columns': columns}


def main(args):
    missing = [f'--{k}' for k in ('model', 'bags', 'out') if not getattr(args, k)]
    if missing:
        print(f'xmodal eval: {", ".join(missing)} required (runs or bundles: `xmodal eval '
              '--model M... --bags B... --out DIR`; new-sensor learners: `xmodal eval sensor`)',
              file=sys.stderr)
        return 2
    device = args.device
    if device == 'auto':
        try:
            import torch
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        except ImportError:     # bundles alone need no torch
            device = 'cpu'
    try:
        report = evaluate(args.model, args.bags, args.sensors_config, args.node_params, device,
                          args.sample_hz, args.bootstrap)
    except (EvalError, BundleError, DataError, BagError) as e:
        print(f'xmodal eval: {e}', file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.json').write_text(json.dumps(report, indent=1))
    table = markdown(report)
    (out / 'results.md').write_text(table)
    plots(report, out)
    print(table)
    return 0
