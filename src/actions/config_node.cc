#include "nimify/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <set>
#include <utility>

#include "alerting/yaml_util.h"
#include "promql/parser.h"

namespace nimify {

// Alias bombs ("a: &a [*b, *b, ...]") expand exponentially; a config has far
// fewer nodes than this.
constexpr std::size_t kMaxConfigNodes = 1'000'000;
constexpr int kMaxConfigDepth = 200;

struct ConfigNode::Children {
  std::vector<ConfigNode> items;
  std::vector<Entry> entries;
};

std::string SourcePosition::ToString() const {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  return out;
}

ConfigNode ConfigNode::Scalar(std::string text, SourcePosition pos) {
  ConfigNode n;
  n.kind_ = Kind::kScalar;
  n.text_ = std::move(text);
  n.pos_ = std::move(pos);
  return n;
}

ConfigNode ConfigNode::Sequence(std::vector<ConfigNode> items, SourcePosition pos) {
  ConfigNode n;
  n.kind_ = Kind::kSequence;
  auto children = std::make_shared<Children>();
  children->items = std::move(items);
  n.children_ = std::move(children);
  n.pos_ = std::move(pos);
  return n;
}

ConfigNode ConfigNode::Map(std::vector<Entry> entries, SourcePosition pos) {
  ConfigNode n;
  n.kind_ = Kind::kMap;
  auto children = std::make_shared<Children>();
  children->entries = std::move(entries);
  n.children_ = std::move(children);
  n.pos_ = std::move(pos);
  return n;
}

namespace {

const std::string kEmptyText;
const std::vector<ConfigNode> kNoItems;
const std::vector<ConfigNode::Entry> kNoEntries;

SourcePosition PositionOf(const YAML::Node& node, const std::string& origin) {
  SourcePosition pos;
  pos.file = origin;
  const alerting::SourcePos p = alerting::PosOf(node);
  pos.line = p.line;
  pos.column = p.column;
  return pos;
}

struct Converter {
  std::string origin;
  std::size_t nodes = 0;

  Result<ConfigNode> Convert(const YAML::Node& node, int depth) {
    if (++nodes > kMaxConfigNodes) {
      return Status::InvalidArgument(PositionOf(node, origin).ToString() +
                                     ": the document expands to more than " +
                                     std::to_string(kMaxConfigNodes) + " nodes (alias bomb?)");
    }
    if (depth > kMaxConfigDepth) {
      return Status::InvalidArgument(PositionOf(node, origin).ToString() +
                                     ": nested deeper than " + std::to_string(kMaxConfigDepth));
    }
    SourcePosition pos = PositionOf(node, origin);
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return ConfigNode::Null(pos);
      case YAML::NodeType::Scalar:
        return ConfigNode::Scalar(node.Scalar(), pos);
      case YAML::NodeType::Sequence: {
        std::vector<ConfigNode> items;
        items.reserve(node.size());
        for (const auto& item : node) {
          NIMIFY_ASSIGN_OR_RETURN(ConfigNode child, Convert(item, depth + 1));
          items.push_back(std::move(child));
        }
        return ConfigNode::Sequence(std::move(items), pos);
      }
      case YAML::NodeType::Map: {
        std::vector<ConfigNode::Entry> entries;
        std::set<std::string, std::less<>> seen;
        for (const auto& kv : node) {
          const YAML::Node key = kv.first;
          if (!key.IsScalar()) {
            return Status::InvalidArgument(PositionOf(key, origin).ToString() +
                                           ": mapping keys must be strings");
          }
          if (!seen.insert(key.Scalar()).second) {
            return Status::InvalidArgument(PositionOf(key, origin).ToString() + ": duplicate key \"" +
                                           key.Scalar() + "\"");
          }
          NIMIFY_ASSIGN_OR_RETURN(ConfigNode child, Convert(kv.second, depth + 1));
          if (child.is_null() && child.position().line == 0) {
            // yaml-cpp gives null values no mark: point at the key instead.
            child = ConfigNode::Null(PositionOf(key, origin));
          }
          entries.emplace_back(key.Scalar(), std::move(child));
        }
        return ConfigNode::Map(std::move(entries), pos);
      }
    }
    return ConfigNode();
  }
};

}  // namespace

ConfigNode ConfigNode::Null(SourcePosition pos) {
  ConfigNode n;
  n.pos_ = std::move(pos);
  return n;
}

Result<ConfigNode> ConfigNode::ParseYaml(std::string_view text, std::string_view origin) {
  const std::string origin_str(origin);
  try {
    NIMIFY_ASSIGN_OR_RETURN(YAML::Node root, alerting::LoadFirstDocument(text, origin));
    Converter converter{origin_str};
    Result<ConfigNode> node = converter.Convert(root, 0);
    if (!node.ok()) return Status(StatusCode::kParseError, std::string(node.status().message()));
    return node;
  } catch (const std::exception& e) {
    return Status::ParseError(origin_str + ": " + e.what());
  }
}

const std::string& ConfigNode::text() const noexcept {
  return kind_ == Kind::kScalar ? text_ : kEmptyText;
}

const std::vector<ConfigNode>& ConfigNode::items() const noexcept {
  return kind_ == Kind::kSequence && children_ ? children_->items : kNoItems;
}

const std::vector<ConfigNode::Entry>& ConfigNode::entries() const noexcept {
  return kind_ == Kind::kMap && children_ ? children_->entries : kNoEntries;
}

