// Strict YAML decoding on top of yaml-cpp, in the way Go's yaml decoders with
// KnownFields/UnmarshalStrict behave: unknown and duplicate keys are errors,
// and every error carries origin:line:col. Internal to the alerting stage.
//
// yaml-cpp throws; everything here catches at the boundary and reports errors
// into an ErrorList instead.
#ifndef NIMIFY_ALERTING_YAML_UTIL_H_
#define NIMIFY_ALERTING_YAML_UTIL_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alerting/source_pos.h"
#include "nimify/status.h"

namespace nimify::alerting {

// Collects "origin:line:col: message" lines.
class ErrorList {
 public:
  explicit ErrorList(std::string origin) : origin_(std::move(origin)) {}

  void Add(SourcePos pos, std::string_view message);
  // A message that already carries its own location.
  void AddRaw(std::string message) { messages_.push_back(std::move(message)); }

  bool empty() const noexcept { return messages_.empty(); }
  std::size_t size() const noexcept { return messages_.size(); }
  const std::vector<std::string>& messages() const noexcept { return messages_; }
  const std::string& origin() const noexcept { return origin_; }

  // OK when empty, else kParseError with one message per line.
  Status ToStatus() const;

 private:
  std::string origin_;
  std::vector<std::string> messages_;
};

// 1-based position of a node; unknown for nodes without a mark (e.g. absent).
SourcePos PosOf(const YAML::Node& node);
// Byte offset of a node in its source text, or -1.
int OffsetOf(const YAML::Node& node);

// Parses the first YAML document of `content`; later documents are ignored,
// as Prometheus does. An empty document gives a null node.
Result<YAML::Node> LoadFirstDocument(std::string_view content, std::string_view origin);

// One key/value pair of a mapping. `value_pos` falls back to the key's position
// when the value is null (yaml-cpp gives null values no useful mark).
struct YamlField {
  std::string key;
  YAML::Node value;
  SourcePos key_pos;
  SourcePos value_pos;
};

struct MappingOptions {
  std::string_view what;  // "rule group", "rule", ... for messages
  std::vector<std::string_view> known;
  bool ignore_unknown = false;
};

// Reads `node` as a mapping: a duplicate key or a key not in `options.known`
// is an error. A null node is an empty mapping. Returns false (after reporting)
// when the node is not a mapping at all.
bool ReadMapping(const YAML::Node& node, SourcePos fallback, const MappingOptions& options,
                 ErrorList* errors, std::vector<YamlField>* out);

const YamlField* FindField(const std::vector<YamlField>& fields, std::string_view key);

// Scalar readers: each reports its own error and returns nullopt on failure.
// Any scalar reads as a string (numbers keep their source text); null is "".
std::optional<std::string> ReadString(const YamlField& field, ErrorList* errors);
// Prometheus durations ("5m", "1h30m", "0").
std::optional<std::int64_t> ReadDurationMs(const YamlField& field, ErrorList* errors);
std::optional<std::int64_t> ReadInt(const YamlField& field, ErrorList* errors);
// YAML numbers, including .inf, -.inf, .nan and hex/octal integers; quoted strings are errors.
std::optional<double> ReadFloat(const YamlField& field, ErrorList* errors);
std::optional<bool> ReadBool(const YamlField& field, ErrorList* errors);

using StringPairs = std::vector<std::pair<std::string, std::string>>;
// A mapping of strings, sorted by key. Null reads as empty.
std::optional<StringPairs> ReadStringMap(const YamlField& field, ErrorList* errors,
                                         std::vector<SourcePos>* key_positions = nullptr);
// A sequence of strings (null reads as empty).
std::optional<std::vector<std::string>> ReadStringList(const YamlField& field, ErrorList* errors);

// "a sequence", "a mapping", ... for messages.
std::string_view NodeKindName(const YAML::Node& node);

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_YAML_UTIL_H_
