"""Model fields stored sealed under the tenant's data key of the connection's schema.

Values are sealed on the way to the database (save, bulk_create, update) and opened on the way
back (instances, values(), values_list()). Nothing can be searched or compared in the database
(each sealing is randomised), so only `isnull` lookups exist; anything else is an error, not a
silent miss. The schema comes from the connection (django-tenants): the public schema has no key,
so sealing there fails.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .cipher import bytes_open, bytes_seal, text_open, text_seal
from .keys import sealing_key

_LOOKUPS = {"isnull"}


class _Sealed:
    """What both field kinds share: the column label that authenticates each value, the allowed lookups."""

    model: Any
    attname: str

    @property
    def column_label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.attname}"

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in _LOOKUPS:
            return None  # Django then raises FieldError: unsupported lookup
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedTextField(_Sealed, models.TextField):
    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        if value is None:
            return None
        return text_seal(value, key=sealing_key(connection.schema_name), column=self.column_label)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return text_open(value, schema_name=connection.schema_name, column=self.column_label)


class EncryptedBinaryField(_Sealed, models.BinaryField):
    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        sealed = bytes_seal(bytes(value), key=sealing_key(connection.schema_name), column=self.column_label)
        return super().get_db_prep_value(sealed, connection, prepared)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        if value is None:
            return None
        return bytes_open(bytes(value), schema_name=connection.schema_name, column=self.column_label)
