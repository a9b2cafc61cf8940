#include "promqltest/script.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <variant>

#include "promql/ast.h"
#include "promql/parser.h"
#include "promqltest/series_notation.h"

namespace nimify::promqltest {

namespace {

using promql::Compat;
using promql::Expr;
using promql::ExprKind;
using promql::Labels;

constexpr double kEpsilon = 0.000001;  // promqltest's relative tolerance
constexpr std::int64_t kMinute = 60 * 1000;

// Skip reasons, shared by the summary tables.
constexpr std::string_view kSkipHistogramInput = "native histogram input";
constexpr std::string_view kSkipHistogramNhcb = "native histogram input (load_with_nhcb)";
constexpr std::string_view kSkipHistogramExpected = "native histogram expected result";
constexpr std::string_view kSkipTrimOperator = "native histogram trim operator (</, >/)";
constexpr std::string_view kSkipStartTimestamps = "start timestamps (@st, 3.12+)";
constexpr std::string_view kSkipDurationExpr = "duration expression (3.4+)";
constexpr std::string_view kSkipExtendedSelectors = "smoothed/anchored selector (3.7+)";
constexpr std::string_view kSkipFill = "fill modifier (3.10+)";

// Functions Prometheus gained after 3.0 (promql/parser/functions.go, v3.0.0
// vs main), and the ones that were experimental in 3.0.
constexpr std::string_view kFunctionsAfter30[] = {"end",
                                                  "first_over_time",
                                                  "histogram_quantiles",
                                                  "max_of",
                                                  "min_of",
                                                  "range",
                                                  "start",
                                                  "start_timestamp",
                                                  "step",
                                                  "ts_of_first_over_time",
                                                  "ts_of_last_over_time",
                                                  "ts_of_max_over_time",
                                                  "ts_of_min_over_time"};
constexpr std::string_view kExperimentalFunctions30[] = {
    "double_exponential_smoothing", "info", "mad_over_time", "sort_by_label", "sort_by_label_desc"};
constexpr std::string_view kExperimentalAggregators30[] = {"limitk", "limit_ratio"};

// Functions whose value depends on the evaluation time even with step-invariant
// arguments: the `@` variants are not run for them (promql.AtModifierUnsafeFunctions).
constexpr std::string_view kAtUnsafe242[] = {
    "days_in_month", "day_of_month", "day_of_week",    "day_of_year", "hour",     "minute",
    "month",         "year",         "predict_linear", "time",        "timestamp"};
constexpr std::string_view kAtUnsafe3[] = {
    "days_in_month", "day_of_month", "day_of_week", "day_of_year", "end",
    "hour",          "minute",       "month",       "year",        "predict_linear",
    "range",         "start",        "step",        "time",        "timestamp"};

template <std::size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// ---------------------------------------------------------------------------
// Text helpers

std::string_view TrimSpace(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Lines trimmed, `#` comment lines blanked, as promqltest's getLines.
std::vector<std::string> ScriptLines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    line = TrimSpace(line);
    if (!line.empty() && line[0] == '#') line = {};
    lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::string FormatFloat(double v) {
  if (std::isnan(v)) return promql::IsStaleNaN(v) ? "StaleNaN" : "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string Quote(std::string_view s) { return promql::QuoteLabelValue(s); }

std::string FormatPoints(const std::vector<promql::Point>& points) {
  std::string out = "[";
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out += " ";
    out += FormatFloat(points[i].v) + " @[" + std::to_string(points[i].t) + "]";
  }
  return out + "]";
}

std::string FormatSeriesResult(const promql::Series& s) {
  return std::to_string(s.points.size()) + " float point" + (s.points.size() == 1 ? "" : "s") +
         " " + FormatPoints(s.points);
}

// Go's `%q`-free rendering of an expectation's values, for messages.
std::string FormatValues(const SeriesValues& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += " ";
    out += values[i] ? FormatFloat(*values[i]) : "_";
  }
  return out + "]";
}

// Blanks out string literals so text patterns only see PromQL syntax.
std::string WithoutStrings(std::string_view expr) {
  std::string out(expr);
  char quote = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (quote != 0) {
      if (c == '\\' && quote != '`' && i + 1 < out.size()) {
        out[i] = ' ';
        out[++i] = ' ';
        continue;
      }
      if (c == quote) {
        quote = 0;
      } else {
        out[i] = ' ';
      }
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') quote = c;
  }
  return out;
}

// Go's regexp reads invalid UTF-8 bytes as U+FFFD, which `.` matches; RE2
// would not match them at all. Messages may carry such bytes ("\xff").
std::string AsGoRegexpInput(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF && cont(1)) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      // No overlong forms, no surrogates.
      if (!(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0)) len = 3;
    } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (!(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90)) len = 4;
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

bool GoRegexpMatch(std::string_view s, const RE2& re) {
  return RE2::PartialMatch(AsGoRegexpInput(s), re);
}

// ---------------------------------------------------------------------------
// Commands

// A series a later eval must not silently read: its data was not loaded the
// way Prometheus loads it (native histogram values, start timestamps).
struct Taint {
  Labels labels;
  std::string reason;
};

struct LoadCommand {
  int line = 0;
  std::int64_t step_ms = 0;
  // Keyed by labels: a later line for the same series replaces an earlier one.
  std::map<Labels, SeriesValues> defs;
  std::vector<Taint> taints;
};

struct ClearCommand {};

enum ExpectType { kOrdered = 0, kFail, kWarn, kNoWarn, kInfo, kNoInfo, kExpectTypes };

struct ExpectLine {
  std::string message;               // exact match when regex is null
  std::shared_ptr<const RE2> regex;  // unanchored search
  bool Matches(std::string_view s) const { return regex ? GoRegexpMatch(s, *regex) : message == s; }
  std::string Describe() const { return regex ? regex->pattern() : message; }
  const char* Kind() const { return regex ? "pattern" : "message"; }
};

struct ExpectedEntry {
  int pos = 0;
  SeriesValues values;
};

struct EvalCommand {
  int line = 0;
  std::string expr;
  bool is_range = false;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t step = 0;
  std::int64_t eval_time = 0;
  bool has_range_vector_expectation = false;
  bool fail = false, warn = false, ordered = false, info = false;
  std::string expected_fail_message;
  std::shared_ptr<const RE2> expected_fail_regexp;
  std::vector<ExpectLine> expects[kExpectTypes];
  std::map<Labels, ExpectedEntry> expected;
  std::optional<double> expected_scalar;
  bool expect_scalar = false;
  std::string expected_string;
  bool exclude_from_range_query = false;
  bool histogram_expectation = false;
  std::string parse_error;  // set when the block could not be read

