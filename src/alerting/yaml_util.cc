#include "alerting/yaml_util.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "promql/parser.h"

namespace nimify::alerting {

void ErrorList::Add(SourcePos pos, std::string_view message) {
  messages_.push_back(FormatPos(origin_, pos) + ": " + std::string(message));
}

Status ErrorList::ToStatus() const {
  if (messages_.empty()) return Status::Ok();
  std::string joined;
  for (const auto& m : messages_) {
    if (!joined.empty()) joined += '\n';
    joined += m;
  }
  return Status::ParseError(std::move(joined));
}

SourcePos PosOf(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

int OffsetOf(const YAML::Node& node) {
  if (!node.IsDefined()) return -1;
  return node.Mark().pos;
}

Result<YAML::Node> LoadFirstDocument(std::string_view content, std::string_view origin) {
  try {
    // YAML::Load parses only the first document of a stream.
    return YAML::Load(std::string(content));
  } catch (const YAML::Exception& e) {
    SourcePos pos;
    if (e.mark.line >= 0) pos = {e.mark.line + 1, e.mark.column + 1};
    return Status::ParseError(FormatPos(origin, pos) + ": yaml: " + e.msg);
  } catch (const std::exception& e) {
    return Status::ParseError(std::string(origin) + ": yaml: " + e.what());
  }
}

std::string_view NodeKindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

bool ReadMapping(const YAML::Node& node, SourcePos fallback, const MappingOptions& options,
                 ErrorList* errors, std::vector<YamlField>* out) {
  out->clear();
  if (!node.IsDefined() || node.IsNull()) return true;
  const SourcePos node_pos = PosOf(node).known() ? PosOf(node) : fallback;
  if (!node.IsMap()) {
    errors->Add(node_pos, std::string(options.what) + ": expected a mapping, got " +
                              std::string(NodeKindName(node)));
    return false;
  }
  std::set<std::string, std::less<>> seen;
  try {
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      const SourcePos key_pos = PosOf(key);
      if (!key.IsScalar()) {
        errors->Add(key_pos, std::string(options.what) + ": keys must be strings");
        continue;
      }
      std::string name = key.Scalar();
      if (!seen.insert(name).second) {
        errors->Add(key_pos,
                    "mapping key \"" + name + "\" already defined in " + std::string(options.what));
        continue;
      }
      const bool known =
          std::find(options.known.begin(), options.known.end(), name) != options.known.end();
      if (!known) {
        if (!options.ignore_unknown) {
          errors->Add(key_pos, "field " + name + " not found in " + std::string(options.what));
        }
        continue;
      }
      YamlField field;
      field.key = std::move(name);
      field.value = entry.second;
      field.key_pos = key_pos;
      field.value_pos =
          (field.value.IsNull() || !PosOf(field.value).known()) ? key_pos : PosOf(field.value);
      out->push_back(std::move(field));
    }
  } catch (const YAML::Exception& e) {
    errors->Add(node_pos, std::string("yaml: ") + e.msg);
    return false;
  }
  return true;
}

const YamlField* FindField(const std::vector<YamlField>& fields, std::string_view key) {
  for (const auto& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::optional<std::string> ReadString(const YamlField& field, ErrorList* errors) {
  if (!field.value.IsDefined() || field.value.IsNull()) return std::string();
  if (!field.value.IsScalar()) {
    errors->Add(field.value_pos, "field " + field.key + ": expected a string, got " +
                                     std::string(NodeKindName(field.value)));
    return std::nullopt;
  }
  return field.value.Scalar();
}

std::optional<std::int64_t> ReadDurationMs(const YamlField& field, ErrorList* errors) {
  auto text = ReadString(field, errors);
  if (!text) return std::nullopt;
  if (text->empty()) return 0;
  auto ms = promql::ParseDuration(*text);
  if (!ms.ok()) {
    errors->Add(field.value_pos,
                "field " + field.key + ": not a valid duration string: \"" + *text + "\"");
    return std::nullopt;
  }
  return *ms;
}

namespace {

// YAML 1.1 integer forms as Go's yaml resolvers accept them: [+-] decimal,
// 0x hex, 0o / leading-0 octal, 0b binary, with '_' separators.
std::optional<std::int64_t> ParseYamlInt(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty()) return std::nullopt;
  bool negative = false;
  std::size_t i = 0;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    i = 1;
  }
  int base = 10;
  if (text.size() > i + 1 && text[i] == '0') {
    const char c = text[i + 1];
    if (c == 'x' || c == 'X') {
      base = 16;
      i += 2;
    } else if (c == 'o' || c == 'O') {
      base = 8;
      i += 2;
    } else if (c == 'b' || c == 'B') {
      base = 2;
      i += 2;
    } else {
      base = 8;
      i += 1;
    }
  }
  if (i >= text.size()) return std::nullopt;
  std::uint64_t magnitude = 0;
  const char* first = text.data() + i;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, magnitude, base);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  if (negative) {
    if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(0 - magnitude);
  }
  if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(magnitude);
}

std::optional<double> ParseYamlFloat(const std::string& text) {
  static const std::set<std::string, std::less<>> kInf = {".inf",  ".Inf",  ".INF",
                                                          "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string, std::less<>> kNegInf = {"-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string, std::less<>> kNaN = {".nan", ".NaN", ".NAN"};
  if (kInf.count(text)) return std::numeric_limits<double>::infinity();
  if (kNegInf.count(text)) return -std::numeric_limits<double>::infinity();
  if (kNaN.count(text)) return std::numeric_limits<double>::quiet_NaN();
  if (auto i = ParseYamlInt(text)) return static_cast<double>(*i);
  std::string digits = text;
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  if (digits.empty()) return std::nullopt;
  // Only decimal floats: no "inf"/"nan" words and no hex floats here.
  for (char c : digits) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-')) {
      return std::nullopt;
    }
  }
  const char* first = digits.data();
  if (*first == '+') ++first;
  double value = 0;
  auto [ptr, ec] = std::from_chars(first, digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return std::strtod(digits.c_str(), nullptr);
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return value;
}

bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

}  // namespace

