// Umbrella header for nimify's public API.
#ifndef NIMIFY_NIMIFY_H_
#define NIMIFY_NIMIFY_H_

#include "nimify/export.h"
#include "nimify/status.h"

namespace nimify {

// The library version, "MAJOR.MINOR.PATCH".
NIMIFY_EXPORT const char* Version() noexcept;

}  // namespace nimify

#endif  // NIMIFY_NIMIFY_H_
