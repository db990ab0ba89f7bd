"""The directory's catalogue: the shards, which shard holds each tenant, and the routes that lead there.

It lives in its own small PostgreSQL database (DIRECTORY_DATABASE_URL), outside every shard, and is
read and written here only, with psycopg. Not Django models: django-tenants routes every query of
the `default` alias through a tenant's search path, and its `migrate` command (which replaces
Django's) runs its tenant machinery on whatever alias it is given; the catalogue is four plain
tables, created by `catalogue_ensure` (idempotent, versioned by CATALOGUE_VERSION).

What fails closed: a tenant is placed once, on one shard; a shard may publish routes only for
tenants placed on it; a host or key prefix belongs to one tenant (a second claim is refused); a
request for a host or key with no route is refused by the directory (apps/directory/haproxy.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.conf import settings

CATALOGUE_VERSION = 1
SHARD_NAME = re.compile(r"^[a-z][a-z0-9]{0,19}$")
ROUTE_KINDS = ("host", "key")

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS directory_meta (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS directory_shard (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9]{0,19}$'),
    web_url text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS directory_placement (
    schema_name text PRIMARY KEY,
    shard text NOT NULL REFERENCES directory_shard (name),
    state text NOT NULL CHECK (state IN ('active', 'moving')),
    moving_to text REFERENCES directory_shard (name),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS directory_route (
    kind text NOT NULL CHECK (kind IN ('host', 'key')),
    value text NOT NULL,
    schema_name text NOT NULL REFERENCES directory_placement (schema_name) ON DELETE CASCADE,
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS directory_move_step (
    id bigserial PRIMARY KEY,
    schema_name text NOT NULL,
    source text NOT NULL,
    target text NOT NULL,
    step text NOT NULL,
    status text NOT NULL,
    detail text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS directory_change;
"""


class DirectoryUnavailable(Exception):
    """No catalogue is configured, or it cannot be reached; the message says which."""


class PlacementRefused(Exception):
    """A placement or route the catalogue will not record (it would send a tenant to two shards)."""


@dataclass(frozen=True)
class Shard:
    name: str
    web_url: str


@dataclass(frozen=True)
class Placement:
    schema_name: str
    shard: str
    state: str
    moving_to: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Route:
    kind: str
    value: str
    schema_name: str
    shard: str
    state: str


def directory_configured() -> bool:
    return bool(settings.DIRECTORY_DATABASE_URL)


@contextmanager
def catalogue() -> Iterator[psycopg.Connection]:
    """One transaction on the catalogue (committed when the block ends without an exception)."""
    if not directory_configured():
        raise DirectoryUnavailable("No directory is configured (DIRECTORY_DATABASE_URL is unset): this is one shard.")
    try:
        connection = psycopg.connect(settings.DIRECTORY_DATABASE_URL, connect_timeout=3)
    except psycopg.OperationalError as error:
        raise DirectoryUnavailable(f"The directory's catalogue cannot be reached: {type(error).__name__}") from None
    with connection:
        yield connection


def catalogue_ensure() -> None:
    with catalogue() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('directory_catalogue_ensure'))")
        conn.execute(_SCHEMA_SQL)
        row = conn.execute("SELECT version FROM directory_meta").fetchone()
        if row is None:
            conn.execute("INSERT INTO directory_meta (version) VALUES (%s)", [CATALOGUE_VERSION])
        elif row[0] > CATALOGUE_VERSION:
            raise DirectoryUnavailable(f"The catalogue is at version {row[0]}; this code knows {CATALOGUE_VERSION}.")


def _changed(conn: psycopg.Connection) -> None:
    conn.execute("SELECT nextval('directory_change')")


def catalogue_change_number() -> int:
    """Grows with every change of shards, placements or routes (a watcher reloads the directory on change)."""
    with catalogue() as conn:
        row = conn.execute("SELECT last_value, is_called FROM directory_change").fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


