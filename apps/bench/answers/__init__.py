"""Evaluate answers end to end on a BEIR-layout dataset (the `rag_answer_eval` command)."""
