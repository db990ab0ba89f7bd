"""Documents and ingestion jobs: upload, follow, list, read, delete, share."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.documents.models import Document
from apps.documents.selectors import document_for_user, document_permission_held, documents_visible_to
from apps.documents.services import GRANTABLE_PERMISSIONS, documents_delegated_upload_record
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, UploadRejected, documents_upload

from ..document_changes import (
    DocumentPermissions,
    document_permissions_get,
    document_permissions_replace,
    document_remove,
)
from ..selectors import ingestion_job_for_user
from .base import ApiListView, ApiView, validated
from .schema import errors


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"
    default_detail = "A file is larger than the upload limit."


class UploadInvalid(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "upload_rejected"
    default_detail = "The upload was rejected."


class DocumentOutput(serializers.ModelSerializer):
    version = serializers.IntegerField(source="current_version.number", allow_null=True, default=None)

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "source",
            "media_type",
            "status",
            "size_bytes",
            "visible_to_tenant",
            "version",
            "created_at",
            "updated_at",
        ]


class JobErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class JobOutput(serializers.Serializer):
    job_id = serializers.UUIDField(source="pk")
    document_id = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField()
    status = serializers.ChoiceField(choices=IngestionJob.Status.choices)
    stage = serializers.CharField()
    progress = serializers.FloatField()
    attempts = serializers.IntegerField()
    error = serializers.SerializerMethodField()
    chunk_count = serializers.IntegerField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(JobErrorOutput(allow_null=True))
    def get_error(self, job: IngestionJob) -> dict | None:
        if not job.error_code and not job.error_message:
            return None
        return {"code": job.error_code, "message": job.error_message}


class QueuedJobOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    document_id = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField()
    status = serializers.ChoiceField(choices=IngestionJob.Status.choices)
    status_url = serializers.URLField()


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads an unreadable length as 0 too


class IngestApi(ApiView):
    """Upload one or more files (multipart field `files`); each gets an ingestion job."""

    route_class = required_scope = "ingest"
    parser_classes = (MultiPartParser,)

    class IngestInput(serializers.Serializer):
        files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), allow_empty=False)
        visible_to_tenant = serializers.BooleanField(default=False, help_text="everyone in the company may view")

        def validate_files(self, files):
            if len(files) > settings.API_INGEST_MAX_FILES:
                raise serializers.ValidationError(f"send at most {settings.API_INGEST_MAX_FILES} files per request")
            return files

    class IngestOutput(serializers.Serializer):
        jobs = QueuedJobOutput(many=True)

    @extend_schema(
        operation_id="documents_ingest",
        request={"multipart/form-data": IngestInput},
        responses={202: IngestOutput, **errors(400, 413)},
    )
    def post(self, request):
        limit = settings.INGESTION_MAX_UPLOAD_BYTES
        # Refuse an oversized body before it is parsed (and spooled to disk); 64 KiB for the form itself.
        if _declared_length(request) > limit * settings.API_INGEST_MAX_FILES + 65536:
            raise PayloadTooLarge(
                f"The request is larger than {settings.API_INGEST_MAX_FILES} files of the upload limit."
            )
        data = validated(self.IngestInput, request.data)
        for upload in data["files"]:
            if upload.size > limit:  # refuse before reading the bytes
                raise PayloadTooLarge(f"{upload.name!r} is larger than the {limit // 1_048_576} MB upload limit.")
        uploads = [
            UploadedFile(filename=upload.name or "", data=upload.read(), declared_media_type=upload.content_type or "")
            for upload in data["files"]
        ]
        try:
            with transaction.atomic():
                jobs = documents_upload(
                    uploads=uploads, uploaded_by=request.user, visible_to_tenant=data["visible_to_tenant"]
                )
                stored = [(job.document_id, job.version.number) for job in jobs if job.version and job.document_id]
                documents_delegated_upload_record(versions=stored, delegated_by=request.auth.delegated_by)
        except UploadRejected as rejected:
            error = PayloadTooLarge if rejected.code == "file_too_large" else UploadInvalid
            raise error(rejected.message, code=rejected.code) from None
        queued = [
            {
                "job_id": job.pk,
                "document_id": job.document_id,
                "filename": job.filename,
                "status": job.status,
                "status_url": reverse("api:job-detail", kwargs={"job_id": job.pk}, request=request),
            }
            for job in jobs
        ]
        return Response({"jobs": queued}, status=status.HTTP_202_ACCEPTED)


class JobApi(ApiView):
    route_class = required_scope = "ingest"

    @extend_schema(operation_id="jobs_retrieve", responses={200: JobOutput, **errors(404)})
    def get(self, request, job_id):
        return Response(JobOutput(ingestion_job_for_user(user=request.user, job_id=job_id)).data)


class DocumentListApi(ApiListView):
    route_class = required_scope = "ingest"

    class DocumentFilters(serializers.Serializer):
        type = serializers.CharField(required=False, max_length=200, help_text="media type, e.g. application/pdf")
        status = serializers.ChoiceField(choices=Document.Status.choices, required=False)
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="documents_list",
        parameters=[DocumentFilters, OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: DocumentOutput(many=True), **errors(400, 404)},
    )
    def get(self, request):
        filters = validated(self.DocumentFilters, request.query_params)
        documents = self._filtered(documents_visible_to(user=request.user), filters)
        page = self.paginate_queryset(documents.select_related("current_version").order_by("-created_at", "-pk"))
        return self.get_paginated_response(DocumentOutput(page, many=True).data)

    @staticmethod
    def _filtered(documents: QuerySet[Document], filters: dict) -> QuerySet[Document]:
        if "type" in filters:
            documents = documents.filter(media_type__iexact=filters["type"])
        if "status" in filters:
            documents = documents.filter(status=filters["status"])
        if "created_after" in filters:
            documents = documents.filter(created_at__gte=filters["created_after"])
        if "created_before" in filters:
            documents = documents.filter(created_at__lt=filters["created_before"])
        return documents


def _document_for_change(request, document_id: int, permission: str) -> Document:
    """404 if the caller cannot see the document, 403 if they see it but may not change it this way."""
    document = document_for_user(user=request.user, document_id=document_id)
    if not document_permission_held(user=request.user, document=document, permission=permission):
        raise PermissionDenied(f"You may view this document but not {permission.split('_')[0]} it.")
    return document


class DocumentApi(ApiView):
    route_class = required_scope = "ingest"

    @extend_schema(operation_id="documents_retrieve", responses={200: DocumentOutput, **errors(404)})
    def get(self, request, document_id):
        return Response(DocumentOutput(document_for_user(user=request.user, document_id=document_id)).data)

    @extend_schema(operation_id="documents_destroy", responses={204: None, **errors(404)})
    def delete(self, request, document_id):
        document = _document_for_change(request, document_id, "delete_document")
        document_remove(document=document, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


PERMISSION_CHOICES = sorted(GRANTABLE_PERMISSIONS)


class UserGrant(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSION_CHOICES), allow_empty=False)


class GroupGrant(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSION_CHOICES), allow_empty=False)


class PermissionsBody(serializers.Serializer):
    visible_to_tenant = serializers.BooleanField()
    users = UserGrant(many=True)
    groups = GroupGrant(many=True)

    def validate(self, attrs):
        for field, key in (("users", "username"), ("groups", "name")):
            names = [grant[key] for grant in attrs[field]]
            if len(names) != len(set(names)):
                raise serializers.ValidationError({field: [f"each {key} may appear once"]})
        return attrs


def _permissions_body(permissions: DocumentPermissions) -> dict:
    return {
        "visible_to_tenant": permissions.visible_to_tenant,
        "users": [{"username": name, "permissions": sorted(p)} for name, p in sorted(permissions.users.items()) if p],
        "groups": [{"name": name, "permissions": sorted(p)} for name, p in sorted(permissions.groups.items()) if p],
    }


class DocumentPermissionsApi(ApiView):
    """Who may view, change or delete the document. PUT replaces the whole set."""

    route_class = required_scope = "ingest"

    @extend_schema(operation_id="documents_permissions_retrieve", responses={200: PermissionsBody, **errors(404)})
    def get(self, request, document_id):
        document = document_for_user(user=request.user, document_id=document_id)
        return Response(_permissions_body(document_permissions_get(document=document)))

    @extend_schema(
        operation_id="documents_permissions_update",
        request=PermissionsBody,
        responses={200: PermissionsBody, **errors(400, 404)},
    )
    def put(self, request, document_id):
        document = _document_for_change(request, document_id, "change_document")
        data = validated(PermissionsBody, request.data)
        wanted = DocumentPermissions(
            visible_to_tenant=data["visible_to_tenant"],
            users={grant["username"]: frozenset(grant["permissions"]) for grant in data["users"]},
            groups={grant["name"]: frozenset(grant["permissions"]) for grant in data["groups"]},
        )
        result = document_permissions_replace(document=document, wanted=wanted, actor=request.user)
        return Response(_permissions_body(result))
