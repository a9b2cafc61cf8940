#include "actions/matchers.h"

#include <re2/re2.h>

#include <algorithm>
#include <utility>

#include "common/utf8.h"
#include "promql/go_regexp.h"

namespace nimify::actions {

namespace {

// Go's regexp `\s`.
bool IsGoSpace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool IsMatcherNameStart(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsMatcherNameChar(char c) noexcept { return IsMatcherNameStart(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::string_view MatchTypeString(MatchType type) noexcept {
  switch (type) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegexp:
      return "=~";
    case MatchType::kNotRegexp:
      return "!~";
  }
  return "=";
}

Result<Matcher> Matcher::Create(MatchType type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kRegexp || type == MatchType::kNotRegexp) {
    RE2::Options opts;
    opts.set_log_errors(false);
    // Go's default: '.' does not match '\n'.
    opts.set_dot_nl(false);
    auto re = std::make_shared<const RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) return Status::InvalidArgument(promql::GoRegexpError(m.value_, opts));
    m.re_ = std::move(re);
  }
  return m;
}

bool Matcher::Matches(std::string_view label_value) const {
  switch (type_) {
    case MatchType::kEqual:
      return label_value == value_;
    case MatchType::kNotEqual:
      return label_value != value_;
    case MatchType::kRegexp:
      return RE2::FullMatch(label_value, *re_);
    case MatchType::kNotRegexp:
      return !RE2::FullMatch(label_value, *re_);
  }
  return false;
}

bool Matcher::Matches(const OwnedLabels& labels) const {
  return Matches(LabelValue(labels, name_));
}

std::string Matcher::ToString() const {
  std::string out = name_;
  out += MatchTypeString(type_);
  out += '"';
  for (char c : value_) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

void SortMatchers(Matchers* matchers) {
  std::stable_sort(matchers->begin(), matchers->end(), [](const Matcher& a, const Matcher& b) {
    if (a.name() != b.name()) return a.name() < b.name();
    if (a.value() != b.value()) return a.value() < b.value();
    return a.type() < b.type();
  });
}

bool MatchesAll(const Matchers& matchers, const OwnedLabels& labels) {
  for (const Matcher& m : matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

std::string MatchersToString(const Matchers& matchers) {
  std::string out = "{";
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0) out += ',';
    out += matchers[i].ToString();
  }
  out += '}';
  return out;
}

Result<Matcher> ParseMatcher(std::string_view text) {
  // The shape of ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$.
  const auto bad_format = [&] {
    return Status::InvalidArgument("bad matcher format: " + std::string(text));
  };
  std::size_t i = 0;
  while (i < text.size() && IsGoSpace(text[i])) ++i;
  if (i >= text.size() || !IsMatcherNameStart(text[i])) return bad_format();
  const std::size_t name_begin = i;
  while (i < text.size() && IsMatcherNameChar(text[i])) ++i;
  std::string name(text.substr(name_begin, i - name_begin));
  while (i < text.size() && IsGoSpace(text[i])) ++i;
  MatchType type;
  const std::string_view rest = text.substr(i);
  if (rest.substr(0, 2) == "=~") {
    type = MatchType::kRegexp;
    i += 2;
  } else if (rest.substr(0, 1) == "=") {
    type = MatchType::kEqual;
    i += 1;
  } else if (rest.substr(0, 2) == "!=") {
    type = MatchType::kNotEqual;
    i += 2;
  } else if (rest.substr(0, 2) == "!~") {
    type = MatchType::kNotRegexp;
    i += 2;
  } else {
    return bad_format();
  }
  std::string_view raw = text.substr(i);
  while (!raw.empty() && IsGoSpace(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && IsGoSpace(raw.back())) raw.remove_suffix(1);
  const std::string quoted_raw(raw);  // Alertmanager's messages quote the raw value.

  bool expect_trailing_quote = false;
  if (!raw.empty() && raw.front() == '"') {
    raw.remove_prefix(1);
    expect_trailing_quote = true;
  }
  if (!internal::IsValidUtf8(raw)) {
    return Status::InvalidArgument("matcher value not valid UTF-8: " + quoted_raw);
  }
  const auto unescaped_quote = [&] {
    return Status::InvalidArgument("matcher value contains unescaped double quote: " + quoted_raw);
  };
  std::string value;
  bool escaped = false;
  for (std::size_t j = 0; j < raw.size(); ++j) {
    const char c = raw[j];
    if (escaped) {
      escaped = false;
      if (c == 'n') {
        value += '\n';
      } else if (c == '"' || c == '\\') {
        value += c;
      } else {
        // A spurious escape: the backslash is literal (UTF-8 continuation
        // bytes of a multi-byte rune are copied one by one below).
        value += '\\';
        value += c;
      }
      continue;
    }
    if (c == '\\') {
      if (j + 1 < raw.size()) {
        escaped = true;
        continue;
      }
      value += '\\';  // a trailing backslash is literal
    } else if (c == '"') {
      if (!expect_trailing_quote || j + 1 < raw.size()) return unescaped_quote();
      expect_trailing_quote = false;
    } else {
      value += c;
    }
  }
  if (expect_trailing_quote) return unescaped_quote();
  return Matcher::Create(type, std::move(name), std::move(value));
}

Result<Matchers> ParseMatchers(std::string_view text) {
  if (!text.empty() && text.front() == '{') text.remove_prefix(1);
  if (!text.empty() && text.back() == '}') text.remove_suffix(1);
  std::vector<std::string> tokens;
  std::string token;
  bool inside_quotes = false;
  bool escaped = false;
  // Walks runes as Go does: an invalid byte becomes U+FFFD.
  while (!text.empty()) {
    int width = 0;
    const std::int32_t r = internal::DecodeUtf8(text, &width);
    const std::string_view bytes = text.substr(0, static_cast<std::size_t>(width));
    text.remove_prefix(static_cast<std::size_t>(width));
    if (r == ',') {
      if (!inside_quotes) {
        tokens.push_back(std::move(token));
        token.clear();
        continue;
      }
    } else if (r == '"') {
      if (!escaped) {
        inside_quotes = !inside_quotes;
      } else {
        escaped = false;
      }
    } else if (r == '\\') {
      escaped = !escaped;
    } else {
      escaped = false;
    }
    if (r == internal::kRuneError && width == 1) {
      internal::AppendUtf8(r, &token);
    } else {
      token += bytes;
    }
  }
  std::string_view last = token;
  while (!last.empty() && (IsGoSpace(last.front()) || last.front() == '\v')) last.remove_prefix(1);
  while (!last.empty() && (IsGoSpace(last.back()) || last.back() == '\v')) last.remove_suffix(1);
  if (!last.empty()) tokens.emplace_back(last);
  Matchers out;
  out.reserve(tokens.size());
  for (const std::string& t : tokens) {
    NIMIFY_ASSIGN_OR_RETURN(Matcher m, ParseMatcher(t));
    out.push_back(std::move(m));
  }
  return out;
}

std::string_view LabelValue(const OwnedLabels& labels, std::string_view name) noexcept {
  const auto it = std::lower_bound(
      labels.begin(), labels.end(), name,
      [](const OwnedLabel& l, std::string_view n) { return std::string_view(l.name) < n; });
  if (it == labels.end() || it->name != name) return {};
  return it->value;
}

bool IsValidLabelName(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (c >= '0' && c <= '9' && i > 0);
    if (!ok) return false;
  }
  return true;
}

Result<Matchers> ParseMatchersList(const ConfigNode& node) {
  Matchers out;
  if (node.is_null()) return out;
  if (!node.is_sequence()) return node.Error("matchers: expected a list of strings");
  for (const ConfigNode& item : node.items()) {
    NIMIFY_ASSIGN_OR_RETURN(std::string line, item.AsString());
    Result<Matchers> parsed = ParseMatchers(line);
    if (!parsed.ok()) return item.Error(parsed.status().message());
    for (Matcher& m : *parsed) out.push_back(std::move(m));
  }
  SortMatchers(&out);
  return out;
}

namespace {

Result<Matchers> ParseLegacyMap(const ConfigNode& node, MatchType type) {
  Matchers out;
  if (node.is_null()) return out;
  if (!node.is_map()) return node.Error("expected a mapping of label names to values");
  for (const auto& [name, value_node] : node.entries()) {
    if (!IsValidLabelName(name)) return value_node.Error("invalid label name \"" + name + "\"");
    std::string value;
    if (value_node.is_null()) {
      // Go decodes a null into "" for match:, but leaves match_re's regexp unset.
      if (type == MatchType::kRegexp) {
        return value_node.Error("invalid regexp value for \"" + name + "\"");
      }
    } else {
      NIMIFY_ASSIGN_OR_RETURN(value, value_node.AsString());
    }
    if (type == MatchType::kRegexp) value = "^(?:" + value + ")$";
    Result<Matcher> m = Matcher::Create(type, name, std::move(value));
    if (!m.ok()) return value_node.Error(m.status().message());
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace

Result<Matchers> ParseLegacyMatch(const ConfigNode& node) {
  return ParseLegacyMap(node, MatchType::kEqual);
}

Result<Matchers> ParseLegacyMatchRe(const ConfigNode& node) {
  return ParseLegacyMap(node, MatchType::kRegexp);
}

}  // namespace nimify::actions
