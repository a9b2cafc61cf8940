// Alert template expansion, checked against what Prometheus (promtool 2.42)
// printed for the same templates and data, plus the Prometheus 3.x functions,
// the execution limits and the public AlertTemplate contract.
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "template/alert_template.h"
#include "template/go_format.h"
#include "template/go_template.h"

namespace nimify::tmpl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TestdataPath(const std::string& name) {
  return std::string(NIMIFY_TEMPLATE_TESTDATA) + "/" + name;
}

promql::Sample MakeSample(std::initializer_list<promql::Label> labels, double v) {
  promql::Sample s;
  s.metric = promql::Labels(labels);
  s.v = v;
  return s;
}

// The data promtool_expansions.yml was recorded with (see its header).
TemplateData PromtoolData(const promql::Labels& labels, double value) {
  TemplateData d;
  d.labels = labels;
  d.value = value;
  d.external_labels = promql::Labels{{"cluster", "c1"}};
  d.external_url = "http://prom.example.com:9090/prefix";
  d.ts_ms = 0;
  d.query = [](std::string_view expr) -> Result<promql::Vector> {
    // promtool's storage returns the series in the order they were loaded.
    promql::Vector w = {MakeSample({{"__name__", "w"}, {"k", "b"}, {"x", "1"}}, 2),
                        MakeSample({{"__name__", "w"}, {"k", "a"}, {"x", "2"}}, 1),
                        MakeSample({{"__name__", "w"}, {"k", "c"}}, 3)};
    if (expr == "w") return w;
    if (expr == "w{k=\"a\"}") return promql::Vector{w[1]};
    return promql::Vector{};
  };
  return d;
}

struct ExpansionCase {
  std::string group;
  std::string tmpl;
  promql::Labels labels;
  double value = 0;
  bool expect_parse_error = false;
  std::string want;  // output, or the parse error
};

