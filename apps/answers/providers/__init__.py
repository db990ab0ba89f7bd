"""Answer providers written for this app (the extractive one); others live in apps.integrations.llm."""
