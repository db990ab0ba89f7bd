"""The compliance views of the admin: view-only, filtered, exported (and audited), one tenant each."""

from __future__ import annotations

import csv
import io

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import COMPLIANCE_GROUP
from apps.audit.services import audit_event_record
from tests.audit.helpers import new_events

from .conftest import compliance_officer

pytestmark = pytest.mark.django_db
EVENTS = "/admin/audit/auditevent/"
CHANGES = "/admin/auditlog/logentry/"


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def alpha_events(tenant_alpha):
    with schema_context("alpha"):
        return [
            audit_event_record(action="test.visible_in_alpha", target="alpha thing"),
            audit_event_record(action="test.other_action", target="second alpha thing", outcome="failure"),
        ]


@pytest.fixture
def beta_event(tenant_beta):
    with schema_context("beta"):
        return audit_event_record(action="test.only_in_beta", target="beta secret")


def test_the_compliance_group_holds_view_permissions_only(tenant_alpha):
    from django.contrib.auth.models import Group

    with schema_context("alpha"):
        codenames = set(Group.objects.get(name=COMPLIANCE_GROUP).permissions.values_list("codename", flat=True))
    assert codenames == {"view_auditevent", "view_logentry", "view_querylog", "view_feedback"}


def test_compliance_staff_see_the_audit_trail_and_change_log(officer_client, alpha_events):
    listing = officer_client.get(EVENTS)
    detail = officer_client.get(f"{EVENTS}{alpha_events[0].pk}/change/")
    changes = officer_client.get(CHANGES)

    assert listing.status_code == 200
    assert "test.visible_in_alpha" in listing.content.decode()
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # read-only: no save button
    assert changes.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"{EVENTS}add/"),
        ("post", f"{EVENTS}{{pk}}/change/"),
        ("get", f"{EVENTS}{{pk}}/delete/"),
        ("post", f"{EVENTS}{{pk}}/delete/"),
        ("get", "/admin/accounts/user/"),
        ("get", "/admin/documents/document/"),
    ],
)
def test_compliance_staff_cannot_add_change_or_delete_or_manage_anything_else(
    officer_client, alpha_events, method, path
):
    response = getattr(officer_client, method)(path.format(pk=alpha_events[0].pk), {"action": "x"})
    assert response.status_code == 403


def test_nobody_deletes_audit_events_in_the_admin_not_even_the_tenant_admin(admin_client, alpha_events):
    assert admin_client.get(f"{EVENTS}{alpha_events[0].pk}/delete/").status_code == 403
    page = admin_client.get(EVENTS).content.decode()
    assert "delete_selected" not in page


def _listed(client, path, params=None) -> set[str]:
    response = client.get(path, params or {})
    assert response.status_code == 200
    return {row.action for row in response.context["cl"].result_list}


def test_filters_by_action_outcome_date_and_user(officer_client, alpha_events, tenant_alpha):
    from apps.accounts.models import User

    with schema_context("alpha"):
        admin_user = User.objects.get(username="admin")
        audit_event_record(action="test.by_admin", actor=admin_user)
    today = alpha_events[0].created_at.date().isoformat()

    assert _listed(officer_client, EVENTS, {"action": "test.other_action"}) == {"test.other_action"}
    assert "test.visible_in_alpha" not in _listed(officer_client, EVENTS, {"outcome__exact": "failure"})
    assert _listed(officer_client, EVENTS, {"user": str(admin_user.pk)}) == {"test.by_admin"}
    in_range = _listed(officer_client, EVENTS, {"created_at__date__gte": today, "created_at__date__lte": today})
    assert "test.visible_in_alpha" in in_range
    assert _listed(officer_client, EVENTS, {"created_at__date__lte": "2000-01-01"}) == set()


def test_search_finds_by_target(officer_client, alpha_events):
    assert _listed(officer_client, EVENTS, {"q": "second alpha"}) == {"test.other_action"}


def test_the_csv_export_is_the_filtered_list_and_is_itself_audited(officer_client, alpha_events):
    with new_events() as events:
        response = officer_client.get(f"{EVENTS}export-csv/", {"action": "test.other_action"})
        rows = _csv(response)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert [row["action"] for row in rows] == ["test.other_action"]
    assert rows[0]["hash"] == alpha_events[1].hash
    assert events.actions() == ["export.csv"]
    export = events[0]
    assert export.actor_id == officer_client.officer.pk
    assert export.details["rows"] == 1
    assert export.details["filters"] == {"action": ["test.other_action"]}


def test_the_export_action_exports_the_selected_rows(officer_client, alpha_events):
    with new_events() as events:
        response = officer_client.post(
            EVENTS, {"action": "export_selected_csv", "_selected_action": [alpha_events[0].pk]}
        )
        rows = _csv(response)

    assert [row["sequence"] for row in rows] == [str(alpha_events[0].sequence)]
    assert events.actions() == ["export.csv"]


def test_the_change_log_exports_too(officer_client, tenant_alpha):
    with new_events() as events:
        response = officer_client.get(f"{CHANGES}export-csv/")
        _csv(response)
    assert response.status_code == 200
    assert events.actions() == ["export.csv"]


def test_a_bad_date_is_a_clear_error(officer_client, alpha_events):
    response = officer_client.get(f"{EVENTS}export-csv/", {"created_at__date__gte": "last tuesday"})
    assert response.status_code == 400
    assert b"YYYY-MM-DD" in response.content


def test_formulas_in_exported_cells_are_neutralised(officer_client, tenant_alpha):
    with schema_context("alpha"):
        audit_event_record(action="test.formula", target='=HYPERLINK("http://evil")')
    rows = _csv(officer_client.get(f"{EVENTS}export-csv/", {"action": "test.formula"}))
    assert rows[0]["target_label"].startswith("'=")


def test_each_tenant_admin_lists_and_exports_only_its_own_trail(officer_client, alpha_events, beta_event):
    listed = _listed(officer_client, EVENTS)
    exported = _csv(officer_client.get(f"{EVENTS}export-csv/"))
    other_tenants_row = officer_client.get(f"{EVENTS}{beta_event.pk}/change/")

    assert "test.visible_in_alpha" in listed
    assert "test.only_in_beta" not in listed
    assert "test.only_in_beta" not in officer_client.get(EVENTS).content.decode()
    assert "beta" not in {row["tenant_schema"] for row in exported}
    assert {row["tenant_schema"] for row in exported} == {"alpha"}
    # Row ids are per schema: the same id in alpha is alpha's own row, never beta's.
    assert "beta secret" not in other_tenants_row.content.decode()


def test_an_officer_of_one_tenant_is_nobody_on_another(client, tenant_alpha, tenant_beta, beta_event):
    officer = compliance_officer("alpha", "alpha-officer")
    with schema_context("alpha"):
        client.force_login(officer)

    response = client.get(EVENTS, HTTP_HOST="beta.localhost")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