std::vector<ExpansionCase> LoadExpansionCases() {
  std::vector<ExpansionCase> cases;
  const YAML::Node root = YAML::LoadFile(TestdataPath("promtool_expansions.yml"));
  for (const auto& n : root) {
    ExpansionCase c;
    c.group = n["group"].as<std::string>();
    c.tmpl = n["template"].as<std::string>();
    std::vector<promql::Label> labels = {{"__name__", "v"}};
    if (n["labels"]) {
      for (const auto& kv : n["labels"]) {
        labels.push_back({kv.first.as<std::string>(), kv.second.as<std::string>()});
      }
    } else {
      labels.push_back({"instance", "host1:9090"});
      labels.push_back({"job", "api"});
    }
    c.labels = promql::Labels::FromUnsorted(labels);
    const std::string value = n["value"] ? n["value"].as<std::string>() : "1234567.5";
    auto parsed = ParseFloat(value);
    EXPECT_TRUE(parsed.ok()) << value;
    c.value = parsed.ok() ? *parsed : 0;
    if (n["parse_error"]) {
      c.expect_parse_error = true;
      c.want = n["parse_error"].as<std::string>();
    } else {
      c.want = n["want"].as<std::string>();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

const std::vector<ExpansionCase>& ExpansionCases() {
  static const auto* cases = new std::vector<ExpansionCase>(LoadExpansionCases());
  return *cases;
}

class PromtoolExpansionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PromtoolExpansionTest, MatchesPromtool242) {
  int checked = 0;
  for (const ExpansionCase& c : ExpansionCases()) {
    if (c.group != GetParam()) continue;
    ++checked;
    SCOPED_TRACE("template: " + c.tmpl);
    auto t = AlertTemplate::Compile(c.tmpl, "__alert_A");
    if (c.expect_parse_error) {
      ASSERT_FALSE(t.ok()) << "expanded to: " << t->Expand(PromtoolData(c.labels, c.value));
      EXPECT_EQ(t.status().code(), StatusCode::kParseError);
      EXPECT_EQ(t.status().message(), c.want);
      continue;
    }
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->Expand(PromtoolData(c.labels, c.value)), c.want);
  }
  EXPECT_GT(checked, 0) << "no cases in group " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Groups, PromtoolExpansionTest,
                         ::testing::Values("value", "humanize", "printf", "print", "cmp", "logic",
                                           "coll", "ctl", "var", "trim", "fn", "tpl", "parse"));

TEST(PromtoolExpansionTest, EveryGroupIsChecked) {
  const std::vector<std::string> groups = {"value", "humanize", "printf", "print", "cmp",
                                           "logic", "coll",     "ctl",    "var",   "trim",
                                           "fn",    "tpl",      "parse"};
  ASSERT_GT(ExpansionCases().size(), 500u);
  for (const ExpansionCase& c : ExpansionCases()) {
    EXPECT_NE(std::find(groups.begin(), groups.end(), c.group), groups.end()) << c.group;
  }
}

// --- The shared conformance files (promtool 2.42 ground truth) ---------------

std::string SharedPath(const std::string& rel) {
  return std::string(NIMIFY_SHARED_DIR) + "/" + rel;
}

// value-formatting.{rules,test}.yml: $value and every humanize function.
TEST(AlertTemplateTest, KnowsWhichFunctionsItCalls) {
  auto calls_query = [](std::string_view text) {
    auto t = AlertTemplate::Compile(text);
    EXPECT_TRUE(t.ok()) << text;
    return t.ok() && t->Calls("query");
  };
  EXPECT_TRUE(calls_query(R"({{ query "up" | first | value }})"));
  EXPECT_TRUE(calls_query(R"({{ with query "up" }}{{ . | len }}{{ end }})"));
  EXPECT_TRUE(calls_query(R"({{ define "x" }}{{ query "up" }}{{ end }}{{ template "x" }})"));
  EXPECT_TRUE(calls_query(R"({{ "up" | query }})"));
  EXPECT_FALSE(calls_query(R"(query {{ $value }} {{ $labels.query }} {{ "query" }})"));
  EXPECT_FALSE(calls_query(R"({{ $value | humanize }} {{ now }})"));
  EXPECT_FALSE(calls_query("no template at all"));
}

TEST(ConformanceTest, ValueFormatting) {
  const YAML::Node rules =
      YAML::LoadFile(SharedPath("conformance/promtool/value-formatting.rules.yml"));
  const YAML::Node tests =
      YAML::LoadFile(SharedPath("conformance/promtool/value-formatting.test.yml"));
  const YAML::Node rule = rules["groups"][0]["rules"][0];
  const std::string alert = rule["alert"].as<std::string>();
  std::map<std::string, AlertTemplate> annotations;
  for (const auto& kv : rule["annotations"]) {
    auto t = AlertTemplate::Compile(kv.second.as<std::string>(), "__alert_" + alert);
    ASSERT_TRUE(t.ok()) << t.status().message();
    annotations.emplace(kv.first.as<std::string>(), std::move(*t));
  }
  // input series 'v{i="NN"}' -> value
  std::map<std::string, double> values;
  const YAML::Node group = tests["tests"][0];
  for (const auto& s : group["input_series"]) {
    const std::string series = s["series"].as<std::string>();
    const std::size_t q = series.find('"');
    const std::string i = series.substr(q + 1, series.rfind('"') - q - 1);
    auto v = ParseFloat(s["values"].as<std::string>());
    ASSERT_TRUE(v.ok()) << s["values"].as<std::string>();
    values[i] = *v;
  }
  int checked = 0;
  for (const auto& exp : group["alert_rule_test"][0]["exp_alerts"]) {
    const std::string i = exp["exp_labels"]["i"].as<std::string>();
    ASSERT_TRUE(values.count(i)) << i;
    TemplateData data;
    data.labels = promql::Labels{{"__name__", "v"}, {"i", i}};
    data.value = values[i];
    for (const auto& kv : exp["exp_annotations"]) {
      const std::string name = kv.first.as<std::string>();
      SCOPED_TRACE("i=" + i + " annotation " + name);
      ASSERT_TRUE(annotations.count(name));
      EXPECT_EQ(annotations.at(name).Expand(data), kv.second.as<std::string>());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 18 * 5);
}

// alert-semantics: annotations and templated labels of HighValue at 3m.
TEST(ConformanceTest, AlertSemanticsAnnotations) {
  const YAML::Node rules =
      YAML::LoadFile(SharedPath("conformance/promtool/alert-semantics.rules.yml"));
  const YAML::Node tests =
      YAML::LoadFile(SharedPath("conformance/promtool/alert-semantics.test.yml"));
  YAML::Node rule;
  for (const auto& r : rules["groups"][0]["rules"]) {
    if (r["alert"].as<std::string>() == "HighValue") rule = static_cast<const YAML::Node&>(r);
  }
  ASSERT_TRUE(rule);
  YAML::Node expected;
  for (const auto& t : tests["tests"][0]["alert_rule_test"]) {
    if (t["alertname"].as<std::string>() == "HighValue" &&
        t["eval_time"].as<std::string>() == "3m") {
      expected = t["exp_alerts"][0];
    }
  }
  ASSERT_TRUE(expected);
  TemplateData data;
  data.labels = promql::Labels{{"__name__", "metric"}, {"job", "a"}};
  data.value = 1234567;  // the series' sample at 3m
  data.external_labels = promql::Labels{{"cluster", "c1"}};
  int checked = 0;
  for (const auto& kv : rule["annotations"]) {
    auto t = AlertTemplate::Compile(kv.second.as<std::string>(), "__alert_HighValue");
    ASSERT_TRUE(t.ok()) << t.status().message();
    const std::string name = kv.first.as<std::string>();
    EXPECT_EQ(t->Expand(data), expected["exp_annotations"][name].as<std::string>()) << name;
    ++checked;
  }
  auto label =
      AlertTemplate::Compile(rule["labels"]["tmpl"].as<std::string>(), "__alert_HighValue");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->Expand(data), expected["exp_labels"]["tmpl"].as<std::string>());
  EXPECT_EQ(checked, 9);
}

// Every label and annotation template of the generated promtool cases compiles.
TEST(ConformanceTest, GeneratedRuleFilesCompile) {
  int templates = 0;
  for (int n : {1001, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 2000, 2001, 2002,
                2004, 2006, 2007, 2008, 2009, 2010, 2011, 3000, 3001, 3002, 3003, 3004, 3005,
                3006, 3007, 3008, 3009, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008}) {
    const std::string path =
        SharedPath("conformance/promtool/case" + std::to_string(n) + ".rules.yml");
    const YAML::Node root = YAML::LoadFile(path);
    for (const auto& g : root["groups"]) {
      for (const auto& r : g["rules"]) {
        if (!r["alert"]) continue;
        for (const char* field : {"labels", "annotations"}) {
          for (const auto& kv : r[field]) {
            auto t = AlertTemplate::Compile(kv.second.as<std::string>(),
                                            "__alert_" + r["alert"].as<std::string>());
            EXPECT_TRUE(t.ok()) << path << ": " << t.status().message();
            ++templates;
          }
        }
      }
    }
  }
  EXPECT_GT(templates, 0);
}

// --- Prometheus 3.x functions and syntax (not in promtool 2.42) -------------

std::string Expand3(std::string_view text,
                    TemplateData data = PromtoolData(promql::Labels{{"__name__", "v"},
                                                                    {"job", "api"}},
                                                     1234567.5)) {
  auto t = AlertTemplate::Compile(text, "__alert_A");
  if (!t.ok()) return "PARSE ERROR: " + std::string(t.status().message());
  return t->Expand(data);
}

TEST(Prometheus3Test, ToDuration) {
  // time.Duration(v * 1e9).String()
  EXPECT_EQ(Expand3("{{ toDuration 90.5 }}"), "1m30.5s");
  EXPECT_EQ(Expand3("{{ toDuration \"1.5\" }}"), "1.5s");
  EXPECT_EQ(Expand3("{{ toDuration 0.0000015 }}"), "1.5\xC2\xB5s");
  EXPECT_EQ(Expand3("{{ toDuration 0 }}"), "0s");
  EXPECT_EQ(Expand3("{{ toDuration -3600 }}"), "-1h0m0s");
  EXPECT_EQ(Expand3("{{ (toDuration 5400).Hours }}|{{ (toDuration 90).Seconds }}|"
                    "{{ (toDuration 1.5).Milliseconds }}"),
            "1.5|90|1500");
  EXPECT_EQ(Expand3("{{ printf \"%T\" (toDuration 1) }}"), "*time.Duration");
  // A *time.Duration is not one of convertToFloat's types.
  EXPECT_THAT(Expand3("{{ toDuration 1 | humanize }}"),
              HasSubstr("error calling humanize: can't convert *time.Duration to float"));
}

TEST(Prometheus3Test, NowIsTheEvaluationTimeInSeconds) {
  TemplateData data = PromtoolData(promql::Labels{{"job", "a"}}, 1);
  data.ts_ms = 1700000000500;
  EXPECT_EQ(Expand3("{{ now }}", data), "1.7000000005e+09");
  EXPECT_EQ(Expand3("{{ now | humanizeTimestamp }}", data), "2023-11-14 22:13:20.5 +0000 UTC");
  EXPECT_EQ(
      Expand3("{{ (now | toTime).Format \"2006-01-02T15:04:05.000Z07:00 Mon Jan _2\" }}", data),
      "2023-11-14T22:13:20.500Z Tue Nov 14");
  // Like Go, the float seconds are truncated to milliseconds: 1700000000.123 is
  // 1700000000.12299990654 as a float64.
  data.ts_ms = 1700000000123;
  EXPECT_EQ(Expand3("{{ now }}|{{ now | humanizeTimestamp }}", data),
            "1.700000000123e+09|2023-11-14 22:13:20.122 +0000 UTC");
}

TEST(ServerTest, PathPrefixAndExternalUrl) {
  // promtool 2.42 passes no external URL to its rules (both functions fail there);
  // the server passes --web.external-url.
  EXPECT_EQ(Expand3("{{ pathPrefix }}|{{ externalURL }}|{{ $externalURL }}"),
            "/prefix|http://prom.example.com:9090/prefix|http://prom.example.com:9090/prefix");
  TemplateData data;
  data.external_url = "https://h.example:8443/a%20b/c?x=1#f";
  EXPECT_EQ(Expand3("{{ pathPrefix }}", data), "/a b/c");
  data.external_url = "http://h.example";
  EXPECT_EQ(Expand3("[{{ pathPrefix }}]", data), "[]");
}

TEST(Prometheus3Test, UrlQueryEscapeAndNegativeDurations) {
  EXPECT_EQ(Expand3("{{ urlQueryEscape \"a b&c/d~e\" }}"), "a+b%26c%2Fd~e");
  EXPECT_EQ(Expand3("{{ parseDuration \"-5m\" }}"), "-300");
  EXPECT_THAT(Expand3("{{ urlQueryEscape 1 }}"), HasSubstr("expected string; found 1"));
}

TEST(Prometheus3Test, ElseWithAndRangeOverInt) {
  // Go 1.23 (Prometheus 3.x) accepts {{else with}}; Go 1.22 ranges over integers.
  EXPECT_EQ(Expand3("{{ with $labels.nope }}a{{ else with $labels.job }}b{{ . }}{{ end }}"),
            "bapi");
  EXPECT_EQ(Expand3("{{ with 0 }}a{{ else with 0 }}b{{ else }}c{{ end }}"), "c");
  EXPECT_EQ(Expand3("{{ range 3 }}{{ . }}{{ end }}|{{ range 0 }}x{{ else }}none{{ end }}"),
            "012|none");
  EXPECT_EQ(Expand3("{{ range $i := 2 }}{{ $i }}{{ end }}"), "01");
}

// --- Choices where Go's output cannot be reproduced -------------------------

TEST(DeviationTest, NestedSamplePointersPrintTheirContents) {
  // Go prints the addresses of the *sample elements ([0xc000...]).
  EXPECT_EQ(Expand3("{{ query \"w\" }}"),
            "[&{map[__name__:w k:b x:1] 2} &{map[__name__:w k:a x:2] 1} &{map[__name__:w k:c] 3}]");
}

TEST(DeviationTest, TemplateRecursionStopsAtDepth1000) {
  // Go's limit is 100000 nested calls, deeper than a native stack allows.
  EXPECT_EQ(Expand3("{{ define \"loop\" }}{{ template \"loop\" }}{{ end }}{{ template \"loop\" }}"),
            "<error expanding template: error executing template __alert_A: template: "
            "__alert_A:1:143: executing \"loop\" at <{{template \"loop\"}}>: exceeded maximum "
            "template depth (1000)>");
}

TEST(DeviationTest, NestingAcrossTemplateCallsIsBounded) {
  // 200 nested ifs around a recursive call: bounded by all levels together.
  std::string t = "{{ define \"a\" }}";
  for (int i = 0; i < 200; ++i) t += "{{ if 1 }}";
  t += "{{ template \"a\" }}";
  for (int i = 0; i < 200; ++i) t += "{{ end }}";
  t += "{{ end }}{{ template \"a\" }}";
  EXPECT_THAT(Expand3(t), HasSubstr("exceeded maximum nesting depth (2500)"));
}

TEST(DeviationTest, DeepNestingIsAParseError) {
  std::string parens;
  for (int i = 0; i < 600; ++i) parens += "(";
  parens += "1";
  for (int i = 0; i < 600; ++i) parens += ")";
  EXPECT_THAT(Expand3("{{ " + parens + " }}"), HasSubstr("max expression depth exceeded"));
  std::string ifs;
  for (int i = 0; i < 600; ++i) ifs += "{{ if 1 }}";
  for (int i = 0; i < 600; ++i) ifs += "{{ end }}";
  EXPECT_THAT(Expand3(ifs), HasSubstr("max expression depth exceeded"));
  std::string fine;
  for (int i = 0; i < 100; ++i) fine += "{{ if 1 }}(";
  for (int i = 0; i < 100; ++i) fine += "){{ end }}";
  EXPECT_EQ(Expand3(fine), std::string(100, '(') + std::string(100, ')'));
}

// --- Execution limits --------------------------------------------------------

Result<std::string> RunWithLimits(const std::string& text, const ExecLimits& limits) {
  NIMIFY_ASSIGN_OR_RETURN(auto program, TemplateProgram::Parse("t", text, &PrometheusFuncs()));
  const CallEnv env;
  return program->Execute(Value(), env, limits);
}

TEST(LimitsTest, OutputIsCapped) {
  ExecLimits limits;
  limits.max_output_bytes = 100;
  auto out = RunWithLimits("{{ printf \"%0150d\" 1 }}", limits);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "template: t:1:3: executing \"t\" at <{{printf \"%0150d\" 1}}>: template output "
            "exceeds 100 bytes");
  limits.max_output_bytes = 200;
  EXPECT_TRUE(RunWithLimits("{{ printf \"%0150d\" 1 }}", limits).ok());
  // The default cap (1 MiB) applies to alert templates too.
  EXPECT_THAT(Expand3("{{ range query \"w\" }}{{ printf \"%0999999d\" 1 }}{{ end }}"),
              HasSubstr("template output exceeds 1048576 bytes"));
}

