"""Throughput benchmarking: ``aigve bench`` (harness), the released-usage baseline (reference), tables, random-weight
real-architecture checkpoints (arch), peak-memory sampling (memory) and process-pool decoding (prefetch)."""
