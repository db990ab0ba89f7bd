"""Fusion weights come from each leg's confidence in the question, measured against the tenant's own corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from apps.documents.index_state import IndexSnapshot, index_snapshot
from apps.retrieval.calibration import (
    FusionModel,
    LegCurve,
    corpus_sample,
    dense_signal,
    fusion_model,
    fusion_parameters,
    keyword_signal,
    leg_weights,
)
from apps.retrieval.legs.base import Candidate
from apps.tenants.context import in_tenant
from tests.retrieval.corpus import document_ingest
from tests.support.committed import committed_tenant

ROOT = Path(__file__).resolve().parents[2]
MODEL = FusionModel(
    dense=LegCurve(slope=1.0, intercept=-4.0), keyword=LegCurve(slope=1.0, intercept=-2.0), graph_share=0.5, rrf_k=5.0
)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_the_same_cosine_counts_for_less_in_a_corpus_whose_passages_all_resemble_the_question():
    rng = np.random.default_rng(0)
    question = unit(rng.normal(size=64))
    spread = np.array([unit(rng.normal(size=64)) for _ in range(200)])
    alike = np.array([unit(question + 0.8 * unit(rng.normal(size=64))) for _ in range(200)])

    assert dense_signal(0.8, question, spread) > dense_signal(0.8, question, alike) + 1.0
    assert dense_signal(0.8, question, spread[:1]) == 0.0  # no spread to measure against


def test_a_first_keyword_hit_that_stands_out_is_a_surer_signal_than_a_flat_list():
    assert keyword_signal([12.0, 4.0, 3.9, 3.8, 3.7]) > keyword_signal([5.0, 4.9, 4.8, 4.7, 4.6]) > 0
    assert keyword_signal([9.0, 1.0]) == 0.0  # too few hits to tell


def test_the_surer_leg_weighs_more_and_the_graph_counts_a_share_of_the_surest():
    sure_keyword = leg_weights(MODEL, dense=1.0, keyword=6.0)
    sure_dense = leg_weights(MODEL, dense=8.0, keyword=0.5)

    assert sure_keyword["keyword"] > sure_keyword["dense"]
    assert sure_dense["dense"] > sure_dense["keyword"]
    assert sure_dense["graph"] == pytest.approx(0.5 * sure_dense["dense"])
    assert leg_weights(MODEL, dense=None, keyword=None) == {"graph": 0.5}


@override_settings(RETRIEVAL_FUSION="fixed", RETRIEVAL_LEG_WEIGHTS={"dense": 1.0, "keyword": 0.3}, RETRIEVAL_RRF_K=9.0)
def test_fixed_fusion_uses_the_configured_weights_for_every_question():
    weights, rrf_k = fusion_parameters(
        candidates={"keyword": [Candidate(1, 9.0), Candidate(2, 1.0), Candidate(3, 0.5)]},
        question_vector=None,
        tenant="any",
        corpus=IndexSnapshot(),
    )
    assert (weights, rrf_k) == ({"dense": 1.0, "keyword": 0.3}, 9.0)


def test_the_shipped_model_reads_and_its_curves_rise_with_confidence():
    model = fusion_model()
    assert model.dense.slope > 0
    assert model.keyword.slope > 0
    assert 0 < model.graph_share <= 1
    assert model.rrf_k > 0
    assert 0 < model.dense.probability(0.0) < model.dense.probability(10.0) < 1


@pytest.mark.integration
def test_the_corpus_sample_is_the_tenants_unit_vectors_read_again_when_the_corpus_has_grown(
    django_db_setup, django_db_blocker
):
    with django_db_blocker.unblock(), committed_tenant("cal") as tenant, in_tenant(tenant.schema_name):
        document_ingest(filename="leave.md", text="# Leave\n\nEmployees get 28 days of leave.", visible_to_tenant=True)
        first = index_snapshot()
        sample = corpus_sample(tenant=tenant.schema_name, corpus=first)
        assert sample.shape == (first.chunk_count, 384)
        assert np.allclose(np.linalg.norm(sample, axis=1), 1.0, atol=1e-5)
        assert corpus_sample(tenant=tenant.schema_name, corpus=first) is sample  # read once

        for topic in ("Travel", "Expenses"):  # the corpus triples: the sample no longer speaks for it
            document_ingest(filename=f"{topic}.md", text=f"# {topic}\n\nPaid up to EUR 180.", visible_to_tenant=True)
        grown = index_snapshot()
        assert grown.chunk_count > 2 * first.chunk_count
        assert corpus_sample(tenant=tenant.schema_name, corpus=grown).shape == (grown.chunk_count, 384)


def test_an_unknown_fusion_mode_stops_the_process_with_a_clear_message():
    environment = {**os.environ, "RETRIEVAL_FUSION": "average", "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    finished = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode != 0
    assert "RETRIEVAL_FUSION must be 'calibrated' or 'fixed', not 'average'" in finished.stderr
