// Rule sets: Prometheus rule files, parsed, validated and type-checked once,
// then shared (immutably) by engines.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto rules, nimify::RuleSet::LoadFile("rules/runbook.rules.yml"));
//   std::printf("%zu rules\n", rules->rule_count());
//   NIMIFY_ASSIGN_OR_RETURN(auto engine, nimify::Engine::Create({}, rules));
#ifndef NIMIFY_RULES_H_
#define NIMIFY_RULES_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/export.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify {

namespace internal {
struct RuleSetAccess;
}  // namespace internal

enum class RuleKind : std::uint8_t { kAlerting, kRecording };

// A summary of one rule (for listings; the engine keeps the full rule).
struct RuleInfo {
  std::string file;
  std::string group;
  RuleKind kind = RuleKind::kAlerting;
  std::string name;  // `alert` or `record`
  std::string expr;
  std::chrono::milliseconds for_duration{0};     // `for`
  std::chrono::milliseconds keep_firing_for{0};  // `keep_firing_for`
  std::chrono::milliseconds group_interval{0};   // 0: the engine's default interval
  OwnedLabels labels;                            // raw (unexpanded) rule labels
  OwnedLabels annotations;                       // raw (unexpanded) annotations
  friend bool operator==(const RuleInfo&, const RuleInfo&) = default;
};

struct RuleSetOptions {
  // Reject fields Prometheus 2.42 does not know (query_offset, group labels).
  bool prometheus2_fields_only = false;
  // Skip unknown fields instead of rejecting them (promtool's --ignore-unknown-fields).
  bool ignore_unknown_fields = false;
};

// Parsed, validated rule groups, in file order. Immutable: safe to share
// between threads and engines.
class NIMIFY_EXPORT RuleSet {
 public:
  // Parses the text of one rule file. All-or-nothing: on error nothing is
  // returned and the message lists every problem as "origin:line:col: problem",
  // one per line. Errors: kParseError (YAML, fields, expressions, templates).
  static Result<std::shared_ptr<const RuleSet>> Parse(std::string_view text,
                                                      std::string_view origin = "<inline>",
                                                      const RuleSetOptions& options = {});
  // Reads and parses one file. kNotFound when it cannot be read.
  static Result<std::shared_ptr<const RuleSet>> LoadFile(const std::string& path,
                                                         const RuleSetOptions& options = {});
  // Each argument is a file, a directory (every *.yml / *.yaml below it) or a
  // glob pattern. All-or-nothing across files; kNotFound when a pattern or
  // directory matches nothing.
  static Result<std::shared_ptr<const RuleSet>> LoadFiles(const std::vector<std::string>& paths,
                                                          const RuleSetOptions& options = {});
  // A rule set without rules.
  static std::shared_ptr<const RuleSet> Empty();

  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  std::size_t rule_count() const noexcept;
  std::size_t group_count() const noexcept;
  // Every rule, in file and group order.
  std::vector<RuleInfo> rules() const;

 private:
  friend struct internal::RuleSetAccess;
  struct Impl;
  explicit RuleSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify

#endif  // NIMIFY_RULES_H_
