"""The web process loads the embedding model before it takes traffic, and starts even if it cannot."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from apps.integrations.embeddings.factory import close_embedders
from apps.webserver.serving import warm_up
from tests.support.embedded import devservices


@pytest.fixture(autouse=True)
def fresh_embedders():
    close_embedders()
    yield
    close_embedders()


def test_warm_up_loads_the_model(caplog):
    with caplog.at_level(logging.INFO, logger="apps.webserver.serving"):
        warm_up()
    assert "embedding model loaded" in caplog.text


def test_an_unreachable_embedder_is_logged_and_does_not_stop_the_server(caplog):
    unreachable = f"http://127.0.0.1:{devservices.free_loopback_port()}/v1"  # nothing listens there
    with (
        override_settings(
            EMBEDDER_BACKEND="apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
            REMOTE_EMBEDDINGS_URL=unreachable,
            REMOTE_EMBEDDINGS_TIMEOUT=1.0,
        ),
        caplog.at_level(logging.INFO, logger="apps.webserver.serving"),
    ):
        warm_up()  # returns instead of raising
    assert "warm-up failed" in caplog.text
    assert "embedding model loaded" not in caplog.text
