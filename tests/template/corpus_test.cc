// Every label and annotation template of the awesome-prometheus-alerts corpus
// (954 alerting rules) compiles and expands, and expands to what Prometheus prints:
// templates built only from $labels, $labels.<name> and $value are checked by
// substitution, the rest against promtool 2.42's output (testdata/corpus_expansions.yml).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "template/alert_template.h"
#include "template/go_format.h"

namespace nimify::tmpl {
namespace {

namespace fs = std::filesystem;

struct CorpusTemplate {
  std::string file;
  std::string alert;
  std::string field;  // "labels.severity", "annotations.summary", ...
  std::string text;
};

std::vector<CorpusTemplate> LoadCorpus(int* alert_rules) {
  std::vector<CorpusTemplate> out;
  const fs::path dir = fs::path(NIMIFY_SHARED_DIR) / "corpus/awesome-prometheus-alerts/dist/rules";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".yml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  *alert_rules = 0;
  for (const auto& f : files) {
    const YAML::Node root = YAML::LoadFile(f.string());
    for (const auto& g : root["groups"]) {
      for (const auto& r : g["rules"]) {
        if (!r["alert"]) continue;
        ++*alert_rules;
        for (const char* field : {"labels", "annotations"}) {
          if (!r[field]) continue;
          for (const auto& kv : r[field]) {
            out.push_back({f.string(), r["alert"].as<std::string>(),
                           std::string(field) + "." + kv.first.as<std::string>(),
                           kv.second.as<std::string>()});
          }
        }
      }
    }
  }
  return out;
}

// The sample alert every corpus template is expanded for (as in corpus_expansions.yml).
TemplateData SampleData() {
  TemplateData d;
  d.labels = promql::Labels{{"__name__", "v"},   {"instance", "host1:9100"}, {"job", "node"},
                            {"device", "sda"},   {"namespace", "prod"},      {"pod", "web-1"},
                            {"cluster", "eu-1"}, {"mountpoint", "/data"},    {"name", "x"}};
  d.value = 0.8765432;
  d.external_labels = promql::Labels{{"cluster", "c1"}};
  d.external_url = "http://prom.example.com:9090";
  return d;
}

// Expands a template made only of $labels, $labels.<name> and $value actions by substitution.
bool ExpandBySubstitution(const std::string& text, const TemplateData& data, std::string* out) {
  static const std::regex kAction(
      R"(\{\{\s*(\$labels(?:\.([A-Za-z_][A-Za-z0-9_]*))?|\$value)\s*\}\})");
  std::string rest = text;
  out->clear();
  std::smatch m;
  while (std::regex_search(rest, m, kAction)) {
    out->append(m.prefix().str());
    if (m[1].str() == "$value") {
      out->append(FormatGoFloat(data.value));
    } else if (m[2].matched) {
      out->append(std::string(data.labels.Get(m[2].str())));
    } else {
      std::string map = "map[";
      bool first = true;
      for (const auto& l : data.labels) {
        if (!first) map += " ";
        first = false;
        map += l.name + ":" + l.value;
      }
      out->append(map + "]");
    }
    rest = m.suffix().str();
  }
  out->append(rest);
  return out->find("{{") == std::string::npos;  // any other action: not this oracle
}

TEST(CorpusTest, AwesomePrometheusAlertsExpandLikePrometheus) {
  int alert_rules = 0;
  const std::vector<CorpusTemplate> corpus = LoadCorpus(&alert_rules);
  EXPECT_EQ(alert_rules, 954);
  ASSERT_GT(corpus.size(), 2000u);

  std::map<std::string, std::string> recorded;  // template text -> promtool's expansion
  const YAML::Node root =
      YAML::LoadFile(std::string(NIMIFY_TEMPLATE_TESTDATA) + "/corpus_expansions.yml");
  for (const auto& n : root)
    recorded[n["template"].as<std::string>()] = n["want"].as<std::string>();
  ASSERT_GT(recorded.size(), 50u);

  const TemplateData data = SampleData();
  int by_substitution = 0, by_promtool = 0;
  for (const CorpusTemplate& c : corpus) {
    SCOPED_TRACE(c.file + ": " + c.alert + " " + c.field);
    auto t = AlertTemplate::Compile(c.text, "__alert_" + c.alert);
    ASSERT_TRUE(t.ok()) << t.status().message();
    auto out = t->Execute(data);
    ASSERT_TRUE(out.ok()) << out.status().message();
    std::string want;
    if (ExpandBySubstitution(c.text, data, &want)) {
      EXPECT_EQ(*out, want);
      ++by_substitution;
    } else {
      auto it = recorded.find(c.text);
      ASSERT_NE(it, recorded.end()) << "no recorded expansion for: " << c.text;
      EXPECT_EQ(*out, it->second);
      ++by_promtool;
    }
  }
  EXPECT_GT(by_substitution, 1500);
  EXPECT_EQ(by_promtool,
            static_cast<int>(std::count_if(corpus.begin(), corpus.end(), [&](const auto& c) {
              std::string ignored;
              return !ExpandBySubstitution(c.text, data, &ignored);
            })));
}

}  // namespace
}  // namespace nimify::tmpl
