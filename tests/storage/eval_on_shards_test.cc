// The PromQL evaluator must give the same answers over the streaming shards
// (through FanoutQueryable, also clamped to a cut's instant) as over
// MemoryStorage holding the same samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "promql/evaluator.h"
#include "promql/labels.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "storage/fanout_queryable.h"
#include "storage/shard.h"

namespace nimify::storage {
namespace {

using promql::Labels;

// A result as text: type, then sorted "labels point..." lines with value bits.
std::string Render(const Result<promql::QueryResult>& r) {
  if (!r.ok()) return "error " + r.status().ToString();
  auto bits = [](double v) { return std::to_string(std::bit_cast<std::uint64_t>(v)); };
  std::vector<std::string> lines;
  std::string type;
  if (const auto* s = std::get_if<promql::Scalar>(&r->value)) {
    return "scalar " + std::to_string(s->t) + " " + bits(s->v);
  } else if (const auto* v = std::get_if<promql::Vector>(&r->value)) {
    type = "vector";
    for (const auto& x : *v) {
      lines.push_back(x.metric.ToString() + " " + std::to_string(x.t) + " " + bits(x.v));
    }
  } else if (const auto* m = std::get_if<promql::Matrix>(&r->value)) {
    type = "matrix";
    for (const auto& series : *m) {
      std::string line = series.metric.ToString();
      for (const auto& p : series.points) line += " " + std::to_string(p.t) + "@" + bits(p.v);
      lines.push_back(line);
    }
  } else {
    return "string " + std::get<promql::String>(r->value).v;
  }
  std::sort(lines.begin(), lines.end());
  std::string out = type;
  for (const auto& l : lines) out += "\n" + l;
  return out;
}

// Same series and timestamps, values within 1e-9 relative, or both errors.
void ExpectClose(const Result<promql::QueryResult>& got, const Result<promql::QueryResult>& want,
                 const std::string& q) {
  ASSERT_EQ(got.ok(), want.ok()) << q;
  if (!got.ok()) return;
  const auto* gv = std::get_if<promql::Vector>(&got->value);
  const auto* wv = std::get_if<promql::Vector>(&want->value);
  if (gv == nullptr || wv == nullptr) {
    EXPECT_EQ(Render(got), Render(want)) << q;
    return;
  }
  auto sorted = [](promql::Vector v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.metric < b.metric; });
    return v;
  };
  const promql::Vector g = sorted(*gv);
  const promql::Vector w = sorted(*wv);
  ASSERT_EQ(g.size(), w.size()) << q;
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(g[i].metric, w[i].metric) << q;
    EXPECT_EQ(g[i].t, w[i].t) << q;
    if (std::isnan(w[i].v)) {
      EXPECT_TRUE(std::isnan(g[i].v)) << q;
    } else if (std::isinf(w[i].v)) {
      EXPECT_EQ(g[i].v, w[i].v) << q;
    } else {
      EXPECT_NEAR(g[i].v, w[i].v, 1e-9 * std::max(1.0, std::abs(w[i].v))) << q;
    }
  }
}

