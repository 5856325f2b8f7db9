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
The fuse node's life.

Managed transitions through the real lifecycle services, and bundles that must stop it from
starting (a missing, incomplete or tampered bundle) in both modes.
"""
import shutil
import time

from bundles import CLASSES, make_bundle
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rosproc import Driver, SENSORS, start_fuse, stop, write_params

RATES = {'camera': 30.0, 'force': 250.0}


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp('bundle'))


@pytest.fixture(scope='module')
def params(tmp_path_factory):
    return write_params(tmp_path_factory.mktemp('params') / 'fuse.yaml',
                        {'rate_hz': 50.0, **{f'{s}.timeout': 0.25 for s in SENSORS}})


def _call(driver, client, request, timeout=10.0):
    assert client.wait_for_service(timeout_sec=timeout), f'{client.srv_name} never appeared'
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done():
        assert time.monotonic() < deadline, f'{client.srv_name} did not answer'
        time.sleep(0.01)
    return future.result()


class Lifecycle:
    """The node's lifecycle and parameter services, called from the test's driver node."""

    def __init__(self, driver, node='/fuse_node'):
        self.driver = driver
        self.change = driver.node.create_client(ChangeState, f'{node}/change_state')
        self.get = driver.node.create_client(GetState, f'{node}/get_state')
        self.params = driver.node.create_client(SetParameters, f'{node}/set_parameters')

    def state(self):
        return _call(self.driver, self.get, GetState.Request()).current_state.id

    def transition(self, transition_id):
        req = ChangeState.Request()
        req.transition.id = transition_id
        return _call(self.driver, self.change, req).success

    def set_string(self, name, value):
        req = SetParameters.Request(parameters=[Parameter(
            name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING,
                                            string_value=str(value)))])
        return _call(self.driver, self.params, req).results[0].successful


def _predictions_during(driver, seconds):
    t0 = driver.now()
    driver.run(seconds, RATES)
    time.sleep(0.15)
    return [m for _, m in driver.received('predictions', t0)]


def _tampered(bundle, tmp_path):
    bad = tmp_path / 'tampered'
    shutil.copytree(bundle, bad)
    with open(bad / 'camera.onnx', 'ab') as f:
        f.write(b'\0')
    return bad


def test_managed_lifecycle(bundle, params, tmp_path):
    """
    Walk the managed lifecycle, predicting only while active.

    unconfigured -> (failed configure) -> inactive -> active -> inactive -> active -> inactive ->
    unconfigured -> finalized.
    """
    proc = start_fuse(params, bundle, managed=True)
    driver = Driver()
    try:
        life = Lifecycle(driver)
        assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert not _predictions_during(driver, 0.4)
        assert all(p.get_subscription_count() == 0 for p in driver.pubs.values())

        # A tampered bundle: configure fails and the node stays unconfigured.
        assert life.set_string('bundle', _tampered(bundle, tmp_path))
        assert not life.transition(Transition.TRANSITION_CONFIGURE)
        assert life.state() == State.PRIMARY_STATE_UNCONFIGURED

        assert life.set_string('bundle', bundle)
        assert life.transition(Transition.TRANSITION_CONFIGURE)
        assert life.state() == State.PRIMARY_STATE_INACTIVE
        assert not _predictions_during(driver, 0.4), 'predicted while inactive'

        assert life.transition(Transition.TRANSITION_ACTIVATE)
        assert life.state() == State.PRIMARY_STATE_ACTIVE
        assert driver.wait_for_subscribers(timeout=10)
        assert len(_predictions_during(driver, 1.0)) >= 20
        assert driver.classes and driver.classes[-1].data == ','.join(CLASSES)

        assert life.transition(Transition.TRANSITION_DEACTIVATE)
        assert life.state() == State.PRIMARY_STATE_INACTIVE
        assert not _predictions_during(driver, 0.5), 'predicted after deactivate'

        assert life.transition(Transition.TRANSITION_ACTIVATE)
        assert len(_predictions_during(driver, 1.0)) >= 20, 'no predictions after reactivating'

        assert life.transition(Transition.TRANSITION_DEACTIVATE)
        assert life.transition(Transition.TRANSITION_CLEANUP)
        assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert not _predictions_during(driver, 0.4)

        assert life.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert life.state() == State.PRIMARY_STATE_FINALIZED
    finally:
        driver.close()
        code, out = stop(proc)
    assert code == 0, out
    assert 'configure failed' in out and 'camera.onnx' in out and 'SHA-256' in out, out


def _broken_bundles(bundle, root):
    """Map a name to (bundle folder, the path the error must name)."""
    cases = {'missing folder': (root / 'nowhere', root / 'nowhere')}
    no_manifest = shutil.copytree(bundle, root / 'no_manifest')
    (no_manifest / 'manifest.yaml').unlink()
    cases['missing manifest'] = (no_manifest, no_manifest / 'manifest.yaml')
    incomplete = shutil.copytree(bundle, root / 'incomplete')
    (incomplete / 'fusion.onnx').unlink()
    cases['incomplete'] = (incomplete, incomplete / 'fusion.onnx')
    tampered = _tampered(bundle, root)
    cases['tampered'] = (tampered, tampered / 'camera.onnx')
    partial = make_bundle(root / 'camera_force_only', sensors=('camera', 'force'))
    cases['sensor not in bundle'] = (partial, partial)
    return cases


def test_bad_bundle_stops_unmanaged_start(bundle, params, tmp_path):
    """`xmodal fuse` exits non-zero at once, naming the file at fault; nothing subscribes."""
    cases = _broken_bundles(bundle, tmp_path)
    procs = {name: start_fuse(params, folder) for name, (folder, _) in cases.items()}
    for name, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=60)
        except Exception:
            proc.kill()
            raise
        assert proc.returncode == 1, f'{name}: exit {proc.returncode}\n{out}'
        assert str(cases[name][1]) in out, f'{name}: error does not name {cases[name][1]}:\n{out}'
        assert 'active' not in out.replace('inactive', ''), f'{name}: the node started:\n{out}'
