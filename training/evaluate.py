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
`xmodal eval`: accuracy and MAE for every non-empty subset of a model's sensors.

Each subset S is evaluated on the test samples whose bag records every sensor of S, with only the
sensors of S marked present: the same model, told that the others are missing. With several run
folders the table and bar plot compare them subset by subset. A `unimodal` run is read one sensor
at a time (its multi-sensor rows are the `late` method's). Writes results.json, results.md and
PNG plots (per-subset bars, the all-sensor confusion matrix of each run, training curves).
"""
import json
from pathlib import Path
import sys

import numpy as np
import torch

from xmodal_training.checkpoint import CURVES, load_run, rebuild, RunError
from xmodal_training.data.bagread import BagError
from xmodal_training.loading import DataError, open_model_bags
from xmodal_training.methods import sensor_subsets, subset_rule

BATCH = 256


def subset_name(subset):
    return '+'.join(subset)


def class_map(ds, ckpt, path):
    """Test-set class index -> model class index (by name); unknown classes are an error."""
    unknown = [c for c in ds.classes if c not in ckpt['classes']]
    if unknown:
        raise DataError(f'{", ".join(ds.bags)}: class(es) {unknown} were never trained by {path} '
                        f'(it knows {ckpt["classes"]})')
    return np.array([ckpt['classes'].index(c) for c in ds.classes] + [-1], np.int64)


def evaluate_run(ckpt, ds, device='cpu'):
    """Metrics of one run on ``ds`` for every subset of its sensors."""
    model = rebuild(ckpt).to(device)
    labels = class_map(ds, ckpt, ckpt['run_dir'])[ds.label]
    if not (labels >= 0).any():
        raise DataError(f'{", ".join(ds.bags)}: no labelled samples (ground-truth topic of the '
                        'sensor YAML); evaluation needs labelled bags')
    tcols = [ds.targets.index(t) if t in ds.targets else -1 for t in ckpt['targets']]
    n_classes = len(ckpt['classes'])
    bag_present = ds.present[ds.sample_bag]
    results = {}
    confusion = None
    for subset in sensor_subsets(model.sensor_names):
        name = subset_name(subset)
        if ckpt['method'] == 'unimodal' and len(subset) > 1:
            continue
        cols = [ds.sensors.index(s) for s in subset]
        rows = np.flatnonzero(bag_present[:, cols].all(axis=1) & (labels >= 0))
        if len(rows) == 0:
            results[name] = {'samples': 0}
            continue
        mask = torch.tensor([s in subset for s in model.sensor_names])
        probs, regression = [], []
        for start in range(0, len(rows), BATCH):
            batch = ds.batch(rows[start:start + BATCH], sensors=model.sensor_names)
            batch['present'] = mask.expand(len(batch['present']), -1)
            out = model.predict({k: v.to(device) for k, v in batch.items()})
            probs.append(out['probs'].cpu().numpy())
            regression.append(out['regression'].cpu().numpy())
        pred = np.concatenate(probs).argmax(axis=1)
        truth = labels[rows]
        entry = {'samples': int(len(rows)), 'accuracy': float((pred == truth).mean())}
        if tcols:
            reg = np.concatenate(regression)
            err = {}
            for j, (t, c) in enumerate(zip(ckpt['targets'], tcols)):
                if c >= 0:
                    known = ~np.isnan(ds.target[rows, c])
                    err[t] = float(np.abs(reg[known, j] - ds.target[rows, c][known]).mean())
            entry['mae'] = err
        results[name] = entry
        if len(subset) == len(model.sensor_names):
            confusion = np.zeros((n_classes, n_classes), np.int64)
            np.add.at(confusion, (truth, pred), 1)
    counts = np.bincount(labels[labels >= 0], minlength=n_classes)
    return {'method': ckpt['method'], 'run': ckpt['run_dir'], 'classes': ckpt['classes'],
            'targets': ckpt['targets'], 'sensors': model.sensor_names,
            'subset_rule': subset_rule(model.sensor_names), 'sample_hz': ds.rule.sample_hz,
            'chance_accuracy': float(counts.max() / max(counts.sum(), 1)),
            'confusion_all_sensors': confusion.tolist() if confusion is not None else None,
            'subsets': results}


def labels_for(runs):
    """Column names: the method, or method (folder) where two runs share a method."""
    methods = [r['method'] for r in runs]
    return [m if methods.count(m) == 1 else f'{m} ({Path(r["run"]).name})'
            for m, r in zip(methods, runs)]


def subset_rows(runs):
    """Subset names of all runs in one order: each run's subsets, smallest first, no repeats."""
    order = []
    for r in runs:
        order += [n for n in map(subset_name, sensor_subsets(r['sensors'])) if n not in order]
    return order


def markdown(runs, test_bags):
    names = labels_for(runs)

    def cell(r, name, get):
        e = r['subsets'].get(name)
        return get(e) if e and e.get('samples') else '—'

    lines = [f'Test bags: {", ".join(test_bags)}. Chance (majority class): '
             f'{100 * runs[0]["chance_accuracy"]:.1f}%. One sample every '
             f'{1000 / runs[0]["sample_hz"]:g} ms. Subsets: {runs[0]["subset_rule"]}.', '',
             '**Accuracy (%)**', '',
             '| sensors | ' + ' | '.join(names) + ' | samples |',
             '|---|' + '---:|' * (len(names) + 1)]
    for n in subset_rows(runs):
        samples = max((r['subsets'].get(n) or {}).get('samples', 0) for r in runs)
        lines.append(f'| {n} | ' + ' | '.join(
            cell(r, n, lambda e: f'{100 * e["accuracy"]:.1f}') for r in runs) + f' | {samples} |')
    for t in runs[0]['targets']:
        lines += ['', f'**MAE {t}**', '', '| sensors | ' + ' | '.join(names) + ' |',
                  '|---|' + '---:|' * len(names)]
        for n in subset_rows(runs):
            lines.append(f'| {n} | ' + ' | '.join(
                cell(r, n, lambda e: f'{e["mae"][t]:.4g}' if t in e.get('mae', {}) else '—')
                for r in runs) + ' |')
    return '\n'.join(lines) + '\n'


def plots(runs, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = labels_for(runs)
    order = subset_rows(runs)
    metrics = [('accuracy (%)', lambda e: 100 * e['accuracy'])] + [
        (f'MAE {t}', lambda e, t=t: e['mae'][t]) for t in runs[0]['targets']]
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False,
                             figsize=(max(8, len(order) * 0.9), 3.2 * len(metrics)))
    width = 0.8 / len(runs)
    x = np.arange(len(order))
    for ax, (label, get) in zip(axes[:, 0], metrics):
        for i, (r, name) in enumerate(zip(runs, names)):
            vals = [get(r['subsets'][n]) if r['subsets'].get(n, {}).get('samples') else np.nan
                    for n in order]
            ax.bar(x + (i - (len(runs) - 1) / 2) * width, vals, width, label=name)
        ax.set_ylabel(label)
        ax.set_xticks(x, order, rotation=35, ha='right', fontsize=8)
        ax.grid(axis='y', alpha=0.3)
    axes[0, 0].axhline(100 * runs[0]['chance_accuracy'], color='k', ls='--', lw=0.8,
                       label='chance')
    axes[0, 0].legend(fontsize=8, ncol=len(runs) + 1)
    fig.tight_layout()
    fig.savefig(out / 'subsets.png', dpi=110)
    plt.close(fig)

    for r, name in zip(runs, names):
        slug = name.replace(' ', '_').replace('(', '').replace(')', '')
        if r['confusion_all_sensors'] is not None:
            cm = np.array(r['confusion_all_sensors'], float)
            cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1)
            fig, ax = plt.subplots(figsize=(6.5, 5.5))
            im = ax.imshow(cm, cmap='Blues', vmin=0, vmax=1)
            ax.set_xticks(range(len(r['classes'])), r['classes'], rotation=45, ha='right',
                          fontsize=7)
            ax.set_yticks(range(len(r['classes'])), r['classes'], fontsize=7)
            ax.set_xlabel('predicted')
            ax.set_ylabel('true')
            ax.set_title(f'{name}: {"+".join(r["sensors"])}')
            fig.colorbar(im)
            fig.tight_layout()
            fig.savefig(out / f'confusion_{slug}.png', dpi=110)
            plt.close(fig)
        stages = [(p.parent.name if p.parent != Path(r['run']) else name, p)
                  for p in (Path(r['run']) / 'stage1' / CURVES, Path(r['run']) / CURVES)
                  if p.is_file()]
        if stages:
            fig, axes = plt.subplots(1, len(stages), figsize=(5.5 * len(stages), 3.5),
                                     squeeze=False)
            for ax, (stage, path) in zip(axes[0], stages):
                curves = json.loads(path.read_text())
                keys = [k for k in curves[0] if k not in ('epoch', 'lr', 'seconds')]
                for k in keys:
                    ax.plot([c['epoch'] for c in curves], [c[k] for c in curves], label=k)
                ax.set_yscale('log')
                ax.set_xlabel('epoch')
                ax.set_title(stage)
                ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / f'curves_{slug}.png', dpi=110)
            plt.close(fig)


def main(args):
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' \
        else args.device
    out = Path(args.out)
    try:
        ckpts = [load_run(m) for m in args.model]
        datasets, runs = {}, []
        for ckpt in ckpts:
            key = (json.dumps(ckpt['sensor_specs'], sort_keys=True), ckpt['sample_hz'])
            if key not in datasets:
                datasets[key] = open_model_bags(args.bags, ckpt['sensor_specs'],
                                                args.sensors_config, args.node_params,
                                                ckpt['sample_hz'], ckpt['run_dir'])
            runs.append(evaluate_run(ckpt, datasets[key], device))
    except (RunError, DataError, BagError) as e:
        print(f'xmodal eval: {e}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.json').write_text(json.dumps({'bags': args.bags, 'runs': runs}, indent=1))
    table = markdown(runs, args.bags)
    (out / 'results.md').write_text(table)
    plots(runs, out)
    print(table)
    return 0
