#include "promqltest/series_notation.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "common/go_strconv.h"
#include "common/utf8.h"
#include "promql/value.h"

namespace nimify::promqltest {

namespace {

using promql::Label;
using promql::Labels;

// A bound on `xN` expansions so a typo such as `1x99999999999` fails cleanly
// instead of exhausting memory.
constexpr std::uint64_t kMaxExpandedValues = 10'000'000;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// strconv.ParseFloat(s, 64). Overflow is an error, as in Go.
std::optional<double> ParseGoFloat(std::string_view s) {
  double v = 0;
  if (internal::ParseGoFloat(s, &v) != internal::GoNumError::kNone) return std::nullopt;
  return v;
}

// An error at a 0-based column of the text being parsed.
struct ParseFailure {
  std::size_t col = 0;
  std::string message;
};

Status FormatFailure(const ParseFailure& f, std::string_view origin, int line_number) {
  std::string msg;
  if (!origin.empty()) {
    msg.append(origin);
    msg.push_back(':');
  }
  msg +=
      std::to_string(line_number) + ":" + std::to_string(f.col + 1) + ": parse error: " + f.message;
  return Status::ParseError(std::move(msg));
}

std::string Quoted(std::string_view s) { return promql::QuoteLabelValue(s); }

// Parses the number token of a series value (`1`, `2.5e3`, `.5`, `Inf`, `NaN`),
// as Prometheus's parser.number does.
std::optional<double> NumberToken(std::string_view token) {
  if (std::int64_t i = 0; internal::ParseGoInt(token, &i)) return static_cast<double>(i);
  return ParseGoFloat(token);
}

// Scans the number token starting at s[pos] the way Prometheus's series lexer
// does (digits, '.', '_', one exponent with sign; no hex), or an Inf/NaN
// identifier. Returns its end, or npos when nothing number-like starts here.
std::size_t ScanNumber(std::string_view s, std::size_t pos) {
  if (pos < s.size() && IsAlpha(s[pos])) {
    std::size_t end = pos;
    while (end < s.size() && (IsAlnum(s[end]) || s[end] == ':')) ++end;
    const std::string_view word = s.substr(pos, end - pos);
    if (EqualsIgnoreCase(word, "inf") || EqualsIgnoreCase(word, "nan")) return end;
    return std::string_view::npos;
  }
  std::size_t i = pos;
  if (i < s.size() && s[i] == '.') ++i;
  if (i < s.size() && IsDigit(s[i])) ++i;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '.' || s[i] == '_' || Lower(s[i]) == 'e')) {
    if (Lower(s[i]) == 'e') {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      continue;
    }
    ++i;
  }
  if (i == pos) return std::string_view::npos;
  return i;
}

class ValuesParser {
 public:
  // `text` holds only values; `base_col` is its column in the line.
  ValuesParser(std::string_view text, std::size_t base_col) : s_(text), base_(base_col) {}

  std::optional<ParseFailure> Parse(SeriesValues* out) {
    std::size_t pos = 0;
    while (true) {
      while (pos < s_.size() && IsSpace(s_[pos])) ++pos;
      if (pos >= s_.size()) return std::nullopt;
      std::size_t end = pos;
      while (end < s_.size() && !IsSpace(s_[end])) ++end;
      if (auto failure = ParseItem(pos, end, out)) return failure;
      pos = end;
    }
  }

 private:
  ParseFailure Fail(std::size_t pos, std::string message) const {
    return ParseFailure{base_ + pos, std::move(message)};
  }

  // Reads `xN` at pos (N decimal digits, up to end).
  std::optional<ParseFailure> ParseTimes(std::size_t pos, std::size_t end, std::uint64_t* n) {
    if (pos >= end || s_[pos] != 'x') {
      return Fail(pos, "unexpected " + Describe(pos, end) + " in series values, expected \"x\"");
    }
    ++pos;
    if (pos >= end) return Fail(pos, "missing repetition count after \"x\" in series values");
    std::uint64_t value = 0;
    for (std::size_t i = pos; i < end; ++i) {
      if (!IsDigit(s_[i])) {
        return Fail(pos,
                    "invalid repetition in series values: " + Quoted(s_.substr(pos, end - pos)));
      }
      value = value * 10 + static_cast<std::uint64_t>(s_[i] - '0');
      if (value > kMaxExpandedValues) {
        return Fail(pos, "repetition count " + std::string(s_.substr(pos, end - pos)) +
                             " is too large (at most " + std::to_string(kMaxExpandedValues) + ")");
      }
    }
    *n = value;
    return std::nullopt;
  }

