"""The LLM provider adapter (Anthropic Claude). Import `anthropic_client` from `.anthropic_client`."""