TEST(LimitsTest, ExponentialRecursionRunsOutOfSteps) {
  ExecLimits limits;
  limits.max_steps = 100000;
  // 2^40 calls without the step limit.
  auto out = RunWithLimits(
      "{{ define \"r\" }}{{ if . }}{{ template \"r\" (slice . 1) }}{{ template \"r\" (slice . 1) }}"
      "{{ end }}{{ end }}{{ template \"r\" \"0123456789012345678901234567890123456789\" }}",
      limits);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("exceeded the maximum of 100000 execution steps"));
}

// --- The AlertTemplate contract ----------------------------------------------

TEST(AlertTemplateTest, ExecuteReturnsTheErrorThatExpandEmbeds) {
  auto t = AlertTemplate::Compile("x {{ humanize \"q\" }}", "__alert_Foo");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->source(), "x {{ humanize \"q\" }}");
  const TemplateData data;
  auto r = t->Execute(data);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_EQ(msg,
            "error executing template __alert_Foo: template: __alert_Foo:1:117: executing "
            "\"__alert_Foo\" at <humanize \"q\">: error calling humanize: strconv.ParseFloat: "
            "parsing \"q\": invalid syntax");
  EXPECT_EQ(t->Expand(data), "<error expanding template: " + msg + ">");
}

TEST(AlertTemplateTest, ParseErrorsCountThePreludeOnLineOne) {
  auto t = AlertTemplate::Compile("a\nb {{ nope }}", "__alert_X");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kParseError);
  EXPECT_EQ(t.status().message(), "template: __alert_X:2: function \"nope\" not defined");
}

