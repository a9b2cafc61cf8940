# NIMIFY_COMPRESS_DEBUG=ON: debug sections are zlib-compressed in objects, archives and
# executables. Every test links the whole library statically, so uncompressed debug info
# (mostly .debug_str) took ~13 GB over the release and sanitizer trees and filled CI's
# disk; compressed it is several times smaller. gdb, perf, addr2line and the sanitizers'
# symbolizers read compressed sections.
option(NIMIFY_COMPRESS_DEBUG "Compress debug sections (-gz)" ON)
if(NIMIFY_COMPRESS_DEBUG)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-g -gz")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-gz")
  check_cxx_source_compiles("int main() { return 0; }" NIMIFY_HAVE_GZ)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NIMIFY_HAVE_GZ)
    add_compile_options(-gz)
    add_link_options(-gz)
  else()
    message(STATUS "nimify: the toolchain cannot compress debug sections; left uncompressed")
  endif()
endif()
