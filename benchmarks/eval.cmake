# PromQL evaluator: rate, aggregation, histogram_quantile and rule-like
# expressions over 10,000 in-memory series.
nimify_benchmark(eval_benchmark SOURCES eval_benchmark.cc
  DEPS nimify_common nimify_promql nimify_promql_eval nimify_promqltest)
