# Engine: end-to-end ingest through the public API with threshold rules, the
# incremental threshold tracker's per-sample cost, Resolve on known series,
# and a full evaluation of 100 threshold rules (general PromQL path).
nimify_benchmark(engine_benchmark SOURCES engine_benchmark.cc
  DEPS nimify_common nimify_promql nimify_promql_eval nimify_promqltest nimify_template
    nimify_storage nimify_pipeline nimify_alerting nimify_engine)

# Event-driven evaluation: a group instant with idle inputs, with and without skipping.
nimify_benchmark(event_driven_benchmark SOURCES event_driven_benchmark.cc
  DEPS nimify_common nimify_promql nimify_promql_eval nimify_promqltest nimify_template
    nimify_storage nimify_pipeline nimify_alerting nimify_engine)
