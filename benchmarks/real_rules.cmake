# Issue 10's evaluation workload: 100 mixed rules (rates, offset ratios,
# sum/avg/max by, raw gauge thresholds) over 100,000 node-exporter-like series,
# one group evaluation per iteration, with 0 %, 10 % or all instances firing.
nimify_benchmark(real_rules_benchmark SOURCES real_rules_benchmark.cc
  DEPS nimify_common nimify_promql nimify_promql_eval nimify_promqltest nimify_template
    nimify_storage nimify_pipeline nimify_alerting nimify_engine)
