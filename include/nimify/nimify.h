// Umbrella header for nimify's public API: Status/Result, samples, rule sets,
// alert events and the Engine.
//
// Time in the API: an instant is an std::int64_t count of milliseconds since
// the Unix epoch (named *_ms, as Prometheus's sample timestamps); a length of
// time is an std::chrono duration.
#ifndef NIMIFY_NIMIFY_H_
#define NIMIFY_NIMIFY_H_

#include "nimify/alert.h"
#include "nimify/engine.h"
#include "nimify/export.h"
#include "nimify/rules.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify {

// The library version, "MAJOR.MINOR.PATCH".
NIMIFY_EXPORT const char* Version() noexcept;

}  // namespace nimify

#endif  // NIMIFY_NIMIFY_H_
