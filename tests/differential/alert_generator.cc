#include "differential/alert_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace nimify::differential {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;

std::string YamlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

// A Prometheus duration: whole minutes as "2m", anything else in seconds.
std::string Duration(std::int64_t ms) {
  if (ms % kMinute == 0) return std::to_string(ms / kMinute) + "m";
  if (ms % kSecond == 0) return std::to_string(ms / kSecond) + "s";
  return std::to_string(ms) + "ms";
}

// One input metric: its label sets and the values its samples take (for
// thresholds that some of the time are crossed).
struct Metric {
  std::string name;
  std::vector<std::string> label_sets;  // `{job="api", instance="a:9100"}`
  std::vector<double> pool;
};

// A vector-valued expression and values it typically takes.
struct Source {
  std::string text;
  std::vector<double> pool;
  bool exact = true;  // its values are exact (no float arithmetic): `==` is safe
};

class CaseGenerator {
 public:
  CaseGenerator(Rng* rng, std::string rules_file_name)
      : rng_(rng), rules_file_name_(std::move(rules_file_name)) {}

  RuleCase Generate() {
    eval_interval_ms_ = rng_->Pick(std::vector<std::int64_t>{30 * kSecond, kMinute, kMinute});
    input_interval_ms_ =
        rng_->Pick(std::vector<std::int64_t>{15 * kSecond, 30 * kSecond, kMinute, kMinute});
    end_ms_ = rng_->Pick(std::vector<std::int64_t>{10, 15, 20}) * kMinute;
    GenerateInputs();
    RuleCase out;
    out.rules = GenerateRules(&out);
    out.tests = GenerateTests(&out);
    return out;
  }

 private:
  // ---- input series

  std::vector<std::string> PickLabelSets() {
    std::vector<std::string> all;
    for (const char* job : {"api", "db"}) {
      for (const char* instance : {"a:9100", "b:9100", "c:9100"}) {
        all.push_back(std::string("{job=\"") + job + "\", instance=\"" + instance + "\"}");
      }
    }
    for (std::size_t i = all.size(); i > 1; --i) {
      std::swap(all[i - 1], all[static_cast<std::size_t>(rng_->Below(static_cast<int>(i)))]);
    }
    all.resize(static_cast<std::size_t>(rng_->Between(1, 4)));
    return all;
  }

  // Series notation for one series of `kind` (0 gauge, 1 counter, 2 up).
  std::string Values(int kind, double scale, std::vector<double>* pool) {
    const int steps = static_cast<int>(end_ms_ / input_interval_ms_) + 1;
    std::string out;
    double v = rng_->Between(0, 10);
    if (kind == 2) v = rng_->Chance(0.7) ? 1 : 0;
    int late_start = rng_->Chance(0.15) ? rng_->Between(1, steps / 3) : 0;
    int stop_at = rng_->Chance(0.15) ? rng_->Between(steps / 2, steps) : steps;
    const double fractions[] = {0, 0, 0, 0.5, 0.25, 0.1, 0.75};
    for (int i = 0; i < steps; ++i) {
      if (!out.empty()) out += ' ';
      if (i < late_start || i >= stop_at) {
        out += '_';
        continue;
      }
      if (rng_->Chance(0.04)) {
        out += "stale";
        continue;
      }
      if (rng_->Chance(0.04)) {
        out += '_';
        continue;
      }
      if (kind == 0) {
        v = std::max(0.0, v + rng_->Between(-2, 2));
      } else if (kind == 1) {
        v = rng_->Chance(0.05) ? 0 : v + rng_->Pick(std::vector<int>{0, 1, 1, 2, 5});
      } else if (rng_->Chance(0.2)) {
        v = 1 - v;
      }
      double x = kind == 2 ? v : (v + fractions[rng_->Below(7)]) * scale;
      pool->push_back(x);
      out += FormatFloat(x);
    }
    return out;
  }

  void GenerateInputs() {
    std::vector<std::string> sets = PickLabelSets();
    const std::vector<double> scales = {1, 1, 1, 0.01, 1000, 1e6, 1048576, 0.001};
    const std::pair<const char*, int> families[] = {
        {"temp", 0}, {"queue", 0}, {"reqs_total", 1}, {"up", 2}};
    for (const auto& [name, kind] : families) {
      Metric m;
      m.name = name;
      // queue and temp share label sets, so one-to-one matching finds pairs.
      m.label_sets = kind == 0 || rng_->Chance(0.7) ? sets : PickLabelSets();
      double scale = rng_->Pick(scales);
      for (const auto& ls : m.label_sets) {
        series_.emplace_back(m.name + ls, Values(kind, scale, &m.pool));
      }
      if (m.pool.empty()) m.pool.push_back(1);
      metrics_.push_back(std::move(m));
    }
  }