  bool IsOrdered() const { return ordered || !expects[kOrdered].empty(); }
  bool IsFail() const { return fail || !expects[kFail].empty(); }
};

using Command = std::variant<LoadCommand, ClearCommand, EvalCommand>;

struct ParsedScript {
  std::vector<Command> commands;
  std::vector<std::string> errors;
};

class ScriptParser {
 public:
  ScriptParser(std::string_view text, std::string_view origin, Compat compat)
      : lines_(ScriptLines(text)), origin_(origin), compat_(compat) {}

  ParsedScript Parse() {
    ParsedScript out;
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      const std::string& l = lines_[i];
      if (l.empty()) continue;
      const std::string word = Lowercase(l.substr(0, l.find_first_of(" \t")));
      if (word == "clear") {
        out.commands.emplace_back(ClearCommand{});
      } else if (word.rfind("load", 0) == 0 &&
                 (compat_ == Compat::kPrometheus3 || word == "load")) {
        auto load = ParseLoad(&i);
        if (load) out.commands.emplace_back(std::move(*load));
      } else if (word.rfind("eval", 0) == 0) {
        out.commands.emplace_back(ParseEval(&i));
      } else {
        Error(i, 0, "invalid command " + Quote(l));
        SkipBlock(&i);
      }
    }
    out.errors = std::move(errors_);
    return out;
  }

 private:
  std::string Where(std::size_t i, std::size_t col) const {
    return std::string(origin_) + ":" + std::to_string(i + 1) + ":" + std::to_string(col + 1);
  }
  void Error(std::size_t i, std::size_t col, const std::string& msg) {
    errors_.push_back(Where(i, col) + ": " + msg);
  }
  // Moves *i to the last line of the current block.
  void SkipBlock(std::size_t* i) const {
    while (*i + 1 < lines_.size() && !lines_[*i + 1].empty()) ++*i;
  }

  std::optional<LoadCommand> ParseLoad(std::size_t* i) {
    static const RE2 kLoad(R"(^load(?:_(with_nhcb))?\s+(.+?)$)");
    std::string nhcb, step;
    if (!RE2::FullMatch(lines_[*i], kLoad, &nhcb, &step)) {
      Error(*i, 0, "invalid load command. (load[_with_nhcb] <step:duration>)");
      SkipBlock(i);
      return std::nullopt;
    }
    LoadCommand cmd;
    cmd.line = static_cast<int>(*i + 1);
    auto gap = promql::ParseDuration(step);
    if (!gap.ok()) {
      Error(*i, 0,
            "invalid step definition " + Quote(step) + ": " + std::string(gap.status().message()));
      SkipBlock(i);
      return std::nullopt;
    }
    cmd.step_ms = *gap;
    const bool with_nhcb = !nhcb.empty();
    while (*i + 1 < lines_.size() && !lines_[*i + 1].empty()) {
      ++*i;
      const std::string& def = lines_[*i];
      const std::size_t space = def.find_first_of(" \t");
      const std::string_view first = std::string_view(def).substr(0, space);
      const bool v3 = compat_ == Compat::kPrometheus3;
      if (v3 && first.size() >= 3 && first.substr(first.size() - 3) == "@st") {
        // A start-timestamp line (3.12+): nimify has no start timestamps, so
        // evals reading this series are skipped.
        std::size_t rest = 0;
        auto metric = ParseSeriesMetric(first.substr(0, first.size() - 3), &rest);
        if (!metric.ok()) {
          Error(*i, 0, std::string(metric.status().message()));
          continue;
        }
        cmd.taints.push_back(Taint{*metric, std::string(kSkipStartTimestamps)});
        continue;
      }
      std::size_t rest = 0;
      auto metric = ParseSeriesMetric(def, &rest);
      if (v3 && metric.ok() && def.find("{{", rest) != std::string::npos) {
        // Native histogram values: the series is not loaded.
        cmd.defs.erase(*metric);
        cmd.taints.push_back(Taint{*metric, std::string(kSkipHistogramInput)});
        continue;
      }
      auto series = ParseSeriesLineAt(def, origin_, static_cast<int>(*i + 1));
      if (!series.ok()) {
        errors_.emplace_back(series.status().message());
        continue;
      }
      if (with_nhcb) AddNhcbTaint(series->metric, &cmd.taints);
      cmd.defs[series->metric] = std::move(series->values);
    }
    return cmd;
  }

