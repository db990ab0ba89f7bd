"""What the embedder tests share: the vector width and the API key the remote client sends."""

DIMENSIONS = 384
API_KEY = "sk-test-4f1d9c0a7be24e6f"
