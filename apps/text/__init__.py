"""Text analysis shared by ingestion and retrieval.

`analyzer` turns chunks and questions into BM25 terms; `entities` finds the entities in chunk
texts and questions for the knowledge graph (offline, or through the LLM adapter in
`apps.integrations`). Both sides import from here, so a chunk and a question are always analysed
the same way.
"""