  // load_with_nhcb also stores each classic histogram as a native histogram
  // with custom buckets, named after the base metric and without `le`.
  static void AddNhcbTaint(const Labels& metric, std::vector<Taint>* taints) {
    const std::string_view name = metric.MetricName();
    for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
      if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
        Labels base = metric;
        base.Del("le");
        base.Set(promql::kMetricNameLabel, name.substr(0, name.size() - suffix.size()));
        taints->push_back(Taint{std::move(base), std::string(kSkipHistogramNhcb)});
        return;
      }
    }
  }

  Result<std::int64_t> Duration(std::string_view text, const char* what) {
    auto d = promql::ParseDuration(text);
    if (!d.ok()) {
      return Status::InvalidArgument("invalid " + std::string(what) + " definition " + Quote(text) +
                                     ": " + std::string(d.status().message()));
    }
    return *d;
  }

  EvalCommand ParseEval(std::size_t* i) {
    static const RE2 kInstant(
        R"(^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$)");
    static const RE2 kRange(
        R"(^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$)");
    const std::string& line = lines_[*i];
    EvalCommand cmd;
    cmd.line = static_cast<int>(*i + 1);
    std::string mod, at, from, to, step;
    auto fail_block = [&](std::string msg) {
      cmd.parse_error = Where(*i, 0) + ": " + std::move(msg);
      SkipBlock(i);
      return cmd;
    };
    if (RE2::FullMatch(line, kInstant, &mod, &at, &cmd.expr)) {
      auto t = Duration(at, "timestamp");
      if (!t.ok()) return fail_block(std::string(t.status().message()));
      cmd.start = cmd.eval_time = *t;
    } else if (RE2::FullMatch(line, kRange, &mod, &from, &to, &step, &cmd.expr)) {
      cmd.is_range = true;
      auto s = Duration(from, "start timestamp");
      auto e = Duration(to, "end timestamp");
      auto st = Duration(step, "step");
      if (!s.ok()) return fail_block(std::string(s.status().message()));
      if (!e.ok()) return fail_block(std::string(e.status().message()));
      if (*e < *s) return fail_block("invalid test definition, end timestamp is before start");
      if (!st.ok()) return fail_block(std::string(st.status().message()));
      cmd.start = *s;
      cmd.end = *e;
      cmd.step = *st;
    } else {
      cmd.expr = line;
      return fail_block(
          "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant "
          "[at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> "
          "step <step> <query>'");
    }
    if (mod == "ordered") cmd.ordered = true;
    if (mod == "fail") cmd.fail = true;
    if (mod == "warn") cmd.warn = true;
    if (mod == "info") cmd.info = true;

    static const RE2 kExpect(
        R"(^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$)");
    static const RE2 kExpectRange(
        R"(^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$)");
    for (int j = 1; *i + 1 < lines_.size(); ++j) {
      if (lines_[*i + 1].empty()) break;
      ++*i;
      const std::string& def = lines_[*i];
      if (cmd.fail && def.rfind("expected_fail_message", 0) == 0) {
        cmd.expected_fail_message = std::string(TrimSpace(std::string_view(def).substr(21)));
        break;
      }
      if (cmd.fail && def.rfind("expected_fail_regexp", 0) == 0) {
        const std::string pattern(TrimSpace(std::string_view(def).substr(20)));
        auto re = std::make_shared<RE2>(pattern, RE2::Quiet);
        if (!re->ok())
          return fail_block("invalid regexp '" + pattern + "' for expected_fail_regexp");
        cmd.expected_fail_regexp = std::move(re);
        break;
      }
      if (def.rfind("expect range vector", 0) == 0) {
        std::string f, t, s;
        if (!RE2::FullMatch(def, kExpectRange, &f, &t, &s)) {
          return fail_block("invalid range vector definition " + Quote(def));
        }
        auto fs = Duration(f, "start timestamp");
        auto ts = Duration(t, "end timestamp");
        auto ss = Duration(s, "step");
        if (!fs.ok() || !ts.ok() || !ss.ok() || *ts < *fs) {
          return fail_block("invalid range vector definition " + Quote(def));
        }
        cmd.has_range_vector_expectation = true;
        cmd.start = *fs;
        cmd.end = *ts;
        cmd.step = *ss;
        cmd.eval_time = *ts;
        cmd.exclude_from_range_query = true;
        continue;
      }
      if (def.rfind("expect string", 0) == 0) {
        std::string_view rest = std::string_view(def).substr(13);
        if (rest.empty() || rest[0] != ' ' || rest.size() == 1) {
          return fail_block(
              "expected string literal not valid - a quoted string literal is required");
        }
        auto str = UnquoteGoString(rest.substr(1));
        if (!str.ok()) {
          return fail_block(
              "expected string literal not valid - check that the string is correctly quoted");
        }
        cmd.expected_string = *str;
        cmd.exclude_from_range_query = true;
        continue;
      }
      if (def.substr(0, def.find(' ')) == "expect") {
        std::string type, kind, text;
        if (!RE2::FullMatch(std::string(TrimSpace(def)), kExpect, &type, &kind, &text)) {
          return fail_block(
              "invalid expect statement, must match `expect <type> <match_type>: <string>` format");
        }
        ExpectLine e;
        if (kind == "msg") {
          e.message = std::string(TrimSpace(text));
        } else if (kind == "regex") {
          auto re = std::make_shared<RE2>(std::string(TrimSpace(text)), RE2::Quiet);
          if (!re->ok()) return fail_block("invalid regex " + std::string(TrimSpace(text)));
          e.regex = std::move(re);
        } else {
          static const auto kAny = std::make_shared<const RE2>("^.*$");
          e.regex = kAny;
        }
        static const std::map<std::string, ExpectType> kTypes = {
            {"ordered", kOrdered}, {"fail", kFail}, {"warn", kWarn},
            {"no_warn", kNoWarn},  {"info", kInfo}, {"no_info", kNoInfo}};
        cmd.expects[kTypes.at(type)].push_back(std::move(e));
        --j;
        if (!cmd.expects[kInfo].empty() && !cmd.expects[kNoInfo].empty()) {
          return fail_block("invalid expect lines, info and no_info cannot be used together");
        }
        if (!cmd.expects[kWarn].empty() && !cmd.expects[kNoWarn].empty()) {
          return fail_block("invalid expect lines, warn and no_warn cannot be used together");
        }
        if (cmd.expects[kFail].size() > 1) {
          return fail_block("invalid expect lines, multiple expect fail lines are not allowed");
        }
        continue;
      }
      if (auto number = ParseGoNumber(def); number.ok()) {
        cmd.expected_scalar = *number;
        cmd.expect_scalar = true;
        break;
      }
      std::size_t rest = 0;
      if (auto metric = ParseSeriesMetric(def, &rest); compat_ == Compat::kPrometheus3 &&
                                                       metric.ok() &&
                                                       def.find("{{", rest) != std::string::npos) {
        cmd.histogram_expectation = true;
        cmd.expected[*metric] = ExpectedEntry{j, {}};
        cmd.expect_scalar = false;
        continue;
      }
      auto series = ParseSeriesLineAt(def, origin_, static_cast<int>(*i + 1));
      if (!series.ok()) return fail_block(std::string(series.status().message()));
      if (series->values.size() > 1 && !cmd.is_range && !cmd.has_range_vector_expectation) {
        return fail_block(
            "expecting multiple values in instant evaluation not allowed. consider using 'expect "
            "range vector' directive to enable a range vector result for an instant query");
      }
      cmd.expect_scalar = false;
      cmd.expected[series->metric] = ExpectedEntry{j, std::move(series->values)};
    }
    return cmd;
  }

  std::vector<std::string> lines_;
  std::string_view origin_;
  Compat compat_;
  std::vector<std::string> errors_;
};

