#include "differential/expr_generator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string_view>

namespace nimify::differential {
namespace {

constexpr std::int64_t kMinute = 60 * 1000;
// Input data runs past the last evaluation step, so that negative offsets and
// `@` see promtool's cut-off (no sample after the last step is loaded).
constexpr std::int64_t kDataSpanMs = 66 * kMinute;

// Go's strconv.Quote for the printable text used here.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

// A random subset of `from`, in random order (possibly empty).
std::vector<std::string> Subset(Rng* rng, const std::vector<std::string>& from) {
  std::vector<std::string> out;
  for (const auto& s : from) {
    if (rng->Chance(0.45)) out.push_back(s);
  }
  for (std::size_t i = out.size(); i > 1; --i) {
    std::swap(out[i - 1], out[static_cast<std::size_t>(rng->Below(static_cast<int>(i)))]);
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Writes the values of one series, step by step, in series notation.
class ValueWriter {
 public:
  ValueWriter(Rng* rng, int steps) : rng_(rng), steps_(steps) {}

  int written() const { return written_; }
  bool done() const { return written_ >= steps_; }

  void Value(double v) { Emit(FormatFloat(v), 1); }
  void Missing(int n) {
    n = std::min(n, steps_ - written_);
    if (n <= 0) return;
    Emit(n == 1 ? "_" : "_x" + std::to_string(n), n);
  }
  void Stale() { Emit("stale", 1); }
  // `start+deltaxN`: N+1 samples computed as Prometheus does (k += delta).
  double Ramp(double start, double delta, int n) {
    n = std::min(n, steps_ - written_ - 1);
    if (n < 1) {
      Value(start);
      return start;
    }
    std::string text = FormatFloat(start);
    text += delta < 0 ? "-" : "+";
    text += FormatFloat(std::fabs(delta)) + "x" + std::to_string(n);
    Emit(text, n + 1);
    double k = start;
    for (int i = 0; i < n; ++i) k += delta;
    return k;
  }

  // Randomly inserts a gap or a stale marker before the next value; true if
  // it did (the caller then skips this step's value).
  bool MaybeInterrupt() {
    if (rng_->Chance(0.03)) {
      Missing(1);
      return true;
    }
    if (rng_->Chance(0.008)) {
      Missing(rng_->Between(6, 25));  // longer than the 5m lookback at 15s-1m steps
      return true;
    }
    if (rng_->Chance(0.01)) {
      Stale();
      if (rng_->Chance(0.7)) Missing(rng_->Between(1, 10));
      return true;
    }
    return false;
  }

  std::string Take() { return std::move(text_); }

 private:
  void Emit(const std::string& item, int samples) {
    if (!text_.empty()) text_.push_back(' ');
    text_ += item;
    written_ += samples;
  }

  Rng* rng_;
  int steps_;
  int written_ = 0;
  std::string text_;
};

enum class ValueShape { kCounter, kFractionalCounter, kGauge, kSmallGauge, kUp };

std::string SeriesValues(Rng* rng, int steps, ValueShape shape, bool allow_nan) {
  ValueWriter w(rng, steps);
  // Some series start late, some stop early (with or without a stale marker).
  if (rng->Chance(0.15)) w.Missing(rng->Between(1, steps / 2));
  int stop_at = rng->Chance(0.15) ? rng->Between(steps / 2, steps - 1) : steps;
  double counter = rng->Between(0, 100);
  int cents = rng->Between(-2000, 5000);
  int small = rng->Between(0, 20);
  bool up = true;
  while (!w.done()) {
    if (w.written() >= stop_at) {
      if (rng->Chance(0.5)) w.Stale();
      break;
    }
    if (w.MaybeInterrupt()) continue;
    switch (shape) {
      case ValueShape::kCounter:
      case ValueShape::kFractionalCounter: {
        double inc = shape == ValueShape::kCounter
                         ? rng->Between(0, 20)
                         : rng->Between(0, 8) * (rng->Chance(0.5) ? 0.25 : 0.1);
        if (rng->Chance(0.02)) {
          counter = rng->Between(0, 5);  // a reset
          w.Value(counter);
        } else if (rng->Chance(0.06)) {
          counter = w.Ramp(counter + inc, inc, rng->Between(3, 8));
        } else {
          counter += inc;
          w.Value(counter);
        }
        break;
      }
      case ValueShape::kGauge:
        if (allow_nan && rng->Chance(0.01)) {
          w.Value(std::nan(""));
        } else if (rng->Chance(0.05)) {
          w.Ramp(cents / 100.0, 0, rng->Between(2, 6));  // a constant stretch `vxN`
        } else {
          cents += rng->Between(-300, 300);
          w.Value(cents / 100.0);
        }
        break;
      case ValueShape::kSmallGauge:
        if (rng->Chance(0.3)) small = std::max(0, small + rng->Between(-3, 3));
        w.Value(small);
        break;
      case ValueShape::kUp:
        if (rng->Chance(0.08)) up = !up;
        w.Value(up ? 1 : 0);
        break;
    }
  }
  return w.Take();
}

std::string MetricText(const std::string& name, const std::vector<std::string>& label_names,
                       const std::vector<std::string>& values) {
  std::string out = name + "{";
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    if (i > 0) out += ", ";
    out += label_names[i] + "=" + Quote(values[i]);
  }
  return out + "}";
}

// Every combination of the per-label choices, then a random non-empty part of them.
std::vector<std::vector<std::string>> Combos(Rng* rng,
                                             const std::vector<std::vector<std::string>>& choices,
                                             double keep) {
  std::vector<std::vector<std::string>> all = {{}};
  for (const auto& options : choices) {
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : all) {
      for (const auto& o : options) {
        auto combo = prefix;
        combo.push_back(o);
        next.push_back(std::move(combo));
      }
    }
    all = std::move(next);
  }
  std::vector<std::vector<std::string>> kept;
  for (auto& c : all) {
    if (rng->Chance(keep)) kept.push_back(std::move(c));
  }
  if (kept.empty()) kept.push_back(all.front());
  return kept;
}

}  // namespace

std::uint64_t Rng::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int Rng::Below(int n) { return static_cast<int>(Next() % static_cast<std::uint64_t>(n)); }

bool Rng::Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

Dataset GenerateDataset(Rng* rng) {
  Dataset d;
  d.interval_ms =
      rng->Pick(std::vector<std::int64_t>{10'000, 15'000, 30'000, 45'000, 60'000, 120'000});
  d.max_time_ms = rng->Pick(std::vector<std::int64_t>{30, 45, 60}) * kMinute;
  int steps = static_cast<int>(kDataSpanMs / d.interval_ms) + 1;

  auto add_family = [&](std::string name, FamilyKind kind, std::vector<std::string> label_names,
                        std::vector<std::vector<std::string>> label_values, ValueShape shape,
                        bool allow_nan) {
    Family f{std::move(name), kind, std::move(label_names), std::move(label_values)};
    for (const auto& values : f.label_values) {
      d.series.push_back(
          {MetricText(f.name, f.label_names, values), SeriesValues(rng, steps, shape, allow_nan)});
    }
    d.families.push_back(std::move(f));
  };

  add_family("http_requests_total", FamilyKind::kCounter, {"code", "instance", "job"},
             Combos(rng, {{"200", "500"}, {"10.0.0.1:8080", "10.0.0.2:8080"}, {"api", "web"}}, 0.7),
             ValueShape::kCounter, false);
  add_family("process_cpu_seconds_total", FamilyKind::kCounter, {"instance", "job"},
             Combos(rng, {{"a", "b", "c"}, {"node"}}, 0.8), ValueShape::kFractionalCounter, false);
  // Label values that need escaping or are not ASCII.
  add_family("node_temperature_celsius", FamilyKind::kGauge, {"instance", "sensor"},
             Combos(rng, {{"a", "b"}, {"cpu", "gpu \"main\"", "zone/\xc3\xbc", "ambient\\1"}}, 0.5),
             ValueShape::kGauge, true);
  add_family("up", FamilyKind::kUp, {"instance", "job"},
             Combos(rng, {{"10.0.0.1:8080", "10.0.0.2:8080"}, {"api", "web"}}, 0.8),
             ValueShape::kUp, false);
  add_family("queue_depth", FamilyKind::kGauge, {"job"}, {{"api"}, {"web"}},
             ValueShape::kSmallGauge, false);
  add_family("queue_capacity", FamilyKind::kGauge, {"job"}, {{"api"}, {"web"}},
             ValueShape::kSmallGauge, false);

  // Classic histogram: cumulative buckets that reset together, plus _sum/_count.
  Family buckets{
      "http_request_duration_seconds_bucket", FamilyKind::kHistogramBucket, {"job", "le"}, {}};
  const std::vector<std::string> les = {"0.05", "0.1", "0.5", "1", "+Inf"};
  for (const std::string job : {"api", "web"}) {
    bool drop_inf = rng->Chance(0.1);
    std::vector<ValueWriter> writers;
    std::size_t n_buckets = drop_inf ? les.size() - 1 : les.size();
    for (std::size_t i = 0; i < n_buckets; ++i) writers.emplace_back(rng, steps);
    ValueWriter count(rng, steps), sum(rng, steps);
    std::vector<double> cumulative(les.size(), 0);
    double total_sum = 0;
    for (int step = 0; step < steps; ++step) {
      if (rng->Chance(0.02)) {
        std::fill(cumulative.begin(), cumulative.end(), 0);
        total_sum = 0;
      }
      double running = 0;
      for (std::size_t i = 0; i < les.size(); ++i) {
        running += rng->Between(0, 6);
        cumulative[i] += running;
      }
      total_sum += rng->Between(0, 40) * 0.125;
      // Gaps hit single buckets, which makes them non-monotonic at times.
      for (std::size_t i = 0; i < n_buckets; ++i) {
        if (rng->Chance(0.02)) {
          writers[i].Missing(1);
        } else {
          writers[i].Value(cumulative[i]);
        }
      }
      count.Value(cumulative.back());
      sum.Value(total_sum);
    }
    for (std::size_t i = 0; i < n_buckets; ++i) {
      buckets.label_values.push_back({job, les[i]});
      d.series.push_back(
          {MetricText(buckets.name, buckets.label_names, {job, les[i]}), writers[i].Take()});
    }
    d.series.push_back(
        {MetricText("http_request_duration_seconds_count", {"job"}, {job}), count.Take()});
    d.series.push_back(
        {MetricText("http_request_duration_seconds_sum", {"job"}, {job}), sum.Take()});
  }
  d.families.push_back(std::move(buckets));
  d.families.push_back(Family{
      "http_request_duration_seconds_count", FamilyKind::kCounter, {"job"}, {{"api"}, {"web"}}});
  return d;
}

// ---------------------------------------------------------------------------
// Expressions

int ExprGenerator::FamilyOf(FamilyKind kind) const {
  for (std::size_t i = 0; i < data_->families.size(); ++i) {
    if (data_->families[i].kind == kind) return static_cast<int>(i);
  }
  return 0;
}

int ExprGenerator::RandomFamily() { return rng_->Below(static_cast<int>(data_->families.size())); }

GeneratedExpr ExprGenerator::Generate() {
  tie_checks_.clear();
  subqueries_left_ = 2;
  int depth = rng_->Chance(0.25) ? 1 : (rng_->Chance(0.6) ? 2 : 3);
  GeneratedExpr out;
  out.text = rng_->Chance(0.1) ? Scalar(depth, false) : Vector(depth, -1, false).text;
  out.tie_checks = std::move(tie_checks_);
  return out;
}

std::string ExprGenerator::Operand(const Vec& v) {
  // Now and then leave a compound operand bare, so operator precedence and
  // associativity are part of what is compared.
  if (v.atomic || rng_->Chance(0.15)) return v.text;
  return "(" + v.text + ")";
}

std::string ExprGenerator::Literal() {
  static const std::vector<std::string> common = {"0", "1", "2", "3", "0.5", "10", "100", "0.25"};
  static const std::vector<std::string> odd = {"-1",  "1e3", "0x10",   "Inf",  "-Inf",
                                               "NaN", ".5",  "1.5e-3", "-0.5", "7"};
  return rng_->Chance(0.8) ? rng_->Pick(common) : rng_->Pick(odd);
}

std::string ExprGenerator::Modifiers() {
  std::string out;
  if (rng_->Chance(0.08) && no_at_ == 0) {
    static const std::vector<std::string> at = {"@ 600",     "@ 1200",  "@ 1830.5", "@ 3000",
                                                "@ start()", "@ end()", "@ 90"};
    out += " " + rng_->Pick(at);
  }
  if (rng_->Chance(0.15)) {
    static const std::vector<std::string> offsets = {"1m",  "5m",    "30s", "-1m",
                                                     "-5m", "1m30s", "10m", "-30s"};
    out += " offset " + rng_->Pick(offsets);
  }
  return out;
}

ExprGenerator::Vec ExprGenerator::Selector(int family, bool allow_modifiers) {
  const Family& f = data_->families[static_cast<std::size_t>(family)];
  Vec v{"", f.label_names, true};
  std::vector<std::string> matchers;
  bool by_name_regex = (f.name == "queue_depth" || f.name == "queue_capacity") && rng_->Chance(0.3);
  if (by_name_regex) {
    // Two metrics with the same labels: dropping __name__ makes duplicates.
    matchers.push_back(rng_->Chance(0.5) ? "__name__=~\"queue_.*\""
                                         : "__name__=~\"queue_depth|queue_capacity\"");
  }
  int n = rng_->Chance(0.5) ? 0 : rng_->Between(1, 2);
  for (int i = 0; i < n; ++i) {
    if (rng_->Chance(0.08)) {
      matchers.push_back(rng_->Chance(0.5) ? "nonexistent=\"\"" : "nonexistent!=\"\"");
      continue;
    }
    std::size_t li = static_cast<std::size_t>(rng_->Below(static_cast<int>(f.label_names.size())));
    const std::string& name = f.label_names[li];
    const std::string& value = f.label_values[static_cast<std::size_t>(
        rng_->Below(static_cast<int>(f.label_values.size())))][li];
    bool plain = !value.empty() && std::isalnum(static_cast<unsigned char>(value[0])) != 0;
    int kind = rng_->Below(10);
    if (kind < 4) {
      matchers.push_back(name + "=" + Quote(value));
    } else if (kind < 6) {
      matchers.push_back(name + "!=" + Quote(value));
    } else {
      std::string op = kind < 9 ? "=~" : "!~";
      static const std::vector<std::string> generic = {
          ".*", ".+", "a.*|w.*", "(api|node)", "10\\\\.0\\\\.0\\\\.1:.*", "[0-9]+"};
      std::string re = plain && rng_->Chance(0.5) ? value.substr(0, 1) + ".*" : rng_->Pick(generic);
      // `re` is already escaped for the string literal.
      matchers.push_back(name + op + "\"" + re + "\"");
    }
  }
  if (!by_name_regex && rng_->Chance(0.03)) {
    // A metric with no data: absent() takes its labels from the `=` matchers.
    v.text = "missing_metric{job=\"api\"" + std::string(matchers.empty() ? "" : ", ") +
             Join(matchers, ", ") + "}";
  } else if (by_name_regex) {
    v.text = "{" + Join(matchers, ", ") + "}";
  } else {
    v.text =
        f.name + (matchers.empty() && rng_->Chance(0.7) ? "" : "{" + Join(matchers, ", ") + "}");
  }
  if (allow_modifiers) {
    std::string m = Modifiers();
    v.text += m;
    // `x offset 1m` as an operand of `^` or unary minus is fine; as a bare
    // operand it stays unambiguous too, so it is still atomic.
  }
  return v;
}

std::string ExprGenerator::RangeArg(int depth, int family) {
  if (depth >= 1 && subqueries_left_ > 0 && rng_->Chance(0.25)) {
    --subqueries_left_;
    static const std::vector<std::string> ranges = {"5m", "10m", "3m", "30m", "1m"};
    static const std::vector<std::string> steps = {"", "", "1m", "30s", "2m", "15s", "45s"};
    std::string modifiers = Modifiers();
    // Prometheus (2.42 and 3.x) mis-pins an `@` inside a subquery whose first
    // step falls on the query time, which takes a negative offset or an `@`
    // on the subquery; nimify pins it correctly (see README.md).
    bool at_bug =
        modifiers.find('@') != std::string::npos || modifiers.find("offset -") != std::string::npos;
    if (at_bug) ++no_at_;
    Vec inner = Vector(depth - 1, family, true);
    if (at_bug) --no_at_;
    std::string text = inner.atomic ? inner.text : "(" + inner.text + ")";
    return text + "[" + rng_->Pick(ranges) + ":" + rng_->Pick(steps) + "]" + modifiers;
  }
  static const std::vector<std::string> ranges = {"1m", "2m", "5m", "10m", "90s", "3m", "30s"};
  return Selector(family, false).text + "[" + rng_->Pick(ranges) + "]" + Modifiers();
}

ExprGenerator::Vec ExprGenerator::RangeCall(int depth, int family, bool in_subquery) {
  static const std::vector<std::string> simple = {"rate",
                                                  "increase",
                                                  "delta",
                                                  "irate",
                                                  "idelta",
                                                  "deriv",
                                                  "changes",
                                                  "resets",
                                                  "avg_over_time",
                                                  "min_over_time",
                                                  "max_over_time",
                                                  "sum_over_time",
                                                  "count_over_time",
                                                  "stddev_over_time",
                                                  "stdvar_over_time",
                                                  "last_over_time",
                                                  "present_over_time",
                                                  "absent_over_time",
                                                  "rate",
                                                  "increase"};
  const Family& f = data_->families[static_cast<std::size_t>(family)];
  Vec v{"", f.label_names, true};
  int kind = rng_->Below(20);
  // predict_linear is not step-invariant, so Prometheus turns an `@` in its
  // argument into an offset; inside a subquery that window then slides while
  // the data stays cut to the `@` time (see README.md). Not generated.
  bool at_bug = in_subquery && kind >= 17 && kind < 19;
  if (at_bug) ++no_at_;
  std::string arg = RangeArg(depth, family);
  if (at_bug) --no_at_;
  if (kind < 15) {
    const std::string& fn = rng_->Pick(simple);
    if (fn == "absent_over_time") v.labels.clear();
    v.text = fn + "(" + arg + ")";
  } else if (kind < 17) {
    static const std::vector<std::string> q = {"0", "0.5", "0.9", "1", "0.25", "-0.5", "1.5"};
    v.text = "quantile_over_time(" +
             (rng_->Chance(0.85) ? rng_->Pick(q) : Scalar(depth - 1, in_subquery)) + ", " + arg +
             ")";
  } else if (kind < 19) {
    static const std::vector<std::string> t = {"60", "300", "3600", "0", "-120"};
    v.text = "predict_linear(" + arg + ", " + rng_->Pick(t) + ")";
  } else {
    // Out-of-range factors are query errors in 2.42.
    static const std::vector<std::string> factors = {"0.5", "0.1", "0.9", "0.3", "1", "0"};
    v.text = "holt_winters(" + arg + ", " + rng_->Pick(factors) + ", " + rng_->Pick(factors) + ")";
  }
  return v;
}

std::string ExprGenerator::Grouping(const std::vector<std::string>& available, bool* without,
                                    std::vector<std::string>* names) {
  *without = rng_->Chance(0.35);
  *names = Subset(rng_, available);
  if (rng_->Chance(0.1)) names->push_back(rng_->Chance(0.5) ? "nonexistent" : "__name__");
  return std::string(*without ? "without" : "by") + " (" + Join(*names, ", ") + ")";
}

ExprGenerator::Vec ExprGenerator::Aggregation(int depth, int family, bool in_subquery) {
  static const std::vector<std::string> ops = {
      "sum",   "avg",  "min",     "max",      "count",        "stddev", "stdvar",
      "group", "topk", "bottomk", "quantile", "count_values", "sum",    "max"};
  std::string op = rng_->Pick(ops);
  // Ties at the k-th place can only be ruled out where the operand is
  // evaluated at the query time, i.e. outside subqueries.
  if ((op == "topk" || op == "bottomk") && in_subquery) op = "max";
  Vec inner = Vector(depth - 1, family, in_subquery);
  bool without = false;
  std::vector<std::string> names;
  std::string grouping;
  if (rng_->Chance(0.7)) grouping = Grouping(inner.labels, &without, &names);
  if (op == "count_values" && in_subquery && !without && names.size() >= 3) {
    // Prometheus 2.42 appends the value label to the AST's own `by` list
    // when that slice has spare capacity (3, 5, 6, 7... labels) and sorts it
    // in place, so later steps lose labels (see README.md). Not generated.
    names.resize(2);
    grouping = "by (" + Join(names, ", ") + ")";
  }

  std::string param;
  Vec v{"", {}, true};
  if (op == "topk" || op == "bottomk") {
    int k = rng_->Between(1, 3);
    param = std::to_string(k) + (rng_->Chance(0.1) ? ".7" : "") + ", ";
    TieCheck check{inner.text, op == "bottomk", k, without, names};
    tie_checks_.push_back(std::move(check));
    v.labels = inner.labels;
  } else if (op == "quantile") {
    static const std::vector<std::string> q = {"0", "0.5", "0.9", "1", "0.99", "-0.5", "1.5"};
    param = (rng_->Chance(0.85) ? rng_->Pick(q) : Scalar(depth - 1, in_subquery)) + ", ";
  } else if (op == "count_values") {
    static const std::vector<std::string> label = {"\"value\"", "\"job\"", "\"v\""};
    param = rng_->Pick(label) + ", ";
  }
  if (v.labels.empty()) {
    for (const auto& l : inner.labels) {
      if (without ? !Contains(names, l) : Contains(names, l)) v.labels.push_back(l);
    }
    if (op == "count_values") v.labels.push_back("value");
  }
  std::string body = "(" + param + inner.text + ")";
  if (grouping.empty()) {
    v.text = op + body;
  } else if (rng_->Chance(0.5)) {
    v.text = op + " " + grouping + " " + body;
  } else {
    v.text = op + body + " " + grouping;
  }
  return v;
}

ExprGenerator::Vec ExprGenerator::BinaryVectorVector(int depth, int family, bool in_subquery) {
  static const std::vector<std::string> arith = {"+", "-", "*", "/", "%", "^", "atan2"};
  static const std::vector<std::string> cmp = {"==", "!=", ">", "<", ">=", "<="};
  static const std::vector<std::string> set = {"and", "or", "unless"};
  int kind = rng_->Below(10);
  std::string op;
  bool is_set = false;
  if (kind < 4) {
    op = rng_->Pick(arith);
    if (periodic_ > 0 && op == "^") op = "*";
  } else if (kind < 7) {
    op = rng_->Pick(cmp);
    if (rng_->Chance(0.5)) op += " bool";
  } else {
    op = rng_->Pick(set);
    is_set = true;
  }
  bool amplifies = op == "%";
  if (amplifies) ++periodic_;
  Vec lhs = Vector(depth - 1, family, in_subquery);

  // A many-to-one match that usually works: each series against its group's total.
  if (rng_->Chance(0.2) && !lhs.labels.empty()) {
    if (amplifies) --periodic_;
    std::vector<std::string> on = Subset(rng_, lhs.labels);
    Vec rhs_inner = Vector(depth - 1, family, in_subquery);
    std::string agg = rng_->Pick(std::vector<std::string>{"sum", "max", "count", "avg"});
    std::string ratio_op = rng_->Pick(std::vector<std::string>{"/", "-", ">", "*"});
    std::string left = lhs.atomic ? lhs.text : "(" + lhs.text + ")";
    return Vec{left + " " + ratio_op + " on(" + Join(on, ", ") + ") group_left " + agg + " by (" +
                   Join(on, ", ") + ") (" + rhs_inner.text + ")",
               lhs.labels, false};
  }

  int rhs_family = rng_->Chance(0.7) ? family : RandomFamily();
  Vec rhs = Vector(depth - 1, rhs_family, in_subquery);
  if (amplifies) --periodic_;
  std::vector<std::string> all = lhs.labels;
  for (const auto& l : rhs.labels) {
    if (!Contains(all, l)) all.push_back(l);
  }
  std::string matching;
  Vec v{"", lhs.labels, false};
  int m = rng_->Below(20);
  if (m >= 7) {
    std::vector<std::string> names = Subset(rng_, all);
    bool on = m < 14;
    matching = std::string(on ? " on(" : " ignoring(") + Join(names, ", ") + ")";
    if (!is_set && rng_->Chance(0.3)) {
      bool left = rng_->Chance(0.6);
      matching += left ? " group_left" : " group_right";
      // A label may not be both in on(...) and in the group modifier.
      std::vector<std::string> extra;
      for (const auto& l : left ? rhs.labels : lhs.labels) {
        if (!on || !Contains(names, l)) extra.push_back(l);
      }
      if (!extra.empty() && rng_->Chance(0.4)) matching += "(" + rng_->Pick(extra) + ")";
      if (!left) v.labels = rhs.labels;
    } else if (on && !is_set) {
      v.labels = names;
    }
  }
  std::string right = Operand(rhs);
  // `group_left (x)` would read x as the label list.
  if (right.front() == '(' && matching.size() > 1 && matching.back() != ')') matching += "()";
  v.text = Operand(lhs) + " " + op + matching + " " + right;
  return v;
}

ExprGenerator::Vec ExprGenerator::BinaryVectorScalar(int depth, int family, bool in_subquery) {
  static const std::vector<std::string> ops = {
      "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "atan2"};
  std::string op = rng_->Pick(ops);
  if (periodic_ > 0 && op == "^") op = "*";
  bool amplifies = op == "%";
  if (amplifies) ++periodic_;
  Vec vec = Vector(depth - 1, family, in_subquery);
  std::string scalar = Scalar(depth - 1, in_subquery);
  if (amplifies) --periodic_;
  if (op.size() <= 2 && (op[0] == '=' || op[0] == '!' || op[0] == '<' || op[0] == '>') &&
      rng_->Chance(0.4)) {
    op += " bool";
  }
  bool scalar_first = rng_->Chance(0.35);
  std::string s = scalar.find(' ') == std::string::npos ? scalar : "(" + scalar + ")";
  Vec v{"", vec.labels, false};
  v.text = scalar_first ? s + " " + op + " " + Operand(vec) : Operand(vec) + " " + op + " " + s;
  return v;
}

ExprGenerator::Vec ExprGenerator::InstantCall(int depth, int family, bool in_subquery) {
  static const std::vector<std::string> math = {
      "abs",   "ceil",  "floor", "exp",  "ln",        "log2",      "log10", "sqrt", "sgn",  "deg",
      "rad",   "sin",   "cos",   "tan",  "asin",      "acos",      "atan",  "sinh", "cosh", "tanh",
      "asinh", "acosh", "atanh", "sort", "sort_desc", "timestamp", "abs",   "sqrt"};
  static const std::vector<std::string> dates = {"minute",       "hour",        "day_of_week",
                                                 "day_of_month", "day_of_year", "days_in_month",
                                                 "month",        "year"};
  int kind = rng_->Below(20);
  if (kind == 0) {
    return Vec{"vector(" + Scalar(depth - 1, in_subquery) + ")", {}, true};
  }
  if (kind == 1) {
    if (rng_->Chance(0.5)) return Vec{rng_->Pick(dates) + "()", {}, true};
    Vec sel = Selector(family, true);
    return Vec{"time() - timestamp(" + sel.text + ")", sel.labels, false};
  }
  std::string fn;
  if (kind < 11) {
    fn = rng_->Pick(math);
    if (periodic_ > 0 && (fn == "exp" || fn == "sinh" || fn == "cosh")) fn = "abs";
  }
  bool amplifies = fn == "sin" || fn == "cos" || fn == "tan";
  if (amplifies) ++periodic_;
  Vec inner = Vector(depth - 1, family, in_subquery);
  if (amplifies) --periodic_;
  Vec v{"", inner.labels, true};
  if (kind < 11) {
    v.text = fn + "(" + inner.text + ")";
  } else if (kind < 13) {
    v.text = rng_->Pick(dates) + "(" + inner.text + ")";
  } else if (kind < 15) {
    static const std::vector<std::string> to = {"1", "0.5", "10", "0.1", "3", "-2"};
    v.text = "round(" + inner.text + (rng_->Chance(0.6) ? ", " + rng_->Pick(to) : "") + ")";
  } else if (kind < 18) {
    static const std::vector<std::string> bound = {"0", "1", "10", "50", "-5", "100", "NaN"};
    int c = rng_->Below(3);
    if (c == 0) {
      v.text = "clamp(" + inner.text + ", " + rng_->Pick(bound) + ", " + rng_->Pick(bound) + ")";
    } else {
      v.text = std::string(c == 1 ? "clamp_min(" : "clamp_max(") + inner.text + ", " +
               rng_->Pick(bound) + ")";
    }
  } else {
    v.text = "absent(" + inner.text + ")";
    v.labels.clear();
  }
  return v;
}

ExprGenerator::Vec ExprGenerator::HistogramQuantile(int depth, bool in_subquery) {
  int family = FamilyOf(FamilyKind::kHistogramBucket);
  static const std::vector<std::string> q = {"0.5", "0.9", "0.99", "0", "1", "-1", "2", "0.75"};
  std::string phi = rng_->Chance(0.9) ? rng_->Pick(q) : Scalar(depth - 1, in_subquery);
  std::string buckets;
  std::string sel = Selector(family, false).text;
  static const std::vector<std::string> windows = {"5m", "10m", "2m", "1m"};
  std::string rate = rng_->Pick(std::vector<std::string>{"rate", "increase", "irate"}) + "(" + sel +
                     "[" + rng_->Pick(windows) + "]" + Modifiers() + ")";
  switch (rng_->Below(5)) {
    case 0:
      buckets = rate;
      break;
    case 1:
      buckets = "sum by (le) (" + rate + ")";
      break;
    case 2:
      buckets = "sum by (job, le) (" + rate + ")";
      break;
    case 3:
      buckets = Selector(family, true).text;
      break;
    default:
      buckets = Vector(depth - 1, family, in_subquery).text;
      break;
  }
  return Vec{"histogram_quantile(" + phi + ", " + buckets + ")", {"job"}, true};
}

ExprGenerator::Vec ExprGenerator::LabelManipulation(int depth, int family, bool in_subquery) {
  Vec inner = Vector(depth - 1, family, in_subquery);
  static const std::vector<std::string> dst = {"host", "job", "dst", "instance", "__name__"};
  std::string to = rng_->Pick(dst);
  Vec v{"", inner.labels, true};
  if (!Contains(v.labels, to) && to != "__name__") v.labels.push_back(to);
  std::string src = inner.labels.empty() ? "job" : rng_->Pick(inner.labels);
  if (rng_->Chance(0.6)) {
    static const std::vector<std::string> regex = {"(.*)",     "(.*):.*", "(a)(.*)", "",
                                                   "([0-9]+)", "(.+)",    "(.*"};
    static const std::vector<std::string> repl = {"$1", "x-$1", "${1}y", "", "$2", "$1$1"};
    v.text = "label_replace(" + inner.text + ", \"" + to + "\", \"" + rng_->Pick(repl) + "\", \"" +
             src + "\", \"" + rng_->Pick(regex) + "\")";
  } else {
    std::vector<std::string> srcs = Subset(rng_, inner.labels);
    std::string args;
    for (const auto& s : srcs) args += ", \"" + s + "\"";
    v.text = "label_join(" + inner.text + ", \"" + to + "\", \"" +
             rng_->Pick(std::vector<std::string>{"-", "", ":", ","}) + "\"" + args + ")";
  }
  return v;
}

ExprGenerator::Vec ExprGenerator::Vector(int depth, int family, bool in_subquery) {
  if (family < 0) family = RandomFamily();
  if (depth <= 0) {
    if (rng_->Chance(0.05)) return Vec{"vector(" + Literal() + ")", {}, true};
    return Selector(family, true);
  }
  int kind = rng_->Below(28);
  if (kind < 3) return Selector(family, true);
  if (kind < 9) return RangeCall(depth, family, in_subquery);
  if (kind < 14) return Aggregation(depth, family, in_subquery);
  if (kind < 18) return BinaryVectorVector(depth, family, in_subquery);
  if (kind < 21) return BinaryVectorScalar(depth, family, in_subquery);
  if (kind < 24) return InstantCall(depth, family, in_subquery);
  if (kind < 25) return HistogramQuantile(depth, in_subquery);
  if (kind < 27) return LabelManipulation(depth, family, in_subquery);
  Vec inner = Vector(depth - 1, family, in_subquery);
  return Vec{"-" + Operand(inner), inner.labels, false};
}

std::string ExprGenerator::Scalar(int depth, bool in_subquery) {
  if (depth <= 0) return Literal();
  int kind = rng_->Below(10);
  if (kind < 3) return Literal();
  if (kind < 6) {
    // Usually one series, so the answer is not always NaN.
    Vec inner = Vector(depth - 1, -1, in_subquery);
    std::string agg = rng_->Pick(std::vector<std::string>{"sum", "max", "count", "min", ""});
    return "scalar(" + (agg.empty() ? inner.text : agg + "(" + inner.text + ")") + ")";
  }
  if (kind < 7) return rng_->Chance(0.7) ? "time()" : "-time()";
  if (kind < 8) return rng_->Chance(0.5) ? "pi()" : "scalar(vector(" + Literal() + "))";
  static const std::vector<std::string> ops = {"+", "-",       "*",      "/",       "%",
                                               "^", "== bool", "> bool", "<= bool", "atan2"};
  std::string op = rng_->Pick(ops);
  if (periodic_ > 0 && op == "^") op = "*";
  bool amplifies = op == "%";
  if (amplifies) ++periodic_;
  std::string lhs = Scalar(depth - 1, in_subquery);
  std::string rhs = Scalar(depth - 1, in_subquery);
  if (amplifies) --periodic_;
  return "(" + lhs + ") " + op + " (" + rhs + ")";
}

}  // namespace nimify::differential
