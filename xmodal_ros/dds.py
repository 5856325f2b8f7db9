"""The Fast DDS profile the node (and every image publisher) needs, on every distribution.

Fast DDS 3 (Kilted and later) reads ``FASTDDS_DEFAULT_PROFILES_FILE``; Fast DDS 2.x (Humble,
Jazzy) reads ``FASTRTPS_DEFAULT_PROFILES_FILE``. Both are set, so one call serves any install.
"""
import os

from xmodal_ros.paths import config_path

PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def apply_dds_defaults(environ=None):
    """Point Fast DDS at config/fastdds.xml unless the user chose a profile.

    Must run before rclpy.init (Fast DDS reads the variables when the first participant is
    made). A profile already set under either name is kept and copied to the other name, so
    both Fast DDS generations read the same file. Returns the profile in effect, or None.
    """
    environ = os.environ if environ is None else environ
    chosen = next((environ[v] for v in PROFILE_VARIABLES if environ.get(v)), None)
    if chosen is None:
        profile = config_path('fastdds.xml')
        chosen = str(profile) if profile.is_file() else None
    if chosen is not None:
        for var in PROFILE_VARIABLES:
            environ.setdefault(var, chosen)
    return chosen
