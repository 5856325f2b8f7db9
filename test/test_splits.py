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
The episode seeds of scripts/train_default.sh: training, validation and test never share one.

Read from the script's SPLITS table (its one place for them) and checked here independently of
the script's own check_splits, which is also run, on the table and on broken copies of it.
"""
import collections
import importlib.util
import itertools
from pathlib import Path
import re
import subprocess

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'scripts' / 'train_default.sh'
# Bags that record the same episodes on purpose (fewer sensors / every sensor; two resolutions).
SAME_EPISODES = {frozenset(('train_a', 'full_a')), frozenset(('train_b', 'full_b')),
                 frozenset(('test_640', 'test_640_at_128'))}
TRAINING = ('train_a', 'train_b', 'full_a', 'full_b')
HELD_OUT = ('val', 'test', 'test_640', 'test_640_at_128')


def sim_classes():
    """
    Return the simulator's classes in episode order (class of seed s: CLASSES[s % len]).

    From training/sim/objects.py, loaded alone: it needs nothing but the standard library.
    """
    path = ROOT / 'training' / 'sim' / 'objects.py'
    spec = importlib.util.spec_from_file_location('_sim_objects', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CLASSES


def splits(text=None):
    """Return name -> (seeds as a range, SAME column) from the script's SPLITS table."""
    text = SCRIPT.read_text() if text is None else text
    block = re.search(r"^SPLITS='\n(.*?)^'$", text, re.S | re.M)
    assert block, f'{SCRIPT}: no SPLITS table'
    out = {}
    for line in block.group(1).splitlines():
        if line.strip():
            name, first, n, same = line.split()[:4]
            assert name not in out, name
            out[name] = (range(int(first), int(first) + int(n)), same)
    return out


def test_training_validation_and_test_seeds_never_overlap():
    table = splits()
    assert set(TRAINING + HELD_OUT) <= set(table), sorted(table)
    for a, b in itertools.combinations(table, 2):
        (ra, same_a), (rb, same_b) = table[a], table[b]
        if frozenset((a, b)) in SAME_EPISODES:
            assert ra == rb and (same_a == b or same_b == a), (a, b)
        else:
            assert not set(ra) & set(rb), f'{a} {ra} and {b} {rb} share episode seeds'


def test_test_bag_is_balanced_over_classes_with_at_least_80_episodes():
    seeds, _ = splits()['test']
    classes = sim_classes()
    per_class = collections.Counter(classes[s % len(classes)] for s in seeds)
    assert len(seeds) >= 80
    assert set(per_class) == set(classes) and len(set(per_class.values())) == 1, per_class
    assert f'N_CLASSES={len(classes)} ' in SCRIPT.read_text()


def test_every_recorded_bag_is_in_the_table():
    recorded = re.findall(r'^record (\S+)', SCRIPT.read_text(), re.M)
    assert sorted(recorded) == sorted(splits())


def check(text, tmp_path):
    script = tmp_path / 'train_default.sh'
    script.write_text(text)
    return subprocess.run(['bash', str(script), '--check-splits'], capture_output=True,
                          text=True, timeout=30)


def test_script_check_passes_on_the_table(tmp_path):
    done = check(SCRIPT.read_text(), tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize('bag, first, episodes, named', [
    ('val', 5040, 40, 'test'),              # validation overlapping test
    ('val', 60, 40, 'train_a'),             # validation overlapping training
    ('test', 1040, 80, 'train_b'),          # test overlapping training
    ('full_b', 1001, 80, 'train_b'),        # a same-episodes pair shifted by one
    ('test', 5000, 76, 'test'),             # unbalanced (and under 80)
])
def test_script_check_fails_on_a_broken_table(tmp_path, bag, first, episodes, named):
    text = SCRIPT.read_text()
    broken = re.sub(rf'^(\s+{bag}\s+)\d+(\s+)\d+', rf'\g<1>{first}\g<2>{episodes}', text, count=1,
                    flags=re.M)
    assert broken != text
    done = check(broken, tmp_path)
    assert done.returncode != 0 and bag in done.stderr and named in done.stderr, done.stderr
    with pytest.raises(AssertionError):         # the Python check agrees
        table = splits(broken)
        for a, b in itertools.combinations(table, 2):
            if frozenset((a, b)) not in SAME_EPISODES or table[a][0] != table[b][0]:
                assert not set(table[a][0]) & set(table[b][0]), (a, b)
        seeds = table['test'][0]
        assert len(seeds) >= 80 and len(seeds) % len(sim_classes()) == 0
