"""Benchmarks and evaluation, on top of every product app; nothing in the product imports it.

Management commands: `bench_ingest` (ingestion throughput), `bench_retrieval` (retrieval latency
on a synthetic corpus), `bench_streams` (concurrent answer streams over the portal's socket),
`rag_eval` (retrieval quality on BEIR-style datasets), `rag_answer_eval` (answer quality),
`eval_all` (every dataset, one report) and `evidence_fit` (fits the answers' evidence-sufficiency
model, written to apps/answers/evidence/model.json where the answers read it).
"""