def shard_register(*, name: str, web_url: str) -> Shard:
    """Record a shard and the address of its web processes (again: the address is updated)."""
    if not SHARD_NAME.match(name):
        raise PlacementRefused(f"{name!r} is not a shard name (a-z then a-z/0-9, at most 20 characters).")
    if not re.match(r"^https?://[^/\s]+$", web_url):
        raise PlacementRefused(f"{web_url!r} is not the base address of a shard's web processes (http(s)://host:port).")
    with catalogue() as conn:
        conn.execute(
            "INSERT INTO directory_shard (name, web_url) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET web_url = EXCLUDED.web_url",
            [name, web_url],
        )
        _changed(conn)
    return Shard(name=name, web_url=web_url)


def shards_list() -> list[Shard]:
    with catalogue() as conn:
        rows = conn.execute("SELECT name, web_url FROM directory_shard ORDER BY name").fetchall()
    return [Shard(name=name, web_url=url) for name, url in rows]


def tenant_place(*, schema_name: str, shard: str) -> Placement:
    """Place a new tenant on a shard; placing it again on the same shard is a no-op, on another refused."""
    with catalogue() as conn:
        _shard_required(conn, shard)
        conn.execute(
            "INSERT INTO directory_placement (schema_name, shard, state) VALUES (%s, %s, 'active') "
            "ON CONFLICT (schema_name) DO NOTHING",
            [schema_name, shard],
        )
        placement = _placement(conn, schema_name)
        assert placement is not None
        if placement.shard != shard:
            raise PlacementRefused(f"Tenant {schema_name!r} is already placed on shard {placement.shard!r}.")
        _changed(conn)
    return placement


def tenant_unplace(*, schema_name: str, shard: str) -> bool:
    """Remove a deleted tenant's placement and routes, if `shard` holds it and it is not moving."""
    with catalogue() as conn:
        deleted = conn.execute(
            "DELETE FROM directory_placement WHERE schema_name = %s AND shard = %s AND state = 'active'",
            [schema_name, shard],
        ).rowcount
        if deleted:
            _changed(conn)
    return bool(deleted)


def _shard_required(conn: psycopg.Connection, shard: str) -> None:
    if conn.execute("SELECT 1 FROM directory_shard WHERE name = %s", [shard]).fetchone() is None:
        raise PlacementRefused(f"There is no shard {shard!r} in the catalogue (register it first).")


def _placement(conn: psycopg.Connection, schema_name: str) -> Placement | None:
    row = conn.execute(
        "SELECT schema_name, shard, state, moving_to, updated_at FROM directory_placement WHERE schema_name = %s",
        [schema_name],
    ).fetchone()
    return Placement(*row) if row else None


def placement_for(schema_name: str) -> Placement | None:
    with catalogue() as conn:
        return _placement(conn, schema_name)


def placements_list() -> list[Placement]:
    with catalogue() as conn:
        rows = conn.execute(
            "SELECT schema_name, shard, state, moving_to, updated_at FROM directory_placement ORDER BY schema_name"
        ).fetchall()
    return [Placement(*row) for row in rows]


def routes_publish(*, schema_name: str, shard: str, kind: str, values: Iterable[str]) -> None:
    """Replace a tenant's routes of one kind (its host names, or its live API keys' prefixes).

    Only the shard the tenant is placed on may publish them; a value another tenant holds is refused.
    """
    if kind not in ROUTE_KINDS:
        raise ValueError(f"unknown route kind {kind!r}")
    wanted = _route_values(values)
    with catalogue() as conn:
        placement = _placement(conn, schema_name)
        if placement is None or placement.shard != shard:
            where = placement.shard if placement else "no shard"
            raise PlacementRefused(
                f"Tenant {schema_name!r} is placed on {where}, not on {shard!r}: its routes stay as they are."
            )
        if taken := _taken(conn, schema_name=schema_name, kind=kind, wanted=wanted):
            raise PlacementRefused(f"{kind} {taken[0][0]!r} already leads to tenant {taken[0][1]!r}.")
        conn.execute("DELETE FROM directory_route WHERE schema_name = %s AND kind = %s", [schema_name, kind])
        for value in wanted:
            conn.execute(
                "INSERT INTO directory_route (kind, value, schema_name) VALUES (%s, %s, %s)", [kind, value, schema_name]
            )
        _changed(conn)


