"""Graph leg: link the question's entities to the knowledge graph, walk one or two hops, and
return the chunks that mention what was reached.

Tenant and ACL constraints are part of the Cypher: a chunk node is only reached when its ACL
shares a principal with the user's, and a RELATED edge is only walked when its ACL does. Scores
favour chunks that mention several of the question's entities directly (entity overlap), rare
entities over common ones (inverse chunk frequency), and one hop over two.
"""

from __future__ import annotations

from django.conf import settings

from apps.documents.index_state import index_snapshot
from apps.integrations.graph.factory import graph_store

from .base import Candidate, LegQuery

GRAPH_WALK = """
MATCH (seed:Entity {tenant: $tenant})
WHERE seed.key IN $keys
WITH seed, COUNT { (seed)<-[:MENTIONS]-(:Chunk) } AS seed_degree
WITH seed, log(1.0 + $chunk_total / (1.0 + seed_degree)) AS seed_rarity
CALL (seed, seed_rarity) {
    MATCH (chunk:Chunk {tenant: $tenant})-[mention:MENTIONS]->(seed)
    WHERE any(principal IN chunk.acl WHERE principal IN $principals)
    RETURN chunk, 1 AS hops, mention.weight * seed_rarity AS strength
    UNION
    MATCH (seed)-[related:RELATED {tenant: $tenant}]-(neighbour:Entity)
    WHERE any(principal IN related.acl WHERE principal IN $principals) AND NOT neighbour.key IN $keys
    WITH neighbour, related, COUNT { (neighbour)<-[:MENTIONS]-(:Chunk) } AS neighbour_degree
    WHERE neighbour_degree <= $max_neighbour_degree
    WITH neighbour, log(1.0 + $chunk_total / (1.0 + neighbour_degree)) AS neighbour_rarity
    ORDER BY neighbour_rarity DESC LIMIT $fanout
    MATCH (chunk:Chunk {tenant: $tenant})-[mention:MENTIONS]->(neighbour)
    WHERE any(principal IN chunk.acl WHERE principal IN $principals)
    RETURN chunk, 2 AS hops,
           mention.weight * $second_hop_discount * sqrt(seed_rarity * neighbour_rarity) AS strength
}
WITH chunk, seed, min(hops) AS hops, max(strength) AS strength
WITH chunk,
     sum(strength) AS score,
     count(DISTINCT CASE WHEN hops = 1 THEN seed END) AS direct_entities
RETURN chunk.chunk_id AS chunk_id, score * (1.0 + 0.5 * direct_entities) AS score
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
                "max_neighbour_degree": settings.GRAPH_LEG_MAX_NEIGHBOUR_DEGREE,
                "second_hop_discount": settings.GRAPH_LEG_SECOND_HOP_DISCOUNT,
                "chunk_total": float(max((query.corpus or index_snapshot()).chunk_count, 1)),
            },
        )
        return [Candidate(chunk_id=int(row["chunk_id"]), score=float(row["score"])) for row in rows]
