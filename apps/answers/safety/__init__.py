"""Safety controls of the answer pipeline (roadmap 4.5): prompt-injection detection (`injection`),
PII redaction (`pii`) and content filter hooks (`content_filter`)."""
