# Fuzz entries for the ingest decoders (included by tests/fuzz/CMakeLists.txt).
# By default each links ingest_fuzz_driver.cc, a bounded deterministic mutation
# loop that runs under ctest; with NIMIFY_LIBFUZZER=ON (clang) the same entries
# become libFuzzer binaries.
set(nimify_ingest_fuzz_driver ${CMAKE_CURRENT_LIST_DIR}/ingest_fuzz_driver.cc)
if(NIMIFY_LIBFUZZER)
  set(nimify_ingest_fuzz_driver "")
endif()
foreach(nimify_fuzz_name ingest_remote_write_fuzz ingest_text_fuzz ingest_json_lines_fuzz)
  nimify_fuzz_target(${nimify_fuzz_name}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${nimify_fuzz_name}.cc ${nimify_ingest_fuzz_driver}
    DEPS nimify_common nimify_promql nimify_ingest
    ARGS --iterations=200000)
  target_include_directories(${nimify_fuzz_name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
endforeach()
