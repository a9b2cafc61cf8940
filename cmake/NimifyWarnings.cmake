# Strict warnings, applied per target and PRIVATE so they never leak to users.
function(nimify_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2 -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # The lock annotations of src/common/mutex.h: a guarded member touched
    # without its lock fails the build even where other warnings do not.
    target_compile_options(${target} PRIVATE -Wthread-safety -Werror=thread-safety)
  endif()
  if(NIMIFY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Declares a pipeline-stage OBJECT library nimify_<name>:
#   nimify_stage(<name> SOURCES ... DEPS <third-party targets>...)
# Stage order (one-way includes) is checked by scripts/check_layering.sh; the
# objects of every stage go into nimify_internal (static) and nimify (shared).
function(nimify_stage name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(nimify_${name} OBJECT ${ARG_SOURCES})
  target_include_directories(nimify_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
  target_link_libraries(nimify_${name} PUBLIC ${ARG_DEPS})
  set_target_properties(nimify_${name} PROPERTIES CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  nimify_set_warnings(nimify_${name})
  set_property(GLOBAL APPEND PROPERTY NIMIFY_THIRD_PARTY ${ARG_DEPS})
endfunction()