  const Metric& M(std::string_view name) const {
    for (const auto& m : metrics_) {
      if (m.name == name) return m;
    }
    return metrics_.front();
  }

  std::vector<double> Scaled(const std::vector<double>& pool, double factor) {
    std::vector<double> out;
    for (double v : pool) out.push_back(v * factor);
    return out;
  }

  // ---- rules

  std::string Matchers() {
    switch (rng_->Below(6)) {
      case 0:
        return "{job=\"api\"}";
      case 1:
        return "{instance=~\"a.*|b.*\"}";
      case 2:
        return "{job!=\"db\"}";
      default:
        return "";
    }
  }

  Source RandomSource() {
    const std::string gauge = rng_->Chance(0.7) ? "temp" : "queue";
    const Metric& g = M(gauge);
    const Metric& c = M("reqs_total");
    const double in_s = static_cast<double>(input_interval_ms_) / 1000.0;
    if (!recorded_.empty() && rng_->Chance(0.3)) {
      const auto& [name, pool] =
          recorded_[static_cast<std::size_t>(rng_->Below(static_cast<int>(recorded_.size())))];
      return {name, pool.pool, pool.exact};
    }
    switch (rng_->Below(17)) {
      case 0:
      case 1:
        return {gauge + Matchers(), g.pool, true};
      case 2:
        return {"sum by (job) (" + gauge + ")", Scaled(g.pool, 2), false};
      case 3:
        return {"avg without (instance) (" + gauge + ")", g.pool, false};
      case 4:
        return {"max by (instance) (" + gauge + Matchers() + ")", g.pool, true};
      case 5:
        return {"count by (job) (" + gauge + ")", {1, 2, 3}, true};
      case 6:
        return {"rate(reqs_total[2m])", Scaled(c.pool, 0.02 / in_s), false};
      case 7:
        return {"increase(reqs_total" + Matchers() + "[3m])", Scaled(c.pool, 0.1), false};
      case 8:
        return {rng_->Pick(std::vector<std::string>{"avg_over_time", "max_over_time",
                                                    "min_over_time", "last_over_time"}) +
                    "(" + gauge + "[" + rng_->Pick(std::vector<std::string>{"1m", "2m", "3m"}) +
                    "])",
                g.pool, false};
      case 9:
        return {"changes(up[5m])", {0, 1, 2}, true};
      case 10:
        return {"temp - queue", Scaled(g.pool, 0.5), false};
      case 11:
        return {"temp > on(job, instance) queue", M("temp").pool, true};
      case 12:
        return {"temp and on(job, instance) (up == 1)", M("temp").pool, true};
      case 13:
        return {rng_->Chance(0.5) ? "absent(temp{job=\"nope\"})"
                                  : "absent_over_time(temp{job=\"api\"}[2m])",
                {1},
                true};
      case 14:
        return {"label_replace(" + gauge + ", \"host\", \"$1\", \"instance\", \"(.*):.*\")", g.pool,
                true};
      case 15:
        return {"vector(time() % 420)", {60, 120, 180, 240, 300}, true};
      default:
        return {"up" + Matchers(), {0, 1}, true};
    }
  }

  std::string Comparison(const Source& s, std::vector<double>* filtered_pool) {
    std::vector<std::string> ops = {">", ">", "<", ">=", "<="};
    if (s.exact) {
      ops.push_back("==");
      ops.push_back("!=");
    }
    std::string op = rng_->Pick(ops);
    if (rng_->Chance(0.05)) op += " bool";
    double threshold = rng_->Pick(s.pool);
    if (rng_->Chance(0.2)) threshold = std::floor(threshold) + 0.5;
    *filtered_pool = s.pool;
    return " " + op + " " + FormatFloat(threshold);
  }

  std::string AlertLabel(std::string* name) {
    switch (rng_->Below(9)) {
      case 0:
        *name = "team";
        return "{{ $labels.job }}";
      case 1:
        *name = "inst";
        return "{{ $labels.instance | toUpper }}";
      case 2:
        *name = "job";  // overrides the series' own job label
        return "overridden";
      case 3:
        *name = "level";  // changes with the value: a new alert identity
        return "{{ if gt $value 5.0 }}high{{ else }}low{{ end }}";
      case 4:
        *name = "val";
        return "{{ $value | humanize }}";
      case 5:
        *name = "empty";  // expands to "": the label is dropped
        return "{{ $labels.missing }}";
      case 6:
        *name = "cluster";
        return "{{ $externalLabels.cluster }}";
      default:
        *name = "severity";
        return rng_->Pick(std::vector<std::string>{"warning", "critical", "page"});
    }
  }

