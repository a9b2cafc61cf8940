#include "ingest/json_lines.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstdint>
#include <string>

#include "ingest/go_float.h"
#include "ingest/series_checks.h"

namespace nimify::ingest {

namespace {

// Iterative, so nesting depth costs heap, not stack. Numbers arrive as their
// text: timestamps are parsed as exact integers and values with the same
// float parser as the text formats (RapidJSON's own full-precision strtod
// has undefined behaviour on some zero inputs).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// Walks one line's SAX events through the fixed schema
//   {"labels": {name: "value", ...}, "samples": [[ts, value], ...]}
// and fails at the first event that does not fit, with a message saying where.
class LineHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, LineHandler> {
 public:
  LineHandler(const Limits& limits, BatchBuilder* builder) : limits_(limits), b_(*builder) {}

  void Reset() {
    state_ = State::kRoot;
    seen_labels_ = seen_samples_ = false;
    error_ = Status::Ok();
    sample_index_ = 0;
  }
  const Status& error() const noexcept { return error_; }
  bool has_labels() const noexcept { return seen_labels_; }
  bool has_samples() const noexcept { return seen_samples_; }

  // --- SAX events (numbers come as RawNumber) --------------------------------
  bool Null() { return Unexpected("null"); }
  bool Bool(bool b) { return Unexpected(b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view text(s, n);
    switch (state_) {
      case State::kTimestamp:
        return Timestamp(text);
      case State::kValue:
        return Value(text, /*quoted=*/false);
      default:
        return Unexpected(std::string(text));
    }
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view text(s, n);
    switch (state_) {
      case State::kLabelValue:
        return LabelValue(text);
      case State::kValue:
        return Value(text, /*quoted=*/true);
      default:
        return Unexpected(internal::Quote(text));
    }
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view key(s, n);
    if (state_ == State::kLabelKey) {
      label_name_ = b_.CopyString(key);
      state_ = State::kLabelValue;
      return true;
    }
    // state_ == kRootKey: the only other place an object key can appear.
    bool* seen = key == "labels" ? &seen_labels_ : key == "samples" ? &seen_samples_ : nullptr;
    if (seen == nullptr) {
      return Fail("", "unknown key " + internal::Quote(key) + " (want \"labels\" and \"samples\")");
    }
    if (*seen) return Fail("", "key " + internal::Quote(key) + " appears twice");
    *seen = true;
    state_ = seen == &seen_labels_ ? State::kLabelsObject : State::kSamplesArray;
    return true;
  }
  bool StartObject() {
    switch (state_) {
      case State::kRoot:
        state_ = State::kRootKey;
        return true;
      case State::kLabelsObject:
        state_ = State::kLabelKey;
        return true;
      default:
        return Unexpected("an object");
    }
  }
  bool EndObject(rapidjson::SizeType) {
    // Only reachable in kRootKey or kLabelKey: any other state fails first.
    state_ = state_ == State::kLabelKey ? State::kRootKey : State::kDone;
    return true;
  }
  bool StartArray() {
    switch (state_) {
      case State::kSamplesArray:
        state_ = State::kSampleOrEnd;
        return true;
      case State::kSampleOrEnd:
        state_ = State::kTimestamp;
        return true;
      default:
        return Unexpected("an array");
    }
  }
  bool EndArray(rapidjson::SizeType count) {
    switch (state_) {
      case State::kSampleOrEnd:
        state_ = State::kRootKey;
        return true;
      case State::kSampleClose:
        state_ = State::kSampleOrEnd;
        ++sample_index_;
        return true;
      default:  // a sample closed early
        return Fail(SampleWhere(""),
                    "expected [timestamp, value], got an array of " + std::to_string(count));
    }
  }
  bool Default() { return Unexpected("an unsupported JSON value"); }

 private:
  enum class State : std::uint8_t {
    kRoot,          // the line's object
    kRootKey,       // "labels" / "samples" / '}'
    kLabelsObject,  // the labels object
    kLabelKey,      // a label name or '}'
    kLabelValue,    // a label value
    kSamplesArray,  // the samples array
    kSampleOrEnd,   // '[' of a sample or ']'
    kTimestamp,     // a sample's first element
    kValue,         // a sample's second element
    kSampleClose,   // ']' of a sample
    kDone,
  };

  std::string SampleWhere(const char* suffix) const {
    return "samples[" + std::to_string(sample_index_) + "]" + suffix;
  }

  bool Fail(std::string_view where, std::string_view what,
            StatusCode code = StatusCode::kInvalidArgument) {
    std::string msg(where);
    if (!msg.empty()) msg += ": ";
    msg += what;
    error_ = Status(code, std::move(msg));
    return false;
  }

  // `got` describes the value that arrived where something else was expected.
  bool Unexpected(std::string got) {
    switch (state_) {
      case State::kRoot:
        return Fail("", "expected a JSON object, got " + got);
      case State::kLabelsObject:
        return Fail("labels", "expected an object, got " + got);
      case State::kLabelValue:
        return Fail("labels",
                    "value of " + internal::Quote(label_name_) + " must be a string, got " + got);
      case State::kSamplesArray:
        return Fail("samples", "expected an array of [timestamp, value], got " + got);
      case State::kSampleOrEnd:
        return Fail(SampleWhere(""), "expected [timestamp, value], got " + got);
      case State::kTimestamp:
        return Fail(SampleWhere("[0]"),
                    "timestamp must be an integer number of milliseconds, got " + got);
      case State::kValue:
        return Fail(SampleWhere("[1]"), "value must be a number or a string, got " + got);
      case State::kSampleClose:
        return Fail(SampleWhere(""), "expected [timestamp, value], got more than 2 elements");
      default:
        return Fail("", "unexpected " + got);
    }
  }

  bool LabelValue(std::string_view value) {
    if (Status s = internal::CheckLabel(label_name_, value, limits_); !s.ok()) {
      return Fail("labels", s.message(), s.code());
    }
    if (internal::LabelsFull(b_, limits_)) {
      const Status s = internal::LabelCountError(limits_);
      return Fail("labels", s.message(), s.code());
    }
    b_.AddLabel(label_name_, b_.CopyString(value));
    state_ = State::kLabelKey;
    return true;
  }

  bool Timestamp(std::string_view text) {
    // A JSON integer: -?digits, no fraction or exponent.
    const bool negative = !text.empty() && text[0] == '-';
    std::uint64_t magnitude = 0;
    for (std::size_t i = negative ? 1 : 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') {
        return Fail(
            SampleWhere("[0]"),
            "timestamp must be an integer number of milliseconds, got " + std::string(text));
      }
      if (magnitude > (static_cast<std::uint64_t>(INT64_MAX) + 1) / 10) {
        return Fail(SampleWhere("[0]"), "timestamp " + std::string(text) + " is out of range");
      }
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
    }
    const std::uint64_t limit = static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0);
    if (magnitude > limit) {
      return Fail(SampleWhere("[0]"), "timestamp " + std::string(text) + " is out of range");
    }
    timestamp_ =
        negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    state_ = State::kValue;
    return true;
  }

