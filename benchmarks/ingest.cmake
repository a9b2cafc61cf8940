# Ingest codecs: remote write, text exposition, JSON lines.
nimify_benchmark(ingest_benchmark SOURCES ingest_benchmark.cc
  DEPS nimify_common nimify_promql nimify_ingest Snappy::snappy)
