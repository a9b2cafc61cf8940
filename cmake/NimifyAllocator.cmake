# The malloc the nimify CLI and nimifyd link (NIMIFY_ALLOCATOR): "glibc" (the
# C library's, nothing linked) or "jemalloc" (Debian's libjemalloc2, found with
# find_library). The library and the tests never link an allocator: embedders
# choose their own. docs/performance.md ("Allocator") has the measurement
# behind the default.
set(NIMIFY_ALLOCATOR "glibc" CACHE STRING "malloc for the CLI and nimifyd: glibc | jemalloc")
set_property(CACHE NIMIFY_ALLOCATOR PROPERTY STRINGS glibc jemalloc)

set(NIMIFY_ALLOCATOR_LIBRARY "")
if(NIMIFY_ALLOCATOR STREQUAL "jemalloc")
  if(NIMIFY_SANITIZE)
    # The sanitizers replace malloc themselves.
    message(STATUS "nimify: NIMIFY_SANITIZE is set; not linking jemalloc")
  else()
    find_library(NIMIFY_JEMALLOC_LIBRARY NAMES jemalloc libjemalloc.so.2)
    if(NOT NIMIFY_JEMALLOC_LIBRARY)
      message(FATAL_ERROR "NIMIFY_ALLOCATOR=jemalloc: libjemalloc not found "
                          "(Debian: apt-get install libjemalloc2), or use -DNIMIFY_ALLOCATOR=glibc")
    endif()
    set(NIMIFY_ALLOCATOR_LIBRARY ${NIMIFY_JEMALLOC_LIBRARY})
    message(STATUS "nimify: the CLI and nimifyd link ${NIMIFY_JEMALLOC_LIBRARY}")
  endif()
elseif(NOT NIMIFY_ALLOCATOR STREQUAL "glibc")
  message(FATAL_ERROR "NIMIFY_ALLOCATOR must be glibc or jemalloc, not '${NIMIFY_ALLOCATOR}'")
endif()

# Links the chosen allocator into an executable. Nothing references its
# symbols (malloc is interposed), so --as-needed must not drop it.
function(nimify_link_allocator target)
  if(NIMIFY_ALLOCATOR_LIBRARY AND TARGET ${target})
    target_link_libraries(${target} PRIVATE -Wl,--push-state,--no-as-needed
                          ${NIMIFY_ALLOCATOR_LIBRARY} -Wl,--pop-state)
  endif()
endfunction()
