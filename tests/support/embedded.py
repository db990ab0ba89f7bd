"""Import the loopback service supervisor (docker/embedded/devservices.py) from tests."""

from __future__ import annotations

import sys
import warnings

from config.settings.environment import BASE_DIR

sys.path.insert(0, str(BASE_DIR / "docker" / "embedded"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import devservices

__all__ = ["devservices"]
