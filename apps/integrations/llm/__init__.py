"""LLM adapters: the provider contract (`base`), the Anthropic client (`anthropic_client`) and the
streaming Anthropic answer provider (`anthropic_provider`)."""
