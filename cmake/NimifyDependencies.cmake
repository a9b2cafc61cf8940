# Third-party dependencies, all from Debian 12 packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
add_library(nimify_re2 INTERFACE)
target_link_libraries(nimify_re2 INTERFACE PkgConfig::RE2)
find_package(yaml-cpp REQUIRED)
find_package(RapidJSON REQUIRED)
add_library(nimify_rapidjson INTERFACE)
target_include_directories(nimify_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
# Iterative parsing everywhere: the default recursive parser overflows the
# stack on deeply nested input (a 600 KB body of `[` crashed nimifyd).
target_compile_definitions(nimify_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1
  RAPIDJSON_PARSE_DEFAULT_FLAGS=kParseIterativeFlag)
if(NIMIFY_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # RapidJSON's null-stack arithmetic (see the file); clang-only report.
  target_compile_options(nimify_rapidjson INTERFACE
    -fsanitize-ignorelist=${CMAKE_CURRENT_LIST_DIR}/rapidjson_ubsan_ignorelist.txt)
endif()
find_package(spdlog REQUIRED)
find_package(Snappy QUIET)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
