"""Graph leg: link the question's entities to the knowledge graph, walk one or two hops, and
return the chunks that mention what was reached.

Tenant and ACL constraints are part of the Cypher: a chunk node is only reached when its ACL
shares a principal with the user's, and a RELATED edge is only walked when its ACL does. Scores
favour chunks that mention several of the question's entities directly (entity overlap), rare
entities over common ones (inverse chunk frequency), and one hop over two.

Bounded work: entity degrees come from Neo4j's degree store (`COUNT { (e)<-[:MENTIONS]-() }`
without a label on the far end is a constant-time lookup; with one, every mention was read); a
linked entity mentioned by more than GRAPH_LEG_MAX_SEED_DEGREE chunks is not walked (its
inverse chunk frequency makes it nearly worthless as evidence, and walking it cost most of the
time at 100k chunks), and the second hop starts only from entities with at most
GRAPH_LEG_MAX_SEED_RELATIONS related entities. Hub neighbours were already skipped.
"""

from __future__ import annotations

from django.conf import settings

from apps.documents.index_state import index_snapshot
from apps.integrations.graph.factory import graph_store

from .base import Candidate, LegQuery

MIN_PART_CHARS = 4  # "of", "new" alone link to too much

# Entity linking: a question entity links to the node with its key; when there is none, to the
# nodes whose key holds it as whole words ("jimenez" -> "jimenez municipality") or that are
# made of some of its words ("debt load" -> "debt"), at a discount and only the rarest few.
GRAPH_WALK = """
UNWIND $links AS link
OPTIONAL MATCH (exact:Entity {tenant: $tenant, key: link.key})
CALL (link, exact) {
    WITH exact WHERE exact IS NOT NULL
    RETURN exact AS seed, 1.0 AS link_weight
    UNION
    WITH link, exact WHERE exact IS NULL
    CALL db.index.fulltext.queryNodes('entity_key_words', link.lucene, {limit: $partial_limit})
    YIELD node AS partial
    WITH partial WHERE partial.tenant = $tenant
    RETURN partial AS seed, $partial_link_weight AS link_weight
    UNION
    WITH link, exact WHERE exact IS NULL
    MATCH (part:Entity {tenant: $tenant})
    WHERE part.key IN link.parts
    RETURN part AS seed, $partial_link_weight AS link_weight
}
WITH seed, max(link_weight) AS link_weight, max(link.walk) AS walk
WITH seed, link_weight, walk, COUNT { (seed)<-[:MENTIONS]-() } AS seed_degree
WHERE seed_degree <= $max_seed_degree
ORDER BY link_weight DESC, seed_degree ASC
LIMIT $max_seeds
WITH collect({seed: seed, walk: walk, rarity: link_weight * log(1.0 + $chunk_total / (1.0 + seed_degree))}) AS seeds
WITH seeds WHERE size(seeds) > 0
WITH seeds, toInteger(ceil(toFloat($neighbour_budget) / size(seeds))) AS share
WITH seeds, CASE WHEN share < $fanout THEN share ELSE $fanout END AS fanout
UNWIND seeds AS linked
WITH linked.seed AS seed, linked.rarity AS seed_rarity, linked.walk AS walk, fanout
CALL (seed, seed_rarity, walk, fanout) {
    MATCH (chunk:Chunk {tenant: $tenant})-[mention:MENTIONS]->(seed)
    WHERE any(principal IN chunk.acl WHERE principal IN $principals)
    RETURN chunk, 1 AS hops, mention.weight * seed_rarity AS strength
    UNION
    WITH seed, seed_rarity, walk, fanout WHERE walk = 1 AND COUNT { (seed)-[:RELATED]-() } <= $max_seed_relations
    MATCH (seed)-[related:RELATED {tenant: $tenant}]-(neighbour:Entity)
    WHERE any(principal IN related.acl WHERE principal IN $principals) AND NOT neighbour.key IN $keys
    WITH fanout, neighbour, related, COUNT { (neighbour)<-[:MENTIONS]-() } AS neighbour_degree
    WHERE neighbour_degree <= $max_neighbour_degree
    WITH fanout, neighbour, log(1.0 + $chunk_total / (1.0 + neighbour_degree)) AS neighbour_rarity
    ORDER BY neighbour_rarity DESC
    WITH fanout, collect({neighbour: neighbour, rarity: neighbour_rarity}) AS ranked
    UNWIND ranked[..fanout] AS walked
    WITH walked.neighbour AS neighbour, walked.rarity AS neighbour_rarity
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
                "links": [
                    {
                        "key": key,
                        "parts": key_parts(key),
                        "lucene": containing_key_query(tenant=query.tenant, key=key),
                        "walk": 0 if key in query.walked_keys else 1,
                    }
                    for key in query.entity_keys
                ],
                "partial_limit": settings.GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY,
                "partial_link_weight": settings.GRAPH_LEG_PARTIAL_LINK_WEIGHT,
                "max_seeds": settings.GRAPH_LEG_MAX_SEEDS,
                "max_seed_degree": settings.GRAPH_LEG_MAX_SEED_DEGREE,
                "max_seed_relations": settings.GRAPH_LEG_MAX_SEED_RELATIONS,
                "keys": list(query.entity_keys),
                "principals": list(query.principals),
                "k": query.k,
                "fanout": settings.GRAPH_LEG_FANOUT,
                "neighbour_budget": settings.GRAPH_LEG_NEIGHBOUR_BUDGET,
                "max_neighbour_degree": settings.GRAPH_LEG_MAX_NEIGHBOUR_DEGREE,
                "second_hop_discount": settings.GRAPH_LEG_SECOND_HOP_DISCOUNT,
                "chunk_total": float(max((query.corpus or index_snapshot()).chunk_count, 1)),
            },
        )
        return [Candidate(chunk_id=int(row["chunk_id"]), score=float(row["score"])) for row in rows]


def key_parts(key: str) -> list[str]:
    """The shorter keys inside a multi-word key: its contiguous word runs, longest first."""
    words = key.split()
    runs = (
        " ".join(words[start : start + size])
        for size in range(len(words) - 1, 0, -1)
        for start in range(len(words) - size + 1)
    )
    return [run for run in runs if len(run) >= MIN_PART_CHARS]


def containing_key_query(*, tenant: str, key: str) -> str:
    """Lucene query for the tenant's entity keys that hold `key` as consecutive whole words."""
    return f"tenant:{_lucene_phrase(tenant)} AND key:{_lucene_phrase(key)}"


def _lucene_phrase(text: str) -> str:
    # Keys and schema names are plain words already; escaping keeps a hostile value a phrase.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
