"""Users and groups as the company's directory says: written by single sign-on (apps/portal/sso.py)
and SCIM provisioning (apps/api/scim). Call these inside the tenant's schema.

Directory groups (DirectoryGroup) are the identity provider's: their members are set from it and
nobody else. Groups made by hand and the role groups (Tenant admins, Compliance, Employees) stay
the tenant's: the directory can neither join people to a role group nor take one's name, so an
identity provider never makes anyone an administrator.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from apps.audit.services import audit_event_record

from .models import DirectoryGroup, User
from .roles import DEFAULT_GROUPS

logger = logging.getLogger(__name__)

# Sent inside the transaction that ends a user's access (deprovisioning): receivers end what they
# own, e.g. the API revokes the keys acting as the user. Arguments: user, actor.
user_access_ended = Signal()

RESERVED_GROUP_NAMES = frozenset(name.casefold() for name in DEFAULT_GROUPS)


class DirectoryConflict(ValueError):
    """The directory asked for something the tenant keeps for itself (a role group's name)."""


def directory_name_normalised(name: str) -> str:
    """One spelling per name, for groups and user names from the directory: NFKC (full-width
    letters and a no-break space become plain ones), invisible format characters removed (a
    zero-width space, a soft hyphen), single spaces. A look-alike of a role group, another group
    or a local account cannot be made (sixth and seventh attack passes)."""
    normalised = unicodedata.normalize("NFKC", name)
    visible = "".join(char for char in normalised if not _invisible(char))
    return " ".join(visible.split())


# Letters that render as nothing (the Hangul fillers), beyond the categories below.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


def _invisible(char: str) -> bool:
    """Format characters (zero-width space, soft hyphen), combining and enclosing marks left after
    NFKC (the grapheme joiner, variation selectors) and the fillers: none changes how a name reads
    (eighth attack pass). Letters of scripts that merely look alike (a Cyrillic a) are not caught here."""
    return char in _FILLERS or unicodedata.category(char) in ("Cf", "Mn", "Me")


def group_name_key(name: str) -> str:
    return directory_name_normalised(name).casefold()


def group_name_reserved(name: str) -> bool:
    return group_name_key(name) in RESERVED_GROUP_NAMES


def group_by_name(name: str, *, exclude_pk: int | None = None) -> Group | None:
    """The group whose name reads the same, however it was typed (names made in the admin are
    stored as typed, so they are compared here rather than in SQL; a tenant has hundreds, not
    millions)."""
    key = group_name_key(name)
    for group in Group.objects.only("pk", "name").order_by("pk"):
        if group.pk != exclude_pk and group_name_key(group.name) == key:
            return group
    return None


def directory_group_ensure(name: str, *, scim_external_id: str = "", take_over: bool = False) -> Group:
    """The directory group of this name, made if missing. A group made in the portal (which may
    hold document grants) is never taken over by being named (sixth attack pass): only an operator
    marks one as the directory's (`take_over`, `configure_sso --directory-group`)."""
    name = directory_name_normalised(name)
    if not name or len(name) > 150:
        raise DirectoryConflict("a group name has 1 to 150 characters")
    if group_name_reserved(name):
        raise DirectoryConflict(f'"{name}" is a role group of the portal; the directory cannot manage it')
    group = group_by_name(name)
    if group is None:
        group = Group.objects.create(name=name)
    elif not take_over and not DirectoryGroup.objects.filter(group=group).exists():
        raise DirectoryConflict(f'"{group.name}" is a group made in the portal; the directory cannot manage it')
    link, created = DirectoryGroup.objects.get_or_create(group=group, defaults={"scim_external_id": scim_external_id})
    if not created and scim_external_id and link.scim_external_id != scim_external_id:
        link.scim_external_id = scim_external_id
        link.save(update_fields=["scim_external_id"])
    return group


def directory_groups_set(user: User, names: Iterable[str]) -> dict[str, list[str]]:
    """Make the user's directory groups exactly `names` (hand-made and role groups untouched).

    Returns what changed and what was ignored (names of role groups and of groups made in the
    portal), for the audit event."""
    wanted: dict[int, Group] = {}
    ignored = []
    for name in dict.fromkeys(directory_name_normalised(str(item)) for item in names if str(item).strip()):
        try:
            group = directory_group_ensure(name)
        except DirectoryConflict:
            ignored.append(name)
            continue
        wanted[group.pk] = group
    current = {group.pk: group for group in user.groups.filter(directory_group__isnull=False)}
    added = [wanted[pk] for pk in wanted.keys() - current.keys()]
    removed = [current[pk] for pk in current.keys() - wanted.keys()]
    if added:
        user.groups.add(*added)
    if removed:
        user.groups.remove(*removed)
    return {
        "added": sorted(group.name for group in added),
        "removed": sorted(group.name for group in removed),
        "ignored": sorted(ignored),
    }


@transaction.atomic
def user_deprovision(*, user: User, actor: object, reason: str, request=None) -> int:
    """End the user's access at once: the account is deactivated, its sessions deleted, its open
    sockets told to close, the keys acting as it revoked (a `user_access_ended` receiver), and an
    audit event written. Returns the number of sessions ended. Deprovisioning twice changes nothing
    more but is audited again (the directory asked again)."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active:
        locked.is_active = False
        locked.save(update_fields=["is_active"])
    ended = user_sessions_end(locked)
    user_access_ended.send(sender=User, user=locked, actor=actor)
    audit_event_record(
        action="user.deprovision",
        actor=actor,
        target=locked,
        request=request,
        details={"reason": reason, "sessions_ended": ended},
    )
    schema, user_id = connection.schema_name, locked.pk  # type: ignore[attr-defined]
    transaction.on_commit(lambda: user_sockets_close(schema_name=schema, user_id=user_id))
    return ended


def user_session_keys(user: User) -> list[str]:
    """The keys of the user's live sessions (sessions are not indexed by user: every live one is read)."""
    keys = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            keys.append(session.session_key)
    return keys


def user_sessions_end(user: User) -> int:
    return Session.objects.filter(session_key__in=user_session_keys(user)).delete()[0]


def user_socket_group(*, schema_name: str, user_id: int) -> str:
    """The channel-layer group every open socket of the user joins (apps/portal/realtime)."""
    return f"user.{schema_name}.{user_id}"


def user_sockets_close(*, schema_name: str, user_id: int) -> None:
    """Tell the user's open sockets, in every process, to check who they serve now (and close)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            user_socket_group(schema_name=schema_name, user_id=user_id), {"type": "identity.changed"}
        )
    except Exception:
        logger.warning("could not notify open sockets of user %s", user_id, exc_info=True)
