// promtool_diff: differential test of nimify's PromQL (Prometheus 2.42 mode)
// against the real `promtool test rules` of Prometheus 2.42.
//
//   promtool_diff [--seed=N] [--count=N] [--promtool=PATH] [--workdir=DIR]
//                 [--per-group=N] [--times=N] [--timeout=SECONDS] [--verbose]
//                 [--only=TEXT] [--self-test]
//
// From the seed it generates random input series and random well-typed
// expressions, evaluates each with nimify at a few times on the evaluation
// grid, writes a promtool unit-test file whose exp_samples are nimify's
// answers, runs promtool on it and reads promtool's failure report. A check
// agrees when promtool passed, when promtool's `got:` equals nimify's answer
// within a relative 1e-9 (promtool compares exactly and cannot match NaN), or
// when both failed. Everything else is a DISAGREEMENT, printed with both answers.
//
// --self-test writes deliberately wrong expectations and succeeds only if every
// one of them is reported as a disagreement (the checker can fail).
//
// Exit codes: 0 all agree, 1 disagreements, 2 usage or harness error,
// 77 promtool not found (ctest SKIP_RETURN_CODE; with CI=true that is exit 2).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "differential/expr_generator.h"
#include "differential/promtool_output.h"
#include "differential/tool_run.h"
#include "promql/evaluator.h"
#include "promql/labels.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "promqltest/series_notation.h"

namespace {

namespace fs = std::filesystem;
using nimify::Result;
using nimify::Status;
using nimify::differential::Dataset;
using nimify::differential::ExprGenerator;
using nimify::differential::FormatFloat;
using nimify::differential::GeneratedExpr;
using nimify::differential::kExitHarness;
using nimify::differential::ParseFlag;
using nimify::differential::RunTool;
using nimify::differential::SkipOrFail;
using nimify::differential::ToolRun;
using nimify::differential::ReportedFailure;
using nimify::differential::ReportedSample;
using nimify::differential::Rng;
using nimify::differential::TieCheck;
using nimify::promql::Labels;

constexpr int kExitDisagreement = 1;
constexpr std::int64_t kMinute = 60 * 1000;
// promtool's evaluation_interval, which is also the default subquery step.
constexpr std::int64_t kEvaluationIntervalMs = kMinute;
constexpr double kRelativeTolerance = 1e-9;

struct Options {
  std::uint64_t seed = 20230201;
  int count = 300;
  std::string promtool = "/usr/bin/promtool";
  std::string workdir;
  int per_group = 25;
  int times = 3;
  double timeout_seconds = 120;
  bool verbose = false;
  bool self_test = false;
  std::string only;  // keep only expressions containing this text (replaying one case)
};

// nimify's answer at one time: an error, or samples sorted by labels (a
// scalar is one sample without labels, as promtool shows it).
struct Answer {
  bool error = false;
  std::string message;
  std::vector<ReportedSample> samples;
};

struct Check {
  std::int64_t time_ms = 0;
  Answer nimify;
};

struct Case {
  std::string expr;
  std::vector<Check> checks;
};

struct Group {
  Dataset data;
  std::vector<Case> cases;
  std::string sentinel_expr;  // makes promtool load samples up to max_time_ms
};

enum class Verdict {
  kAgreeExact,      // promtool passed
  kAgreeTolerance,  // got == nimify within kRelativeTolerance
  kAgreeNaN,        // equal once NaN == NaN (promtool can never pass a NaN)
  kAgreeErrors,     // both failed
  kDisagree,
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string v;
    char* end = nullptr;
    if (arg == "--verbose") {
      o->verbose = true;
    } else if (arg == "--self-test") {
      o->self_test = true;
    } else if (ParseFlag(arg, "--seed", &v)) {
      o->seed = std::strtoull(v.c_str(), &end, 10);
      if (*end != '\0') return false;
    } else if (ParseFlag(arg, "--count", &v)) {
      o->count = std::atoi(v.c_str());
    } else if (ParseFlag(arg, "--per-group", &v)) {
      o->per_group = std::atoi(v.c_str());
    } else if (ParseFlag(arg, "--times", &v)) {
      o->times = std::atoi(v.c_str());
    } else if (ParseFlag(arg, "--timeout", &v)) {
      o->timeout_seconds = std::atof(v.c_str());
    } else if (ParseFlag(arg, "--promtool", &v)) {
      o->promtool = v;
    } else if (ParseFlag(arg, "--workdir", &v)) {
      o->workdir = v;
    } else if (ParseFlag(arg, "--only", &v)) {
      o->only = v;
    } else {
      return false;
    }
  }
  return o->count > 0 && o->per_group > 0 && o->times > 0 && o->timeout_seconds > 0;
}

