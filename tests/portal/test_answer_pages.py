"""Sign-in, the Ask page without JavaScript, History, Feedback and the language switch.

The tenant's data is committed (retrieval runs its legs on other threads), so each test makes its
own users; answers come from the real pipeline with the offline extractive provider.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.answers.models import QueryLog
from apps.documents.models import Document
from apps.documents.services import document_access_revoke
from apps.feedback.models import Feedback
from apps.ingestion.services import UploadedFile, documents_upload

from .conftest import member_of

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("committed_db", "handbook")]

PASSWORD = "a long test password"


def client_for(site, member=None, **headers) -> Client:
    client = Client(HTTP_HOST=site.host, **headers)
    if member is not None:
        client.cookies["sessionid"] = member.session_key
    return client


def ask(site, member, question: str) -> int:
    response = client_for(site, member).post("/ask/", {"question": question})
    assert response.status_code == 200
    match = re.search(r'action="/history/(\d+)/feedback/"', response.content.decode())
    assert match, "the answer page offers feedback on the new query"
    return int(match.group(1))


def test_sign_in_and_out_on_the_tenants_host(site):
    member = member_of(site, username="signin-user")
    client = client_for(site)
    assert client.get("/ask/")["Location"] == "/accounts/login/?next=/ask/"
    refused = client.post("/accounts/login/", {"username": "signin-user", "password": "wrong password"})
    assert refused.status_code == 200
    assert 'role="alert"' in refused.content.decode()
    signed_in = client.post("/accounts/login/", {"username": "signin-user", "password": PASSWORD})
    assert signed_in["Location"] == "/ask/"
    assert member.user.username in client.get("/ask/").content.decode()
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert client.get("/ask/").status_code == 302


def test_the_same_credentials_mean_nothing_on_another_tenants_host(site, provisioned_tenants):
    member_of(site, username="only-here")
    other = Client(HTTP_HOST="alpha.localhost")
    response = other.post("/accounts/login/", {"username": "only-here", "password": PASSWORD})
    assert response.status_code == 200  # the form again: alpha has no such user
    assert other.get("/ask/").status_code == 302


def test_asking_without_javascript_renders_a_cited_answer(site):
    member = member_of(site)
    page = client_for(site, member).post("/ask/", {"question": "What is the refund policy?"}).content.decode()
    assert "30 days" in page
    citation = re.search(r'<a class="cite" href="(/documents/\d+/\?chunk=(\d+)#chunk-\d+)"', page)
    assert citation, "inline [n] markers link to the cited passage"
    passage = client_for(site, member).get(citation.group(1)).content.decode()
    assert f'id="chunk-{citation.group(2)}" class="chunk chunk-cited"' in passage


def test_a_near_miss_is_refused_and_names_where_to_look(site, settings):
    settings.ANSWER_EVIDENCE_MIN_CONFIDENCE = 0.999  # the refund question's evidence becomes borderline
    member = member_of(site)
    page = client_for(site, member).post("/ask/", {"question": "What is the refund policy?"}).content.decode()
    assert "There is not enough evidence in your documents to answer this." in page
    related = re.search(r'<section id="related"[^>]*>(.*?)</section>', page, re.DOTALL)
    assert related
    assert "hidden" not in related.group(0).split(">")[0]
    assert re.search(r'<a href="/documents/\d+/\?chunk=\d+#chunk-\d+">Customer Refund Policy', related.group(1))
    assert "30 days" not in related.group(1)  # titles and sections only, no passage text


def test_an_empty_question_is_refused_with_a_message(site):
    member = member_of(site)
    response = client_for(site, member).post("/ask/", {"question": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_history_lists_only_the_users_own_questions(site):
    me, someone = member_of(site), member_of(site)
    mine = ask(site, me, "How many days of annual leave do I get?")
    theirs = ask(site, someone, "What is the refund policy?")
    page = client_for(site, me).get("/history/").content.decode()
    assert "How many days of annual leave do I get?" in page
    assert "What is the refund policy?" not in page
    assert client_for(site, me).get(f"/history/{mine}/").status_code == 200
    assert client_for(site, me).get(f"/history/{theirs}/").status_code == 404


def test_feedback_is_stored_for_own_answers_only(site):
    me, someone = member_of(site), member_of(site)
    query_id = ask(site, me, "What is the refund policy?")
    response = client_for(site, me, HTTP_ACCEPT="application/json").post(
        f"/history/{query_id}/feedback/", {"rating": "-1", "comment": "Missing the chargeback rule."}
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True
    with schema_context(site.schema):
        feedback = Feedback.objects.get(query_id=query_id)
        assert (feedback.rating, feedback.comment, feedback.user_id) == (-1, "Missing the chargeback rule.", me.user.pk)

    assert client_for(site, someone).post(f"/history/{query_id}/feedback/", {"rating": "1"}).status_code == 404
    bad = client_for(site, me, HTTP_ACCEPT="application/json").post(f"/history/{query_id}/feedback/", {"rating": "5"})
    assert bad.status_code == 400
    assert "rating" in bad.json()["errors"]
    # Without JavaScript the form posts and lands back on the answer.
    assert client_for(site, me).post(f"/history/{query_id}/feedback/", {"rating": "1"})["Location"] == (
        f"/history/{query_id}/"
    )
    with schema_context(site.schema):
        assert QueryLog.objects.get(pk=query_id).user_id == me.user.pk


def test_the_language_comes_from_the_browser_and_can_be_switched(site):
    member = member_of(site)
    german = client_for(site, member, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").get("/documents/").content.decode()
    assert '<html lang="de">' in german
    assert ">Dokumente<" in german
    assert "Abmelden" in german

    client = client_for(site, member)
    assert '<html lang="en">' in client.get("/ask/").content.decode()
    switched = client.post("/i18n/setlang/", {"language": "de", "next": "/ask/"})
    assert switched["Location"] == "/ask/"
    page = client.get("/ask/").content.decode()
    assert '<html lang="de">' in page
    assert "Fragen Sie Ihre Dokumente" in page


def test_the_pages_use_one_local_stylesheet_and_script(site):
    member = member_of(site)
    page = client_for(site, member).get("/ask/").content.decode()
    # The collectstatic manifest's content-hashed names: cached for a year, changed with the file.
    assert re.fullmatch(
        r"/static/css/portal\.[0-9a-f]{12}\.css", " ".join(re.findall(r'<link rel="stylesheet" href="([^"]+)"', page))
    )
    assert re.fullmatch(r"/static/js/portal\.[0-9a-f]{12}\.js", " ".join(re.findall(r'<script src="([^"]+)"', page)))
    assert "http://" not in page.split("<body>")[0]
    assert "https://" not in page.split("<body>")[0]


def test_history_withholds_an_answer_whose_source_the_user_can_no_longer_open(site):
    """Attack pass, hole 7: the answer's text quotes the passage, so it goes when access to the passage goes."""
    me = member_of(site)
    with schema_context(site.schema):
        upload = UploadedFile(
            filename="falcon-bonus.md",
            data=b"# Falcon bonus\n\nThe Falcon project bonus is paid out on 17 March to every team member.",
        )
        job = documents_upload(uploads=[upload], uploaded_by=me.user, visible_to_tenant=False)[0]
        document = Document.objects.get(pk=job.document_id)
    query_id = ask(site, me, "When is the Falcon project bonus paid out?")
    assert "17 March" in client_for(site, me).get(f"/history/{query_id}/").content.decode()

    with schema_context(site.schema):
        document_access_revoke(document=document, principal=me.user)
    page = client_for(site, me).get(f"/history/{query_id}/").content.decode()

    assert "17 March" not in page
    assert "can no longer open" in page


def test_form_questions_draw_from_the_same_budget_as_every_other_way_to_ask(site, settings):
    """Attack pass, hole 8: the portal limited concurrent streams but not questions."""
    settings.API_RATE_LIMITS = {
        **settings.API_RATE_LIMITS,
        "query": {**settings.API_RATE_LIMITS["query"], "principal": {"capacity": 2, "refill_per_second": 0.001}},
    }
    me = member_of(site)
    first = client_for(site, me).post("/ask/", {"question": "What is the refund policy?"})
    second = client_for(site, me).post("/ask/", {"question": "What is the refund policy?"})
    third = client_for(site, me).post("/ask/", {"question": "What is the refund policy?"})
    someone_else = client_for(site, member_of(site)).post("/ask/", {"question": "What is the refund policy?"})

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert int(third["Retry-After"]) >= 1
    assert "too quickly" in third.content.decode()
    assert someone_else.status_code == 200  # the budget is the user's
