"""Building blocks of the compliance views in the Django admin (audit trail, query history, feedback).

Every compliance view is read-only for everybody (records are evidence; retention and erasure are
commands, not buttons), filters by user, date range and the view's own columns, and exports the
filtered list as CSV, which is itself recorded as an "export.csv" audit event.
Each tenant's admin runs in that tenant's schema, so it can only ever list that tenant's rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_date

from apps.audit.services import audit_event_record

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class DateRangeFilter(admin.FieldListFilter):
    """From / to dates (inclusive) on a date-time field."""

    template = "admin/compliance/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        self.parameter_from = f"{field_path}__date__gte"
        self.parameter_to = f"{field_path}__date__lte"
        self.value_from = _last(params.get(self.parameter_from))
        self.value_to = _last(params.get(self.parameter_to))
        self.preserved_parameters = [
            (name, value)
            for name, values in request.GET.lists()
            for value in values
            if name not in (self.parameter_from, self.parameter_to, "p")
        ]
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_from, self.parameter_to]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        bounds = {self.parameter_from: self.value_from, self.parameter_to: self.value_to}
        for lookup, text in bounds.items():
            if not text:
                continue
            day = _date_or_none(text)
            if day is None:
                raise IncorrectLookupParameters(f"{text!r} is not a date (use YYYY-MM-DD)")
            queryset = queryset.filter(**{lookup: day})
        return queryset

    def choices(self, changelist: Any) -> Iterator[Any]:
        yield from ()


def _last(values: Any) -> str:
    if isinstance(values, list):
        return str(values[-1]) if values else ""
    return str(values or "")


def _date_or_none(text: str) -> date | None:
    try:
        return parse_date(text)
    except ValueError:
        return None


class UserIdFilter(admin.SimpleListFilter):
    """Filter rows whose user is stored as a plain id (audit events keep ids, not foreign keys)."""

    title = "user"
    parameter_name = "user"
    id_field = "actor_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = model_admin.get_queryset(request).exclude(**{self.id_field: None}).values_list(self.id_field, flat=True)
        users = get_user_model()._default_manager.filter(pk__in=ids.distinct()).order_by("username")
        return [(str(user.pk), f"{user.username} (user:{user.pk})") for user in users[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters("the user filter takes a user id")
        return queryset.filter(**{self.id_field: int(value)})


class ComplianceAdmin(admin.ModelAdmin):
    """Read-only list and detail views with a CSV export of the filtered list."""

    change_list_template = "admin/compliance/compliance_change_list.html"
    csv_fields: tuple[str, ...] = ()
    actions = ["export_selected_csv"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        export = self.admin_site.admin_view(self.export_filtered_csv_view)
        return [path("export-csv/", export, name="{}_{}_export_csv".format(*info)), *super().get_urls()]

    def export_filtered_csv_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The list exactly as filtered and searched on the change list page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters as error:
            return HttpResponseBadRequest(f"Cannot export: {error}", content_type="text/plain")
        return self.csv_response(request, queryset, scope="filtered list")

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        return self.csv_response(request, queryset, scope="selection")

    def csv_response(self, request: HttpRequest, queryset: QuerySet, *, scope: str) -> StreamingHttpResponse:
        count = queryset.count()
        audit_event_record(
            action="export.csv",
            actor=request.user,
            target=f"{self.opts.app_label}.{self.opts.model_name}",
            request=request,
            details={
                "model": f"{self.opts.app_label}.{self.opts.model_name}",
                "rows": count,
                "scope": scope,
                "filters": {key: request.GET.getlist(key) for key in sorted(request.GET)},
            },
        )
        rows = self.csv_rows(queryset)
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.opts.model_name}-export.csv"'
        return response

    def csv_rows(self, queryset: QuerySet) -> Iterator[list[Any]]:
        yield list(self.csv_fields)
        for obj in queryset.iterator(chunk_size=1000):
            yield [self.csv_value(obj, name) for name in self.csv_fields]

    def csv_value(self, obj: Model, name: str) -> Any:
        """A column of the model's own (its field wins: `model` is also the admin's model class, and
        the query log's "model" column once held a stray QueryLog's text), else an admin method."""
        fields = self.opts.concrete_fields
        own = {field.attname for field in fields} | {field.name for field in fields}
        value = getattr(obj, name) if name in own or not hasattr(self, name) else getattr(self, name)(obj)
        return "" if value is None else value

    def export_url(self) -> str:
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_export_csv")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        context = {"export_csv_url": self.export_url(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([_safe_cell(value) for value in row])


def _safe_cell(value: Any) -> str:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return str(value)
