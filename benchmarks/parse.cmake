# PromQL parsing: the awesome-prometheus-alerts corpus and a few single expressions.
nimify_benchmark(parse_benchmark SOURCES parse_benchmark.cc DEPS nimify_common nimify_promql yaml-cpp)