TEST(AlertTemplateTest, QueryErrorsBecomeTemplateErrors) {
  TemplateData data;
  data.query = [](std::string_view expr) -> Result<promql::Vector> {
    return Status::InvalidArgument("bad query " + std::string(expr));
  };
  EXPECT_EQ(Expand3("{{ query \"x\" }}", data),
            "<error expanding template: error executing template __alert_A: template: "
            "__alert_A:1:115: executing \"__alert_A\" at <query \"x\">: error calling query: bad "
            "query x>");
  data.query = nullptr;
  EXPECT_THAT(Expand3("{{ query \"x\" }}", data), HasSubstr("error calling query: "));
}

TEST(AlertTemplateTest, DefaultConstructedExpandsToNothing) {
  const AlertTemplate t;
  EXPECT_EQ(t.Expand(TemplateData()), "");
}

TEST(AlertTemplateTest, SharedBetweenThreads) {
  auto t = AlertTemplate::Compile(
      "{{ $labels.instance }} {{ $value | humanize }} {{ range $k, $v := $labels }}{{ $k }}{{ end "
      "}}",
      "__alert_T");
  ASSERT_TRUE(t.ok());
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      TemplateData data;
      data.labels = promql::Labels{{"instance", "h" + std::to_string(i)}, {"job", "j"}};
      data.value = 1000.0 * (i + 1);
      const std::string want =
          "h" + std::to_string(i) + " " + std::to_string(i + 1) + "k instancejob";
      for (int n = 0; n < 2000; ++n) {
        if (t->Expand(data) != want) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(AlertTemplateTest, FormatGoFloat) {
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(123456.7), "123456.7");
  EXPECT_EQ(FormatGoFloat(1e-5), "1e-05");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatGoFloat(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatGoFloat(std::nan("")), "NaN");
  EXPECT_EQ(FormatGoFloat(-0.0), "-0");
  EXPECT_EQ(FormatGoFloat(0.1 + 0.2), "0.30000000000000004");
}

TEST(AlertTemplateTest, StaleMarkerPrintsAsNaN) {
  TemplateData data;
  data.value = promql::StaleNaN();
  EXPECT_EQ(Expand3("{{ $value }} {{ humanize $value }}", data), "NaN NaN");
}

TEST(AlertTemplateTest, InvalidUtf8) {
  // Text is copied as is; an invalid byte in a string literal becomes U+FFFD
  // (strconv.Unquote), while the \x escape makes a raw byte that %q escapes.
  EXPECT_EQ(Expand3("a\xff{{ printf \"%q\" \"\xfe\" }}"), "a\xff\"\xEF\xBF\xBD\"");
  EXPECT_EQ(Expand3("{{ printf \"%q\" \"\\xfe\" }}"),
            "\"\\x"
            "fe\"");
  EXPECT_EQ(Expand3("{{ toUpper \"a\xff"
                    "b\" }}"),
            "A\xEF\xBF\xBD"
            "B");
}

}  // namespace
}  // namespace nimify::tmpl
