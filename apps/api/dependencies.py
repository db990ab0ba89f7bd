"""What the views depend on, built from settings on each call (roadmap 2.1: no module-level
singletons, so tests and deployments swap them with settings alone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


def answer_service() -> Callable[..., Any]:
    """`answer_question` (apps.answers.services) unless settings.API_ANSWER_SERVICE names another."""
    return import_string(settings.API_ANSWER_SERVICE)


def feedback_service() -> Callable[..., Any]:
    """`feedback_submit` (apps.feedback.services) unless settings.API_FEEDBACK_SERVICE names another."""
    return import_string(settings.API_FEEDBACK_SERVICE)
