"""The factory that picks the embedder named in settings and wraps it in the cache."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.core.errors import AdapterConfigurationError
from apps.integrations.embeddings.cache import CachedEmbedder
from apps.integrations.embeddings.factory import close_embedders, embedder
from apps.integrations.embeddings.onnx_minilm import MODEL_NAME, OnnxMiniLMEmbedder
from apps.integrations.embeddings.remote import OpenAICompatibleEmbedder

from .embedding_support import API_KEY, DIMENSIONS


@pytest.fixture
def fresh_factory() -> Iterator[None]:
    close_embedders()
    yield
    close_embedders()


def test_factory_defaults_to_the_cached_onnx_model(fresh_factory):
    chosen = embedder()

    assert isinstance(chosen, CachedEmbedder)
    assert isinstance(chosen.inner, OnnxMiniLMEmbedder)
    assert chosen.model_name == MODEL_NAME
    assert chosen.dimensions == DIMENSIONS
    assert embedder() is chosen  # one per process for the same settings


@pytest.mark.integration
def test_factory_picks_the_backend_named_in_settings(fresh_factory, server):
    default = embedder()
    remote_settings = {
        "EMBEDDER_BACKEND": "apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
        "REMOTE_EMBEDDINGS_URL": server.url,
        "REMOTE_EMBEDDINGS_API_KEY": API_KEY,
        "REMOTE_EMBEDDINGS_MODEL": f"fake-{uuid.uuid4().hex[:8]}",
    }

    with override_settings(**remote_settings):
        chosen = embedder()
        vector = chosen.embed_query("through the factory")

    assert isinstance(chosen, CachedEmbedder)
    assert isinstance(chosen.inner, OpenAICompatibleEmbedder)
    assert chosen.model_name == remote_settings["REMOTE_EMBEDDINGS_MODEL"]
    assert vector.shape == (DIMENSIONS,)
    assert len(server.requests) == 1
    assert embedder() is default  # back to the default once the override ends


def test_factory_reports_an_unloadable_backend(fresh_factory):
    with (
        override_settings(EMBEDDER_BACKEND="apps.integrations.embeddings.nowhere.Missing"),
        pytest.raises(AdapterConfigurationError),
    ):
        embedder()
