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
`xmodal eval sensor`: new-sensor learners on held-out bags, one column per method over seeds.

Learners that differ only in their seed (same new sensor, method, label use, labelled fraction
and hyperparameters) make one column: mean ± std of the seeds' accuracies, and the 95 % interval
of their pooled predictions from the episode bootstrap of ``xmodal eval`` (training/stats.py).
Every column is compared with every baseline column of the same sensor by a paired interval
(the same episodes, the same draws). Plots: accuracy per column, accuracy vs labelled fraction
(the COX paper's Fig. 7) and synergy's accuracy vs α where the learners span several, and the MMD
between connected and new-sensor features during COX training (Fig. 5) from each run's curves.
"""
import json
from pathlib import Path
import sys

import numpy as np

from xmodal_training.stats import EpisodeBootstrap, N_BOOT

BASELINES = ('random', 'erm', 'entmin', 'ssl', 'moco', 'aligned')


class SensorEvalError(ValueError):
    """A learner or bag that cannot be evaluated; the message names it."""


def open_learner(path):
    """Return {'path', 'learner', 'ckpt', 'summary', 'curves'} of a train-sensor folder."""
    from xmodal_training.train_sensor import (CURVES, LEARNER, load_learner, SensorTrainError,
                                              SUMMARY)
    path = Path(path)
    try:
        learner, ckpt = load_learner(path / LEARNER)
        summary = json.loads((path / SUMMARY).read_text())
    except FileNotFoundError as e:
        raise SensorEvalError(f'{e.filename}: missing; --learner takes folders written by '
                              '`xmodal train sensor`') from None
    except SensorTrainError as e:
        raise SensorEvalError(str(e)) from None
    curves = json.loads((path / CURVES).read_text()) if (path / CURVES).is_file() else {}
    return {'path': str(path), 'learner': learner, 'ckpt': ckpt, 'summary': summary,
            'curves': curves}


def column(summary):
    """Return (group key, label): learners equal but for the seed share both."""
    method = summary.get('cli_method') or summary['method']
    config = {k: v for k, v in summary['config'].items() if k != 'seed'}
    if summary['labels'] == 'fraction':
        labels = f'{100 * summary["labeled_fraction"]:g} % labels'
    else:
        labels = {'none': 'no labels', 'all': 'all labels'}[summary['labels']]
    extra = f' α={config["alpha"]:g}' if 'alpha' in config and method == 'synergy' else ''
    label = f'{method}{extra} ({labels})'
    key = json.dumps([summary['new_sensor'], method, summary['labels'],
                      summary.get('labeled_fraction'), config], sort_keys=True, default=str)
    return key, label


def outcomes(entry, bags, sensors_config, node_params, datasets):
    """Return (episode, correct) of one learner on the labelled samples of its sensor."""
    import torch
    from xmodal_training.loading import open_model_bags
    from xmodal_training.train_sensor import batches
    ckpt = entry['ckpt']
    sensor = ckpt['sensor']
    key = (sensor, json.dumps(ckpt['sensor_spec'], sort_keys=True), ckpt['sample_hz'])
    if key not in datasets:
        datasets[key] = open_model_bags(bags, {sensor: ckpt['sensor_spec']}, sensors_config,
                                        node_params, ckpt['sample_hz'],
                                        where=f'the learner {entry["path"]}', tensors=False)
    ds = datasets[key]
    unknown = [c for c in ds.classes if c not in ckpt['classes']]
    if unknown:
        raise SensorEvalError(f'--bags: class(es) {", ".join(unknown)} were never trained by '
                              f'{entry["path"]} (it knows {", ".join(ckpt["classes"])})')
    rows = np.flatnonzero(ds.present[ds.sample_bag, ds.sensors.index(sensor)] & (ds.label >= 0))
    if not len(rows):
        raise SensorEvalError(f'--bags ({", ".join(ds.bags)}): no labelled sample of {sensor}; '
                              'pass held-out bags that record it with ground truth')
    truth = np.array([ckpt['classes'].index(c) for c in ds.classes])[ds.label[rows]]
    with torch.no_grad():
        pred = np.concatenate([
            entry['learner'](torch.as_tensor(np.asarray(
                ds.batch(rows[i], sensors=[sensor])[sensor]))).argmax(-1).numpy()
            for i in batches(len(rows))])
    return ds.episode[rows], (pred == truth).astype(np.float64)


def evaluate(paths, bags, sensors_config=None, node_params=None, n_boot=N_BOOT, log=print):
    """Return the report: per new sensor, its columns with intervals and paired differences."""
    entries = [open_learner(p) for p in paths]
    datasets, groups = {}, {}
    for e in entries:
        key, label = column(e['summary'])
        e['episode'], e['correct'] = outcomes(e, bags, sensors_config, node_params, datasets)
        e['accuracy'] = float(e['correct'].mean())
        log(f'{label} seed {e["summary"]["seed"]}: {100 * e["accuracy"]:.1f} % on '
            f'{len(e["correct"])} samples ({e["path"]})')
        groups.setdefault(key, (label, e['summary']['new_sensor'], []))[2].append(e)
    report = {'bags': [str(Path(b).resolve()) for b in bags], 'sensors': {}}
    for sensor in dict.fromkeys(g[1] for g in groups.values()):
        mine = [g for g in groups.values() if g[1] == sensor]
        pooled = [(np.concatenate([e['episode'] for e in es]),
                   np.concatenate([e['correct'] for e in es])) for _, _, es in mine]
        boot = EpisodeBootstrap(np.concatenate([p[0] for p in pooled]), n_boot)
        cols = []
        for (label, _, es), p in zip(mine, pooled):
            accs = [e['accuracy'] for e in es]
            s = es[0]['summary']
            cols.append({
                'label': label, 'method': s.get('cli_method') or s['method'],
                'labels': s['labels'], 'labeled_fraction': s.get('labeled_fraction'),
                'alpha': s['config'].get('alpha'), 'known': s['known'],
                'seeds': [e['summary']['seed'] for e in es], 'learners': [e['path'] for e in es],
                'samples': int(len(p[1]) // len(es)), 'episodes': int(len(np.unique(p[0]))),
                'accuracy': dict(boot.mean(*p), mean=float(np.mean(accs)),
                                 std=float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
                                 per_seed=accs),
                'mmd': _mmd_curves(es)})
        for col, p in zip(cols, pooled):
            col['vs_baselines'] = {
                other['label']: boot.difference(p, q)
                for other, q in zip(cols, pooled)
                if other is not col and other['method'] in BASELINES}
        report['sensors'][sensor] = {'columns': cols, 'episodes': int(boot.episodes.size),
                                     'chance': 1 / len(entries[0]['ckpt']['classes'])}
    return report


def _mmd_curves(entries):
    """Return per learner the MMD per epoch between connected and new features (COX), or []."""
    out = []
    for e in entries:
        rows = (e['curves'] or {}).get('epochs') if isinstance(e['curves'], dict) else None
        if rows and any(k.startswith('mmd/') for k in rows[0]):
            keys = sorted(k for k in rows[0] if k.startswith('mmd/'))
            out.append([[r['epoch'], float(np.mean([r[k] for k in keys]))] for r in rows
                        if all(k in r for k in keys)])
    return out


def _pct(entry):
    lo, hi = entry['ci']
    spread = f' ± {100 * entry["std"]:.1f}' if entry.get('std') is not None else ''
    return f'{100 * entry["mean"]:.1f}{spread} [{100 * lo:.1f}, {100 * hi:.1f}]'


def markdown(report):
    lines = ['# New-sensor learners on held-out bags', '',
             f'Bags: {", ".join(report["bags"])}. Accuracy: mean ± std over seeds, [95 % '
             'interval of the pooled predictions, bootstrap over episodes]; differences to the '
             'baselines are paired (same episodes), in points.', '']
    for sensor, r in report['sensors'].items():
        cols = r['columns']
        base = [c for c in cols if c['method'] in BASELINES]
        lines += [f'## {sensor} (known: {", ".join(cols[0]["known"])}; {r["episodes"]} episodes, '
                  f'chance {100 * r["chance"]:.1f} %)', '',
                  '| learner | seeds | accuracy % | ' + ' | '.join(f'− {b["label"]}' for b in base)
                  + ' |', '|---|---|---|' + '---|' * len(base)]
        for c in cols:
            diffs = []
            for b in base:
                d = c['vs_baselines'].get(b['label'])
                diffs.append('—' if d is None else
                             f'{100 * d["estimate"]:+.1f} [{100 * d["ci"][0]:+.1f}, '
                             f'{100 * d["ci"][1]:+.1f}]')
            lines.append(f'| {c["label"]} | {len(c["seeds"])} | {_pct(c["accuracy"])} | '
                         + ' | '.join(diffs) + ' |')
        lines.append('')
    return '\n'.join(lines) + '\n'


def plots(report, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written = []
    for sensor, r in report['sensors'].items():
        cols = r['columns']
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols)), 4))
        means = [100 * c['accuracy']['mean'] for c in cols]
        err = np.array([[m - 100 * c['accuracy']['ci'][0], 100 * c['accuracy']['ci'][1] - m]
                        for m, c in zip(means, cols)]).T
        ax.bar(range(len(cols)), means, yerr=err, capsize=3, color='tab:blue')
        for i, c in enumerate(cols):
            ax.plot([i] * len(c['accuracy']['per_seed']),
                    [100 * a for a in c['accuracy']['per_seed']], 'k.', ms=4)
        ax.axhline(100 * r['chance'], color='grey', ls=':', label='chance')
        ax.set_xticks(range(len(cols)), [c['label'] for c in cols], rotation=35, ha='right',
                      fontsize=8)
        ax.set_ylabel('held-out accuracy (%)')
        ax.set_title(f'{sensor}: learners (bars: pooled, 95 % interval; dots: seeds)')
        ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, out / f'accuracy_{sensor}.png'))
        by_fraction = {}
        for c in cols:
            if c['labels'] == 'fraction' and c['method'] != 'synergy':
                by_fraction.setdefault(c['method'], []).append(c)
        if any(len(v) > 1 for v in by_fraction.values()):
            fig, ax = plt.subplots(figsize=(5, 4))
            for method, cs in by_fraction.items():
                cs = sorted(cs, key=lambda c: c['labeled_fraction'])
                x = [100 * c['labeled_fraction'] for c in cs]
                ax.errorbar(x, [100 * c['accuracy']['mean'] for c in cs],
                            yerr=[100 * (c['accuracy']['std'] or 0) for c in cs], marker='o',
                            capsize=3, label=method)
            ax.set_xlabel('labelled fraction of the new-sensor samples (%)')
            ax.set_ylabel('held-out accuracy (%)')
            ax.set_title(f'{sensor}: accuracy vs labels (COX Fig. 7)')
            ax.legend(fontsize=8)
            fig.tight_layout()
            written.append(_save(fig, out / f'labels_{sensor}.png'))
        synergy = sorted((c for c in cols if c['method'] == 'synergy' and c['alpha'] is not None),
                         key=lambda c: c['alpha'])
        if len(synergy) > 1:
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.errorbar([c['alpha'] for c in synergy],
                        [100 * c['accuracy']['mean'] for c in synergy],
                        yerr=[100 * (c['accuracy']['std'] or 0) for c in synergy], marker='o',
                        capsize=3)
            ax.set_xlabel('α')
            ax.set_ylabel('held-out accuracy (%)')
            ax.set_title(f'{sensor}: synergy vs α')
            fig.tight_layout()
            written.append(_save(fig, out / f'synergy_alpha_{sensor}.png'))
        curves = [(c['label'], m) for c in cols for m in c['mmd']]
        if curves:
            fig, ax = plt.subplots(figsize=(5, 4))
            for label, m in curves:
                m = np.array(m)
                ax.plot(m[:, 0], m[:, 1], label=label)
            ax.set_xlabel('epoch')
            ax.set_ylabel('MMD(connected known, new features)')
            ax.set_title(f'{sensor}: connection training (COX Fig. 5)')
            handles, labels = ax.get_legend_handles_labels()
            keep = dict(zip(labels, handles))
            ax.legend(keep.values(), keep.keys(), fontsize=8)
            fig.tight_layout()
            written.append(_save(fig, out / f'mmd_{sensor}.png'))
    return written


def _save(fig, path):
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(args):
    from xmodal_training.data.bagread import BagError
    from xmodal_training.loading import DataError
    out = Path(args.out)
    try:
        report = evaluate(args.learner, args.bags, args.sensors_config, args.node_params,
                          args.bootstrap, log=lambda m: print(m, file=sys.stderr))
    except (SensorEvalError, DataError, BagError) as e:
        print(f'xmodal eval sensor: {e}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.json').write_text(json.dumps(report, indent=1) + '\n')
    text = markdown(report)
    (out / 'results.md').write_text(text)
    plots(report, out)
    print(text)
    return 0
