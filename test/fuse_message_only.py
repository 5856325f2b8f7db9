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
`xmodal fuse` with the node's subscription callbacks taking the message alone.

As rclpy calls them before Iron (Humble: no MessageInfo). Run by test_fuse_node_message_only.py on
a newer distribution to exercise that path; prints how many messages the node took, and with what.
"""
import atexit
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xmodal_ros import cli, fuse_node  # noqa: E402

fuse_node.MESSAGE_INFO = False
taken = {'messages': 0, 'with_info': 0}
_on_message = fuse_node.FuseNode._on_message


def _counting(self, slot, msg, info):
    taken['messages'] += 1
    taken['with_info'] += bool(info)
    return _on_message(self, slot, msg, info)


fuse_node.FuseNode._on_message = _counting
atexit.register(lambda: print(f'message-only callbacks: {taken["messages"]} messages, '
                              f'{taken["with_info"]} with MessageInfo', flush=True))
sys.exit(cli.main(['fuse', *sys.argv[1:]]))
