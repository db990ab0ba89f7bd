"""Writes SCIM asks for, on users and groups. Each runs in one transaction: a request that fails
anywhere changes nothing. Every change is audited with the SCIM client as the actor.

A user resource is read into a flat `UserFields`, changed there by PUT or PATCH operations, and
written back in one place (`_user_apply`), so every route takes the same checks and a change of
`active` to false always goes through deprovisioning (sessions, sockets, keys: apps.accounts.directory).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.directory import (
    DirectoryConflict,
    directory_group_ensure,
    directory_name_normalised,
    group_by_name,
    group_name_reserved,
    user_deprovision,
)
from apps.accounts.models import DirectoryGroup, DirectoryIdentity, User
from apps.audit.services import audit_event_record
from apps.tenants.selectors import tenant_settings_get

from .errors import ScimError, invalid_value
from .patch import PatchOperation, patch_operations_parse
from .representation import directory_users
from .tokens import ScimClient

USERNAME = re.compile(r"[\w.@+-]{1,150}")
USER_PATHS = {"username": "username", "externalid": "external_id", "active": "active"}
NAME_PATHS = {"givenname": "first_name", "familyname": "last_name"}


@dataclass(frozen=True)
class UserFields:
    username: str
    external_id: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    active: bool = True


def user_fields_of(user: User) -> UserFields:
    return UserFields(
        username=user.username,
        external_id=user.directory_identity.scim_external_id,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        active=user.is_active,
    )


def user_fields_from_resource(data: Any, *, current: UserFields | None = None) -> UserFields:
    """A whole resource (POST, PUT): what it leaves out is cleared, except the user name."""
    if not isinstance(data, dict):
        raise invalid_value("the body must be a SCIM User resource")
    base = UserFields(
        username=directory_name_normalised(str(data.get("userName") or (current.username if current else ""))),
        # Left out of a PUT, `active` stays as it is: a PUT must not reactivate someone an
        # administrator deactivated in the portal.
        active=current.active if current else True,
    )
    return _fields_with(base, data)


def _fields_with(fields: UserFields, values: dict[str, Any]) -> UserFields:
    """`values` holds SCIM attributes (or dotted paths, as Entra ID sends them without a path)."""
    for key, value in values.items():
        fields = _field_set(fields, str(key), value)
    return fields


def _field_set(fields: UserFields, path: str, value: Any) -> UserFields:
    lowered = path.lower()
    if lowered in USER_PATHS:
        name = USER_PATHS[lowered]
        change: dict[str, Any] = {name: _active_value(value) if name == "active" else _text(value, path)}
        if name == "username":
            change[name] = directory_name_normalised(change[name])
        return replace(fields, **change)
    if lowered == "name":
        if not isinstance(value, dict):
            raise invalid_value("name must be an object")
        return _fields_with(fields, {f"name.{key}": item for key, item in value.items()})
    if lowered.startswith("name."):
        target = NAME_PATHS.get(lowered.removeprefix("name."))
        named: dict[str, Any] = {target: _text(value, path)[:150]} if target else {}
        return replace(fields, **named)
    if lowered == "emails":
        return replace(fields, email=_primary_email(value))
    if lowered.startswith("emails[") and lowered.endswith(".value"):
        return replace(fields, email=_text(value, path))
    return fields  # attributes we keep no copy of (displayName, title, enterprise extension, ...)


def _text(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 255:
        raise invalid_value(f"{path} must be text of at most 255 characters")
    return value.strip()


def _active_value(value: Any) -> bool:
    # Entra ID sends "True"/"False" as strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value("active must be true or false")


def _primary_email(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_value("emails must be a list of objects")
    chosen = next((item for item in value if item.get("primary") is True), value[0] if value else {})
    return _text(chosen.get("value"), "emails.value")


def user_patched(current: UserFields, operations: list[PatchOperation]) -> UserFields:
    fields = current
    for operation in operations:
        if operation.op == "remove":
            if operation.path.lower() in ("active", "username") or not operation.path:
                raise invalid_value(f"{operation.path or 'the resource'} cannot be removed", "noTarget")
            fields = _field_set(fields, operation.path, None)
        elif operation.path:
            fields = _field_set(fields, operation.path, operation.value)
        elif isinstance(operation.value, dict):
            fields = _fields_with(fields, operation.value)
        else:
            raise invalid_value("an operation without a path needs an object value")
    return fields


@transaction.atomic
def scim_user_create(fields: UserFields, *, client: ScimClient) -> User:
    _user_fields_check(fields)
    existing = User.objects.select_for_update().filter(username__iexact=fields.username).first()
    if existing is not None:
        identity = DirectoryIdentity.objects.filter(user=existing).first()
        if identity is None or identity.scim_deleted_at is None:
            raise ScimError(409, f'a user named "{fields.username}" already exists', "uniqueness")
        identity.scim_deleted_at = None  # deleted over SCIM before, now provisioned again
        identity.save(update_fields=["scim_deleted_at", "updated_at"])
        user = existing
    else:
        user = User(username=fields.username)
        user.set_unusable_password()
        user.save()
        # Tied to the provider configured now: only its sign-ins may link this account later.
        issuer = tenant_settings_get(schema_name=connection.schema_name).sso_issuer  # type: ignore[attr-defined]
        DirectoryIdentity.objects.create(user=user, provisioned_by_scim=True, oidc_issuer=issuer)
    user = directory_users().get(pk=user.pk)
    _user_apply(user, fields, client=client, action="scim.user.create")
    return user


@transaction.atomic
def scim_user_update(user: User, fields: UserFields, *, client: ScimClient) -> User:
    _user_fields_check(fields)
    clash = User.objects.filter(username__iexact=fields.username).exclude(pk=user.pk).exists()
    if clash:
        raise ScimError(409, f'a user named "{fields.username}" already exists', "uniqueness")
    _user_apply(user, fields, client=client, action="scim.user.update")
    return directory_users().get(pk=user.pk)


@transaction.atomic
def scim_user_delete(user: User, *, client: ScimClient) -> None:
    """The account stays (history and audit trail name it), deactivated, and SCIM no longer sees it."""
    user_deprovision(user=user, actor=client.audit_label, reason="scim delete")
    DirectoryIdentity.objects.filter(user=user).update(scim_deleted_at=timezone.now())


def _user_fields_check(fields: UserFields) -> None:
    if not USERNAME.fullmatch(fields.username):
        raise invalid_value("userName is required: at most 150 letters, digits and @ . + - _")
    if fields.email and ("@" not in fields.email or len(fields.email) > 254):
        raise invalid_value("the e-mail address is not valid")


def _user_apply(user: User, fields: UserFields, *, client: ScimClient, action: str) -> None:
    before = user_fields_of(user)
    identity = user.directory_identity
    user.username, user.email = fields.username, fields.email
    user.first_name, user.last_name = fields.first_name, fields.last_name
    user.save(update_fields=["username", "email", "first_name", "last_name"])
    identity.scim_external_id = fields.external_id
    identity.save(update_fields=["scim_external_id", "updated_at"])
    changed = sorted(name for name, value in asdict(fields).items() if getattr(before, name) != value)
    if changed or action.endswith("create"):
        audit_event_record(action=action, actor=client.audit_label, target=user, details={"changed": changed})
    if before.active and not fields.active:
        user_deprovision(user=user, actor=client.audit_label, reason="scim active=false")
    elif fields.active and not user.is_active:
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        audit_event_record(action="user.reactivate", actor=client.audit_label, target=user, details={"by": "scim"})


# --- Groups ----------------------------------------------------------------------------------------


def _members_resolve(value: Any) -> list[User]:
    """Members named by id; every id must be one of this tenant's directory users."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_value("members must be a list of {value: id}")
    ids = [str(item.get("value", "")) for item in value]
    numeric = [int(item) for item in ids if resource_id_valid(item)]
    found = {str(user.pk): user for user in directory_users().filter(pk__in=numeric)}
    unknown = [item for item in ids if item not in found]
    if unknown:
        raise invalid_value(f"unknown members: {unknown[:20]}")
    return list(found.values())


