"""manage.py api_key_create: the first key of a tenant without the web UI."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.api.models import ApiKey

from .conftest import ALPHA_HOST

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_the_command_prints_only_a_working_key(api_client, alpha_user):
    out, err = StringIO(), StringIO()
    call_command(
        "api_key_create",
        tenant="alpha",
        user=alpha_user.username,
        name="bench",
        scopes="query,ingest",
        expires_in_days=1,
        rate_limit=["query=1000:100"],
        stdout=out,
        stderr=err,
    )

    key = out.getvalue().strip()
    row = ApiKey.objects.get(prefix=key.split("_")[1])
    assert (row.scopes, row.rate_limits["query"]["capacity"]) == (["ingest", "query"], 1000)
    assert row.expires_at is not None
    assert "shown once" in err.getvalue()
    assert api_client.get("/api/v1/documents", HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=key).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tenant": "nowhere", "user": "admin"}, "no active tenant"),
        ({"tenant": "alpha", "user": "ghost"}, "no active user"),
        ({"tenant": "alpha", "user": "admin", "scopes": "root"}, "choose one or more"),
        ({"tenant": "alpha", "user": "admin", "rate_limit": ["query=lots"]}, "CLASS=CAPACITY"),
    ],
)
def test_bad_options_fail_clearly_and_create_nothing(tenant_alpha, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_key_create", name="x", stdout=StringIO(), stderr=StringIO(), **options)
    assert not ApiKey.objects.exists()
