"""Documents: list and search, upload, one document with its passages, and who may view it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from apps.documents.models import Chunk, Document
from apps.documents.selectors import document_for_user, document_managed_by
from apps.documents.services import document_access_grant, document_access_revoke, document_visibility_set
from apps.ingestion.services import UploadedFile, UploadRejected, documents_upload

from ..forms import AccessChangeForm, DocumentSearchForm, UploadForm
from ..selectors import document_viewers, documents_search_for_user, jobs_recent_for_user
from .strings import job_strings

DOCUMENTS_PER_PAGE = 25
CHUNKS_PER_PAGE = 100


def _visible_document(request: HttpRequest, document_id: int) -> Document:
    try:
        return document_for_user(user=request.user, document_id=document_id)  # type: ignore[arg-type]
    except Document.DoesNotExist:
        raise Http404(_("No such document.")) from None


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    form = DocumentSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    documents = documents_search_for_user(user=request.user, query=query)  # type: ignore[arg-type]
    page = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/documents/list.html", {"form": form, "query": query, "page": page})


@login_required
@require_http_methods(["GET", "POST"])
def document_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST" and form.is_valid():
        uploads = [
            UploadedFile(filename=file.name, data=file.read(), declared_media_type=file.content_type or "")
            for file in form.cleaned_data["uploads"]
        ]
        try:
            jobs = documents_upload(
                uploads=uploads,
                uploaded_by=request.user,  # type: ignore[arg-type]
                visible_to_tenant=form.cleaned_data["visible_to_tenant"],
            )
        except UploadRejected as rejection:
            form.add_error("uploads", rejection.message)
        else:
            count = len(jobs)
            messages.success(
                request, ngettext("%(count)d file received.", "%(count)d files received.", count) % {"count": count}
            )
            return redirect("portal:upload")
    status = 400 if form.errors else 200
    recent = jobs_recent_for_user(user=request.user)  # type: ignore[arg-type]
    context = {"form": form, "jobs": recent, "strings": job_strings()}
    return render(request, "portal/documents/upload.html", context, status=status)


@login_required
def document_detail(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _visible_document(request, document_id)
    return _detail(request, document, AccessChangeForm(initial={"action": AccessChangeForm.GRANT, "kind": "user"}))


def _detail(request: HttpRequest, document: Document, access_form: AccessChangeForm, status: int = 200) -> HttpResponse:
    chunks = Chunk.objects.filter(document=document).only("id", "ordinal", "text", "heading_path").order_by("ordinal")
    page_number = request.GET.get("page") or _page_of_chunk(document, request.GET.get("chunk"))
    manages = document_managed_by(user=request.user, document=document)  # type: ignore[arg-type]
    context = {
        "document": document,
        "page": Paginator(chunks, CHUNKS_PER_PAGE).get_page(page_number),
        "cited_chunk": request.GET.get("chunk", ""),
        "manages": manages,
        "viewers": document_viewers(document=document) if manages else None,
        "access_form": access_form,
        "truncated": bool(((document.metadata or {}).get("parse") or {}).get("truncated")),
    }
    return render(request, "portal/documents/detail.html", context, status=status)


def _page_of_chunk(document: Document, chunk_id: str | None) -> int:
    """The page holding a cited passage, so a citation link lands on it."""
    if not chunk_id or not chunk_id.isdigit():
        return 1
    ordinal = Chunk.objects.filter(document=document, pk=int(chunk_id)).values_list("ordinal", flat=True).first()
    if ordinal is None:
        return 1
    return Chunk.objects.filter(document=document, ordinal__lt=ordinal).count() // CHUNKS_PER_PAGE + 1


@login_required
@require_POST
def document_access(request: HttpRequest, document_id: int) -> HttpResponse:
    """Grant or revoke viewing for a user or group, or share with the whole company."""
    document = _visible_document(request, document_id)
    if not document_managed_by(user=request.user, document=document):  # type: ignore[arg-type]
        raise PermissionDenied(_("Only the document's owners and administrators manage who may view it."))
    if request.POST.get("action") == "visibility":
        visible = request.POST.get("visible_to_tenant") == "on"
        document_visibility_set(document=document, visible_to_tenant=visible, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Company-wide access updated."))
        return redirect("portal:document_detail", document_id=document.pk)
    form = AccessChangeForm(request.POST)
    if not form.is_valid():
        return _detail(request, document, form, status=400)
    principal = form.cleaned_data["principal"]
    if form.cleaned_data["action"] == AccessChangeForm.GRANT:
        document_access_grant(document=document, principal=principal, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("%(name)s may now view this document.") % {"name": form.cleaned_data["name"]})
    else:
        try:
            document_access_revoke(document=document, principal=principal, actor=request.user)  # type: ignore[arg-type]
        except PermissionDenied:
            # They hold change or delete rights here that the actor does not: not the actor's to take.
            messages.error(
                request,
                _("%(name)s holds rights here that you do not; you cannot take their access away.")
                % {"name": form.cleaned_data["name"]},
            )
            return redirect("portal:document_detail", document_id=document.pk)
        messages.success(request, _("%(name)s may no longer view this document.") % {"name": form.cleaned_data["name"]})
    return redirect("portal:document_detail", document_id=document.pk)