TEST(EvalOnShardsTest, SameAnswersAsMemoryStorage) {
  std::mt19937 rng(29);
  std::vector<std::unique_ptr<Shard>> shards;
  for (std::uint32_t i = 0; i < 3; ++i) {
    shards.push_back(std::make_unique<Shard>(i, ShardOptions{}, nullptr));
  }
  promqltest::MemoryStorage memory;
  struct Series {
    Labels labels;
    SeriesRef ref;
    Shard* shard;
    double value = 0;
  };
  std::vector<Series> series;
  for (const char* name : {"http_requests_total", "cpu", "up"}) {
    for (const char* job : {"api", "api-canary", "db"}) {
      for (int instance = 0; instance < 4; ++instance) {
        Labels labels{{"__name__", name},
                      {"job", job},
                      {"instance", "host-" + std::to_string(instance)},
                      {"env", instance % 2 ? "prod" : "dev"}};
        Shard* shard = shards[labels.Hash() % shards.size()].get();
        auto ref = shard->Resolve(labels);
        ASSERT_TRUE(ref.ok());
        series.push_back({labels, *ref, shard});
      }
    }
  }
  // MemoryStorage answers in creation order and the shards below in label
  // order: create the series in label order (every one has a sample at step
  // 0) so that both add floats in the same order.
  std::sort(series.begin(), series.end(),
            [](const Series& a, const Series& b) { return a.labels < b.labels; });
  // 40 minutes of 15 s scrapes with jitter, gaps, counter resets and stale markers.
  for (std::int64_t step = 0; step < 160; ++step) {
    for (Series& s : series) {
      if (step > 0 && rng() % 10 == 0) continue;
      const std::int64_t t = step * 15'000 + static_cast<std::int64_t>(rng() % 2000);
      double v;
      const std::string_view name = s.labels.MetricName();
      if (rng() % 40 == 0) {
        v = promql::StaleNaN();
      } else if (name == "http_requests_total") {
        s.value = rng() % 50 == 0 ? 0 : s.value + static_cast<double>(rng() % 20);
        v = s.value;
      } else if (name == "up") {
        v = rng() % 8 == 0 ? 0 : 1;
      } else {
        v = static_cast<double>(rng() % 1000) / 10;
      }
      ASSERT_EQ(s.shard->Append(s.ref, t, v), SampleResult::kOk);
      ASSERT_TRUE(memory.Append(s.labels, t, v).ok());
    }
  }
  std::vector<Shard*> raw;
  for (auto& s : shards) raw.push_back(s.get());

  const std::vector<std::string> queries = {
      "http_requests_total",
      "up == 1",
      "rate(http_requests_total[5m])",
      "sum by (job) (rate(http_requests_total{job=~\"api.*\"}[2m]))",
      "increase(http_requests_total{env!=\"dev\"}[10m] offset 3m)",
      "count_over_time(cpu[10m])",
      "max_over_time(cpu{instance!=\"host-1\"}[3m])",
      "avg by (env) (cpu)",
      "topk(3, cpu)",
      "changes(up[5m])",
      "resets(http_requests_total[20m])",
      "last_over_time(up[1m])",
      "max_over_time(sum(cpu)[5m:1m])",
      "absent(nonexistent_metric)",
      "absent_over_time(up{job=\"db\"}[1m])",
      "cpu / on(job, instance, env) up",
      "cpu * on(job) group_left up",  // many-to-many: must fail the same way
      "count by (__name__) ({__name__=~\"cpu|up\"})",
      "{job=\"db\", instance=~\"host-[12]\"}",
      // Instant selectors read only the newest sample (SelectNewest); with the
      // same series read whole before or after them in one query, at an offset
      // (whose newest sample is past the read) and pinned with `@`.
      "cpu - on(job, instance, env) max_over_time(cpu[10m])",
      "max_over_time(cpu[10m]) - on(job, instance, env) cpu",
      "http_requests_total - http_requests_total offset 10m",
      "up offset 5m",
      "timestamp(up)",
      "timestamp(cpu @ 1200)",
      "cpu @ 600 offset 1m",
      "last_over_time(cpu[30s]) + on(job, instance, env) cpu offset 30s",
  };
  const std::int64_t times[] = {0, 7'000, 300'000, 1'234'567, 2'399'000};
  int compared = 0;
  for (const std::string& q : queries) {
    auto expr = promql::ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q << ": " << expr.status().ToString();
    for (std::int64_t t : times) {
      promql::Evaluator on_memory(&memory, {});
      const std::string want = Render(on_memory.Instant(**expr, t, q));
      FanoutQueryable all(raw, INT64_MAX, SeriesOrder::kByLabels);
      promql::Evaluator on_shards(&all, {});
      EXPECT_EQ(Render(on_shards.Instant(**expr, t, q)), want) << q << " at " << t;
      ++compared;
      // `@` may read past t, which a cut at t hides.
      if (q.find('@') != std::string::npos) continue;
      // A cut at t hides later samples; an instant query at t never reads them.
      FanoutQueryable cut(raw, t, SeriesOrder::kByLabels);
      promql::Evaluator on_cut(&cut, {});
      EXPECT_EQ(Render(on_cut.Instant(**expr, t, q)), want) << q << " at cut " << t;
      // In arrival order only float rounding (and which duplicate an error names) may differ.
      FanoutQueryable arrival(raw, t);
      promql::Evaluator on_arrival(&arrival, {});
      ExpectClose(on_arrival.Instant(**expr, t, q), on_memory.Instant(**expr, t, q), q);
    }
    promql::Evaluator on_memory(&memory, {});
    FanoutQueryable all(raw, INT64_MAX, SeriesOrder::kByLabels);
    promql::Evaluator on_shards(&all, {});
    EXPECT_EQ(Render(on_shards.Range(**expr, 0, 2'400'000, 60'000, q)),
              Render(on_memory.Range(**expr, 0, 2'400'000, 60'000, q)))
        << q << " (range)";
  }
  EXPECT_EQ(compared, static_cast<int>(queries.size() * std::size(times)));
}

}  // namespace
}  // namespace nimify::storage