// ---------------------------------------------------------------------------
// AST helpers

using promql::ForEachChild;

// The first taint whose series one of the expression's selectors would read.
const Taint* SelectedTaint(const Expr& e, const std::vector<Taint>& taints) {
  if (e.kind() == ExprKind::kVectorSelector) {
    const auto& vs = static_cast<const promql::VectorSelector&>(e);
    for (const auto& taint : taints) {
      bool all = true;
      for (const auto& m : vs.matchers) {
        if (!m.Matches(taint.labels.Get(m.name()))) {
          all = false;
          break;
        }
      }
      if (all) return &taint;
    }
    return nullptr;
  }
  const Taint* found = nullptr;
  ForEachChild(e, [&](const Expr& child) {
    if (found == nullptr) found = SelectedTaint(child, taints);
  });
  return found;
}

// Adds `@ ts` to every selector and subquery outside subqueries that has no
// numeric `@` yet (an `@ start()`/`@ end()` is replaced, as Prometheus's test
// does), and reports whether an @-unsafe function is called outside subqueries.
void PinToTimestamp(Expr* e, std::int64_t ts, Compat compat, bool* unsafe) {
  switch (e->kind()) {
    case ExprKind::kVectorSelector: {
      auto* vs = static_cast<promql::VectorSelector*>(e);
      if (vs->at != promql::AtKind::kTimestamp) {
        vs->at = promql::AtKind::kTimestamp;
        vs->at_ms = ts;
      }
      return;
    }
    case ExprKind::kMatrixSelector:
      PinToTimestamp(static_cast<promql::MatrixSelector*>(e)->selector.get(), ts, compat, unsafe);
      return;
    case ExprKind::kSubquery: {
      // Everything below a subquery that has an @ is left alone.
      auto* sq = static_cast<promql::SubqueryExpr*>(e);
      if (sq->at != promql::AtKind::kTimestamp) {
        sq->at = promql::AtKind::kTimestamp;
        sq->at_ms = ts;
      }
      return;
    }
    case ExprKind::kCall: {
      auto* call = static_cast<promql::Call*>(e);
      const std::string_view name = call->func->name;
      if (compat == Compat::kPrometheus2 ? Contains(kAtUnsafe242, name)
                                         : Contains(kAtUnsafe3, name)) {
        *unsafe = true;
      }
      for (auto& a : call->args) PinToTimestamp(a.get(), ts, compat, unsafe);
      return;
    }
    case ExprKind::kUnary:
      PinToTimestamp(static_cast<promql::UnaryExpr*>(e)->expr.get(), ts, compat, unsafe);
      return;
    case ExprKind::kBinary: {
      auto* b = static_cast<promql::BinaryExpr*>(e);
      PinToTimestamp(b->lhs.get(), ts, compat, unsafe);
      PinToTimestamp(b->rhs.get(), ts, compat, unsafe);
      return;
    }
    case ExprKind::kParen:
      PinToTimestamp(static_cast<promql::ParenExpr*>(e)->expr.get(), ts, compat, unsafe);
      return;
    case ExprKind::kAggregate: {
      auto* a = static_cast<promql::AggregateExpr*>(e);
      if (a->param) PinToTimestamp(a->param.get(), ts, compat, unsafe);
      PinToTimestamp(a->expr.get(), ts, compat, unsafe);
      return;
    }
    default:
      return;
  }
}

