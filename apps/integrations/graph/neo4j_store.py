"""Neo4j over Bolt with the official driver. Every query gets `$tenant` and must use it.

The adapter refuses Cypher that does not mention `$tenant`: a query without a tenant predicate
would read across companies, so we stop it before it reaches the server.
"""

from __future__ import annotations

from typing import Any

import neo4j
from django.conf import settings

from apps.core.observability.tracing import span

from .base import require_tenant


class TenantPredicateMissing(ValueError):
    """A Cypher statement that never mentions $tenant was handed to the graph store."""


class Neo4jGraphStore:
    # Constraints and indexes created on start-up; IF NOT EXISTS keeps this idempotent.
    SCHEMA_STATEMENTS = (
        "CREATE CONSTRAINT entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE (e.tenant, e.key) IS UNIQUE",
        "CREATE INDEX entity_tenant IF NOT EXISTS FOR (e:Entity) ON (e.tenant)",
        # Partial entity linking in the graph leg ("jimenez" -> "jimenez municipality"): a word-level
        # Lucene index, queried with the tenant as a required field so it never ranges over others.
        "CREATE FULLTEXT INDEX entity_key_words IF NOT EXISTS FOR (e:Entity) ON EACH [e.key, e.tenant] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-no-stop-words'}}",
        "CREATE CONSTRAINT probe_key IF NOT EXISTS FOR (p:Probe) REQUIRE (p.tenant, p.key) IS UNIQUE",
        "CREATE CONSTRAINT chunk_key IF NOT EXISTS FOR (c:Chunk) REQUIRE (c.tenant, c.chunk_id) IS UNIQUE",
        "CREATE INDEX chunk_document IF NOT EXISTS FOR (c:Chunk) ON (c.tenant, c.document_id)",
        "CREATE INDEX chunk_tenant IF NOT EXISTS FOR (c:Chunk) ON (c.tenant)",
    )

    def __init__(self) -> None:
        auth = (settings.NEO4J_USER, settings.NEO4J_PASSWORD) if settings.NEO4J_PASSWORD else None
        self._database = settings.NEO4J_DATABASE
        self._query_timeout = settings.NEO4J_QUERY_TIMEOUT
        self._driver = neo4j.GraphDatabase.driver(
            settings.NEO4J_URI,
            auth=auth,
            connection_timeout=settings.NEO4J_CONNECTION_TIMEOUT,
            connection_acquisition_timeout=settings.NEO4J_CONNECTION_TIMEOUT,
            max_transaction_retry_time=settings.NEO4J_CONNECTION_TIMEOUT,
        )

    def verify_connectivity(self) -> None:
        self._driver.verify_connectivity()

    def ensure_schema(self) -> None:
        for statement in self.SCHEMA_STATEMENTS:
            self._driver.execute_query(statement, database_=self._database)

    def run_read(self, cypher: str, *, tenant: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(cypher, tenant=tenant, parameters=parameters, routing=neo4j.RoutingControl.READ)

    def run_write(self, cypher: str, *, tenant: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(cypher, tenant=tenant, parameters=parameters, routing=neo4j.RoutingControl.WRITE)

    def _run(
        self, cypher: str, *, tenant: str, parameters: dict[str, Any] | None, routing: Any
    ) -> list[dict[str, Any]]:
        tenant = require_tenant(tenant)
        if "$tenant" not in cypher:
            raise TenantPredicateMissing("graph queries must constrain on $tenant")
        query = neo4j.Query(cypher, timeout=self._query_timeout)
        # The statement is our own parameterised Cypher: no document text or user data in the span.
        with span("neo4j.query", **{"db.system": "neo4j", "db.name": self._database, "db.statement": cypher}):
            records, _, _ = self._driver.execute_query(
                query, {**(parameters or {}), "tenant": tenant}, database_=self._database, routing_=routing
            )
        return [record.data() for record in records]

    def close(self) -> None:
        self._driver.close()