// Prometheus lists the clashing series of a many-to-many match in map order,
// so that part of the message is not compared.
// Prometheus reports the first clashing match group in input order and lists
// its series in map order, so only the kind of many-to-many error is compared.
std::string NormalizeError(const std::string& message) {
  constexpr std::string_view kDuplicate = "found duplicate series for the match group ";
  std::size_t close = message.find("];");
  if (message.compare(0, kDuplicate.size(), kDuplicate) != 0 || close == std::string::npos) {
    return message;
  }
  std::size_t side = message.find(" hand-side");
  return std::string(kDuplicate) + "... on the " +
         (side == std::string::npos ? "" : message.substr(side - 5, 5)) + " ..." +
         message.substr(close);
}

bool SameValue(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

bool CloseValue(double a, double b) {
  if (SameValue(a, b)) return true;
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) return false;
  double diff = std::fabs(a - b);
  // The absolute floor absorbs summation-order noise around zero (e.g. a
  // stddev of equal values); inputs here are never smaller than 0.01.
  return diff <= kRelativeTolerance * std::max(std::fabs(a), std::fabs(b)) || diff < 1e-12;
}

void SortSamples(std::vector<ReportedSample>* samples) {
  std::stable_sort(
      samples->begin(), samples->end(),
      [](const ReportedSample& a, const ReportedSample& b) { return a.labels < b.labels; });
}

// Label values that are numbers (count_values, le) may differ in the last
// bits too, when they were computed.
bool CloseLabels(const Labels& a, const Labels& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->name != ib->name) return false;
    if (ia->value == ib->value) continue;
    char* end_a = nullptr;
    char* end_b = nullptr;
    double x = std::strtod(ia->value.c_str(), &end_a);
    double y = std::strtod(ib->value.c_str(), &end_b);
    if (ia->value.empty() || ib->value.empty() || *end_a != '\0' || *end_b != '\0' ||
        !CloseValue(x, y)) {
      return false;
    }
  }
  return true;
}

// As CompareSamples, when the labels themselves hold numbers: pairs up the
// samples in any order.
bool CloseSampleSets(const std::vector<ReportedSample>& a, const std::vector<ReportedSample>& b) {
  std::vector<bool> used(b.size(), false);
  for (const auto& x : a) {
    bool found = false;
    for (std::size_t i = 0; i < b.size() && !found; ++i) {
      if (!used[i] && CloseLabels(x.labels, b[i].labels) && CloseValue(x.value, b[i].value)) {
        used[i] = found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

// Compares two sorted sample lists: 0 differ, 1 identical, 2 equal with NaN == NaN, 3 within
// tolerance.
int CompareSamples(const std::vector<ReportedSample>& a, const std::vector<ReportedSample>& b) {
  if (a.size() != b.size()) return 0;
  bool same_labels = std::equal(a.begin(), a.end(), b.begin(),
                                [](const auto& x, const auto& y) { return x.labels == y.labels; });
  if (!same_labels) return CloseSampleSets(a, b) ? 3 : 0;
  int result = 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].labels == b[i].labels)) return 0;
    double x = a[i].value, y = b[i].value;
    if (x == y) continue;
    if (SameValue(x, y)) {
      result = std::max(result, 2);
    } else if (CloseValue(x, y)) {
      result = 3;
    } else {
      return 0;
    }
  }
  return result;
}

std::string LabelsText(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ", ";
    first = false;
    out += l.name + "=" + nimify::promql::QuoteLabelValue(l.value);
  }
  return out + "}";
}

std::string SamplesText(const std::vector<ReportedSample>& samples, std::string_view indent) {
  if (samples.empty()) return std::string(indent) + "(empty)\n";
  std::string out;
  for (const auto& s : samples) {
    out += std::string(indent) + LabelsText(s.labels) + " " + FormatFloat(s.value) + "\n";
  }
  return out;
}

std::string YamlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

std::string YamlFloat(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return FormatFloat(v);
}

// ---------------------------------------------------------------------------
// nimify side

