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