  std::string Describe(std::size_t pos, std::size_t end) const {
    if (pos >= end) return "end of value";
    return "character " + Quoted(s_.substr(pos, 1));
  }

  // A value: `stale`, or an optionally signed number. Sets *pos past it.
  std::optional<ParseFailure> ParseValue(std::size_t* pos, std::size_t end, bool allow_stale,
                                         double* value) {
    std::size_t p = *pos;
    if (allow_stale && s_.substr(p, 5) == "stale" &&
        (p + 5 == end || s_[p + 5] == '+' || s_[p + 5] == '-')) {
      *value = promql::StaleNaN();
      *pos = p + 5;
      return std::nullopt;
    }
    bool negative = false;
    if (p < end && (s_[p] == '+' || s_[p] == '-')) {
      negative = s_[p] == '-';
      ++p;
    }
    const std::size_t num_end = ScanNumber(s_.substr(0, end), p);
    if (num_end == std::string_view::npos) {
      if (p < end && IsAlpha(s_[p])) {
        std::size_t word_end = p;
        while (word_end < end && (IsAlnum(s_[word_end]) || s_[word_end] == ':')) ++word_end;
        return Fail(p, "unexpected identifier " + Quoted(s_.substr(p, word_end - p)) +
                           " in series values, expected number or \"stale\"");
      }
      return Fail(p, "unexpected " + Describe(p, end) + " in series values");
    }
    // As in Prometheus's lexer, a number may be followed only by a separator,
    // 'x' (repetition) or an operator; `5m` or `0x1f` are not numbers here.
    if (num_end < end && IsAlnum(s_[num_end]) && s_[num_end] != 'x') {
      std::size_t bad_end = num_end;
      while (bad_end < end && IsAlnum(s_[bad_end])) ++bad_end;
      return Fail(p, "bad number syntax: " + Quoted(s_.substr(p, bad_end - p)));
    }
    const std::string_view token = s_.substr(p, num_end - p);
    std::optional<double> parsed = NumberToken(token);
    if (!parsed) return Fail(p, "error parsing number: " + Quoted(token));
    *value = negative ? -*parsed : *parsed;
    *pos = num_end;
    return std::nullopt;
  }

  std::optional<ParseFailure> ParseItem(std::size_t pos, std::size_t end, SeriesValues* out) {
    if (s_[pos] == '{' && pos + 1 < end && s_[pos + 1] == '{') {
      return Fail(pos, "native histogram values ({{...}}) are not supported");
    }
    if (s_[pos] == '_') {
      if (pos + 1 == end) {
        out->push_back(std::nullopt);
        return std::nullopt;
      }
      std::uint64_t n = 0;
      if (auto failure = ParseTimes(pos + 1, end, &n)) return failure;
      if (auto failure = CheckSize(pos, out->size(), n)) return failure;
      out->insert(out->end(), n, std::nullopt);
      return std::nullopt;
    }
    double first = 0;
    std::size_t p = pos;
    if (auto failure = ParseValue(&p, end, /*allow_stale=*/true, &first)) return failure;
    if (p == end) {
      out->push_back(first);
      return std::nullopt;
    }
    if (s_[p] == 'x') {
      std::uint64_t n = 0;
      if (auto failure = ParseTimes(p, end, &n)) return failure;
      if (auto failure = CheckSize(pos, out->size(), n + 1)) return failure;
      out->insert(out->end(), n + 1, first);
      return std::nullopt;
    }
    if (s_[p] != '+' && s_[p] != '-') {
      return Fail(p, "unexpected " + Describe(p, end) + " in series values");
    }
    // `a+bxN` / `a-bxN`: the increment is a signed plain number.
    const bool negative = s_[p] == '-';
    ++p;
    double delta = 0;
    if (p < end && (s_[p] == '+' || s_[p] == '-')) {
      return Fail(p, "unexpected " + Describe(p, end) + " in series values, expected number");
    }
    if (auto failure = ParseValue(&p, end, /*allow_stale=*/false, &delta)) return failure;
    if (negative) delta = -delta;
    std::uint64_t n = 0;
    if (auto failure = ParseTimes(p, end, &n)) return failure;
    if (auto failure = CheckSize(pos, out->size(), n + 1)) return failure;
    // Repeated addition, exactly as Prometheus's grammar does it, so the
    // rounding of every value matches (`k += delta`, not `a + i*delta`).
    double k = first;
    for (std::uint64_t i = 0; i <= n; ++i) {
      out->push_back(k);
      k += delta;
    }
    return std::nullopt;
  }

