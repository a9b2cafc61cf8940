nimify_benchmark(storage_benchmark SOURCES storage_benchmark.cc
  DEPS nimify_common nimify_promql nimify_storage)
