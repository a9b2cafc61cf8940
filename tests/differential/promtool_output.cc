#include "differential/promtool_output.h"

#include <cstdlib>
#include <string>

#include "promql/parser.h"
#include "promqltest/series_notation.h"

namespace nimify::differential {
namespace {

constexpr std::string_view kExprPrefix = "    expr: ";
constexpr std::string_view kExpPrefix = "        exp: ";
constexpr std::string_view kGotPrefix = "        got: ";

// Length of the Go-quoted string at the start of `s` (quotes included), or 0.
std::size_t QuotedLength(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return 0;
}

Status Malformed(std::string_view what, std::string_view text) {
  return Status::ParseError(std::string(what) + ": " + std::string(text));
}

// `{name="value", ...}` at the start of *s; advances *s past it.
Result<promql::Labels> ParseLabelSet(std::string_view* s) {
  std::string_view in = *s;
  if (in.empty() || in[0] != '{') return Malformed("expected '{'", in);
  in.remove_prefix(1);
  std::vector<promql::Label> labels;
  while (!in.empty() && in[0] != '}') {
    if (!labels.empty()) {
      if (in.substr(0, 2) != ", ") return Malformed("expected ', ' between labels", in);
      in.remove_prefix(2);
    }
    std::size_t eq = in.find('=');
    if (eq == std::string_view::npos) return Malformed("expected '=' in label", in);
    std::string name(in.substr(0, eq));
    in.remove_prefix(eq + 1);
    std::size_t len = QuotedLength(in);
    if (len == 0) return Malformed("expected a quoted label value", in);
    NIMIFY_ASSIGN_OR_RETURN(std::string value, promqltest::UnquoteGoString(in.substr(0, len)));
    in.remove_prefix(len);
    labels.push_back({std::move(name), std::move(value)});
  }
  if (in.empty()) return Malformed("unterminated label set", *s);
  in.remove_prefix(1);
  *s = in;
  return promql::Labels::FromUnsorted(std::move(labels));
}

}  // namespace

Result<std::vector<ReportedSample>> ParseReportedSamples(std::string_view text) {
  std::vector<ReportedSample> out;
  if (text == "nil") return out;
  std::string_view in = text;
  while (true) {
    ReportedSample sample;
    NIMIFY_ASSIGN_OR_RETURN(sample.labels, ParseLabelSet(&in));
    if (in.empty() || in[0] != ' ') return Malformed("expected ' ' before the value", in);
    in.remove_prefix(1);
    // The value ends at the next ", {" (a value never contains a comma).
    std::size_t end = in.find(", {");
    std::string number(in.substr(0, end));
    char* parsed_end = nullptr;
    sample.value = std::strtod(number.c_str(), &parsed_end);
    if (number.empty() || parsed_end != number.c_str() + number.size()) {
      return Malformed("bad sample value", number);
    }
    out.push_back(std::move(sample));
    if (end == std::string_view::npos) break;
    in.remove_prefix(end + 2);
  }
  return out;
}

Result<PromtoolReport> ParsePromtoolReport(std::string_view text) {
  PromtoolReport report;
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos <= text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  auto where = [](std::size_t i) { return "promtool output line " + std::to_string(i + 1); };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.find_first_not_of(" \t\r") == std::string_view::npos || line == "  FAILED:") continue;
    if (line.substr(0, kExprPrefix.size()) != kExprPrefix) {
      report.other_lines.emplace_back(line);
      continue;
    }
    std::string_view rest = line.substr(kExprPrefix.size());
    std::size_t len = QuotedLength(rest);
    if (len == 0)
      return Status::ParseError(where(i) + ": unterminated expression: " + std::string(line));
    ReportedFailure failure;
    auto expr = promqltest::UnquoteGoString(rest.substr(0, len));
    if (!expr.ok()) return expr.status().WithPrefix(where(i));
    failure.expr = std::move(*expr);
    rest.remove_prefix(len);
    constexpr std::string_view kTime = ", time: ";
    if (rest.substr(0, kTime.size()) != kTime) {
      return Status::ParseError(where(i) + ": expected ', time: ' in: " + std::string(line));
    }
    rest.remove_prefix(kTime.size());
    std::size_t comma = rest.find(',');
    if (comma == std::string_view::npos) {
      return Status::ParseError(where(i) +
                                ": expected ',' after the time in: " + std::string(line));
    }
    auto time = promql::ParseDuration(rest.substr(0, comma));
    if (!time.ok()) return time.status().WithPrefix(where(i));
    failure.time_ms = *time;
    rest.remove_prefix(comma + 1);
    constexpr std::string_view kErr = " err: ";
    if (rest.substr(0, kErr.size()) == kErr) {
      failure.is_error = true;
      failure.error = std::string(rest.substr(kErr.size()));
      report.failures.push_back(std::move(failure));
      continue;
    }
    if (!rest.empty() || i + 2 >= lines.size() ||
        lines[i + 1].substr(0, kExpPrefix.size()) != kExpPrefix ||
        lines[i + 2].substr(0, kGotPrefix.size()) != kGotPrefix) {
      return Status::ParseError(where(i) +
                                ": expected exp:/got: lines after: " + std::string(line));
    }
    auto expected = ParseReportedSamples(lines[i + 1].substr(kExpPrefix.size()));
    if (!expected.ok()) return expected.status().WithPrefix(where(i + 1));
    auto got = ParseReportedSamples(lines[i + 2].substr(kGotPrefix.size()));
    if (!got.ok()) return got.status().WithPrefix(where(i + 2));
    failure.expected = std::move(*expected);
    failure.got = std::move(*got);
    report.failures.push_back(std::move(failure));
    i += 2;
  }
  return report;
}

}  // namespace nimify::differential