  std::optional<ParseFailure> CheckSize(std::size_t pos, std::size_t have, std::uint64_t more) {
    if (have + more > kMaxExpandedValues) {
      return Fail(pos, "series has more than " + std::to_string(kMaxExpandedValues) + " values");
    }
    return std::nullopt;
  }

  std::string_view s_;
  std::size_t base_;
};

// Go strconv.Unquote for "...", '...' and `...` (Prometheus's label values).
std::optional<ParseFailure> Unquote(std::string_view s, std::size_t base, std::size_t* end,
                                    std::string* out) {
  const char quote = s[0];
  std::size_t i = 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == quote) {
      *end = i + 1;
      return std::nullopt;
    }
    if (quote == '`' || c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    const std::size_t escape_pos = i;
    ++i;
    if (i >= s.size()) break;
    const char e = s[i++];
    if (const int simple = internal::GoSimpleEscape(e); simple >= 0) {
      out->push_back(static_cast<char>(simple));
      continue;
    }
    switch (e) {
      case '"':
      case '\'':
        if (e != quote) {
          return ParseFailure{base + escape_pos, "unknown escape sequence in string"};
        }
        out->push_back(e);
        break;
      case 'x':
      case 'u':
      case 'U': {
        const std::size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < digits; ++k) {
          const int h = i + k < s.size() ? internal::HexDigitValue(s[i + k]) : -1;
          if (h < 0) return ParseFailure{base + escape_pos, "invalid escape sequence in string"};
          v = v * 16 + static_cast<std::uint32_t>(h);
        }
        i += digits;
        if (e == 'x') {
          out->push_back(static_cast<char>(v));
        } else {
          if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) {
            return ParseFailure{base + escape_pos, "invalid Unicode code point in string"};
          }
          internal::AppendUtf8(static_cast<std::int32_t>(v), out);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          std::uint32_t v = static_cast<std::uint32_t>(e - '0');
          for (int k = 0; k < 2; ++k) {
            if (i >= s.size() || s[i] < '0' || s[i] > '7') {
              return ParseFailure{base + escape_pos, "invalid octal escape in string"};
            }
            v = v * 8 + static_cast<std::uint32_t>(s[i++] - '0');
          }
          if (v > 255) return ParseFailure{base + escape_pos, "octal escape value > 255"};
          out->push_back(static_cast<char>(v));
          break;
        }
        return ParseFailure{base + escape_pos, "unknown escape sequence in string"};
    }
  }
  return ParseFailure{base, "unterminated quoted string"};
}

