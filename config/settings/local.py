"""Development: the loopback services started by `make services` (var/dev/services.env)."""

from .environment import read_env_files

read_env_files("dev")

from .base import *  # noqa: E402,F403
from .environment import env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
