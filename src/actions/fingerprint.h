// Alertmanager's identity of a label set: model.LabelSet.Fingerprint from
// prometheus/common (FNV-1a 64 over the sorted names and values, each followed
// by a 0xff separator), and its hex form as the API and amtool print it.
#ifndef NIMIFY_ACTIONS_FINGERPRINT_H_
#define NIMIFY_ACTIONS_FINGERPRINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "nimify/sample.h"

namespace nimify::actions {

// REQUIRES: `labels` sorted by name (OwnedLabels' invariant). The empty set
// hashes to the FNV offset basis, as in Go.
std::uint64_t Fingerprint(const OwnedLabels& labels) noexcept;

// "%016x" of the fingerprint, e.g. "a3f2c1d000000001".
std::string FingerprintString(std::uint64_t fingerprint);

// model.LabelSet.String(): `{a="1", b="x\ny"}`, names sorted, values quoted
// as Go's %q. Part of aggregation group keys.
std::string LabelSetString(const OwnedLabels& labels);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_FINGERPRINT_H_
