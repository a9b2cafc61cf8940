# Alerting: rule-file loading over the awesome-prometheus-alerts corpus, the
# alert lifecycle step for many series, and whole group evaluations.
nimify_benchmark(alerting_benchmark SOURCES alerting_benchmark.cc
  DEPS nimify_common nimify_promql nimify_promql_eval nimify_promqltest nimify_template
    nimify_alerting)