Result<std::unique_ptr<nimify::promqltest::MemoryStorage>> LoadDataset(const Dataset& data) {
  auto storage = std::make_unique<nimify::promqltest::MemoryStorage>();
  for (const auto& series : data.series) {
    NIMIFY_ASSIGN_OR_RETURN(
        auto line, nimify::promqltest::ParseSeriesLine(series.metric + " " + series.values));
    std::int64_t t = 0;
    for (const auto& v : line.values) {
      // promtool loads nothing after its last evaluation step.
      if (t > data.max_time_ms) break;
      if (v) NIMIFY_RETURN_IF_ERROR(storage->Append(line.metric, t, *v));
      t += data.interval_ms;
    }
  }
  return storage;
}

// nullopt when the result is neither a vector nor a scalar (promtool rejects those).
std::optional<Answer> Evaluate(const nimify::promql::Evaluator& evaluator, const std::string& text,
                               std::int64_t t) {
  Answer answer;
  auto expr = nimify::promql::ParseExpr(text);
  if (!expr.ok()) {
    answer.error = true;
    answer.message = std::string(expr.status().message());
    return answer;
  }
  auto result = evaluator.Instant(**expr, t, text);
  if (!result.ok()) {
    answer.error = true;
    answer.message = std::string(result.status().message());
    return answer;
  }
  if (const auto* scalar = std::get_if<nimify::promql::Scalar>(&result->value)) {
    answer.samples.push_back({Labels(), scalar->v});
  } else if (const auto* vector = std::get_if<nimify::promql::Vector>(&result->value)) {
    for (const auto& s : *vector) answer.samples.push_back({s.metric, s.v});
  } else {
    return std::nullopt;
  }
  SortSamples(&answer.samples);
  return answer;
}

// True if topk/bottomk would have to choose among equal values.
bool HasTie(const nimify::promql::Evaluator& evaluator, const TieCheck& check, std::int64_t t) {
  auto answer = Evaluate(evaluator, check.operand, t);
  if (!answer || answer->error) return false;
  std::map<Labels, std::vector<double>> groups;
  for (const auto& s : answer->samples) {
    Labels key =
        check.without ? s.labels.Drop(check.grouping, true) : s.labels.KeepOnly(check.grouping);
    groups[key].push_back(s.value);
  }
  for (auto& [key, values] : groups) {
    if (static_cast<int>(values.size()) <= check.k) continue;
    // Best first, NaN last (as Prometheus ranks NaN below everything).
    std::sort(values.begin(), values.end(), [&](double a, double b) {
      if (std::isnan(a) || std::isnan(b)) return !std::isnan(a) && std::isnan(b);
      return check.bottom ? a < b : a > b;
    });
    if (SameValue(values[static_cast<std::size_t>(check.k - 1)],
                  values[static_cast<std::size_t>(check.k)])) {
      return true;
    }
  }
  return false;
}

std::vector<std::int64_t> EvalTimes(Rng* rng, std::int64_t max_time_ms, int n) {
  int minutes = static_cast<int>(max_time_ms / kMinute);
  std::set<std::int64_t> times;
  // One time late enough for every window to be full, the rest anywhere.
  times.insert(rng->Between(minutes / 2, minutes) * kMinute);
  for (int tries = 0; static_cast<int>(times.size()) < n && tries < 100; ++tries) {
    times.insert(rng->Between(0, minutes) * kMinute);
  }
  return {times.begin(), times.end()};
}

Result<std::vector<Group>> BuildGroups(const Options& options, Rng* rng, int* rejected_ties) {
  std::vector<Group> groups;
  std::set<std::string> used;
  nimify::promql::EvalOptions eval_options;
  eval_options.compat = nimify::promql::Compat::kPrometheus2;
  eval_options.lookback_delta_ms = 5 * kMinute;
  eval_options.default_subquery_step_ms = kEvaluationIntervalMs;
  eval_options.delayed_name_removal = false;
  eval_options.max_samples = 10000;  // promtool's test engine
  for (int made = 0; made < options.count;) {
    Group group;
    group.data = nimify::differential::GenerateDataset(rng);
    NIMIFY_ASSIGN_OR_RETURN(auto storage, LoadDataset(group.data));
    nimify::promql::Evaluator evaluator(storage.get(), eval_options);
    ExprGenerator generator(&group.data, rng);
    int want = std::min(options.per_group, options.count - made);
    for (int attempts = 0; static_cast<int>(group.cases.size()) < want; ++attempts) {
      if (attempts > 100 * want)
        return Status::Internal("generator keeps producing unusable expressions");
      GeneratedExpr generated = generator.Generate();
      if (used.count(generated.text) > 0) continue;
      Case c{generated.text, {}};
      bool usable = true;
      for (std::int64_t t : EvalTimes(rng, group.data.max_time_ms, options.times)) {
        auto answer = Evaluate(evaluator, c.expr, t);
        bool tie = std::any_of(generated.tie_checks.begin(), generated.tie_checks.end(),
                               [&](const TieCheck& tc) { return HasTie(evaluator, tc, t); });
        if (!answer || tie) {
          if (tie) ++*rejected_ties;
          usable = false;
          break;
        }
        c.checks.push_back({t, std::move(*answer)});
      }
      if (!usable) continue;
      used.insert(c.expr);
      group.cases.push_back(std::move(c));
    }
    made += want;
    group.sentinel_expr = "vector(" + std::to_string(groups.size()) + ")";
    groups.push_back(std::move(group));
  }
  return groups;
}

