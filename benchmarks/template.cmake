nimify_benchmark(template_benchmark SOURCES template_benchmark.cc
  DEPS nimify_common nimify_promql nimify_template)
