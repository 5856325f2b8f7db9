# Sourced by setup.sh, test.sh and main.sh: which ROS 2 distribution, and which venv holds it.
#   XMODAL_ROS_DISTRO=jazzy (default: the LTS robots run) -> .venv/
#   XMODAL_ROS_DISTRO=kilted                               -> .venv-kilted/
# XMODAL_VENV overrides the folder.
distro=${XMODAL_ROS_DISTRO:-jazzy}
case "$distro" in
  jazzy|kilted) ;;
  *) echo "XMODAL_ROS_DISTRO=$distro: choose jazzy (default) or kilted" >&2; exit 2 ;;
esac
if [ "$distro" = jazzy ]; then venv_default="$root/.venv"; else venv_default="$root/.venv-$distro"; fi
venv=${XMODAL_VENV:-$venv_default}
