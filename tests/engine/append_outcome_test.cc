// Producer::AppendBatch with an AppendOutcome: the batch path a remote-write
// receiver uses, counted per kind of sample.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "nimify/engine.h"
#include "nimify/rules.h"

namespace nimify {
namespace {

using ::testing::HasSubstr;

constexpr char kRules[] = R"(
groups:
  - name: temps
    interval: 1m
    rules:
      - alert: TooHot
        expr: temp > 90
)";

std::unique_ptr<Engine> NewEngine(std::uint32_t ring_capacity) {
  auto rules = RuleSet::Parse(kRules, "test.rules.yml");
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions o;
  o.shards = 1;
  o.ring_capacity = ring_capacity;
  auto e = Engine::Create(std::move(o), rules.ok() ? *rules : RuleSet::Empty());
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

SeriesRef Temp(Producer& p, const std::string& room) {
  const Label labels[] = {{"__name__", "temp"}, {"room", room}};
  auto ref = p.Resolve(labels);
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  return ref.ok() ? *ref : 0;
}

// Late, too-late and bad-ref samples are counted and skipped; the rest of the
// batch goes on, and reaches the shards at Flush.
TEST(AppendOutcomeTest, CountsEachKindAndKeepsGoing) {
  auto engine = NewEngine(1u << 14);
  ASSERT_NE(engine, nullptr);
  auto p = engine->NewProducer();
  ASSERT_TRUE(p.ok());
  Producer& producer = **p;
  const SeriesRef a = Temp(producer, "a");
  const SeriesRef b = Temp(producer, "b");
  ASSERT_TRUE(producer.Append(a, 400'000, 1).ok());
  ASSERT_TRUE(producer.Flush().ok());  // watermark 400s
  // 5s is more than the max late age (the retention) behind the watermark;
  // 390s is late but recent enough.
  const std::vector<Sample> batch = {
      {a, 410'000, 1}, {b, 5'000, 1}, {0, 430'000, 1}, {b, 390'000, 2}, {a, 440'000, 1}};
  AppendOutcome out;
  ASSERT_TRUE(producer.AppendBatch(batch, &out).ok());
  EXPECT_EQ(out.accepted, 3u);
  EXPECT_EQ(out.accepted_late, 1u);
  EXPECT_EQ(out.too_late, 1u);
  EXPECT_EQ(out.first_too_late, 1u);
  EXPECT_THAT(out.too_late_message, HasSubstr("late sample at t=5000"));
  EXPECT_EQ(out.invalid, 1u);
  EXPECT_EQ(out.not_appended, 0u);
  EXPECT_TRUE(out.stopped.ok());
  const ProducerStats ps = producer.stats();
  EXPECT_EQ(ps.accepted, 1u + 3u);
  EXPECT_EQ(ps.late, 1u);
  EXPECT_EQ(ps.refused, 1u);
  ASSERT_TRUE(producer.Flush().ok());
  producer.Close();
  ASSERT_TRUE(engine->Stop().ok());
  const EngineStats es = engine->stats();
  EXPECT_EQ(es.samples_accepted, 4u);
  EXPECT_EQ(es.samples_rejected, 0u);
  EXPECT_EQ(es.samples_late_stored, 1u);
}

// Backpressure part-way: the batch stops at the first refused sample, and
// what was accepted plus what was not appended is the whole batch, in the
// outcome, in the producer's stats and in what reached the shards (a
// receiver answers 429 and the client resends the request).
TEST(AppendOutcomeTest, BackpressureStopsTheBatchAndKeepsAccountingRight) {
  auto engine = NewEngine(2);
  ASSERT_NE(engine, nullptr);
  ProducerOptions refuse;
  refuse.backpressure = BackpressurePolicy::kRefuse;
  auto p = engine->NewProducer(refuse);
  ASSERT_TRUE(p.ok());
  Producer& producer = **p;
  const SeriesRef a = Temp(producer, "a");
  std::vector<Sample> batch;
  for (int i = 0; i < 200'000; ++i) batch.push_back({a, 1 + i, 1});
  AppendOutcome out;
  const Status st = producer.AppendBatch(batch, &out);
  ASSERT_FALSE(st.ok()) << "a ring of 2 never filled; the refusal path went untested";
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_EQ(out.stopped.code(), StatusCode::kResourceExhausted);
  EXPECT_GT(out.accepted, 0u) << "a full ring of its own samples is published, not refused";
  EXPECT_GT(out.not_appended, 0u);
  EXPECT_EQ(out.accepted + out.not_appended, batch.size());
  EXPECT_EQ(producer.stats().accepted, out.accepted);
  // The samples not appended count as refused, as if each had been tried.
  EXPECT_EQ(producer.stats().refused, out.not_appended);
  producer.Close();
  ASSERT_TRUE(engine->Stop().ok());
  EXPECT_EQ(engine->stats().samples_accepted, out.accepted);
  EXPECT_EQ(engine->stats().samples_rejected, 0u);
}

// A closed producer refuses the whole batch with kFailedPrecondition.
TEST(AppendOutcomeTest, ClosedProducerAppendsNothing) {
  auto engine = NewEngine(1u << 14);
  ASSERT_NE(engine, nullptr);
  auto p = engine->NewProducer();
  ASSERT_TRUE(p.ok());
  const SeriesRef a = Temp(**p, "a");
  (*p)->Close();
  const std::vector<Sample> batch = {{a, 1'000, 1}, {a, 2'000, 1}};
  AppendOutcome out;
  EXPECT_EQ((*p)->AppendBatch(batch, &out).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.accepted, 0u);
  EXPECT_EQ(out.not_appended, 2u);
  ASSERT_TRUE(engine->Stop().ok());
}

}  // namespace
}  // namespace nimify