  bool Value(std::string_view text, bool quoted) {
    Result<double> value = internal::ParsePromFloat(text);
    if (!value.ok()) {
      return Fail(SampleWhere("[1]"), quoted ? value.status().message()
                                             : "number " + std::string(text) + " is out of range");
    }
    if (b_.samples_added() >= limits_.max_samples) {
      return Fail(SampleWhere(""),
                  "more than the limit of " + std::to_string(limits_.max_samples) + " samples",
                  StatusCode::kResourceExhausted);
    }
    b_.AddSample(timestamp_, *value);
    state_ = State::kSampleClose;
    return true;
  }

  const Limits& limits_;
  BatchBuilder& b_;
  State state_ = State::kRoot;
  bool seen_labels_ = false;
  bool seen_samples_ = false;
  std::string_view label_name_;
  std::int64_t timestamp_ = 0;
  std::size_t sample_index_ = 0;
  Status error_;
};

bool IsBlank(std::string_view line) noexcept {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

Status DecodeJsonLines(std::string_view body, const Limits& limits, Batch* out) {
  if (body.size() > limits.max_body_bytes) {
    return Status::ResourceExhausted("json lines: body is " + std::to_string(body.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(limits.max_body_bytes));
  }
  BatchBuilder builder(out);
  LineHandler handler(limits, &builder);
  rapidjson::Reader reader;
  std::size_t line_number = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    ++line_number;
    std::size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (IsBlank(line)) continue;

    const auto prefix = [line_number] { return "json lines: line " + std::to_string(line_number); };
    handler.Reset();
    rapidjson::MemoryStream stream(line.data(), line.size());
    const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, handler);
    if (!handler.error().ok()) {
      return Status(handler.error().code(),
                    prefix() + ": " + std::string(handler.error().message()));
    }
    if (result.IsError()) {
      return Status::ParseError(prefix() + ":" + std::to_string(result.Offset() + 1) + ": " +
                                rapidjson::GetParseError_En(result.Code()));
    }
    if (!handler.has_labels())
      return Status::InvalidArgument(prefix() + ": missing key \"labels\"");
    if (!handler.has_samples()) {
      return Status::InvalidArgument(prefix() + ": missing key \"samples\"");
    }
    if (Status s = internal::FinishLabels(builder, limits); !s.ok()) {
      return Status(s.code(), prefix() + ": labels: " + std::string(s.message()));
    }
    if (builder.pending_sample_count() == 0) {
      builder.DiscardSeries();
    } else {
      builder.FinishSeries();
    }
  }
  builder.Commit();
  return Status::Ok();
}

}  // namespace nimify::ingest