def resource_id_valid(text: str) -> bool:
    """Our ids are ASCII digits ("²" and "٣" pass str.isdigit and broke int() or matched 3)."""
    return text.isascii() and text.isdigit() and len(text) < 19


def _group_name(value: Any) -> str:
    name = directory_name_normalised(_text(value, "displayName"))
    if not name:
        raise invalid_value("displayName is required")
    if group_name_reserved(name):
        raise ScimError(409, f'"{name}" is a role group of the portal; the directory cannot manage it', "uniqueness")
    return name


@transaction.atomic
def scim_group_create(data: Any, *, client: ScimClient) -> Group:
    if not isinstance(data, dict):
        raise invalid_value("the body must be a SCIM Group resource")
    name = _group_name(data.get("displayName"))
    existing = group_by_name(name)
    if existing is not None and DirectoryGroup.objects.filter(group=existing).exists():
        raise ScimError(409, f'a group named "{name}" already exists', "uniqueness")
    members = _members_resolve(data.get("members") or [])
    try:
        group = directory_group_ensure(name, scim_external_id=_text(data.get("externalId"), "externalId"))
    except DirectoryConflict as error:
        raise ScimError(409, str(error), "uniqueness") from error
    group.user_set.set(members)
    audit_event_record(
        action="scim.group.create", actor=client.audit_label, target=group, details={"members": len(members)}
    )
    return group


