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
The `xmodal` command.

Robot-side verbs run here; offline verbs import the training package only when chosen, so `xmodal
fuse` works on a robot without torch.
"""
import argparse
import importlib
import sys

from xmodal_ros.paths import config_path, default_bundle


def _csv(text):
    return [t.strip() for t in text.split(',') if t.strip()]


class _Methods:
    """
    The names of a training registry, for ``choices``: read when argparse first needs them.

    Building the parser must not import the training side (torch; absent from a runtime-only
    install), so only checking a --method value or printing a training verb's help does.
    """

    def __init__(self, module, attr):
        self.module, self.attr, self._names = module, attr, None

    def _load(self):
        if self._names is None:
            try:
                self._names = list(getattr(importlib.import_module(self.module), self.attr))
            except ImportError as e:
                raise SystemExit(f'xmodal: the training side is not installed ({e}); '
                                 'pip install .[train]') from None
        return self._names

    def __contains__(self, name):
        return name in self._load()

    def __iter__(self):
        return iter(self._load())

    def __str__(self):
        return ', '.join(self._load())


def build_parser():
    p = argparse.ArgumentParser(prog='xmodal', description=__doc__.strip().split('.')[0] + '.')
    sub = p.add_subparsers(dest='verb', required=True, metavar='VERB')

    def verb(parent, name, target, help_):
        sp = parent.add_parser(name, help=help_, description=help_)
        sp.set_defaults(target=target)
        return sp

    sim = sub.add_parser('sim', help='simulated robot')
    sim = sim.add_subparsers(dest='sim_verb', required=True)
    rec = verb(sim, 'record', 'xmodal_training.sim.record:main',
               'simulate episodes and record them to a rosbag2 file')
    rec.add_argument('--out', required=True, help='bag folder to create')
    rec.add_argument('--episodes', type=int, default=8)
    rec.add_argument('--seed', type=int, default=0, help='first episode seed (episode i: seed+i)')
    rec.add_argument('--sensors', type=_csv, default=None,
                     help='comma-separated sensors of the sensor YAML to record (default: all)')
    rec.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    rec.add_argument('--classes', type=_csv, default=None,
                     help='comma-separated object classes (default: all)')
    rec.add_argument('--config', default=str(config_path('sensors.yaml')), help='sensor YAML')
    rec.add_argument('--resolution', default=None, metavar='WxH',
                     help='camera and depth size, overriding the sensor YAML (e.g. 128x96)')
    rec.add_argument('--depth-encoding', choices=['32FC1', '16UC1'], default=None,
                     help='REP-118 depth encoding, overriding the sensor YAML')

    bag = sub.add_parser('bag', help='rosbag2 files').add_subparsers(dest='bag_verb',
                                                                     required=True)
    info = verb(bag, 'info', 'xmodal_training.data.baginfo:main',
                'topics, types, counts, rates and label summary of a bag')
    info.add_argument('path')
    info.add_argument('--config', default=str(config_path('sensors.yaml')), help='sensor YAML')

    train = sub.add_parser('train', help='offline training').add_subparsers(dest='train_verb',
                                                                            required=True)
    tf = verb(train, 'fusion', 'xmodal_training.train:main',
              'train the fusion model (or a baseline) on bags with any sensor subsets')
    tf.add_argument('--config', default=str(config_path('train_fusion.yaml')))
    tf.add_argument('--bags', nargs='+', required=True)
    tf.add_argument('--out', required=True, help='run folder (checkpoint, curves)')
    tf.add_argument('--method', default='umi', metavar='METHOD',
                    choices=_Methods('xmodal_training.methods', 'REGISTRY'),
                    help='one of %(choices)s (training/methods: one folder each, declared in its '
                         '__init__.py); default umi')
    tf.add_argument('--device', default='auto', help='auto, cpu, cuda, cuda:N')
    tf.add_argument('--seed', type=int, default=None, help='overrides the config seed')
    tf.add_argument('--sensors-config', default=str(config_path('sensors.yaml')))
    tf.add_argument('--node-params', default=str(config_path('fuse.yaml')),
                    help="the fuse node's parameter YAML: its per-sensor timeouts decide which "
                         'bag instants are fresh enough to become samples')
    tf.add_argument('--pretrained', default=None, metavar='RUN',
                    help='unimodal/late run on the same bags to take stage 1 (encoders, '
                         'pseudo-labels) from, instead of training it into OUT/stage1')

    ts = verb(train, 'sensor', 'xmodal_training.train_sensor:main',
              'train a learner for a new sensor recorded in its own bags (no pairs with the '
              'known sensors), from the frozen perceptors of the known sensors')
    ts.add_argument('--method', required=True, metavar='METHOD',
                    choices=_Methods('xmodal_training.methods.new_sensor', 'CLI_NAMES'),
                    help='one of %(choices)s. cox: semi-supervised COX, or unsupervised with '
                         '--unsupervised; aligned: the upper bound on every label')
    ts.add_argument('--new', required=True, help='the new sensor (a name in the sensor YAML)')
    ts.add_argument('--known', required=True, type=_csv,
                    help='comma-separated known sensors, recorded together in --bags-known')
    ts.add_argument('--bags-known', nargs='+', required=True,
                    help='labelled bags of the known sensors')
    ts.add_argument('--bags-new', nargs='+', required=True, help='bags of the new sensor')
    lab = ts.add_mutually_exclusive_group()
    lab.add_argument('--labeled-fraction', type=float, default=0.1,
                     help='class-balanced share of the new samples whose label the '
                          'semi-supervised methods read (default 0.1, as in the COX paper)')
    lab.add_argument('--unsupervised', action='store_true',
                     help='read no label of the new-sensor bags')
    per = ts.add_mutually_exclusive_group()
    per.add_argument('--stage1', default=None, metavar='RUN',
                     help='late/unimodal run with the known sensors (frozen perceptors); '
                          'default: train one on --bags-known into OUT/stage1')
    per.add_argument('--bundle', default=None, metavar='DIR',
                     help='take the known encoders from this exported bundle instead (its '
                          'checkpoint; per-sensor heads fitted on --bags-known)')
    ts.add_argument('--config', default=str(config_path('train_fusion.yaml')),
                    help='training config of that stage-1 run when trained here')
    ts.add_argument('--bags-eval', nargs='+', default=None,
                    help='held-out labelled bags of the new sensor: accuracy into run.json')
    ts.add_argument('--epochs', type=int, default=None,
                    help="overrides the method's epochs (paper: 50)")
    ts.add_argument('--set', action='append', default=None, metavar='KEY=VALUE',
                    help="a hyperparameter of the method's config dataclass (repeatable), e.g. "
                         'balanced_anchors=true, alpha=0.5')
    ts.add_argument('--out', required=True, help='folder for learner.pt, run.json, curves.json')
    ts.add_argument('--seed', type=int, default=0)
    ts.add_argument('--device', default='auto', help='auto, cpu, cuda, cuda:N')
    ts.add_argument('--sensors-config', default=str(config_path('sensors.yaml')))
    ts.add_argument('--node-params', default=str(config_path('fuse.yaml')))

    ev = verb(sub, 'eval', 'xmodal_training.evaluate:main',
              'accuracy/MAE with 95 percent intervals for every sensor subset, tables and plots')
    ev.add_argument('--model', nargs='+',
                    help='run folder(s) written by `xmodal train` and/or bundle folder(s) '
                         'written by `xmodal export` (evaluated through ONNX Runtime, as the '
                         'robot runs them); runs of one method that differ only in their seed '
                         'make one column (mean ± std over the seeds)')
    ev.add_argument('--bags', nargs='+', help='held-out labelled bags')
    ev.add_argument('--out', help='folder for results.md, results.json and plots')
    ev.add_argument('--device', default='auto', help='for runs (PyTorch): auto, cpu, cuda, ...')
    ev.add_argument('--sample-hz', type=float, default=None,
                    help="evaluation sampling rate (default: each model's training rate)")
    ev.add_argument('--bootstrap', type=int, default=2000,
                    help='bootstrap resamples of the episodes for the 95 %% intervals')
    ev.add_argument('--sensors-config', default=str(config_path('sensors.yaml')))
    ev.add_argument('--node-params', default=str(config_path('fuse.yaml')))
    es = verb(ev.add_subparsers(dest='eval_verb', metavar='sensor'), 'sensor',
              'xmodal_training.evaluate_sensor:main',
              'new-sensor learners (`xmodal train sensor`) on held-out bags: mean ± std over '
              'seeds, 95 %% intervals, paired differences to the baselines, plots')
    es.add_argument('--learner', required=True, nargs='+',
                    help='learner folders; those equal but for the seed make one column')
    es.add_argument('--bags', nargs='+', required=True,
                    help='held-out labelled bags of the new sensor(s)')
    es.add_argument('--out', required=True)
    es.add_argument('--bootstrap', type=int, default=2000,
                    help='bootstrap resamples of the episodes for the 95 %% intervals')
    es.add_argument('--sensors-config', default=str(config_path('sensors.yaml')))
    es.add_argument('--node-params', default=str(config_path('fuse.yaml')))

    ex = verb(sub, 'export', 'xmodal_training.export:main',
              'export a trained model to an ONNX bundle (and TensorRT engines)')
    ex.add_argument('--model', required=True, help='run folder written by `xmodal train`')
    ex.add_argument('--out', default=None, help='bundle folder (default: MODEL/bundle)')
    ex.add_argument('--tensorrt', action='store_true', help='also build FP16 TensorRT engines')
    ex.add_argument('--bags', nargs='*', default=None,
                    help='bags whose real samples drive the parity check')
    ex.add_argument('--sensors-config', default=None,
                    help='sensor YAML with the topics of those bags (default: the one the run '
                         'was trained with)')

    bundle = sub.add_parser('bundle', help='model bundles')
    bundle = bundle.add_subparsers(dest='bundle_verb', required=True)
    ad = verb(bundle, 'add-sensor', 'xmodal_training.add_sensor:main',
              'write a bundle that also fuses a new sensor: its learner (`xmodal train sensor`) '
              "plus a projection into the bundle's tokens, trained without pairs on the "
              "learner's pseudo-labels; the bundle's own weights stay as they are")
    ad.add_argument('--bundle', required=True, help='the bundle to extend (an exported UMI model)')
    ad.add_argument('--learner', required=True, help='folder written by `xmodal train sensor`')
    ad.add_argument('--out', required=True, help='the new bundle folder')
    ad.add_argument('--bags', nargs='+', default=None,
                    help='bags of the new sensor to fit the projection on (default: the '
                         "learner's --bags-new)")
    ad.add_argument('--parity-bags', nargs='+', default=None,
                    help="bags with real inputs of every sensor for the export's parity check "
                         "(default: the learner's --bags-known and --bags)")
    ad.add_argument('--epochs', type=int, default=10)
    ad.add_argument('--lr', type=float, default=1e-3)
    ad.add_argument('--seed', type=int, default=0)
    ad.add_argument('--sensors-config', default=str(config_path('sensors.yaml')))
    ad.add_argument('--node-params', default=str(config_path('fuse.yaml')))

    fz = verb(sub, 'fuse', 'xmodal_ros.cli:run_fuse',
              'run the fuse node (the same node `ros2 launch xmodal_ros fuse.launch.py` starts)')
    fz.add_argument('--params', default=str(config_path('fuse.yaml')), help='ROS 2 parameter YAML')
    fz.add_argument('--bundle', default=None, help=f'model bundle (default: {default_bundle()})')
    fz.add_argument('--sensors', default=None,
                    help="sensor YAML with the topics (default: the parameter file's "
                         'sensors_config, else config/sensors.yaml)')
    fz.add_argument('--managed', action='store_true',
                    help='wait for lifecycle transitions instead of activating by itself')

    bench = sub.add_parser('bench', help='benchmarks').add_subparsers(dest='bench_verb',
                                                                      required=True)
    bf = verb(bench, 'fuse', 'xmodal_training.bench.fuse:main',
              'latency of the live node vs. the same node running PyTorch eagerly')
    bf.add_argument('--duration', type=float, default=60.0, help='seconds per measured run')
    bf.add_argument('--bundle', default=None, help=f'model bundle (default: {default_bundle()})')
    bf.add_argument('--params', default=str(config_path('fuse.yaml')),
                    help="the node's ROS 2 parameter YAML (both variants)")
    bf.add_argument('--repeats', type=int, default=1,
                    help='rounds of both variants, alternating which runs first (default 1)')
    bf.add_argument('--torch-run', default=None,
                    help="take the PyTorch-eager baseline's weights from this training run "
                         "folder (default: the bundle's own checkpoint.pt)")
    bf.add_argument('--torch-threads', type=int, default=1,
                    help='PyTorch intra-op threads of the baseline (default 1, as ONNX Runtime '
                         "uses; 0: PyTorch's own default)")
    bs = verb(bench, 'soak', 'xmodal_training.bench.soak:main',
              "the live node's memory growth (MB/hour), valid traffic vs a storm of malformed "
              'messages')
    bs.add_argument('--duration', type=float, default=180.0, help='measured seconds per phase')
    bs.add_argument('--warmup', type=float, default=60.0,
                    help='seconds of each phase before measuring')
    bs.add_argument('--bundle', default=None, help=f'model bundle (default: {default_bundle()})')
    bs.add_argument('--storm-rate', type=float, default=200.0,
                    help='malformed messages per second in the storm phase (20 min = 240,000)')
    bs.add_argument('--params', default=str(config_path('fuse.yaml')))
    bs.add_argument('--queue-depth', type=int, default=10,
                    help="raise every subscription depth to at least this (0: the file's own)")
    bs.add_argument('--storm-only', action='store_true',
                    help='skip the valid-only phase (the storm phase keeps its warm-up)')
    bs.add_argument('--csv', default=None, help='write every memory sample to this CSV')
    bs.add_argument('--domain-id', type=int, default=None,
                    help='ROS_DOMAIN_ID (default: a private one)')
    bd = verb(bench, 'data', 'xmodal_training.bench.data:main',
              'bag decoding and cached-dataset throughput')
    bd.add_argument('--episodes', type=int, default=8,
                    help='episodes to record (default 8, a 2 GB bag: long enough that the '
                         "decoding workers' ~0.25 s start-up does not dominate)")
    bd.add_argument('--bag', default=None, help='measure this bag instead of recording one')

    dm = verb(sub, 'demo', 'xmodal_training.demo:main',
              'the main job: record a sim bag, replay it to the live node, print predictions')
    dm.add_argument('--duration', type=float, default=60.0,
                    help='seconds the whole demo takes (recording, start-up, replay)')
    dm.add_argument('--bundle', default=None, help=f'model bundle (default: {default_bundle()})')
    dm.add_argument('--seed', type=int, default=900_000,
                    help='first simulated episode seed (default far from training seeds)')
    fs = sub.add_parser('fewshot', help='few-shot learning for a low-resource sensor (CROMA)')
    fs = fs.add_subparsers(dest='fewshot_verb', required=True)
    fsyn = verb(fs, 'synthetic', 'xmodal_training.methods.croma.synthetic:run',
                'the CROMA appendix §11.2 synthetic study: figure, table, measured crossover '
                'vs the rule of thumb')
    fsyn.add_argument('--out', required=True, help='folder for synthetic.png/.md/.json')
    fsyn.add_argument('--seeds', type=int, default=20, help='seeds (default 20, at least 10)')
    fsyn.add_argument('--quick', action='store_true', help='a coarse n_align grid (smoke run)')
    fsyn.add_argument('--w', choices=['orthogonal', 'gaussian'], default='orthogonal',
                      help='the cross-modal map W: a random rotation (default) or a Gaussian '
                           'matrix')
    return p


def run_fuse(args):
    """
    Run ``xmodal fuse``: the fuse node with parameters from a YAML file.

    No launch tooling needed.
    """
    from pathlib import Path

    from xmodal_ros.fuse_node import spin
    params = Path(args.params)
    if not params.is_file():
        print(f'xmodal fuse: parameter file {params} not found (pass --params FILE)',
              file=sys.stderr)
        return 2
    ros_args = ['xmodal-fuse', '--ros-args', '--params-file', str(params),
                '-p', f'autostart:={"false" if args.managed else "true"}']
    if args.bundle:
        ros_args += ['-p', f'bundle:={args.bundle}']
    if args.sensors:
        ros_args += ['-p', f'sensors_config:={args.sensors}']
    return spin(ros_args)


def main(argv=None):
    args = build_parser().parse_args(argv)
    module, func = args.target.split(':')
    try:
        return getattr(importlib.import_module(module), func)(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