const ConfigNode* ConfigNode::Find(std::string_view key) const noexcept {
  for (const Entry& e : entries()) {
    if (e.first == key) return &e.second;
  }
  return nullptr;
}

Status ConfigNode::Error(std::string_view message) const {
  return Status::InvalidArgument(pos_.ToString() + ": " + std::string(message));
}

namespace {

std::string_view KindName(ConfigNode::Kind kind) {
  switch (kind) {
    case ConfigNode::Kind::kNull:
      return "null";
    case ConfigNode::Kind::kScalar:
      return "a scalar";
    case ConfigNode::Kind::kSequence:
      return "a sequence";
    case ConfigNode::Kind::kMap:
      return "a mapping";
  }
  return "?";
}

}  // namespace

Result<std::string> ConfigNode::AsString() const {
  if (kind_ == Kind::kNull) return std::string();
  if (kind_ != Kind::kScalar) {
    return Error("expected a string, got " + std::string(KindName(kind_)));
  }
  return text_;
}

Result<bool> ConfigNode::AsBool() const {
  if (kind_ == Kind::kScalar) {
    if (text_ == "true" || text_ == "True" || text_ == "TRUE") return true;
    if (text_ == "false" || text_ == "False" || text_ == "FALSE") return false;
  }
  return Error("expected true or false, got " +
               (kind_ == Kind::kScalar ? "\"" + text_ + "\"" : std::string(KindName(kind_))));
}

Result<std::int64_t> ConfigNode::AsInt() const {
  if (kind_ == Kind::kScalar && !text_.empty()) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text_.c_str(), &end, 0);
    if (errno == 0 && end == text_.c_str() + text_.size()) return static_cast<std::int64_t>(v);
  }
  return Error("expected an integer, got " +
               (kind_ == Kind::kScalar ? "\"" + text_ + "\"" : std::string(KindName(kind_))));
}

Result<double> ConfigNode::AsDouble() const {
  if (kind_ == Kind::kScalar && !text_.empty()) {
    if (text_ == ".inf" || text_ == "+.inf") return HUGE_VAL;
    if (text_ == "-.inf") return -HUGE_VAL;
    if (text_ == ".nan") return std::nan("");
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text_.c_str(), &end);
    if (errno == 0 && end == text_.c_str() + text_.size()) return v;
  }
  return Error("expected a number, got " +
               (kind_ == Kind::kScalar ? "\"" + text_ + "\"" : std::string(KindName(kind_))));
}

Result<std::chrono::milliseconds> ConfigNode::AsDuration() const {
  if (kind_ != Kind::kScalar) {
    return Error("expected a duration, got " + std::string(KindName(kind_)));
  }
  Result<std::int64_t> ms = promql::ParseDuration(text_);
  if (!ms.ok()) return Error("invalid duration \"" + text_ + "\": " + std::string(ms.status().message()));
  return std::chrono::milliseconds(*ms);
}

Result<std::vector<std::string>> ConfigNode::AsStringList() const {
  if (kind_ == Kind::kNull) return std::vector<std::string>{};
  if (kind_ != Kind::kSequence) {
    return Error("expected a list of strings, got " + std::string(KindName(kind_)));
  }
  std::vector<std::string> out;
  for (const ConfigNode& item : items()) {
    if (!item.is_scalar()) {
      return item.Error("expected a string, got " + std::string(KindName(item.kind())));
    }
    out.push_back(item.text());
  }
  return out;
}

Status ConfigNode::CheckKeys(std::initializer_list<std::string_view> allowed,
                             std::string_view what) const {
  if (kind_ == Kind::kNull) return Status::Ok();
  if (kind_ != Kind::kMap) {
    return Error(std::string(what) + ": expected a mapping, got " + std::string(KindName(kind_)));
  }
  for (const Entry& e : entries()) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == e.first;
    if (!ok) {
      SourcePosition pos = e.second.position();
      return Status::InvalidArgument(pos.ToString() + ": field \"" + e.first + "\" not found in " +
                                     std::string(what));
    }
  }
  return Status::Ok();
}

namespace {

void AppendYaml(const ConfigNode& n, std::string* out) {
  switch (n.kind()) {
    case ConfigNode::Kind::kNull:
      *out += "null";
      return;
    case ConfigNode::Kind::kScalar: {
      *out += '"';
      for (char c : n.text()) {
        if (c == '"' || c == '\\') {
          *out += '\\';
          *out += c;
        } else if (c == '\n') {
          *out += "\\n";
        } else {
          *out += c;
        }
      }
      *out += '"';
      return;
    }
    case ConfigNode::Kind::kSequence: {
      *out += '[';
      bool first = true;
      for (const ConfigNode& item : n.items()) {
        if (!first) *out += ", ";
        first = false;
        AppendYaml(item, out);
      }
      *out += ']';
      return;
    }
    case ConfigNode::Kind::kMap: {
      *out += '{';
      bool first = true;
      for (const auto& [key, value] : n.entries()) {
        if (!first) *out += ", ";
        first = false;
        *out += key;
        *out += ": ";
        AppendYaml(value, out);
      }
      *out += '}';
      return;
    }
  }
}

}  // namespace

std::string ConfigNode::ToYaml() const {
  std::string out;
  AppendYaml(*this, &out);
  return out;
}

}  // namespace nimify