def routes_taken(*, schema_name: str, kind: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, tenant) for each of `values` that leads to another tenant already."""
    with catalogue() as conn:
        return _taken(conn, schema_name=schema_name, kind=kind, wanted=_route_values(values))


def _route_values(values: Iterable[str]) -> list[str]:
    return sorted({value.strip().lower() for value in values if value.strip()})


def _taken(conn: psycopg.Connection, *, schema_name: str, kind: str, wanted: list[str]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT value, schema_name FROM directory_route WHERE kind = %s AND value = ANY(%s) AND schema_name <> %s",
        [kind, wanted, schema_name],
    ).fetchall()
    return [(value, owner) for value, owner in rows]


def routing_table() -> list[Route]:
    """Every route with the shard and state of its tenant's placement, for the directory's maps."""
    with catalogue() as conn:
        rows = conn.execute(
            "SELECT r.kind, r.value, r.schema_name, p.shard, p.state FROM directory_route r "
            "JOIN directory_placement p USING (schema_name) ORDER BY r.kind, r.value"
        ).fetchall()
    return [Route(*row) for row in rows]


# --- Moves (apps/compliance/tenant_moves) ----------------------------------------------------------


@dataclass(frozen=True)
class MoveStep:
    schema_name: str
    source: str
    target: str
    step: str
    status: str
    detail: str
    at: datetime


def move_begin(*, schema_name: str, target: str) -> Placement:
    """Mark a tenant as moving to `target` (again, for a resumed move); refuses another move under way."""
    with catalogue() as conn:
        placement = _placement_locked(conn, schema_name)
        if placement.state == "moving" and placement.moving_to != target:
            raise PlacementRefused(
                f"Tenant {schema_name!r} is already moving to {placement.moving_to!r}: resume that move or abort it."
            )
        _shard_required(conn, target)
        conn.execute(
            "UPDATE directory_placement SET state = 'moving', moving_to = %s, updated_at = now() "
            "WHERE schema_name = %s",
            [target, schema_name],
        )
        _changed(conn)
        moved = _placement(conn, schema_name)
    assert moved is not None
    return moved


def _placement_locked(conn: psycopg.Connection, schema_name: str) -> Placement:
    row = conn.execute(
        "SELECT schema_name, shard, state, moving_to, updated_at FROM directory_placement "
        "WHERE schema_name = %s FOR UPDATE",
        [schema_name],
    ).fetchone()
    if row is None:
        raise PlacementRefused(f"Tenant {schema_name!r} is not placed on any shard.")
    return Placement(*row)


def move_switch(*, schema_name: str, source: str, target: str) -> None:
    """The one step that changes where a tenant lives: from `source` to `target`, atomically."""
    with catalogue() as conn:
        placement = _placement_locked(conn, schema_name)
        if placement.shard != source or placement.moving_to != target:
            raise PlacementRefused(f"Tenant {schema_name!r} is not moving from {source!r} to {target!r}.")
        conn.execute(
            "UPDATE directory_placement SET shard = %s, state = 'active', moving_to = NULL, updated_at = now() "
            "WHERE schema_name = %s",
            [target, schema_name],
        )
        _changed(conn)


def move_cancel(*, schema_name: str) -> None:
    """An aborted move: the tenant stays where it is, active."""
    with catalogue() as conn:
        _placement_locked(conn, schema_name)
        conn.execute(
            "UPDATE directory_placement SET state = 'active', moving_to = NULL, updated_at = now() "
            "WHERE schema_name = %s",
            [schema_name],
        )
        _changed(conn)


def move_step_record(*, schema_name: str, source: str, target: str, step: str, status: str, detail: str = "") -> None:
    with catalogue() as conn:
        conn.execute(
            "INSERT INTO directory_move_step (schema_name, source, target, step, status, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [schema_name, source, target, step, status, detail[:2000]],
        )


def move_steps_latest(*, schema_name: str) -> list[MoveStep]:
    """The steps of the tenant's latest move, from its last `begin` on, in order."""
    with catalogue() as conn:
        rows = conn.execute(
            "SELECT schema_name, source, target, step, status, detail, at FROM directory_move_step "
            "WHERE schema_name = %s AND id >= coalesce((SELECT max(id) FROM directory_move_step "
            "WHERE schema_name = %s AND step = 'begin'), 0) ORDER BY id",
            [schema_name, schema_name],
        ).fetchall()
    return [MoveStep(*row) for row in rows]
