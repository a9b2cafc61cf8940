// The storage interface the evaluator reads. Test fixtures (MemoryStorage)
// and the streaming shard windows both implement it.
#ifndef NIMIFY_PROMQL_STORAGE_H_
#define NIMIFY_PROMQL_STORAGE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nimify/status.h"
#include "promql/labels.h"
#include "promql/value.h"

namespace re2 {
class RE2;
}

namespace nimify::promql {

enum class MatchType : std::uint8_t { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// One label matcher. Regexes are fully anchored ("^(?:re)$") and compiled once
// by Create(); a matcher is immutable afterwards and safe to share.
class LabelMatcher {
 public:
  // kParseError-free: returns kInvalidArgument with re2's message for a bad regex.
  static Result<LabelMatcher> Create(MatchType type, std::string name, std::string value);

  MatchType type() const noexcept { return type_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& value() const noexcept { return value_; }
  // An absent label matches as the empty string, as in Prometheus.
  bool Matches(std::string_view label_value) const;
  // True when the matcher also matches the empty string (so it cannot select by itself).
  bool MatchesEmpty() const { return Matches(""); }
  // `name="value"` etc., as Prometheus prints it.
  std::string ToString() const;

 private:
  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;  // set for regex types
};

// One selected series: its labels and its samples with mint <= t <= maxt,
// sorted by time, stale markers included. The spans stay valid until the
// Querier that produced them is destroyed.
struct SeriesView {
  const Labels* labels = nullptr;
  std::span<const Point> points;
};

// A read view over storage for one query. Not thread-safe: one query uses it.
class Querier {
 public:
  virtual ~Querier() = default;
  // Appends every series matching all `matchers` that has at least one sample in
  // [mint, maxt] (inclusive both ends; the evaluator applies left-open windows).
  virtual Status Select(std::span<const LabelMatcher> matchers, std::int64_t mint,
                        std::int64_t maxt, std::vector<SeriesView>* out) = 0;
  // The same for a caller that reads only each series' newest sample at or
  // before maxt (an instant vector selector at a single instant): storage may
  // return just that sample, which saves decoding the rest of the window. It
  // returns a series only if that sample is at or after mint.
  virtual Status SelectNewest(std::span<const LabelMatcher> matchers, std::int64_t mint,
                              std::int64_t maxt, std::vector<SeriesView>* out) {
    return Select(matchers, mint, maxt, out);
  }
};

// Storage that can open queriers. Implementations state their own thread safety.
class Queryable {
 public:
  virtual ~Queryable() = default;
  virtual Result<std::unique_ptr<Querier>> NewQuerier(std::int64_t mint, std::int64_t maxt) = 0;
};

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_STORAGE_H_
