// Sources that belong only to the installable libnimify.so.
#include "nimify/nimify.h"

namespace nimify {

const char* Version() noexcept { return NIMIFY_VERSION_STRING; }

}  // namespace nimify
