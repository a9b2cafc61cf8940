#include "ingest/remote_write.h"

#include <gmock/gmock.h>
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ingest/ingest_test_util.h"
#include "promql/value.h"
#include "remote_write_test.pb.h"

namespace nimify::ingest {
namespace {

using testing::DecodeChecked;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace rw = ::nimify_test::rw;

// Hand-built protobuf bytes, for inputs libprotobuf would never write.
class Pb {
 public:
  Pb& Varint(std::uint64_t v) {
    while (v >= 0x80) {
      s_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& Tag(std::uint32_t field, std::uint32_t wire_type) {
    return Varint((static_cast<std::uint64_t>(field) << 3) | wire_type);
  }
  Pb& Bytes(std::uint32_t field, std::string_view payload) {
    Tag(field, 2).Varint(payload.size());
    s_.append(payload);
    return *this;
  }
  Pb& Fixed64(std::uint32_t field, std::uint64_t bits) {
    Tag(field, 1);
    for (int i = 0; i < 8; ++i) s_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    return *this;
  }
  Pb& Double(std::uint32_t field, double v) {
    return Fixed64(field, std::bit_cast<std::uint64_t>(v));
  }
  Pb& Raw(std::string_view bytes) {
    s_.append(bytes);
    return *this;
  }
  const std::string& str() const { return s_; }
  operator std::string() const { return s_; }  // NOLINT(google-explicit-constructor)

 private:
  std::string s_;
};

std::string LabelMsg(std::string_view name, std::string_view value) {
  return Pb().Bytes(1, name).Bytes(2, value);
}
std::string SampleMsg(double v, std::int64_t t) {
  return Pb().Double(1, v).Tag(2, 0).Varint(static_cast<std::uint64_t>(t));
}
// A TimeSeries with `labels` (name, value pairs) and samples.
std::string SeriesMsg(std::vector<std::pair<std::string, std::string>> labels,
                      std::vector<std::string> samples) {
  Pb p;
  for (const auto& [n, v] : labels) p.Bytes(1, LabelMsg(n, v));
  for (const auto& s : samples) p.Bytes(2, s);
  return p;
}
std::string Request(std::vector<std::string> series) {
  Pb p;
  for (const auto& s : series) p.Bytes(1, s);
  return p;
}
std::string Snappy(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// --- The expected decoding of a libprotobuf message ------------------------

struct Expected {
  Batch batch;
  std::size_t exemplars = 0;
  std::size_t histograms = 0;
  std::size_t metadata = 0;
};

template <typename Request>
void BuildExpected(const Request& req, Expected* out) {
  for (const auto& ts : req.timeseries()) {
    out->exemplars += static_cast<std::size_t>(ts.exemplars_size());
    out->histograms += static_cast<std::size_t>(ts.histograms_size());
    if (ts.samples_size() == 0) continue;
    std::vector<promql::Label> labels;
    for (const rw::Label& l : ts.labels()) labels.push_back({l.name(), l.value()});
    std::vector<promql::Point> points;
    for (const rw::Sample& s : ts.samples()) points.push_back({s.timestamp(), s.value()});
    out->batch.AddSeries(promql::Labels::FromUnsorted(labels), points);
  }
  out->metadata = static_cast<std::size_t>(req.metadata_size());
}

// Checks `got` (decoded from `req`'s bytes) against what `req` says.
template <typename Request>
void ExpectMatches(const Request& req, const Batch& got) {
  Expected want;
  BuildExpected(req, &want);
  ASSERT_EQ(got.series_count(), want.batch.series_count());
  for (std::size_t i = 0; i < got.series_count(); ++i) {
    const BatchSeries g = got.series(i);
    const BatchSeries w = want.batch.series(i);
    ASSERT_TRUE(std::equal(g.labels.begin(), g.labels.end(), w.labels.begin(), w.labels.end()))
        << "series " << i << ": " << g.ToLabels().ToString() << " vs " << w.ToLabels().ToString();
    ASSERT_EQ(g.samples.size(), w.samples.size());
    for (std::size_t j = 0; j < g.samples.size(); ++j) {
      EXPECT_EQ(g.samples[j].t, w.samples[j].t);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(g.samples[j].v),
                std::bit_cast<std::uint64_t>(w.samples[j].v));
    }
  }
  EXPECT_EQ(got.stats().exemplars_skipped, want.exemplars);
  EXPECT_EQ(got.stats().histograms_skipped, want.histograms);
  EXPECT_EQ(got.stats().metadata_skipped, want.metadata);
}

// --- Random requests ----------------------------------------------------------

class RandomRequests {
 public:
  explicit RandomRequests(std::uint64_t seed) : rng_(seed) {}

  std::size_t Uniform(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  std::string Name(bool metric) {
    static constexpr char kFirst[] = "abcxyzABZ_";
    static constexpr char kRest[] = "abcxyzABZ_0129";
    std::string s(1, kFirst[Uniform(sizeof(kFirst) - 1)]);
    const std::size_t n = Uniform(12);
    for (std::size_t i = 0; i < n; ++i) {
      s.push_back(metric && Uniform(6) == 0 ? ':' : kRest[Uniform(sizeof(kRest) - 1)]);
    }
    return s;
  }

  std::string Value() {
    static const char* const kValues[] = {
        "",       "a",           "api",      "prod-eu-1",   "é",
        "日本語", "line\nbreak", "quote\"d", "back\\slash", "0.5"};
    if (Uniform(3) == 0) return std::to_string(rng_());
    return kValues[Uniform(std::size(kValues))];
  }

  double SampleValue() {
    switch (Uniform(9)) {
      case 0:
        return 0.0;
      case 1:
        return -0.0;
      case 2:
        return std::bit_cast<double>(0x7ff8000000000001ull);
      case 3:
        return promql::StaleNaN();
      case 4:
        return std::numeric_limits<double>::infinity();
      case 5:
        return -std::numeric_limits<double>::infinity();
      case 6:
        return std::numeric_limits<double>::denorm_min();
      default:
        return std::uniform_real_distribution<double>(-1e9, 1e9)(rng_);
    }
  }

  std::int64_t Timestamp() {
    switch (Uniform(4)) {
      case 0:
        return 0;
      case 1:
        return -static_cast<std::int64_t>(Uniform(1000000));
      case 2:
        return std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(Uniform(10));
      default:
        return 1'700'000'000'000 + static_cast<std::int64_t>(Uniform(1'000'000'000));
    }
  }

  rw::WriteRequest Next() {
    rw::WriteRequest req;
    const std::size_t series = Uniform(8);
    for (std::size_t i = 0; i < series; ++i) {
      rw::TimeSeries* ts = req.add_timeseries();
      std::vector<std::string> names = {"__name__"};
      const std::size_t extra = Uniform(6);
      for (std::size_t k = 0; k < extra; ++k) {
        std::string n = Name(false);
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
      }
      std::shuffle(names.begin(), names.end(), rng_);  // unsorted on the wire
      for (const std::string& n : names) {
        rw::Label* l = ts->add_labels();
        l->set_name(n);
        l->set_value(n == "__name__" ? Name(true) : Value());
      }
      const std::size_t samples = Uniform(5);
      for (std::size_t k = 0; k < samples; ++k) {
        rw::Sample* s = ts->add_samples();
        s->set_value(SampleValue());
        s->set_timestamp(Timestamp());
      }
      for (std::size_t k = Uniform(3); k > 0; --k) {
        rw::Exemplar* e = ts->add_exemplars();
        e->add_labels()->set_name("trace_id");
        e->set_value(1.5);
        e->set_timestamp(Timestamp());
      }
      for (std::size_t k = Uniform(3); k > 0; --k) {
        rw::Histogram* h = ts->add_histograms();
        h->set_count_int(Uniform(100));
        h->set_schema(-static_cast<int>(Uniform(4)));
        h->add_positive_deltas(-3);
        h->set_timestamp(Timestamp());
      }
    }
    for (std::size_t k = Uniform(3); k > 0; --k) {
      rw::MetricMetadata* m = req.add_metadata();
      m->set_type(2);
      m->set_metric_family_name(Name(true));
      m->set_help("help text");
    }
    return req;
  }

  Batch NextBatch() {
    Batch batch;
    const std::size_t series = Uniform(6);
    for (std::size_t i = 0; i < series; ++i) {
      promql::LabelsBuilder lb;
      lb.Set("__name__", Name(true));
      for (std::size_t k = Uniform(5); k > 0; --k) lb.Set(Name(false), Value());
      std::vector<promql::Point> points;
      for (std::size_t k = Uniform(4); k > 0; --k) points.push_back({Timestamp(), SampleValue()});
      batch.AddSeries(lb.Build(), points);
    }
    return batch;
  }

  std::string Mutate(std::string bytes) {
    const std::size_t ops = 1 + Uniform(3);
    for (std::size_t i = 0; i < ops; ++i) {
      const std::size_t pos = bytes.empty() ? 0 : Uniform(bytes.size());
      switch (Uniform(5)) {
        case 0:
          if (!bytes.empty()) bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << Uniform(8)));
          break;
        case 1:
          if (!bytes.empty()) bytes[pos] = static_cast<char>(Uniform(256));
          break;
        case 2:
          bytes.resize(pos);
          break;
        case 3:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                       static_cast<char>(Uniform(256)));
          break;
        default:
          if (!bytes.empty()) bytes.erase(pos, 1);
          break;
      }
    }
    return bytes;
  }

 private:
  std::mt19937_64 rng_;
};

class RemoteWriteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // libprotobuf logs every invalid-UTF-8 string it meets in the mutation test.
    google::protobuf::SetLogHandler(nullptr);
  }
};

// --- Cross-checks against libprotobuf -------------------------------------

TEST_F(RemoteWriteTest, DecodesWhatLibprotobufEncodes) {
  RandomRequests gen(42);
  std::size_t total_samples = 0;
  for (int i = 0; i < 400; ++i) {
    const rw::WriteRequest req = gen.Next();
    const std::string body = Snappy(req.SerializeAsString());
    Batch batch;
    const Status status = DecodeRemoteWrite(body, Limits(), &batch);
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << req.DebugString();
    ExpectMatches(req, batch);
    total_samples += batch.sample_count();
  }
  EXPECT_GT(total_samples, 1000u);
}

TEST_F(RemoteWriteTest, LibprotobufDecodesWhatWeEncode) {
  RandomRequests gen(7);
  for (int i = 0; i < 300; ++i) {
    const Batch batch = gen.NextBatch();
    const std::string proto = EncodeWriteRequest(batch);
    rw::WriteRequest req;
    ASSERT_TRUE(req.ParseFromString(proto));
    // Byte-identical to libprotobuf's own serialisation of the same message.
    EXPECT_EQ(req.SerializeAsString(), proto);
    ASSERT_EQ(static_cast<std::size_t>(req.timeseries_size()), batch.series_count());
    for (std::size_t s = 0; s < batch.series_count(); ++s) {
      const rw::TimeSeries& ts = req.timeseries(static_cast<int>(s));
      const BatchSeries want = batch.series(s);
      ASSERT_EQ(static_cast<std::size_t>(ts.labels_size()), want.labels.size());
      for (std::size_t k = 0; k < want.labels.size(); ++k) {
        EXPECT_EQ(ts.labels(static_cast<int>(k)).name(), want.labels[k].name);
        EXPECT_EQ(ts.labels(static_cast<int>(k)).value(), want.labels[k].value);
      }
      ASSERT_EQ(static_cast<std::size_t>(ts.samples_size()), want.samples.size());
      for (std::size_t k = 0; k < want.samples.size(); ++k) {
        EXPECT_EQ(ts.samples(static_cast<int>(k)).timestamp(), want.samples[k].t);
        EXPECT_EQ(std::bit_cast<std::uint64_t>(ts.samples(static_cast<int>(k)).value()),
                  std::bit_cast<std::uint64_t>(want.samples[k].v));
      }
    }
    // And the snappy body decodes back to the same batch (series without
    // samples are not re-added).
    Batch round;
    ASSERT_TRUE(DecodeRemoteWrite(EncodeRemoteWrite(batch), Limits(), &round).ok());
    Batch want_round;
    for (std::size_t s = 0; s < batch.series_count(); ++s) {
      if (!batch.series(s).samples.empty()) {
        want_round.AddSeries(batch.series(s).ToLabels(), batch.series(s).samples);
      }
    }
    EXPECT_TRUE(round == want_round);
  }
}

// Whatever we accept, libprotobuf accepts too and reads the same way; where it
// rejects, we reject. (We are stricter in documented ways: label syntax,
// wrong wire types for known fields, varints over 64 bits.)
TEST_F(RemoteWriteTest, MutatedRequestsAgreeWithLibprotobuf) {
  RandomRequests gen(1234);
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string mutated = gen.Mutate(gen.Next().SerializeAsString());
    auto [status, added] =
        DecodeChecked([&](Batch* b) { return DecodeWriteRequest(mutated, Limits(), b); });
    rw::ShallowWriteRequest reference;
    const bool reference_ok = reference.ParseFromString(mutated);
    if (!status.ok()) {
      ++rejected;
      continue;
    }
    ++accepted;
    ASSERT_TRUE(reference_ok) << "we accepted what libprotobuf rejects";
    Batch batch;
    ASSERT_TRUE(DecodeWriteRequest(mutated, Limits(), &batch).ok());
    ExpectMatches(reference, batch);
    if (::testing::Test::HasFailure()) break;
  }
  // Both outcomes must actually occur for the test to mean something.
  EXPECT_GT(accepted, 300u);
  EXPECT_GT(rejected, 300u);
}

// --- Accepted inputs ----------------------------------------------------------

TEST_F(RemoteWriteTest, SortsLabelsDropsEmptyValuesKeepsStaleBits) {
  const std::string req = Request({
      SeriesMsg({{"job", "api"}, {"__name__", "up"}, {"empty", ""}, {"az", "eu"}},
                {SampleMsg(1, 1000), SampleMsg(promql::StaleNaN(), 2000)}),
  });
  auto [status, added] =
      DecodeChecked([&](Batch* b) { return DecodeRemoteWrite(Snappy(req), Limits(), b); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_THAT(added, ElementsAre(HasSubstr("up{az=\"eu\", job=\"api\"} => 1000:1 2000:nan")));
  Batch batch;
  ASSERT_TRUE(DecodeRemoteWrite(Snappy(req), Limits(), &batch).ok());
  EXPECT_TRUE(promql::IsStaleNaN(batch.series(0).samples[1].v));
}

TEST_F(RemoteWriteTest, SkipsUnknownFieldsOfEveryWireType) {
  const std::string unknown = Pb().Tag(9, 0)
                                  .Varint(300)
                                  .Fixed64(10, 7)
                                  .Bytes(11, "ignored")
                                  .Tag(12, 5)
                                  .Raw("abcd")
                                  .Tag(13, 3)
                                  .Tag(1, 0)
                                  .Varint(1)
                                  .Tag(2, 3)
                                  .Tag(2, 4)
                                  .Tag(13, 4)
                                  .str();
  const std::string label = Pb().Raw(unknown).Bytes(1, "__name__").Raw(unknown).Bytes(2, "m");
  const std::string sample = Pb().Raw(unknown).Double(1, 2.5).Raw(unknown).Tag(2, 0).Varint(5);
  const std::string series = Pb().Raw(unknown).Bytes(1, label).Raw(unknown).Bytes(2, sample);
  const std::string req = Pb().Raw(unknown).Bytes(1, series).Raw(unknown).Bytes(2, "v2 field?");
  auto [status, added] =
      DecodeChecked([&](Batch* b) { return DecodeWriteRequest(req, Limits(), b); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(added, ElementsAre("m => 5:2.5"));
  rw::WriteRequest reference;
  ASSERT_TRUE(reference.ParseFromString(req));
  Batch batch;
  ASSERT_TRUE(DecodeWriteRequest(req, Limits(), &batch).ok());
  ExpectMatches(reference, batch);
}

TEST_F(RemoteWriteTest, LastValueWinsForRepeatedSingularFields) {
  const std::string label = Pb().Bytes(1, "x").Bytes(2, "a").Bytes(1, "__name__").Bytes(2, "m");
  const std::string sample = Pb().Double(1, 1).Tag(2, 0).Varint(1).Double(1, 2).Tag(2, 0).Varint(9);
  const std::string req = Request({Pb().Bytes(1, label).Bytes(2, sample)});
  rw::WriteRequest reference;
  ASSERT_TRUE(reference.ParseFromString(req));
  Batch batch;
  ASSERT_TRUE(DecodeWriteRequest(req, Limits(), &batch).ok());
  ExpectMatches(reference, batch);
  EXPECT_EQ(batch.series(0).samples[0].t, 9);
}

TEST_F(RemoteWriteTest, SkipsHistogramsExemplarsAndMetadataWithCounts) {
  rw::WriteRequest req;
  rw::TimeSeries* only_histograms = req.add_timeseries();
  only_histograms->add_labels()->set_name("__name__");
  only_histograms->mutable_labels(0)->set_value("native");
  only_histograms->add_histograms()->set_count_int(3);
  only_histograms->add_histograms()->set_count_int(4);
  rw::TimeSeries* mixed = req.add_timeseries();
  mixed->add_labels()->set_name("__name__");
  mixed->mutable_labels(0)->set_value("classic");
  mixed->add_samples()->set_value(1);
  mixed->add_exemplars()->set_value(2);
  req.add_metadata()->set_metric_family_name("classic");
  Batch batch;
  ASSERT_TRUE(DecodeRemoteWrite(Snappy(req.SerializeAsString()), Limits(), &batch).ok());
  ASSERT_EQ(batch.series_count(), 1u);
  EXPECT_EQ(batch.series(0).MetricName(), "classic");
  EXPECT_EQ(batch.stats().histograms_skipped, 2u);
  EXPECT_EQ(batch.stats().exemplars_skipped, 1u);
  EXPECT_EQ(batch.stats().metadata_skipped, 1u);
}

TEST_F(RemoteWriteTest, EmptyBodiesAndOptionalName) {
  Batch batch;
  EXPECT_TRUE(DecodeRemoteWrite(Snappy(""), Limits(), &batch).ok());
  EXPECT_TRUE(DecodeWriteRequest("", Limits(), &batch).ok());
  EXPECT_TRUE(batch.empty());
  const std::string nameless = Request({SeriesMsg({{"job", "a"}}, {SampleMsg(1, 1)})});
  EXPECT_FALSE(DecodeWriteRequest(nameless, Limits(), &batch).ok());
  Limits lax;
  lax.require_metric_name = false;
  ASSERT_TRUE(DecodeWriteRequest(nameless, lax, &batch).ok());
  EXPECT_EQ(batch.series(0).ToLabels().ToString(), "{job=\"a\"}");
}

TEST_F(RemoteWriteTest, AppendsToANonEmptyBatch) {
  const std::string req = Request({SeriesMsg({{"__name__", "new"}}, {SampleMsg(3, 4)})});
  auto [status, added] =
      DecodeChecked([&](Batch* b) { return DecodeRemoteWrite(Snappy(req), Limits(), b); });
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(added, ElementsAre("new => 4:3"));
}

// --- Rejected inputs ----------------------------------------------------------

struct BadCase {
  const char* name;
  std::string proto;
  StatusCode code;
  const char* message;
};

std::vector<BadCase> BadCases() {
  const std::string ok_label = LabelMsg("__name__", "m");
  const std::string ok_sample = SampleMsg(1, 1);
  const auto series_with_label = [&](std::string label) {
    return Request({Pb().Bytes(1, ok_label).Bytes(1, label).Bytes(2, ok_sample)});
  };
  const auto series_with_sample = [&](std::string sample) {
    return Request({Pb().Bytes(1, ok_label).Bytes(2, sample)});
  };
  std::string eleven_byte_varint = Pb().Tag(9, 0).str() + std::string(10, '\xff') + "\x01";
  std::string tenth_byte_too_big = Pb().Tag(9, 0).str() + std::string(9, '\xff') + "\x02";
  return {
      {"truncated tag", "\x8a", StatusCode::kInvalidArgument,
       "offset 0: WriteRequest: truncated or overlong field tag"},
      {"field zero", Pb().Tag(0, 0).Varint(1), StatusCode::kInvalidArgument,
       "invalid field number 0"},
      {"overlong varint", eleven_byte_varint, StatusCode::kInvalidArgument,
       "unknown field 9: truncated or overlong varint"},
      {"varint over 64 bits", tenth_byte_too_big, StatusCode::kInvalidArgument,
       "truncated or overlong varint"},
      {"length past the end", Pb().Tag(1, 2).Varint(10).Raw("abc"), StatusCode::kInvalidArgument,
       "offset 0: WriteRequest.timeseries: length runs past the end"},
      {"huge length", Pb().Tag(1, 2).Varint(~0ull >> 1).Raw("abc"), StatusCode::kInvalidArgument,
       "length runs past the end"},
      {"timeseries as varint", Pb().Tag(1, 0).Varint(1), StatusCode::kInvalidArgument,
       "WriteRequest.timeseries: wire type varint (0), want length-delimited"},
      {"metadata as fixed64", Pb().Fixed64(3, 1), StatusCode::kInvalidArgument,
       "WriteRequest.metadata: wire type fixed64 (1), want length-delimited"},
      {"labels as varint", Request({Pb().Tag(1, 0).Varint(1)}), StatusCode::kInvalidArgument,
       "timeseries[0].labels[0]: wire type varint"},
      {"samples as fixed32", Request({Pb().Bytes(1, ok_label).Tag(2, 5).Raw("abcd")}),
       StatusCode::kInvalidArgument, "timeseries[0].samples[0]: wire type fixed32 (5)"},
      {"histograms as varint", Request({Pb().Bytes(1, ok_label).Tag(4, 0).Varint(1)}),
       StatusCode::kInvalidArgument, "timeseries[0].histograms: wire type varint"},
      {"label name as varint", series_with_label(Pb().Tag(1, 0).Varint(5)),
       StatusCode::kInvalidArgument, "timeseries[0].labels[1].name: wire type varint"},
      {"label value truncated", series_with_label(Pb().Bytes(1, "a").Tag(2, 2).Varint(9).Raw("x")),
       StatusCode::kInvalidArgument, "timeseries[0].labels[1].value: length runs past the end"},
      {"sample value as varint", series_with_sample(Pb().Tag(1, 0).Varint(5)),
       StatusCode::kInvalidArgument,
       "timeseries[0].samples[0].value: wire type varint (0), want fixed64"},
      {"sample value truncated", series_with_sample(Pb().Tag(1, 1).Raw("abc")),
       StatusCode::kInvalidArgument, "timeseries[0].samples[0].value: truncated fixed64"},
      {"timestamp as fixed64", series_with_sample(Pb().Fixed64(2, 5)), StatusCode::kInvalidArgument,
       "timeseries[0].samples[0].timestamp: wire type fixed64 (1), want varint"},
      {"timestamp truncated", series_with_sample(Pb().Tag(2, 0).Raw("\x80")),
       StatusCode::kInvalidArgument,
       "timeseries[0].samples[0].timestamp: truncated or overlong varint"},
      {"wire type 6", Pb().Tag(9, 6), StatusCode::kInvalidArgument,
       "unknown field 9: invalid wire type"},
      {"stray end group", Pb().Tag(9, 4), StatusCode::kInvalidArgument,
       "end-group tag without a group"},
      {"unterminated group", Pb().Tag(9, 3).Tag(1, 0).Varint(1), StatusCode::kInvalidArgument,
       "unterminated group"},
      {"mismatched end group", Pb().Tag(9, 3).Tag(8, 4), StatusCode::kInvalidArgument,
       "mismatched end-group tag"},
      {"bad label name", series_with_label(LabelMsg("1abc", "v")), StatusCode::kInvalidArgument,
       "timeseries[0].labels[1]: invalid label name \"1abc\""},
      {"empty label name", series_with_label(LabelMsg("", "v")), StatusCode::kInvalidArgument,
       "invalid label name \"\""},
      {"dotted label name", series_with_label(LabelMsg("a.b", "v")), StatusCode::kInvalidArgument,
       "invalid label name \"a.b\""},
      {"bad metric name", Request({SeriesMsg({{"__name__", "a-b"}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "timeseries[0].labels[0]: invalid metric name \"a-b\""},
      {"no metric name", Request({SeriesMsg({{"job", "x"}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "timeseries[0]: series has no metric name"},
      {"only an empty metric name", Request({SeriesMsg({{"__name__", ""}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "series has no metric name"},
      {"invalid utf-8", series_with_label(LabelMsg("job", "a\xff")), StatusCode::kInvalidArgument,
       "value of label \"job\" is not valid UTF-8"},
      {"surrogate utf-8", series_with_label(LabelMsg("job", "\xed\xa0\x80")),
       StatusCode::kInvalidArgument, "not valid UTF-8"},
      {"overlong utf-8", series_with_label(LabelMsg("job", "\xc0\xaf")),
       StatusCode::kInvalidArgument, "not valid UTF-8"},
      {"duplicate label",
       Request({SeriesMsg({{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "timeseries[0]: duplicate label name \"a\""},
      {"duplicate even if one is empty",
       Request({SeriesMsg({{"__name__", "m"}, {"a", ""}, {"a", "2"}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "duplicate label name \"a\""},
      {"second series bad",
       Request({SeriesMsg({{"__name__", "m"}}, {ok_sample}),
                SeriesMsg({{"__name__", "9"}}, {ok_sample})}),
       StatusCode::kInvalidArgument, "timeseries[1].labels[0]: invalid metric name \"9\""},
  };
}

TEST_F(RemoteWriteTest, RejectsBadRequestsAndLeavesTheBatchAlone) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    for (bool compressed : {false, true}) {
      auto [status, added] = DecodeChecked([&](Batch* b) {
        return compressed ? DecodeRemoteWrite(Snappy(c.proto), Limits(), b)
                          : DecodeWriteRequest(c.proto, Limits(), b);
      });
      ASSERT_FALSE(status.ok());
      EXPECT_EQ(status.code(), c.code) << status.ToString();
      EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
      EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("remote write: offset "));
    }
  }
}

TEST_F(RemoteWriteTest, ErrorOffsetsPointAtTheBadMessage) {
  const std::string first = SeriesMsg({{"__name__", "m"}}, {});
  const std::string req = Request({first, SeriesMsg({{"bad-name", "v"}}, {})});
  // Series 1's payload starts after series 0 (2-byte header + payload) and its
  // own 2-byte header; the label's payload 2 bytes later.
  const std::size_t label_offset = 2 + first.size() + 2 + 2;
  Batch batch;
  const Status status = DecodeWriteRequest(req, Limits(), &batch);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("offset " + std::to_string(label_offset) +
                        ": timeseries[1].labels[0]: invalid label name \"bad-name\""));
}

TEST_F(RemoteWriteTest, RejectsBadSnappy) {
  const std::string good = Snappy(Request({SeriesMsg({{"__name__", "m"}}, {SampleMsg(1, 1)})}));
  std::string corrupt = good;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
  corrupt.resize(corrupt.size() - 3);
  for (const std::string& body :
       {std::string("\xff\xff\xff\xff\xff\xff"), std::string("not snappy at all"), corrupt,
        std::string("\x0a") + "short"}) {
    auto [status, added] =
        DecodeChecked([&](Batch* b) { return DecodeRemoteWrite(body, Limits(), b); });
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("snappy"));
  }
}

TEST_F(RemoteWriteTest, EnforcesLimits) {
  const std::string req = Request({
      SeriesMsg({{"__name__", "m"}, {"a", "1"}, {"b", "2"}}, {SampleMsg(1, 1), SampleMsg(2, 2)}),
      SeriesMsg({{"__name__", "n"}}, {SampleMsg(3, 3)}),
  });
  const auto expect_limit = [&](const Limits& limits, bool compressed, const char* message) {
    auto [status, added] = DecodeChecked([&](Batch* b) {
      return compressed ? DecodeRemoteWrite(Snappy(req), limits, b)
                        : DecodeWriteRequest(req, limits, b);
    });
    ASSERT_FALSE(status.ok()) << message;
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(status.message()), HasSubstr(message));
  };
  Limits l;
  l.max_body_bytes = 10;
  expect_limit(l, true, "body is");
  l = Limits();
  l.max_decompressed_bytes = req.size() - 1;
  expect_limit(l, true, "decompressed body would be");
  expect_limit(l, false, "request is");
  l = Limits();
  l.max_labels_per_series = 2;
  expect_limit(l, true, "timeseries[0].labels[2]: more than the limit of 2 labels in one series");
  l = Limits();
  l.max_label_name_bytes = 7;
  expect_limit(l, true, "label name \"__name__\" is 8 bytes");
  l = Limits();
  l.max_label_value_bytes = 0;
  expect_limit(l, true, "value of label \"__name__\" is 1 bytes");
  l = Limits();
  l.max_samples = 2;
  expect_limit(l, true, "timeseries[1].samples[0]: more than the limit of 2 samples");
  l.max_samples = 3;
  Batch batch;
  EXPECT_TRUE(DecodeRemoteWrite(Snappy(req), l, &batch).ok());
}

TEST_F(RemoteWriteTest, DeepGroupsAreRejectedNotRecursed) {
  Pb deep;
  for (int i = 0; i < 100000; ++i) deep.Tag(9, 3);
  auto [status, added] =
      DecodeChecked([&](Batch* b) { return DecodeWriteRequest(deep.str(), Limits(), b); });
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("groups nested too deeply"));
}

}  // namespace
}  // namespace nimify::ingest
