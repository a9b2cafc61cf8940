#include "actions/fingerprint.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/go_strconv.h"

namespace nimify::actions {

namespace {

constexpr std::uint64_t kFnvOffset64 = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime64 = 1099511628211ULL;
constexpr unsigned char kSeparatorByte = 0xff;

std::uint64_t HashAdd(std::uint64_t h, std::string_view s) noexcept {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime64;
  }
  return h;
}

std::uint64_t HashAddByte(std::uint64_t h, unsigned char b) noexcept {
  h ^= b;
  h *= kFnvPrime64;
  return h;
}

}  // namespace

std::uint64_t Fingerprint(const OwnedLabels& labels) noexcept {
  std::uint64_t h = kFnvOffset64;
  for (const OwnedLabel& l : labels) {
    h = HashAdd(h, l.name);
    h = HashAddByte(h, kSeparatorByte);
    h = HashAdd(h, l.value);
    h = HashAddByte(h, kSeparatorByte);
  }
  return h;
}

std::string FingerprintString(std::uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

std::string LabelSetString(const OwnedLabels& labels) {
  // Go sorts the formatted pairs, not the names ("a0=" sorts before "a=").
  std::vector<std::string> pairs;
  pairs.reserve(labels.size());
  for (const OwnedLabel& l : labels) pairs.push_back(l.name + "=" + internal::GoQuote(l.value));
  std::sort(pairs.begin(), pairs.end());
  std::string out = "{";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += ", ";
    out += pairs[i];
  }
  out += '}';
  return out;
}

}  // namespace nimify::actions