  std::string AnnotationTemplate() {
    static const std::vector<std::string> kTemplates = {
        "{{ $value }}",
        "{{ $value | humanize }}",
        "{{ humanize1024 $value }}",
        "{{ humanizeDuration $value }}",
        "{{ humanizePercentage $value }}",
        "{{ humanizeTimestamp $value }}",
        "{{ printf \"%.2f\" $value }}",
        "{{ printf \"%g|%s\" $value $labels.job }}",
        "{{ printf \"%.3e\" $value }}",
        "{{ $value | printf \"%.0f\" }}",
        "{{ $labels }}",
        "{{ $labels.instance }} is {{ $value }}",
        "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
        "{{ if eq $labels.job \"api\" }}API{{ else }}other{{ end }}",
        "{{ $labels.job | title }}",
        "{{ reReplaceAll \":.*\" \"\" $labels.instance }}",
        "{{ .Value | humanize }} {{ .Labels.job }}",
        "{{ $externalLabels.cluster }} {{ $externalURL }}",
        "{{ with query \"sum(temp)\" }}{{ . | first | value | humanize }}{{ end }}",
        "{{ with query \"up == 0\" }}{{ len . }} down{{ else }}none down{{ end }}",
        // Sorted on every label: among equal keys promtool keeps the query's order, which
        // is the TSDB head's series creation order (nimify sorts by labels).
        "{{ range query \"temp\" | sortByLabel \"job\" | sortByLabel \"instance\" }}"
        "{{ .Labels.instance }}={{ .Value }} {{ end }}",
        "{{ $value | humanizePercentage }}",
        "{{ toLower \"ABC\" }}{{ $labels.job | toUpper }}",
        "{{ match \"a.*\" $labels.instance }}",
        "{{ safeHtml \"<b>x</b>\" }}",
        "{{ query \"temp{job=\\\"nope\\\"}\" | first | value }}",  // an expansion error
        "value {{ $value }} since {{ humanizeDuration 3725.5 }}",
    };
    return rng_->Pick(kTemplates);
  }

  std::string Rule(int index, RuleCase* out) {
    std::string r;
    if (rng_->Chance(0.35)) {
      // Recording rule; alerts may select its output.
      Source s = RandomSource();
      std::string expr = s.text;
      if (rng_->Chance(0.2)) {
        std::vector<double> pool;
        expr += Comparison(s, &pool);
      }
      if (rng_->Chance(0.05)) {
        expr = "count by (alertname, alertstate) (ALERTS)";
        s.pool = {1, 2};
        s.exact = true;
      }
      std::string name = "rec" + std::to_string(index) + ":" +
                         rng_->Pick(std::vector<std::string>{"temp", "load", "errors"});
      r += "      - record: " + name + "\n        expr: " + YamlQuote(expr) + "\n";
      if (rng_->Chance(0.2)) r += "        labels:\n          source: 'recorded'\n";
      recorded_.emplace_back(name, Source{name, s.pool, s.exact});
      record_names_.push_back(name);
      ++out->recording_rules;
      return r;
    }
    Source s = RandomSource();
    std::string expr = s.text;
    std::vector<double> pool;
    if (s.text.rfind("absent", 0) != 0 || rng_->Chance(0.3)) expr += Comparison(s, &pool);
    std::string name = !alert_names_.empty() && rng_->Chance(0.1)
                           ? rng_->Pick(alert_names_)  // two rules, one alert name
                           : "Alert" + std::to_string(index);
    if (std::find(alert_names_.begin(), alert_names_.end(), name) == alert_names_.end()) {
      alert_names_.push_back(name);
    }
    r += "      - alert: " + name + "\n        expr: " + YamlQuote(expr) + "\n";
    const std::vector<std::int64_t> fors = {
        0, 0, 30 * kSecond, kMinute, 90 * kSecond, 2 * kMinute, 3 * kMinute, 5 * kMinute};
    std::int64_t for_ms = rng_->Pick(fors);
    if (for_ms > 0) r += "        for: " + Duration(for_ms) + "\n";
    if (rng_->Chance(0.4)) {
      std::int64_t keep = rng_->Pick(std::vector<std::int64_t>{30 * kSecond, kMinute, 2 * kMinute,
                                                               150 * kSecond, 3 * kMinute});
      r += "        keep_firing_for: " + Duration(keep) + "\n";
    }
    int labels = rng_->Between(0, 3);
    std::set<std::string> used;
    std::string label_text;
    for (int i = 0; i < labels; ++i) {
      std::string key;
      std::string value = AlertLabel(&key);
      if (!used.insert(key).second) continue;
      label_text += "          " + key + ": " + YamlQuote(value) + "\n";
    }
    if (!label_text.empty()) r += "        labels:\n" + label_text;
    int annotations = rng_->Between(0, 3);
    if (annotations > 0) {
      r += "        annotations:\n";
      for (int i = 0; i < annotations; ++i) {
        r += "          a" + std::to_string(i) + ": " + YamlQuote(AnnotationTemplate()) + "\n";
      }
    }
    ++out->alerting_rules;
    return r;
  }