std::optional<std::int64_t> ReadInt(const YamlField& field, ErrorList* errors) {
  if (!field.value.IsDefined() || field.value.IsNull()) return 0;
  if (field.value.IsScalar() && !IsQuoted(field.value)) {
    if (auto v = ParseYamlInt(field.value.Scalar())) return v;
  }
  errors->Add(field.value_pos,
              "field " + field.key + ": cannot unmarshal " +
                  (field.value.IsScalar() ? "`" + field.value.Scalar() + "`"
                                          : std::string(NodeKindName(field.value))) +
                  " into an integer");
  return std::nullopt;
}

std::optional<double> ReadFloat(const YamlField& field, ErrorList* errors) {
  if (!field.value.IsDefined() || field.value.IsNull()) return 0.0;
  if (field.value.IsScalar() && !IsQuoted(field.value)) {
    if (auto v = ParseYamlFloat(field.value.Scalar())) return v;
  }
  errors->Add(field.value_pos,
              "field " + field.key + ": cannot unmarshal " +
                  (field.value.IsScalar() ? "`" + field.value.Scalar() + "`"
                                          : std::string(NodeKindName(field.value))) +
                  " into a float");
  return std::nullopt;
}

std::optional<bool> ReadBool(const YamlField& field, ErrorList* errors) {
  if (!field.value.IsDefined() || field.value.IsNull()) return false;
  if (field.value.IsScalar() && !IsQuoted(field.value)) {
    static const std::set<std::string, std::less<>> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                             "YES",  "on",   "On",   "ON"};
    static const std::set<std::string, std::less<>> kFalse = {"false", "False", "FALSE", "no", "No",
                                                              "NO",    "off",   "Off",   "OFF"};
    const std::string& s = field.value.Scalar();
    if (kTrue.count(s)) return true;
    if (kFalse.count(s)) return false;
  }
  errors->Add(field.value_pos, "field " + field.key + ": expected true or false");
  return std::nullopt;
}

std::optional<StringPairs> ReadStringMap(const YamlField& field, ErrorList* errors,
                                         std::vector<SourcePos>* key_positions) {
  StringPairs out;
  if (key_positions) key_positions->clear();
  if (!field.value.IsDefined() || field.value.IsNull()) return out;
  if (!field.value.IsMap()) {
    errors->Add(field.value_pos, "field " + field.key + ": expected a mapping of strings, got " +
                                     std::string(NodeKindName(field.value)));
    return std::nullopt;
  }
  std::vector<std::pair<std::pair<std::string, std::string>, SourcePos>> items;
  std::set<std::string, std::less<>> seen;
  bool ok = true;
  try {
    for (const auto& entry : field.value) {
      const YAML::Node key_node = entry.first;
      const YAML::Node value_node = entry.second;
      const SourcePos key_pos = PosOf(key_node);
      if (!key_node.IsScalar()) {
        errors->Add(key_pos, "field " + field.key + ": keys must be strings");
        ok = false;
        continue;
      }
      std::string key = key_node.Scalar();
      if (!seen.insert(key).second) {
        errors->Add(key_pos, "mapping key \"" + key + "\" already defined in " + field.key);
        ok = false;
        continue;
      }
      YamlField item{key, value_node, key_pos, value_node.IsNull() ? key_pos : PosOf(value_node)};
      auto value = ReadString(item, errors);
      if (!value) {
        ok = false;
        continue;
      }
      items.push_back({{std::move(key), std::move(*value)}, key_pos});
    }
  } catch (const YAML::Exception& e) {
    errors->Add(field.value_pos, std::string("yaml: ") + e.msg);
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.first.first < b.first.first; });
  for (auto& item : items) {
    out.push_back(std::move(item.first));
    if (key_positions) key_positions->push_back(item.second);
  }
  return out;
}

std::optional<std::vector<std::string>> ReadStringList(const YamlField& field, ErrorList* errors) {
  std::vector<std::string> out;
  if (!field.value.IsDefined() || field.value.IsNull()) return out;
  if (!field.value.IsSequence()) {
    errors->Add(field.value_pos, "field " + field.key + ": expected a sequence of strings, got " +
                                     std::string(NodeKindName(field.value)));
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& item : field.value) {
    YamlField f{field.key, item, PosOf(item), PosOf(item).known() ? PosOf(item) : field.value_pos};
    auto s = ReadString(f, errors);
    if (!s) {
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace nimify::alerting
