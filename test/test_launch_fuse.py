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
launch/fuse.launch.py on a real ROS 2 install (launch_testing).

The node's life driven through lifecycle events, with a test bundle, and a clean exit.

Run with `launch_test test/test_launch_fuse.py` or under colcon test. Where launch, launch_ros or
launch_testing are not installed (the PyPI-wheel environment of scripts/setup.sh), the module is
skipped: those packages only come with a ROS 2 distribution.
"""
import importlib
from pathlib import Path
import sys
import tempfile
import unittest

import pytest

launch_testing = pytest.importorskip(
    'launch_testing', reason='launch_testing comes with a ROS 2 install, not the PyPI wheels')
launch_ros = pytest.importorskip('launch_ros', reason='launch_ros comes with a ROS 2 install')

# Imported only once the skips above have passed: these modules exist where launch_testing does.
launch = importlib.import_module('launch')
lifecycle_msgs = importlib.import_module('lifecycle_msgs')
for _module in ('launch.actions', 'launch.event_handlers', 'launch.launch_description_sources',
                'launch_ros.event_handlers', 'launch_ros.events.lifecycle',
                'launch_ros.events.matchers', 'launch_testing.actions', 'launch_testing.asserts',
                'lifecycle_msgs.msg'):
    importlib.import_module(_module)

sys.path.insert(0, str(Path(__file__).resolve().parent))
make_bundle = importlib.import_module('bundles').make_bundle

pytestmark = pytest.mark.launch
LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'fuse.launch.py'


def _transition(transition_id):
    return launch.actions.EmitEvent(event=launch_ros.events.lifecycle.ChangeState(
        lifecycle_node_matcher=launch_ros.events.matchers.matches_node_name('/fuse_node'),
        transition_id=transition_id))


def _on(start_state, goal_state, *entities):
    return launch.actions.RegisterEventHandler(launch_ros.event_handlers.OnStateTransition(
        start_state=start_state, goal_state=goal_state, entities=list(entities)))


@pytest.mark.launch_test
def generate_test_description():
    bundle = make_bundle(Path(tempfile.mkdtemp(prefix='xmodal-launch-test-')) / 'bundle')
    fuse = launch.actions.IncludeLaunchDescription(
        launch.launch_description_sources.PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={'bundle': str(bundle), 'managed': 'true'}.items())
    T = lifecycle_msgs.msg.Transition
    return launch.LaunchDescription([
        fuse,
        # Managed: the node waits unconfigured; configure it a moment after launch.
        launch.actions.TimerAction(period=2.0, actions=[_transition(T.TRANSITION_CONFIGURE)]),
        _on('configuring', 'inactive', _transition(T.TRANSITION_ACTIVATE)),
        _on('activating', 'active', launch.actions.TimerAction(
            period=2.0, actions=[_transition(T.TRANSITION_DEACTIVATE)])),
        _on('deactivating', 'inactive', _transition(T.TRANSITION_CLEANUP)),
        _on('cleaningup', 'unconfigured', _transition(T.TRANSITION_UNCONFIGURED_SHUTDOWN)),
        launch_testing.actions.ReadyToTest(),
    ]), {'bundle': bundle}


class TestFuseNodeLife(unittest.TestCase):

    def test_transitions(self, proc_output):
        """Configure (loading the bundle), then activate, deactivate, clean up and shut down."""
        proc_output.assertWaitFor('configured: model test-0001', timeout=30)
        proc_output.assertWaitFor('active', timeout=10)
        proc_output.assertWaitFor('inactive', timeout=10)
        proc_output.assertWaitFor('cleaned up', timeout=10)
        proc_output.assertWaitFor('shut down', timeout=10)


@launch_testing.post_shutdown_test()
class TestFuseNodeExit(unittest.TestCase):

    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
