# NIMIFY_SANITIZE=address,undefined or thread: applied to every target.
if(NIMIFY_SANITIZE)
  add_compile_options(-fsanitize=${NIMIFY_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${NIMIFY_SANITIZE})
  if(NIMIFY_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