// Why an expression nimify cannot parse needs something newer than 3.0 (or an
// unimplemented experimental feature); nullopt when nothing explains it.
std::optional<std::string> NewerSyntaxReason(std::string_view expr) {
  const std::string text = WithoutStrings(expr);
  static const RE2 kTrim(R"((<|>)/)");
  static const RE2 kExtended(R"((?i)\b(smoothed|anchored)\b)");
  static const RE2 kFill(R"((?i)\bfill(_left|_right)?\s*\()");
  static const RE2 kDurationInBrackets(R"(\[[^\]]*[-+*/%^()][^\]]*\])");
  static const RE2 kDurationOffset(
      R"((?i)\boffset\s*[-+]?\s*(\(|step\s*\(|range\s*\(|min_of|max_of))");
  static const RE2 kDurationAt(R"(@\s*\()");
  if (RE2::PartialMatch(text, kTrim)) return std::string(kSkipTrimOperator);
  if (RE2::PartialMatch(text, kExtended)) return std::string(kSkipExtendedSelectors);
  if (RE2::PartialMatch(text, kFill)) return std::string(kSkipFill);
  if (RE2::PartialMatch(text, kDurationInBrackets) || RE2::PartialMatch(text, kDurationOffset) ||
      RE2::PartialMatch(text, kDurationAt)) {
    return std::string(kSkipDurationExpr);
  }
  // Function calls nimify does not know.
  static const RE2 kCall(R"((?i)\b([a-z_][a-z0-9_]*)\s*\()");
  re2::StringPiece input(text);
  std::string name;
  while (RE2::FindAndConsume(&input, kCall, &name)) {
    const std::string lower = Lowercase(name);
    if (Contains(kExperimentalAggregators30, lower)) {
      return "experimental aggregator not implemented: " + lower;
    }
    if (promql::LookupFunction(name) != nullptr) continue;
    if (Contains(kFunctionsAfter30, name)) return "function newer than 3.0: " + name;
    if (Contains(kExperimentalFunctions30, name)) {
      return "experimental function not implemented: " + name;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Checking results

using CheckResult = std::optional<std::string>;  // nullopt = ok, else why not

bool IsSorted(const promql::Matrix& m, std::string* why) {
  for (std::size_t i = 0; i + 1 < m.size(); ++i) {
    if (Labels::Compare(m[i].metric, m[i + 1].metric) > 0) {
      *why =
          "matrix results should always be sorted by labels, but matrix is not sorted: "
          "series at index " +
          std::to_string(i + 1) + " with labels " + m[i + 1].metric.ToString() +
          " sorts before series at index " + std::to_string(i) + " with labels " +
          m[i].metric.ToString();
      return false;
    }
  }
  return true;
}

class EvalChecker {
 public:
  EvalChecker(const EvalCommand& cmd, Compat compat) : cmd_(cmd), compat_(compat) {}

  CheckResult Compare(const promql::Value& value) const {
    return compat_ == Compat::kPrometheus2 ? Compare242(value) : Compare3(value);
  }

  // promqltest's checkExpectedFailure.
  CheckResult CheckFailure(std::string_view actual) const {
    if (!cmd_.expected_fail_message.empty() && cmd_.expected_fail_message != actual) {
      return "expected error " + Quote(cmd_.expected_fail_message) +
             ", but got: " + std::string(actual);
    }
    if (cmd_.expected_fail_regexp && !GoRegexpMatch(actual, *cmd_.expected_fail_regexp)) {
      return "expected error matching pattern " + Quote(cmd_.expected_fail_regexp->pattern()) +
             ", but got: " + std::string(actual);
    }
    if (!cmd_.expects[kFail].empty() && !cmd_.expects[kFail][0].Matches(actual)) {
      return "expected error matching " + Quote(cmd_.expects[kFail][0].Describe()) +
             ", but got: " + std::string(actual);
    }
    return std::nullopt;
  }

  // promqltest's checkAnnotations (Prometheus 3 only: 2.42 had no annotations).
  CheckResult CheckAnnotations(const promql::QueryResult& res) const {
    if (compat_ == Compat::kPrometheus2) return std::nullopt;
    if (cmd_.warn && res.warnings.empty()) return std::string("expected warnings but got none");
    if (cmd_.info && res.infos.empty()) {
      return std::string("expected info annotations but got none");
    }
    if (auto r = CheckAnnotationsOfType(cmd_.expects[kWarn], res.warnings, "warn")) return r;
    if (auto r = CheckAnnotationsOfType(cmd_.expects[kInfo], res.infos, "info")) return r;
    if (!cmd_.expects[kNoWarn].empty() && !res.warnings.empty()) {
      return "unexpected warning annotations: " + Join(res.warnings);
    }
    if (!cmd_.expects[kNoInfo].empty() && !res.infos.empty()) {
      return "unexpected info annotations: " + Join(res.infos);
    }
    return std::nullopt;
  }

 private:
  static std::string Join(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + "]";
  }

  static CheckResult CheckAnnotationsOfType(const std::vector<ExpectLine>& expected,
                                            const std::vector<std::string>& actual,
                                            const char* type) {
    if (expected.empty()) return std::nullopt;
    if (actual.empty()) {
      return "expected " + std::string(type) + " annotations but none were found";
    }
    for (const auto& e : expected) {
      if (std::none_of(actual.begin(), actual.end(),
                       [&](const std::string& a) { return e.Matches(a); })) {
        return "expected " + std::string(type) + " annotation matching " + e.Kind() + " " +
               Quote(e.Describe()) +
               " but no matching annotation was found, found: " + Join(actual);
      }
    }
    for (const auto& a : actual) {
      if (std::none_of(expected.begin(), expected.end(),
                       [&](const ExpectLine& e) { return e.Matches(a); })) {
        return "unexpected " + std::string(type) + " annotation " + Quote(a) + " found";
      }
    }
    return std::nullopt;
  }

  // Prometheus 3's compareResult.
  CheckResult Compare3(const promql::Value& value) const {
    if (const auto* m = std::get_if<promql::Matrix>(&value)) {
      if (cmd_.IsOrdered())
        return std::string("expected ordered result, but query returned a matrix");
      if (cmd_.expect_scalar) return std::string("expected scalar result, but got matrix");
      std::string why;
      if (!IsSorted(*m, &why)) return why;
      std::set<Labels> seen;
      const bool has_range = cmd_.is_range || cmd_.has_range_vector_expectation;
      for (const auto& s : *m) {
        auto it = cmd_.expected.find(s.metric);
        if (it == cmd_.expected.end()) {
          return "unexpected metric " + s.metric.ToString() + " in result, has " +
                 FormatSeriesResult(s);
        }
        seen.insert(s.metric);
        std::vector<promql::Point> want;
        for (std::size_t i = 0; i < it->second.values.size(); ++i) {
          const std::int64_t t = cmd_.start + static_cast<std::int64_t>(i) * cmd_.step;
          if (!has_range || t > cmd_.end) {
            return "expected " + std::to_string(it->second.values.size()) + " points for " +
                   s.metric.ToString() + ", but query time range cannot return this many points";
          }
          if (it->second.values[i]) want.push_back(promql::Point{t, *it->second.values[i]});
        }
        if (want.size() != s.points.size()) {
          return "expected " + std::to_string(want.size()) +
                 " float points and 0 histogram "
                 "points for " +
                 s.metric.ToString() + ", but got " + FormatSeriesResult(s);
        }
        for (std::size_t i = 0; i < want.size(); ++i) {
          if (want[i].t != s.points[i].t) {
            return "expected float value at index " + std::to_string(i) + " for " +
                   s.metric.ToString() + " to have timestamp " + std::to_string(want[i].t) +
                   ", but it had timestamp " + std::to_string(s.points[i].t) + " (result has " +
                   FormatSeriesResult(s) + ")";
          }
          if (!AlmostEqual(s.points[i].v, want[i].v, compat_)) {
            return "expected float value at index " + std::to_string(i) +
                   " (t=" + std::to_string(s.points[i].t) + ") for " + s.metric.ToString() +
                   " to be " + FormatFloat(want[i].v) + ", but got " + FormatFloat(s.points[i].v) +
                   " (result has " + FormatSeriesResult(s) + ")";
          }
        }
      }
      for (const auto& [labels, entry] : cmd_.expected) {
        if (!seen.count(labels)) return "expected metric " + labels.ToString() + " not found";
      }
      return std::nullopt;
    }
    if (const auto* v = std::get_if<promql::Vector>(&value)) {
      if (cmd_.expect_scalar) return "expected scalar result, but got vector " + Describe(*v);
      return CompareVector(*v);
    }
    if (const auto* s = std::get_if<promql::Scalar>(&value)) {
      if (!cmd_.expect_scalar) {
        return "expected vector or matrix result, but got scalar " + FormatFloat(s->v);
      }
      if (!AlmostEqual(*cmd_.expected_scalar, s->v, compat_)) {
        return "expected scalar " + FormatFloat(*cmd_.expected_scalar) + " but got " +
               FormatFloat(s->v);
      }
      return std::nullopt;
    }
    const auto& str = std::get<promql::String>(value);
    if (cmd_.expected_string != str.v) {
      return "expected string \"" + cmd_.expected_string + "\" but got \"" + str.v + "\"";
    }
    return std::nullopt;
  }

  CheckResult CompareVector(const promql::Vector& v) const {
    std::set<Labels> seen;
    for (std::size_t pos = 0; pos < v.size(); ++pos) {
      const auto& sample = v[pos];
      auto it = cmd_.expected.find(sample.metric);
      if (it == cmd_.expected.end()) {
        return "unexpected metric " + sample.metric.ToString() + " in result, has value " +
               FormatFloat(sample.v);
      }
      const ExpectedEntry& exp = it->second;
      if (cmd_.IsOrdered() && exp.pos != static_cast<int>(pos) + 1) {
        return "expected metric " + sample.metric.ToString() + " with " + FormatValues(exp.values) +
               " at position " + std::to_string(exp.pos) + " but was at " + std::to_string(pos + 1);
      }
      if (exp.values.empty()) {
        return "no expected value for " + sample.metric.ToString();
      }
      const double want = exp.values[0].value_or(0.0);
      if (!AlmostEqual(want, sample.v, compat_)) {
        return "expected " + FormatFloat(want) + " for " + sample.metric.ToString() + " but got " +
               FormatFloat(sample.v);
      }
      seen.insert(sample.metric);
    }
    for (const auto& [labels, entry] : cmd_.expected) {
      if (!seen.count(labels)) {
        return "expected metric " + labels.ToString() + " with " + FormatValues(entry.values) +
               " not found";
      }
    }
    if (compat_ == Compat::kPrometheus2 && cmd_.expected_scalar) {
      return "expected scalar " + FormatFloat(*cmd_.expected_scalar) + " not found in vector";
    }
    return std::nullopt;
  }

  // Prometheus 2.42's compareResult: no matrices, and no check of the
  // expectation's kind before comparing.
  CheckResult Compare242(const promql::Value& value) const {
    if (std::holds_alternative<promql::Matrix>(value)) {
      return std::string("received range result on instant evaluation");
    }
    if (const auto* v = std::get_if<promql::Vector>(&value)) return CompareVector(*v);
    if (const auto* s = std::get_if<promql::Scalar>(&value)) {
      if (!cmd_.expected_scalar)
        return "expected a vector result, but got scalar " + FormatFloat(s->v);
      if (!AlmostEqual(*cmd_.expected_scalar, s->v, compat_)) {
        return "expected Scalar " + FormatFloat(*cmd_.expected_scalar) + " but got " +
               FormatFloat(s->v);
      }
      return std::nullopt;
    }
    return std::string("unexpected string result");
  }

  static std::string Describe(const promql::Vector& v) {
    std::string out;
    for (const auto& s : v) out += s.metric.ToString() + " => " + FormatFloat(s.v) + "\n";
    return out;
  }

  const EvalCommand& cmd_;
  Compat compat_;
};

// ---------------------------------------------------------------------------
// Running

class ScriptRunner {
 public:
  ScriptRunner(const ScriptOptions& options, std::string_view origin, ScriptResult* result)
      : options_(options),
        origin_(origin),
        result_(result),
        evaluator_(&storage_, TestEngineOptions(options.compat)) {}

  void Run(const ParsedScript& script) {
    for (const auto& command : script.commands) {
      if (const auto* load = std::get_if<LoadCommand>(&command)) {
        Load(*load);
      } else if (std::holds_alternative<ClearCommand>(command)) {
        storage_.Clear();
        taints_.clear();
      } else {
        const auto& eval = std::get<EvalCommand>(command);
        EvalOutcome outcome;
        outcome.line = eval.line;
        outcome.expr = eval.expr;
        Eval(eval, &outcome);
        result_->evals.push_back(std::move(outcome));
      }
    }
  }

 private:
  bool v3() const { return options_.compat == Compat::kPrometheus3; }

  void Load(const LoadCommand& cmd) {
    for (const auto& [labels, values] : cmd.defs) {
      std::int64_t t = 0;
      for (const auto& v : values) {
        if (v) {
          Status s = storage_.Append(labels, t, *v);
          if (!s.ok()) {
            result_->errors.push_back(std::string(origin_) + ":" + std::to_string(cmd.line) +
                                      ": load: " + std::string(s.message()));
            break;
          }
        }
        t += cmd.step_ms;
      }
    }
    taints_.insert(taints_.end(), cmd.taints.begin(), cmd.taints.end());
  }

  static void Fail(EvalOutcome* out, std::string msg) {
    out->status = EvalStatus::kFailed;
    out->message = std::move(msg);
  }
  static void Skip(EvalOutcome* out, std::string reason) {
    out->status = EvalStatus::kSkipped;
    out->message = std::move(reason);
  }

  void Eval(const EvalCommand& cmd, EvalOutcome* out) {
    if (!cmd.parse_error.empty()) return Fail(out, cmd.parse_error);
    if (v3() && cmd.histogram_expectation) return Skip(out, std::string(kSkipHistogramExpected));
    auto parsed = promql::ParseExpr(cmd.expr);
    if (!parsed.ok()) {
      if (v3()) {
        if (auto reason = NewerSyntaxReason(cmd.expr)) return Skip(out, *reason);
      }
      return Fail(out, "parse error: " + std::string(parsed.status().message()));
    }
    if (const Taint* taint = SelectedTaint(**parsed, taints_)) {
      return Skip(out, taint->reason);
    }
    CheckResult r = cmd.is_range ? RunRange(cmd, **parsed) : RunInstant(cmd, std::move(*parsed));
    if (r) Fail(out, *r);
  }

  CheckResult RunRange(const EvalCommand& cmd, const Expr& expr) {
    EvalChecker check(cmd, options_.compat);
    auto res = evaluator_.Range(expr, cmd.start, cmd.end, cmd.step, cmd.expr);
    if (!res.ok()) {
      if (cmd.IsFail()) return check.CheckFailure(res.status().message());
      return "error evaluating query: " + std::string(res.status().message());
    }
    if (cmd.IsFail()) return std::string("expected error evaluating query but got none");
    if (auto r = check.CheckAnnotations(*res)) return r;
    if (auto r = check.Compare(res->value)) return "range query: " + *r;
    return std::nullopt;
  }

  struct Query {
    std::shared_ptr<const Expr> expr;
    std::string text;
    std::int64_t t = 0;
    std::string parse_error;  // the printed @-pinned text did not parse
  };

  CheckResult RunInstant(const EvalCommand& cmd, promql::ExprPtr parsed) {
    std::vector<Query> queries;
    queries.push_back(
        Query{std::shared_ptr<const Expr>(std::move(parsed)), cmd.expr, cmd.eval_time, {}});
    // The same query with every selector pinned to `@ t`, run at other times.
    auto pinned = promql::ParseExpr(cmd.expr);
    if (!pinned.ok()) return "parse error: " + std::string(pinned.status().message());
    bool unsafe = false;
    PinToTimestamp(pinned->get(), cmd.eval_time, options_.compat, &unsafe);
    if (!unsafe) {
      // Printed and parsed again, as Prometheus does: annotation positions
      // then refer to the printed text.
      std::string text = (*pinned)->ToString();
      auto reparsed = promql::ParseExpr(text);
      std::shared_ptr<const Expr> shared;
      std::string error;
      if (reparsed.ok()) {
        shared = std::move(*reparsed);
      } else {
        error = "the @-pinned query " + Quote(text) +
                " does not parse: " + std::string(reparsed.status().message());
      }
      const std::int64_t ts = cmd.eval_time;
      // ±10t would overflow only for absurd times (> 29 million years).
      const bool fits = std::abs(ts) <= std::numeric_limits<std::int64_t>::max() / 10;
      std::vector<std::int64_t> times = {0, ts / 5, ts};
      if (fits) times = {-10 * ts, 0, ts / 5, ts, 10 * ts};
      if (ts == 0) times = {-1000, 0, 1000};
      for (std::int64_t t : times) queries.push_back(Query{shared, text, t, error});
    }
    for (const auto& q : queries) {
      if (!q.parse_error.empty()) return q.parse_error;
      bool stop = false;
      CheckResult r = options_.compat == Compat::kPrometheus2 ? RunInstantQuery242(cmd, q)
                                                              : RunInstantQuery3(cmd, q, &stop);
      if (r) return r;
      if (stop) break;
    }
    return std::nullopt;
  }

  static std::string AtTime(const Query& q) {
    return " (query " + Quote(q.text) + " at " + std::to_string(q.t) + "ms)";
  }

  static promql::Vector SamplesAt(const promql::Matrix& m, std::int64_t t) {
    promql::Vector vec;
    for (const auto& s : m) {
      for (const auto& p : s.points) {
        if (p.t == t) {
          vec.push_back(promql::Sample{s.metric, p.t, p.v, false});
          break;
        }
      }
    }
    return vec;
  }

  // promqltest's runInstantQuery (Prometheus 3).
  CheckResult RunInstantQuery3(const EvalCommand& cmd, const Query& q, bool* stop) {
    EvalChecker check(cmd, options_.compat);
    auto res = evaluator_.Instant(*q.expr, q.t, q.text);
    if (!res.ok()) {
      if (cmd.IsFail()) {
        *stop = true;
        return check.CheckFailure(res.status().message());
      }
      return "error evaluating query: " + std::string(res.status().message()) + AtTime(q);
    }
    if (cmd.IsFail()) return "expected error evaluating query but got none" + AtTime(q);
    if (auto r = check.CheckAnnotations(*res)) return *r + AtTime(q);
    if (auto r = check.Compare(res->value)) return *r + AtTime(q);
    if (cmd.exclude_from_range_query) return std::nullopt;
    static const RE2 kQueryContextFuncs(R"((start|end|range|step)\(\))");
    if (RE2::PartialMatch(q.text, kQueryContextFuncs)) return std::nullopt;
    auto range = evaluator_.Range(*q.expr, q.t - kMinute, q.t + kMinute, kMinute, q.text);
    if (!range.ok()) {
      return "error evaluating query in range mode: " + std::string(range.status().message()) +
             AtTime(q);
    }
    if (cmd.IsOrdered()) return std::nullopt;
    const auto* mat = std::get_if<promql::Matrix>(&range->value);
    if (mat == nullptr) return "range mode: the range query did not return a matrix" + AtTime(q);
    std::string why;
    if (!IsSorted(*mat, &why)) return "range mode: " + why + AtTime(q);
    return CompareRangeMode(check, *res, *mat, q);
  }

  CheckResult CompareRangeMode(const EvalChecker& check, const promql::QueryResult& instant,
                               const promql::Matrix& mat, const Query& q) {
    promql::Vector vec = SamplesAt(mat, q.t);
    CheckResult r;
    if (std::holds_alternative<promql::Scalar>(instant.value)) {
      if (vec.empty()) return "range mode: no sample at the evaluation time" + AtTime(q);
      r = check.Compare(promql::Value(promql::Scalar{q.t, vec[0].v}));
    } else {
      r = check.Compare(promql::Value(std::move(vec)));
    }
    if (r) return "range mode: " + *r + AtTime(q);
    return std::nullopt;
  }

  // Prometheus 2.42's loop body in Test.exec.
  CheckResult RunInstantQuery242(const EvalCommand& cmd, const Query& q) {
    EvalChecker check(cmd, options_.compat);
    auto res = evaluator_.Instant(*q.expr, q.t, q.text);
    if (!res.ok()) {
      if (cmd.fail) return std::nullopt;
      return "error evaluating query: " + std::string(res.status().message()) + AtTime(q);
    }
    if (cmd.fail) return "expected error evaluating query but got none" + AtTime(q);
    if (auto r = check.Compare(res->value)) return *r + AtTime(q);
    auto range = evaluator_.Range(*q.expr, q.t - kMinute, q.t + kMinute, kMinute, q.text);
    if (!range.ok()) {
      return "error evaluating query in range mode: " + std::string(range.status().message()) +
             AtTime(q);
    }
    if (cmd.ordered) return std::nullopt;
    const auto* mat = std::get_if<promql::Matrix>(&range->value);
    if (mat == nullptr) return "range mode: the range query did not return a matrix" + AtTime(q);
    return CompareRangeMode(check, *res, *mat, q);
  }

  const ScriptOptions& options_;
  std::string_view origin_;
  ScriptResult* result_;
  MemoryStorage storage_;
  std::vector<Taint> taints_;
  promql::Evaluator evaluator_;
};

}  // namespace

int ScriptResult::Count(EvalStatus status) const {
  return static_cast<int>(std::count_if(evals.begin(), evals.end(),
                                        [&](const EvalOutcome& e) { return e.status == status; }));
}

std::map<std::string, int> ScriptResult::SkipReasons() const {
  std::map<std::string, int> out;
  for (const auto& e : evals) {
    if (e.status == EvalStatus::kSkipped) ++out[e.message];
  }
  return out;
}

promql::EvalOptions TestEngineOptions(Compat compat) {
  promql::EvalOptions options;
  options.compat = compat;
  options.lookback_delta_ms = 5 * kMinute;
  options.default_subquery_step_ms = kMinute;
  options.delayed_name_removal = compat == Compat::kPrometheus3;
  options.max_samples = 10000;
  return options;
}

bool AlmostEqual(double a, double b, Compat compat) {
  if (compat == Compat::kPrometheus3 && (promql::IsStaleNaN(a) || promql::IsStaleNaN(b))) {
    return promql::IsStaleNaN(a) && promql::IsStaleNaN(b);
  }
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  const double min_normal = std::numeric_limits<double>::min();
  const double abs_sum = std::abs(a) + std::abs(b);
  const double diff = std::abs(a - b);
  if (a == 0 || b == 0 || abs_sum < min_normal) return diff < kEpsilon * min_normal;
  if (compat == Compat::kPrometheus2) return diff / abs_sum < kEpsilon;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < kEpsilon;
}

ScriptResult RunScript(std::string_view text, std::string_view origin,
                       const ScriptOptions& options) {
  ScriptResult result;
  result.origin = std::string(origin);
  ParsedScript script = ScriptParser(text, origin, options.compat).Parse();
  result.errors = std::move(script.errors);
  ScriptRunner(options, result.origin, &result).Run(script);
  return result;
}

Result<ScriptResult> RunScriptFile(const std::string& path, const ScriptOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return RunScript(text.str(), path, options);
}

Status LoadSeriesText(std::string_view text, std::string_view origin, MemoryStorage* storage) {
  const std::vector<std::string> lines = ScriptLines(text);
  // Untrimmed lines, so that columns in errors match the file.
  std::vector<std::string_view> raw;
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    raw.push_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  static const RE2 kLoad(R"(^load\s+(\S+)$)");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const std::string where = std::string(origin) + ":" + std::to_string(i + 1) + ":1: ";
    std::string step;
    if (!RE2::FullMatch(lines[i], kLoad, &step)) {
      return Status::InvalidArgument(where + "expected `load <step>` (e.g. `load 1m`), got " +
                                     Quote(lines[i]) +
                                     " (a blank or comment line ends a load block)");
    }
    auto gap = promql::ParseDuration(step);
    if (!gap.ok()) {
      return Status::InvalidArgument(where + "invalid step " + Quote(step) + ": " +
                                     std::string(gap.status().message()));
    }
    if (*gap <= 0) return Status::InvalidArgument(where + "the load step must be positive");
    std::map<Labels, SeriesValues> defs;
    while (i + 1 < lines.size() && !lines[i + 1].empty()) {
      ++i;
      std::string_view line = raw[i];
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      auto series = ParseSeriesLineAt(line, origin, static_cast<int>(i + 1));
      if (!series.ok()) return Status::InvalidArgument(std::string(series.status().message()));
      if (series->metric.empty()) {
        return Status::InvalidArgument(std::string(origin) + ":" + std::to_string(i + 1) +
                                       ":1: a loaded series needs a metric name or labels");
      }
      defs[series->metric] = std::move(series->values);
    }
    for (const auto& [labels, values] : defs) {
      std::int64_t t = 0;
      for (const auto& v : values) {
        if (v) {
          Status s = storage->Append(labels, t, *v);
          if (!s.ok()) return s.WithPrefix(std::string(origin) + ":" + std::to_string(i + 1));
        }
        t += *gap;
      }
    }
  }
  return Status::Ok();
}

}  // namespace nimify::promqltest
