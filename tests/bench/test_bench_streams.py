"""`manage.py bench_streams` against a live daphne server: it reports, and nothing fails."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.answers.models import QueryLog
from apps.bench.streams import BENCH_USER_PREFIX
from tests.portal.live import live_portal

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("committed_db")]


def test_the_benchmark_streams_answers_and_measures_cancellation(site, handbook, tmp_path):
    started = timezone.now()
    with live_portal(log_path=tmp_path / "daphne.log") as server:
        output = io.StringIO()
        call_command(
            "bench_streams",
            url=server.ws_url(site.host),
            concurrency=3,
            users_per_client=2,
            seconds=2,
            cancel_probes=2,
            stdout=output,
        )
    report = json.loads(output.getvalue())
    with schema_context(site.schema):
        askers = set(
            QueryLog.objects.filter(user__username__startswith=BENCH_USER_PREFIX, created_at__gte=started)
            .values_list("user_id", flat=True)
            .distinct()
        )
    assert len(askers) == 6  # every client's two users took turns
    assert report["failed"] == 0, report["errors"]
    assert report["completed"] >= 3
    assert report["ttft_ms"]["p50"] is not None
    assert report["ttft_ms"]["p95"] >= report["ttft_ms"]["p50"]
    assert report["cancel"]["probes"] == 2
    assert report["cancel"]["released"] + report["cancel"]["finished_before_cancel"] == 2


def test_the_benchmark_refuses_bad_targets(site):
    with pytest.raises(CommandError, match="ws:// or wss://"):
        call_command("bench_streams", url="http://example.com/ws/ask/")
    with pytest.raises(CommandError, match="No tenant serves"):
        call_command("bench_streams", url="ws://nobody.localhost:9/ws/ask/")
    with pytest.raises(CommandError, match="--concurrency"):
        call_command("bench_streams", url=f"ws://{site.host}:9/ws/ask/", concurrency=0)