@transaction.atomic
def scim_group_replace(group: Group, data: Any, *, client: ScimClient) -> None:
    if not isinstance(data, dict):
        raise invalid_value("the body must be a SCIM Group resource")
    _group_rename(group, data.get("displayName"))
    _group_external_id_set(group, data.get("externalId"))
    members = _members_resolve(data.get("members") or [])
    _group_members_set(group, members, client=client)


@transaction.atomic
def scim_group_patch(group: Group, body: Any, *, client: ScimClient) -> None:
    for operation in patch_operations_parse(body):
        path = operation.path.lower()
        if not path and isinstance(operation.value, dict) and operation.op != "remove":
            values = {key.lower(): value for key, value in operation.value.items()}
            if "displayname" in values:
                _group_rename(group, values["displayname"])
            if "externalid" in values:
                _group_external_id_set(group, values["externalid"])
            if "members" in values:
                _group_members_change(group, operation.op, values["members"], client=client)
        elif path == "displayname" and operation.op != "remove":
            _group_rename(group, operation.value)
        elif path == "externalid":
            _group_external_id_set(group, None if operation.op == "remove" else operation.value)
        elif path == "members" or path.startswith("members["):
            _group_members_change(group, operation.op, _member_value(operation), client=client)
        else:
            raise invalid_value(f"cannot {operation.op} {operation.path or 'the group'}", "invalidPath")


def _member_value(operation: PatchOperation) -> Any:
    # Okta removes one member by path: members[value eq "42"].
    filtered = re.fullmatch(r'members\[value eq "([^"]*)"\]', operation.path, re.IGNORECASE)
    if filtered:
        return [{"value": filtered[1]}]
    return operation.value if operation.value is not None else []


def _group_members_change(group: Group, op: str, value: Any, *, client: ScimClient) -> None:
    members = _members_resolve(value)
    current = list(group.user_set.filter(pk__in=directory_users().values("pk")))
    if op == "add":
        wanted = {user.pk: user for user in [*current, *members]}
    elif op == "remove":
        # Remove with no value (Entra ID's "remove all") empties the group.
        gone = {user.pk for user in members} if value else {user.pk for user in current}
        wanted = {user.pk: user for user in current if user.pk not in gone}
    else:
        wanted = {user.pk: user for user in members}
    _group_members_set(group, list(wanted.values()), client=client)


def _group_members_set(group: Group, members: list[User], *, client: ScimClient) -> None:
    current = {user.pk for user in group.user_set.filter(pk__in=directory_users().values("pk"))}
    wanted = {user.pk for user in members}
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if added:
        group.user_set.add(*added)
    if removed:
        group.user_set.remove(*removed)
    if added or removed:
        audit_event_record(
            action="scim.group.members",
            actor=client.audit_label,
            target=group,
            details={"added": added, "removed": removed},
        )


def _group_rename(group: Group, value: Any) -> None:
    name = _group_name(value)
    if name == group.name:
        return
    if group_by_name(name, exclude_pk=group.pk) is not None:
        raise ScimError(409, f'a group named "{name}" already exists', "uniqueness")
    group.name = name
    group.save(update_fields=["name"])


def _group_external_id_set(group: Group, value: Any) -> None:
    DirectoryGroup.objects.filter(group=group).update(scim_external_id=_text(value, "externalId"))


@transaction.atomic
def scim_group_delete(group: Group, *, client: ScimClient) -> None:
    """The group goes, and with it every right granted to it (its members lose them at once)."""
    audit_event_record(action="scim.group.delete", actor=client.audit_label, target=group, details={})
    group.delete()
