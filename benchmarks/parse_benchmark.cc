// Parser throughput: every expression of the awesome-prometheus-alerts corpus
// (about 950) per iteration, plus single expressions of different shapes.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "promql/lexer.h"
#include "promql/parser.h"

namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& CorpusExpressions() {
  static const std::vector<std::string>* const exprs = [] {
    auto* out = new std::vector<std::string>;
    const fs::path root =
        fs::path(NIMIFY_SHARED_DIR) / "corpus/awesome-prometheus-alerts/dist/rules";
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
      if (entry.path().extension() == ".yml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      try {
        const YAML::Node doc = YAML::LoadFile(file.string());
        for (const auto& group : doc["groups"]) {
          for (const auto& rule : group["rules"]) {
            if (rule["expr"]) out->push_back(rule["expr"].as<std::string>());
          }
        }
      } catch (const YAML::Exception&) {
        // A broken corpus file only shrinks the benchmark input.
      }
    }
    return out;
  }();
  return *exprs;
}

void BM_ParseCorpus(benchmark::State& state) {
  const auto& exprs = CorpusExpressions();
  if (exprs.empty()) {
    state.SkipWithError("corpus not found");
    return;
  }
  std::size_t bytes = 0;
  for (const auto& e : exprs) bytes += e.size();
  for (auto _ : state) {
    for (const auto& e : exprs) {
      auto parsed = nimify::promql::ParseExpr(e);
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * exprs.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_ParseCorpus)->Unit(benchmark::kMillisecond);

void BM_LexCorpus(benchmark::State& state) {
  const auto& exprs = CorpusExpressions();
  std::size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& e : exprs) {
      nimify::promql::Lexer lexer(e);
      for (auto t = lexer.Next();
           t.type != nimify::promql::TokenType::kEof && t.type != nimify::promql::TokenType::kError;
           t = lexer.Next()) {
        ++tokens;
      }
    }
  }
  benchmark::DoNotOptimize(tokens);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * exprs.size()));
}
BENCHMARK(BM_LexCorpus)->Unit(benchmark::kMillisecond);

void BM_PrintCorpus(benchmark::State& state) {
  std::vector<nimify::promql::ExprPtr> trees;
  for (const auto& e : CorpusExpressions()) {
    auto parsed = nimify::promql::ParseExpr(e);
    if (parsed.ok()) trees.push_back(std::move(parsed).value());
  }
  for (auto _ : state) {
    for (const auto& t : trees) benchmark::DoNotOptimize(t->ToString());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * trees.size()));
}
BENCHMARK(BM_PrintCorpus)->Unit(benchmark::kMillisecond);

const char* const kSingle[] = {
    "up == 0",
    "sum by (job) (rate(http_requests_total{code=~\"5..\", job!=\"\"}[5m])) > 0.1",
    "histogram_quantile(0.99, sum by (le, service) (rate(request_duration_seconds_bucket[5m])))",
    "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10 and ON (instance, "
    "device, mountpoint) node_filesystem_readonly == 0",
    "max_over_time(deriv(rate(x[1m])[10m:30s])[1h:5m]) offset 1d",
};

void BM_ParseSingle(benchmark::State& state) {
  const std::string expr = kSingle[state.range(0)];
  for (auto _ : state) {
    auto parsed = nimify::promql::ParseExpr(expr);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetLabel(expr.substr(0, 40));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * expr.size()));
}
BENCHMARK(BM_ParseSingle)->DenseRange(0, static_cast<int>(std::size(kSingle)) - 1);

}  // namespace

BENCHMARK_MAIN();
