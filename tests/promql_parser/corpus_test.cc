// Property tests over real expressions: every awesome-prometheus-alerts rule
// parses and its canonical form is a fixed point of parse -> print; every
// promqltest expression either does the same or uses syntax nimify does not
// enable (duration expressions, fill(), smoothed/anchored, native histograms).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "promql/parser.h"

namespace nimify::promql {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = NIMIFY_SHARED_DIR;

std::vector<std::string> AwesomeExpressions() {
  std::vector<std::string> exprs;
  const fs::path root = kShared / "corpus/awesome-prometheus-alerts/dist/rules";
  if (!fs::exists(root)) return exprs;
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    try {
      const YAML::Node doc = YAML::LoadFile(file.string());
      for (const auto& group : doc["groups"]) {
        for (const auto& rule : group["rules"]) {
          if (rule["expr"]) exprs.push_back(rule["expr"].as<std::string>());
        }
      }
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << file << ": " << e.what();
    }
  }
  return exprs;
}

void ExpectRoundTrip(const std::string& input) {
  auto first = ParseExpr(input);
  ASSERT_TRUE(first.ok()) << input << "\n" << first.status().message();
  const std::string printed = (*first)->ToString();
  auto second = ParseExpr(printed);
  ASSERT_TRUE(second.ok()) << printed << "\n" << second.status().message();
  EXPECT_EQ((*second)->ToString(), printed) << input;
  EXPECT_EQ((*second)->type(), (*first)->type()) << input;
}

TEST(CorpusTest, AwesomePrometheusAlertsRoundTrip) {
  const auto exprs = AwesomeExpressions();
  ASSERT_GE(exprs.size(), 900u) << "corpus not found under " << kShared;
  for (const auto& e : exprs) ExpectRoundTrip(e);
}

// Messages for syntax that is valid in Prometheus 3.x only behind feature flags
// or for native histograms; nimify rejects it with these errors.
bool IsKnownUnsupported(std::string_view message) {
  static const char* const kUnsupported[] = {
      "experimental duration expression is not enabled",
      "modifier is experimental and not enabled",
      "binop fill modifiers are experimental and not enabled",
      "native histogram trim operator",
      "unknown function with name \"info\"",
      "unknown function with name \"histogram_quantiles\"",
      "unknown function with name \"start\"",
      "unknown function with name \"end\"",
      "unknown function with name \"step\"",
      "unknown function with name \"range\"",
      "unknown function with name \"min_of\"",
      "unknown function with name \"max_of\"",
      "unknown function with name \"start_timestamp\"",
  };
  for (const char* m : kUnsupported) {
    if (message.find(m) != std::string_view::npos) return true;
  }
  return false;
}

TEST(CorpusTest, PromqltestExpressions) {
  const std::regex instant(
      R"(^eval(?:_(?:fail|warn|ordered|info))?\s+instant\s+(?:at\s+\S+)?\s+(.+)$)");
  const std::regex range(
      R"(^eval(?:_(?:fail|warn|info))?\s+range\s+from\s+.+\s+to\s+.+\s+step\s+\S+?\s+(.+)$)");
  int parsed = 0;
  int unsupported = 0;
  for (const char* dir : {"conformance/promql-3", "conformance/promql-2.42"}) {
    const fs::path root = kShared / dir;
    if (!fs::exists(root)) continue;
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.path().extension() != ".test") continue;
      std::ifstream in(entry.path());
      std::string line;
      int line_number = 0;
      while (std::getline(in, line)) {
        ++line_number;
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos) continue;
        line = line.substr(first);
        std::smatch m;
        if (!std::regex_match(line, m, instant) && !std::regex_match(line, m, range)) continue;
        const std::string expr = m[1].str();
        auto result = ParseExpr(expr);
        if (!result.ok() && IsKnownUnsupported(result.status().message())) {
          ++unsupported;
          continue;
        }
        SCOPED_TRACE(entry.path().filename().string() + ":" + std::to_string(line_number));
        ExpectRoundTrip(expr);
        ++parsed;
      }
    }
  }
  EXPECT_GT(parsed, 2000);
  EXPECT_LT(unsupported, 600);
}

}  // namespace
}  // namespace nimify::promql