// --self-test: a wrong expectation for every check nimify answered.
void Perturb(std::vector<Group>* groups) {
  for (auto& g : *groups) {
    for (auto& c : g.cases) {
      for (auto& check : c.checks) {
        Answer& a = check.nimify;
        if (a.error) continue;
        if (a.samples.empty()) {
          a.samples.push_back({Labels{{"__name__", "perturbed"}}, 1});
        } else {
          double& v = a.samples.front().value;
          v = std::isfinite(v) ? v * (1 + 1e-6) + 1 : 42;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// promtool side

std::string UnitTestFile(const Options& options, const std::vector<Group>& groups) {
  std::ostringstream out;
  out << "# Generated by promtool_diff --seed=" << options.seed << " --count=" << options.count
      << "; expectations are nimify's answers.\n"
      << "rule_files: []\nevaluation_interval: 1m\ntests:\n";
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    out << "  - name: " << YamlQuote("group " + std::to_string(gi)) << "\n"
        << "    interval: " << nimify::promql::FormatDuration(g.data.interval_ms) << "\n"
        << "    input_series:\n";
    for (const auto& s : g.data.series) {
      out << "      - series: " << YamlQuote(s.metric) << "\n"
          << "        values: " << YamlQuote(s.values) << "\n";
    }
    out << "    promql_expr_test:\n";
    for (const auto& c : g.cases) {
      for (const auto& check : c.checks) {
        out << "      - expr: " << YamlQuote(c.expr) << "\n"
            << "        eval_time: " << nimify::promql::FormatDuration(check.time_ms) << "\n";
        if (check.nimify.error || check.nimify.samples.empty()) {
          out << "        exp_samples: []\n";
          continue;
        }
        out << "        exp_samples:\n";
        for (const auto& s : check.nimify.samples) {
          out << "          - labels: " << YamlQuote(LabelsText(s.labels)) << "\n"
              << "            value: " << YamlFloat(s.value) << "\n";
        }
      }
    }
    out << "      - expr: " << YamlQuote(g.sentinel_expr) << "\n"
        << "        eval_time: " << nimify::promql::FormatDuration(g.data.max_time_ms) << "\n"
        << "        exp_samples:\n          - labels: '{}'\n            value: " << gi << "\n";
  }
  return out.str();
}

// promtool's stdout and stderr go to their own files in `dir`.
Result<ToolRun> RunPromtool(const Options& options, std::vector<std::string> args,
                            const fs::path& dir) {
  return RunTool({.binary = options.promtool, .args = std::move(args), .dir = dir,
                  .stdout_name = "promtool.stdout", .stderr_name = "promtool.stderr",
                  .timeout_seconds = options.timeout_seconds});
}

std::string Describe(const Answer& a) {
  if (a.error) return "      error: " + a.message + "\n";
  return SamplesText(a.samples, "      ");
}

int Run(const Options& options) {
  if (!fs::exists(options.promtool)) {
    return SkipOrFail(options.promtool + " not found (install Debian's `prometheus` package)");
  }
  std::error_code ec;
  fs::path workdir =
      options.workdir.empty()
          ? fs::temp_directory_path() / ("nimify_promtool_diff_" + std::to_string(getpid()))
          : fs::path(options.workdir);
  fs::create_directories(workdir, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", workdir.c_str(), ec.message().c_str());
    return kExitHarness;
  }
  workdir = fs::absolute(workdir);

  // The expectations below are Prometheus 2.42's semantics; another version
  // would disagree on purpose (e.g. 3.x's left-open windows).
  auto version = RunPromtool(options, {"--version"}, workdir);
  if (!version.ok()) {
    std::fprintf(stderr, "HARNESS ERROR: %s\n", std::string(version.status().message()).c_str());
    return kExitHarness;
  }
  if ((version->stdout_text + version->stderr_text).find("version 2.42.") == std::string::npos) {
    return SkipOrFail(options.promtool + " is not Prometheus 2.42: " + version->stdout_text +
                      version->stderr_text);
  }

  Rng rng(options.seed);
  int rejected_ties = 0;
  auto groups = BuildGroups(options, &rng, &rejected_ties);
  if (!groups.ok()) {
    std::fprintf(stderr, "HARNESS ERROR: %s\n", std::string(groups.status().message()).c_str());
    return kExitHarness;
  }
  if (!options.only.empty()) {
    // Generation ran in full, so the data and expressions are the seed's own.
    for (auto& g : *groups) {
      std::erase_if(g.cases,
                    [&](const Case& c) { return c.expr.find(options.only) == std::string::npos; });
    }
  }
  if (options.self_test) Perturb(&*groups);

  fs::path file = workdir / ("promtool_diff_" + std::to_string(options.seed) + ".yml");
  {
    std::ofstream out(file, std::ios::binary);
    out << UnitTestFile(options, *groups);
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", file.c_str());
      return kExitHarness;
    }
  }
  auto run = RunPromtool(options, {"test", "rules", file.string()}, workdir);
  if (!run.ok()) {
    std::fprintf(stderr, "HARNESS ERROR: %s\n", std::string(run.status().message()).c_str());
    return kExitHarness;
  }
  auto report = nimify::differential::ParsePromtoolReport(run->stderr_text);
  if (!report.ok()) {
    std::fprintf(stderr, "HARNESS ERROR: %s\n", std::string(report.status().message()).c_str());
    return kExitHarness;
  }
  bool harness_ok = true;
  auto harness_error = [&](const std::string& msg) {
    std::printf("HARNESS ERROR: %s\n", msg.c_str());
    harness_ok = false;
  };
  for (const auto& line : report->other_lines) harness_error("unexpected promtool output: " + line);
  if (run->exit_code != 0 && run->exit_code != 1) {
    harness_error("promtool exited with " + std::to_string(run->exit_code));
  }
  if ((run->exit_code == 0) != report->failures.empty()) {
    harness_error("promtool's exit code " + std::to_string(run->exit_code) +
                  " does not fit its report of " + std::to_string(report->failures.size()) +
                  " failures");
  }

  // Index promtool's failures by (expression, time).
  std::map<std::pair<std::string, std::int64_t>, const ReportedFailure*> failures;
  for (const auto& f : report->failures) {
    if (!failures.emplace(std::make_pair(f.expr, f.time_ms), &f).second) {
      harness_error("promtool reported `" + f.expr + "` twice");
    }
  }
  std::set<std::pair<std::string, std::int64_t>> known;

  std::map<Verdict, int> verdicts;
  int checks = 0, expressions = 0, non_empty = 0, empty = 0, errors = 0;
  int answered_disagreements = 0;  // disagreements on checks nimify answered without error
  int error_text_differs = 0;
  std::string disagreements, error_notes;
  for (const auto& g : *groups) {
    known.insert({g.sentinel_expr, g.data.max_time_ms});
    if (failures.count({g.sentinel_expr, g.data.max_time_ms}) > 0) {
      harness_error("sentinel " + g.sentinel_expr + " failed");
    }
    for (const auto& c : g.cases) {
      ++expressions;
      for (const auto& check : c.checks) {
        ++checks;
        known.insert({c.expr, check.time_ms});
        const Answer& mine = check.nimify;
        (mine.error ? errors : mine.samples.empty() ? empty : non_empty)++;
        auto it = failures.find({c.expr, check.time_ms});
        const ReportedFailure* f = it == failures.end() ? nullptr : it->second;
        Verdict verdict = Verdict::kDisagree;
        std::string promtool_says;
        if (f == nullptr) {
          bool has_nan = std::any_of(mine.samples.begin(), mine.samples.end(),
                                     [](const ReportedSample& s) { return std::isnan(s.value); });
          if (has_nan) harness_error("promtool passed a NaN expectation for `" + c.expr + "`");
          verdict = mine.error ? Verdict::kDisagree : Verdict::kAgreeExact;
          promtool_says =
              "      (passed: exactly the expectation written)\n" +
              SamplesText(mine.error ? std::vector<ReportedSample>{} : mine.samples, "      ");
        } else if (f->is_error) {
          promtool_says = "      error: " + f->error + "\n";
          if (mine.error) {
            verdict = Verdict::kAgreeErrors;
            if (NormalizeError(mine.message) != NormalizeError(f->error)) {
              ++error_text_differs;
              error_notes += "  " + c.expr + " @ " + nimify::promql::FormatDuration(check.time_ms) +
                             "\n    nimify:   " + mine.message + "\n    promtool: " + f->error +
                             "\n";
            }
          }
        } else {
          // promtool must have read back exactly what was written.
          std::vector<ReportedSample> written =
              mine.error ? std::vector<ReportedSample>{} : mine.samples;
          std::vector<ReportedSample> expected = f->expected, got = f->got;
          SortSamples(&expected);
          SortSamples(&got);
          int same = CompareSamples(written, expected);
          if (same != 1 && same != 2) {
            harness_error("promtool read the expectation of `" + c.expr + "` differently:\n" +
                          SamplesText(written, "    ") + "  vs\n" + SamplesText(expected, "    "));
          }
          promtool_says = SamplesText(got, "      ");
          if (!mine.error) {
            switch (CompareSamples(mine.samples, got)) {
              case 1:  // only -0 vs 0 can get here (YAML reads "-0" as 0)
              case 3:
                verdict = Verdict::kAgreeTolerance;
                break;
              case 2:
                verdict = Verdict::kAgreeNaN;
                break;
              default:
                break;
            }
          }
        }
        ++verdicts[verdict];
        std::string line = c.expr + " @ " + nimify::promql::FormatDuration(check.time_ms);
        if (verdict == Verdict::kDisagree) {
          if (!mine.error) ++answered_disagreements;
          disagreements += "DISAGREE: " + line + "\n    nimify:\n" + Describe(mine) +
                           "    promtool 2.42:\n" + promtool_says;
        } else if (options.verbose) {
          static constexpr const char* kHow[] = {"promtool passed", "within 1e-9", "NaN",
                                                 "both errors"};
          std::printf("agree (%s): %s\n%s", kHow[static_cast<int>(verdict)], line.c_str(),
                      Describe(mine).c_str());
          if (verdict == Verdict::kAgreeTolerance)
            std::printf("    promtool 2.42:\n%s", promtool_says.c_str());
        }
      }
    }
  }
  for (const auto& [key, f] : failures) {
    if (known.count(key) == 0) harness_error("promtool reported an unknown test: " + key.first);
  }

  int disagree = verdicts[Verdict::kDisagree];
  // A temporary directory is kept only when there is something to look at.
  bool keep_file = !options.workdir.empty() || disagree > 0 || !harness_ok || options.self_test;
  std::printf("%s", disagreements.c_str());
  if (!error_notes.empty()) {
    std::printf("Both failed, with different messages (not a disagreement):\n%s",
                error_notes.c_str());
  }
  std::printf(
      "promtool_diff: seed %llu: %d expressions, %d checks (%d times each, %zu groups); "
      "%d candidates dropped for topk/bottomk ties\n"
      "  nimify answers: %d non-empty, %d empty, %d errors\n"
      "  agree: %d (promtool passed %d, within 1e-9 %d, NaN %d, both errors %d [%d with other "
      "text])\n"
      "  DISAGREE: %d\n"
      "  promtool ran %.2fs; file %s%s\n",
      static_cast<unsigned long long>(options.seed), expressions, checks, options.times,
      groups->size(), rejected_ties, non_empty, empty, errors, checks - disagree,
      verdicts[Verdict::kAgreeExact], verdicts[Verdict::kAgreeTolerance],
      verdicts[Verdict::kAgreeNaN], verdicts[Verdict::kAgreeErrors], error_text_differs, disagree,
      run->seconds, file.c_str(), keep_file ? "" : " (removed)");
  if (!harness_ok) return kExitHarness;
  if (options.self_test) {
    // Every answered check was made wrong, so each must be flagged.
    int answered = checks - errors;
    std::printf("self-test: %d of %d wrong expectations detected\n", answered_disagreements,
                answered);
    return answered_disagreements == answered && answered > 0 ? 0 : kExitDisagreement;
  }
  if (disagree > 0) return kExitDisagreement;
  if (!keep_file) fs::remove_all(workdir, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(
        stderr,
        "usage: promtool_diff [--seed=N] [--count=N] [--promtool=PATH] [--workdir=DIR]\n"
        "                     [--per-group=N] [--times=N] [--timeout=SECONDS] [--verbose]\n"
        "                     [--only=TEXT] [--self-test]\n");
    return kExitHarness;
  }
  return Run(options);
}
