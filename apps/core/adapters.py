"""Load the backend a setting names, the way Django picks EMAIL_BACKEND.

Outside systems (embedder, LLM, graph store, keyword index) sit behind one adapter each; tests swap
them with `override_settings`, so nothing here may cache an instance across different settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .errors import AdapterConfigurationError


def backend_class(setting_name: str) -> type[Any]:
    dotted_path = getattr(settings, setting_name, None)
    if not dotted_path:
        raise AdapterConfigurationError(f"settings.{setting_name} is not set")
    try:
        return import_string(dotted_path)
    except ImportError as error:
        raise AdapterConfigurationError(
            f"settings.{setting_name}={dotted_path!r} cannot be imported: {error}"
        ) from error
