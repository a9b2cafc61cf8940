# NIMIFY_SANITIZE=address,undefined or thread: applied to every target.
if(NIMIFY_SANITIZE)
  add_compile_options(-fsanitize=${NIMIFY_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${NIMIFY_SANITIZE})
  if(NIMIFY_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's fenced blocks use atomic_thread_fence, which GCC warns TSan cannot model;
    # the tested paths synchronize through mutexes and atomics TSan does see.
    add_compile_options(-Wno-tsan)
  endif()
  if(NIMIFY_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

# NIMIFY_LIBFUZZER=ON (clang): every object gets libFuzzer's coverage
# instrumentation, so the fuzz targets (tests/fuzz) are guided by the library
# code they call, not only by their own entry file.
if(NIMIFY_LIBFUZZER)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NIMIFY_LIBFUZZER needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
