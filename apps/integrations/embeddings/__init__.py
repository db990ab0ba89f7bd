"""Text embeddings: one adapter per backend (local ONNX MiniLM, OpenAI-compatible HTTP), a Redis cache in front.

Callers use `factory.embedder()`; nothing outside this package should construct a backend directly.
"""
