"""Graph leg: link the question's entities to the knowledge graph, walk one or two hops, and
return the chunks that mention what was reached.

Tenant and ACL constraints are part of the Cypher: a chunk node is only reached when its ACL
shares a principal with the user's, and a RELATED edge is only walked when its ACL does. Scores
favour chunks that mention several of the question's entities directly (entity overlap), rare
entities over common ones (inverse chunk frequency), and one hop over two.
"""

from __future__ import annotations

from django.conf import settings

from apps.documents.index_state import index_state_row
from apps.integrations.graph.factory import graph_store

from .base import Candidate, LegQuery

GRAPH_WALK = """
MATCH (seed:Entity {tenant: $tenant})
WHERE seed.key IN $keys
CALL (seed) {
    MATCH (chunk:Chunk {tenant: $tenant})-[mention:MENTIONS]->(seed)
    WHERE any(principal IN chunk.acl WHERE principal IN $principals)
    RETURN chunk, 1 AS hops, mention.weight AS strength
    UNION
    MATCH (seed)-[related:RELATED {tenant: $tenant}]-(neighbour:Entity)
    WHERE any(principal IN related.acl WHERE principal IN $principals)
    WITH neighbour, related ORDER BY related.weight DESC LIMIT $fanout
    MATCH (chunk:Chunk {tenant: $tenant})-[mention:MENTIONS]->(neighbour)
    WHERE any(principal IN chunk.acl WHERE principal IN $principals)
    RETURN chunk, 2 AS hops, mention.weight * $second_hop_discount AS strength
}
WITH seed, chunk, min(hops) AS hops, max(strength) AS strength
WITH seed, collect({chunk: chunk, hops: hops, strength: strength}) AS reached
WITH seed, reached, size([item IN reached WHERE item.hops = 1]) AS direct
UNWIND reached AS item
WITH item.chunk AS chunk,
     seed.key AS key,
     item.hops AS hops,
     item.strength * log(1.0 + $chunk_total / (1.0 + direct)) / item.hops AS contribution
WITH chunk, sum(contribution) AS score, count(DISTINCT CASE WHEN hops = 1 THEN key END) AS direct_entities
RETURN chunk.chunk_id AS chunk_id, score * (1.0 + direct_entities) AS score
ORDER BY score DESC, chunk_id
LIMIT $k
"""


class Neo4jGraphLeg:
    name = "graph"

    def search(self, query: LegQuery) -> list[Candidate]:
        if not query.entity_keys or not query.principals:
            return []
        rows = graph_store().run_read(
            GRAPH_WALK,
            tenant=query.tenant,
            parameters={
                "keys": list(query.entity_keys),
                "principals": list(query.principals),
                "k": query.k,
                "fanout": settings.GRAPH_LEG_FANOUT,
                "second_hop_discount": settings.GRAPH_LEG_SECOND_HOP_DISCOUNT,
                "chunk_total": float(max(index_state_row().chunk_count, 1)),
            },
        )
        return [Candidate(chunk_id=int(row["chunk_id"]), score=float(row["score"])) for row in rows]