// Parses `name`, `name{...}` or `{...}` at the start of `line`.
std::optional<ParseFailure> ParseMetricPart(std::string_view line, Labels* labels,
                                            std::size_t* rest) {
  std::vector<Label> items;
  std::string name;
  std::size_t pos = 0;
  while (pos < line.size() && IsSpace(line[pos])) ++pos;
  if (pos < line.size() && (IsAlpha(line[pos]) || line[pos] == ':')) {
    const std::size_t start = pos;
    while (pos < line.size() && (IsAlnum(line[pos]) || line[pos] == ':')) ++pos;
    name = std::string(line.substr(start, pos - start));
    if (EqualsIgnoreCase(name, "inf") || EqualsIgnoreCase(name, "nan")) {
      return ParseFailure{start, "unexpected number " + Quoted(name) + ", expected metric name"};
    }
  }
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    auto skip_space = [&] {
      while (pos < line.size() && IsSpace(line[pos])) ++pos;
    };
    bool need_separator = false;
    while (true) {
      skip_space();
      if (pos >= line.size()) return ParseFailure{pos, "unexpected end of input inside braces"};
      if (line[pos] == '}') {
        ++pos;
        break;
      }
      if (need_separator) {
        if (line[pos] != ',') {
          return ParseFailure{pos, "unexpected character " + Quoted(line.substr(pos, 1)) +
                                       " inside braces, expected \",\" or \"}\""};
        }
        ++pos;
        need_separator = false;
        continue;
      }
      std::string label_name;
      bool quoted_name = false;
      const std::size_t name_pos = pos;
      if (line[pos] == '"' || line[pos] == '\'' || line[pos] == '`') {
        std::size_t len = 0;
        if (auto failure = Unquote(line.substr(pos), pos, &len, &label_name)) return failure;
        pos += len;
        quoted_name = true;
      } else if (IsAlpha(line[pos])) {
        const std::size_t start = pos;
        while (pos < line.size() && IsAlnum(line[pos])) ++pos;
        label_name = std::string(line.substr(start, pos - start));
      } else {
        return ParseFailure{pos, "unexpected character " + Quoted(line.substr(pos, 1)) +
                                     " inside braces, expected label name"};
      }
      skip_space();
      if (pos < line.size() && line[pos] == '=') {
        ++pos;
        if (pos < line.size() && (line[pos] == '~' || line[pos] == '=')) {
          return ParseFailure{pos - 1, "only \"=\" is allowed in a series description"};
        }
        skip_space();
        if (pos >= line.size() || (line[pos] != '"' && line[pos] != '\'' && line[pos] != '`')) {
          return ParseFailure{pos, "expected a quoted label value after \"=\""};
        }
        std::string value;
        std::size_t len = 0;
        if (auto failure = Unquote(line.substr(pos), pos, &len, &value)) return failure;
        pos += len;
        items.push_back(Label{std::move(label_name), std::move(value)});
      } else if (quoted_name) {
        // `{"metric.name"}`: a quoted metric name on its own (Prometheus 3).
        items.push_back(Label{std::string(promql::kMetricNameLabel), std::move(label_name)});
      } else if (pos < line.size() && line[pos] == '!') {
        return ParseFailure{pos, "only \"=\" is allowed in a series description"};
      } else {
        return ParseFailure{name_pos, "expected \"=\" after label name " + Quoted(label_name)};
      }
      need_separator = true;
    }
  } else if (name.empty()) {
    return ParseFailure{pos, pos < line.size()
                                 ? "unexpected character " + Quoted(line.substr(pos, 1)) +
                                       ", expected metric name or \"{\""
                                 : "missing metric name"};
  }
  if (pos < line.size() && !IsSpace(line[pos])) {
    return ParseFailure{pos, "unexpected character " + Quoted(line.substr(pos, 1)) +
                                 " after the metric, expected a space before the values"};
  }
  // The name outside braces wins over a __name__ inside, as in Prometheus.
  if (!name.empty()) items.push_back(Label{std::string(promql::kMetricNameLabel), name});
  *labels = Labels::FromUnsorted(std::move(items));
  *rest = pos;
  return std::nullopt;
}

}  // namespace

Result<double> ParseGoNumber(std::string_view text) {
  if (std::int64_t i = 0; internal::ParseGoInt(text, &i)) return static_cast<double>(i);
  if (auto f = ParseGoFloat(text)) return *f;
  return Status::InvalidArgument("error parsing number: " + Quoted(text));
}

Result<std::string> UnquoteGoString(std::string_view text) {
  if (text.size() < 2 || (text[0] != '"' && text[0] != '\'' && text[0] != '`')) {
    return Status::InvalidArgument("not a quoted string: " + std::string(text));
  }
  std::string out;
  std::size_t end = 0;
  if (auto failure = Unquote(text, 0, &end, &out)) {
    return Status::InvalidArgument(failure->message + " at offset " + std::to_string(failure->col));
  }
  if (end != text.size()) {
    return Status::InvalidArgument("unexpected text after the quoted string: " + std::string(text));
  }
  return out;
}

Result<SeriesValues> ParseSeriesValues(std::string_view text) {
  SeriesValues values;
  if (auto failure = ValuesParser(text, 0).Parse(&values)) return FormatFailure(*failure, "", 1);
  return values;
}

Result<promql::Labels> ParseSeriesMetric(std::string_view line, std::size_t* rest_offset) {
  Labels labels;
  std::size_t rest = 0;
  if (auto failure = ParseMetricPart(line, &labels, &rest)) return FormatFailure(*failure, "", 1);
  if (rest_offset != nullptr) *rest_offset = rest;
  return labels;
}

Result<SeriesLine> ParseSeriesLineAt(std::string_view line, std::string_view origin,
                                     int line_number) {
  SeriesLine out;
  std::size_t rest = 0;
  if (auto failure = ParseMetricPart(line, &out.metric, &rest)) {
    return FormatFailure(*failure, origin, line_number);
  }
  if (auto failure = ValuesParser(line.substr(rest), rest).Parse(&out.values)) {
    return FormatFailure(*failure, origin, line_number);
  }
  return out;
}

Result<SeriesLine> ParseSeriesLine(std::string_view line) { return ParseSeriesLineAt(line, "", 1); }

}  // namespace nimify::promqltest
