// Bounded, deterministic mutation testing of the template lexer, parser and
// executor: whatever the text, Compile and Expand return (no crash, no hang)
// and their errors have Go's shapes.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "template/alert_template.h"

namespace nimify::tmpl {
namespace {

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  const YAML::Node root =
      YAML::LoadFile(std::string(NIMIFY_TEMPLATE_TESTDATA) + "/promtool_expansions.yml");
  for (const auto& n : root) seeds.push_back(n["template"].as<std::string>());
  const YAML::Node corpus =
      YAML::LoadFile(std::string(NIMIFY_TEMPLATE_TESTDATA) + "/corpus_expansions.yml");
  for (const auto& n : corpus) seeds.push_back(n["template"].as<std::string>());
  return seeds;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  std::size_t Below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  std::string Mutate(std::string s, const std::vector<std::string>& seeds) {
    static constexpr std::string_view kTokens[] = {"{{",
                                                   "}}",
                                                   "{{- ",
                                                   " -}}",
                                                   "(",
                                                   ")",
                                                   "|",
                                                   "$x",
                                                   "$",
                                                   ":=",
                                                   "=",
                                                   ".",
                                                   ".Labels",
                                                   "\"",
                                                   "`",
                                                   "'",
                                                   "range ",
                                                   "end",
                                                   "else",
                                                   "if ",
                                                   "with ",
                                                   "define \"a\"",
                                                   "template \"a\"",
                                                   "block \"b\" .",
                                                   "break",
                                                   "continue",
                                                   "nil",
                                                   "printf \"%v\" ",
                                                   "%",
                                                   "humanize",
                                                   "query \"w\"",
                                                   "1e9",
                                                   "-",
                                                   " ",
                                                   "\n",
                                                   "\xff",
                                                   "/*",
                                                   "*/",
                                                   ",",
                                                   "0x",
                                                   "1i",
                                                   "'\\x'",
                                                   "index . 0",
                                                   "slice",
                                                   "and",
                                                   "or",
                                                   "not",
                                                   "len",
                                                   "eq",
                                                   "call",
                                                   "$labels",
                                                   "$value",
                                                   "\\",
                                                   "{{/*",
                                                   "*/}}"};
    const std::size_t ops = 1 + Below(4);
    for (std::size_t i = 0; i < ops; ++i) {
      const std::size_t pos = Below(s.size() + 1);
      switch (Below(5)) {
        case 0:
          s.insert(pos, kTokens[Below(std::size(kTokens))]);
          break;
        case 1:
          s.erase(pos, Below(8));
          break;
        case 2:
          s.insert(pos, s.substr(Below(s.size() + 1), Below(16)));
          break;
        case 3: {
          const std::string& other = seeds[Below(seeds.size())];
          s.insert(pos, other.substr(Below(other.size() + 1), Below(32)));
          break;
        }
        default:
          if (!s.empty()) s[Below(s.size())] = static_cast<char>(Below(256));
      }
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

// NIMIFY_FUZZ_ITERATIONS and NIMIFY_FUZZ_SEED override the bounded defaults
// for longer local runs (e.g. under the address sanitizer).
std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

TEST(TemplateFuzzTest, MutatedTemplatesNeverCrash) {
  const std::vector<std::string> seeds = Seeds();
  ASSERT_GT(seeds.size(), 500u);
  TemplateData data;
  data.labels = promql::Labels{{"__name__", "v"}, {"instance", "host1:9090"}, {"job", "api"}};
  data.value = 1234567.5;
  data.query = [](std::string_view) -> Result<promql::Vector> {
    promql::Sample s;
    s.metric = promql::Labels{{"__name__", "w"}, {"k", "a"}};
    s.v = 1;
    return promql::Vector{s, s};
  };
  Mutator m(EnvOr("NIMIFY_FUZZ_SEED", 20260601));
  const std::uint64_t iterations = EnvOr("NIMIFY_FUZZ_ITERATIONS", 30000);
  std::uint64_t compiled = 0, expanded_ok = 0;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    const std::string text = m.Mutate(seeds[m.Below(seeds.size())], seeds);
    auto t = AlertTemplate::Compile(text, "__alert_F");
    if (!t.ok()) {
      ASSERT_EQ(t.status().code(), StatusCode::kParseError) << text;
      ASSERT_TRUE(t.status().message().starts_with("template: __alert_F:")) << text;
      continue;
    }
    ++compiled;
    auto out = t->Execute(data);
    if (out.ok()) {
      ++expanded_ok;
      ASSERT_LE(out->size(), std::size_t{1} << 20) << text;
    } else {
      ASSERT_TRUE(out.status().message().starts_with("error executing template __alert_F: "))
          << text << "\n"
          << out.status().message();
    }
  }
  // The mutations must reach the executor, not only the parser.
  EXPECT_GT(compiled, iterations / 10);
  EXPECT_GT(expanded_ok, iterations / 30);
}

}  // namespace
}  // namespace nimify::tmpl
