// A parsed configuration tree with source positions, for handler factories
// and anything else that validates a config section at load time.
//
//   const nimify::ConfigNode* url = node.Find("url");
//   if (url == nullptr) return node.Error("missing field \"url\"");
//   NIMIFY_ASSIGN_OR_RETURN(std::string text, url->AsString());
//
// Every error a ConfigNode builds reads "file:line:col: message", so a bad
// config fails its load with the place to fix.
#ifndef NIMIFY_CONFIG_H_
#define NIMIFY_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimify/export.h"
#include "nimify/status.h"

namespace nimify {

// 1-based line and column; 0 when unknown (a node built in code).
struct SourcePosition {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:col" (or "file" / "<config>" when the position is unknown).
  NIMIFY_EXPORT std::string ToString() const;
};

// A YAML-like value: null, a scalar (kept as its text), a sequence or a
// mapping whose keys keep their source order. Immutable once built; copies
// are cheap (the children are shared).
class NIMIFY_EXPORT ConfigNode {
 public:
  enum class Kind : std::uint8_t { kNull, kScalar, kSequence, kMap };
  using Entry = std::pair<std::string, ConfigNode>;

  ConfigNode() = default;  // null, position unknown
  static ConfigNode Null(SourcePosition pos);
  static ConfigNode Scalar(std::string text, SourcePosition pos = {});
  static ConfigNode Sequence(std::vector<ConfigNode> items, SourcePosition pos = {});
  static ConfigNode Map(std::vector<Entry> entries, SourcePosition pos = {});

  // Parses the first YAML document of `text`. kParseError "origin:line:col: ...".
  // Duplicate keys are errors; aliases are expanded at most a bounded number
  // of times (alias bombs are refused).
  static Result<ConfigNode> ParseYaml(std::string_view text, std::string_view origin);

  Kind kind() const noexcept { return kind_; }
  bool is_null() const noexcept { return kind_ == Kind::kNull; }
  bool is_scalar() const noexcept { return kind_ == Kind::kScalar; }
  bool is_sequence() const noexcept { return kind_ == Kind::kSequence; }
  bool is_map() const noexcept { return kind_ == Kind::kMap; }
  const SourcePosition& position() const noexcept { return pos_; }

  // The scalar's text; empty for other kinds.
  const std::string& text() const noexcept;
  // Sequence items; empty for other kinds.
  const std::vector<ConfigNode>& items() const noexcept;
  // Mapping entries in source order; empty for other kinds.
  const std::vector<Entry>& entries() const noexcept;
  // The value of `key` in a mapping, or null when absent (or not a mapping).
  const ConfigNode* Find(std::string_view key) const noexcept;

  // Typed reads. Each fails with kInvalidArgument "file:line:col: ..." when
  // the node has another kind or the text does not parse.
  Result<std::string> AsString() const;
  Result<bool> AsBool() const;                    // true/false (YAML 1.2 core)
  Result<std::int64_t> AsInt() const;
  Result<double> AsDouble() const;
  Result<std::chrono::milliseconds> AsDuration() const;  // Prometheus durations: 1h30m, 15s
  Result<std::vector<std::string>> AsStringList() const;  // a sequence of scalars

  // Fails with "file:line:col: field \"k\" not found in <what>" for each key
  // in `keys` that is not allowed, so typos are caught at load time.
  Status CheckKeys(std::initializer_list<std::string_view> allowed, std::string_view what) const;

  // kInvalidArgument with "file:line:col: message".
  Status Error(std::string_view message) const;

  // The node as YAML flow text (for logs and audit records).
  std::string ToYaml() const;

 private:
  struct Children;
  Kind kind_ = Kind::kNull;
  SourcePosition pos_;
  std::string text_;
  std::shared_ptr<const Children> children_;
};

}  // namespace nimify

#endif  // NIMIFY_CONFIG_H_