  std::string GenerateRules(RuleCase* out) {
    std::string text = "groups:\n";
    out->groups = rng_->Between(1, 2);
    int index = 0;
    for (int g = 0; g < out->groups; ++g) {
      text += "  - name: g" + std::to_string(g) + "\n    rules:\n";
      int rules = rng_->Between(1, 5);
      for (int i = 0; i < rules; ++i) text += Rule(index++, out);
    }
    if (out->alerting_rules == 0) {
      // Every case tests at least one alert.
      text += "  - name: g" + std::to_string(out->groups++) + "\n    rules:\n";
      while (out->alerting_rules == 0) text += Rule(index++, out);
    }
    return text;
  }

  // ---- the test file

  std::string GenerateTests(RuleCase* out) {
    std::string t = "rule_files: [" + YamlQuote(rules_file_name_) + "]\n" +
                    "evaluation_interval: " + Duration(eval_interval_ms_) + "\n";
    if (out->groups > 1) {
      // Without group_eval_order promtool 2.42 evaluates groups in Go map order
      // (a different order per run), which matters when one group reads another's output.
      bool reversed = rng_->Chance(0.5);
      t += "group_eval_order:\n";
      for (int g = 0; g < out->groups; ++g) {
        t += "  - g" + std::to_string(reversed ? out->groups - 1 - g : g) + "\n";
      }
    }
    t += "tests:\n  - interval: " + Duration(input_interval_ms_) + "\n";
    if (rng_->Chance(0.5)) t += "    external_labels:\n      cluster: 'c1'\n";
    if (rng_->Chance(0.3)) t += "    external_url: 'http://alerts.example:9090/'\n";
    t += "    input_series:\n";
    for (const auto& [metric, values] : series_) {
      t += "      - series: " + YamlQuote(metric) + "\n        values: " + YamlQuote(values) + "\n";
    }
    // Every evaluation step, and a few times between steps.
    std::set<std::int64_t> times;
    for (std::int64_t at = 0; at <= end_ms_; at += eval_interval_ms_) times.insert(at);
    for (int i = 0; i < 2; ++i) {
      times.insert(rng_->Below(static_cast<int>(end_ms_ / eval_interval_ms_)) * eval_interval_ms_ +
                   eval_interval_ms_ / 2);
    }
    t += "    alert_rule_test:\n";
    for (std::int64_t at : times) {
      for (const auto& name : alert_names_) {
        t += "      - eval_time: " + Duration(at) + "\n        alertname: " + name +
             "\n        exp_alerts: []\n";
        ++out->alert_checks;
      }
    }
    std::vector<std::string> exprs = record_names_;
    exprs.push_back("ALERTS");
    exprs.push_back("ALERTS_FOR_STATE");
    t += "    promql_expr_test:\n";
    for (const auto& e : exprs) {
      std::set<std::int64_t> at;
      for (int i = 0; i < 4; ++i) {
        at.insert(rng_->Between(0, static_cast<int>(end_ms_ / eval_interval_ms_)) *
                  eval_interval_ms_);
      }
      for (std::int64_t when : at) {
        t += "      - expr: " + YamlQuote(e) + "\n        eval_time: " + Duration(when) +
             "\n        exp_samples: []\n";
        ++out->expr_checks;
      }
    }
    return t;
  }

  Rng* rng_;
  std::string rules_file_name_;
  std::int64_t eval_interval_ms_ = kMinute;
  std::int64_t input_interval_ms_ = kMinute;
  std::int64_t end_ms_ = 0;
  std::vector<Metric> metrics_;
  std::vector<std::pair<std::string, std::string>> series_;  // metric, values
  std::vector<std::pair<std::string, Source>> recorded_;
  std::vector<std::string> record_names_;
  std::vector<std::string> alert_names_;
};

}  // namespace

RuleCase GenerateRuleCase(Rng* rng, const std::string& rules_file_name) {
  return CaseGenerator(rng, rules_file_name).Generate();
}

}  // namespace nimify::differential
