#include "ingest/remote_write.h"

#include <snappy.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ingest/series_checks.h"

namespace nimify::ingest {

namespace {

enum WireType : std::uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Unknown groups nest; deeper nesting than this is rejected, not recursed into.
constexpr int kMaxGroupDepth = 32;

const char* WireTypeName(std::uint32_t wire_type) {
  switch (wire_type) {
    case kVarint:
      return "varint";
    case kFixed64:
      return "fixed64";
    case kLengthDelimited:
      return "length-delimited";
    case kStartGroup:
      return "start-group";
    case kEndGroup:
      return "end-group";
    case kFixed32:
      return "fixed32";
    default:
      return "invalid";
  }
}

// A bounded cursor over protobuf bytes. Offsets are relative to the request.
class Reader {
 public:
  Reader(const std::uint8_t* base, const std::uint8_t* begin, const std::uint8_t* end)
      : base_(base), p_(begin), end_(end) {}

  bool done() const noexcept { return p_ >= end_; }
  std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - base_); }
  const std::uint8_t* pos() const noexcept { return p_; }

  // False when truncated or longer than 10 bytes / 64 bits.
  bool Varint(std::uint64_t* out) noexcept {
    if (p_ < end_ && *p_ < 0x80) {
      *out = *p_++;
      return true;
    }
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const std::uint64_t byte = *p_++;
      if (shift == 63 && byte > 1) return false;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        *out = result;
        return true;
      }
    }
    return false;
  }

  bool Fixed64(std::uint64_t* out) noexcept {
    if (end_ - p_ < 8) return false;
    std::memcpy(out, p_, 8);
    if constexpr (std::endian::native == std::endian::big) *out = __builtin_bswap64(*out);
    p_ += 8;
    return true;
  }

  // A length-delimited payload; false when its length runs past the end.
  bool Bytes(const std::uint8_t** begin, const std::uint8_t** end) noexcept {
    std::uint64_t len;
    if (!Varint(&len)) return false;
    if (len > static_cast<std::uint64_t>(end_ - p_)) return false;
    *begin = p_;
    p_ += len;
    *end = p_;
    return true;
  }

  Reader Sub(const std::uint8_t* begin, const std::uint8_t* end) const noexcept {
    return Reader(base_, begin, end);
  }

  // Skips one field's payload. `field` is needed to match a group's end tag.
  bool Skip(std::uint32_t wire_type, std::uint32_t field, int depth, const char** why) noexcept {
    std::uint64_t ignored;
    const std::uint8_t* b;
    const std::uint8_t* e;
    switch (wire_type) {
      case kVarint:
        if (!Varint(&ignored)) return Fail(why, "truncated or overlong varint");
        return true;
      case kFixed64:
        if (end_ - p_ < 8) return Fail(why, "truncated fixed64");
        p_ += 8;
        return true;
      case kFixed32:
        if (end_ - p_ < 4) return Fail(why, "truncated fixed32");
        p_ += 4;
        return true;
      case kLengthDelimited:
        if (!Bytes(&b, &e)) return Fail(why, "length runs past the end of the message");
        return true;
      case kStartGroup:
        if (depth >= kMaxGroupDepth) return Fail(why, "groups nested too deeply");
        while (true) {
          std::uint64_t tag;
          if (!Varint(&tag)) return Fail(why, "unterminated group");
          const std::uint32_t inner_type = static_cast<std::uint32_t>(tag & 7);
          const std::uint64_t inner_field = tag >> 3;
          if (inner_field == 0 || tag > 0xffffffffu) return Fail(why, "invalid field number");
          if (inner_type == kEndGroup) {
            if (inner_field != field) return Fail(why, "mismatched end-group tag");
            return true;
          }
          if (!Skip(inner_type, static_cast<std::uint32_t>(inner_field), depth + 1, why)) {
            return false;
          }
        }
      default:
        return Fail(why,
                    wire_type == kEndGroup ? "end-group tag without a group" : "invalid wire type");
    }
  }

 private:
  static bool Fail(const char** why, const char* reason) noexcept {
    *why = reason;
    return false;
  }

  const std::uint8_t* base_;
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Walks one WriteRequest. The hot path returns bools; error messages, with
// their path ("timeseries[3].labels[1]"), are built only in the cold Fail().
// A TimeSeries found by the pre-pass, with its encoded label run.
struct KeyedSeries {
  const std::uint8_t* begin;  // payload of the TimeSeries field
  std::string_view key;       // empty: no single run of label fields
  KeyHash hash;
  std::uint64_t cached_ref;  // the cache's ref for `key`; 0: unknown
};

class Decoder {
 public:
  Decoder(const std::uint8_t* data, std::size_t size, const Limits& limits, BatchBuilder* builder,
          const RefLookup& lookup, std::vector<KeyedSeries>* keyed)
      : data_(data), size_(size), limits_(limits), b_(*builder), lookup_(lookup), keyed_(*keyed) {}

  Status Run() {
    keyed_.clear();
    if (lookup_.cache != nullptr) {
      PrePass();
      LookUpKeys();
    }
    Reader r(data_, data_, data_ + size_);
    std::size_t series_index = 0;
    const auto where = [] { return std::string("WriteRequest"); };
    while (!r.done()) {
      const std::size_t at = r.offset();
      std::uint32_t field = 0;
      std::uint32_t wire_type = 0;
      if (!Tag(r, at, where, &field, &wire_type)) return error_;
      if (field == 1 || field == 3) {
        const auto field_where = [field] {
          return std::string(field == 1 ? "WriteRequest.timeseries" : "WriteRequest.metadata");
        };
        if (wire_type != kLengthDelimited) [[unlikely]] {
          WrongType(at, field_where, wire_type, kLengthDelimited);
          return error_;
        }
        const std::uint8_t* b;
        const std::uint8_t* e;
        if (!r.Bytes(&b, &e)) [[unlikely]] {
          Fail(at, field_where, kPastEnd);
          return error_;
        }
        if (field == 1) {
          const std::size_t i = series_index++;
          const KeyedSeries* keyed =
              i < keyed_.size() && keyed_[i].begin == b ? &keyed_[i] : nullptr;
          if (!TimeSeries(r.Sub(b, e), i, keyed)) return error_;
        } else {
          ++b_.stats().metadata_skipped;
        }
        continue;
      }
      if (!SkipUnknown(r, at, where, field, wire_type)) return error_;
    }
    return Status::Ok();
  }

 private:
  static constexpr const char* kPastEnd = "length runs past the end of the enclosing message";

  template <typename Where>
  [[gnu::noinline, gnu::cold]] bool Fail(std::size_t at, const Where& where, std::string_view what,
                                         StatusCode code = StatusCode::kInvalidArgument) {
    std::string msg = "remote write: offset " + std::to_string(at) + ": ";
    msg += where();
    msg += ": ";
    msg += what;
    error_ = Status(code, std::move(msg));
    return false;
  }

  template <typename Where>
  [[gnu::noinline, gnu::cold]] bool WrongType(std::size_t at, const Where& where, std::uint32_t got,
                                              std::uint32_t want) {
    return Fail(at, where,
                std::string("wire type ") + WireTypeName(got) + " (" + std::to_string(got) +
                    "), want " + WireTypeName(want));
  }

  template <typename Where>
  bool Tag(Reader& r, std::size_t at, const Where& where, std::uint32_t* field,
           std::uint32_t* wire_type) {
    std::uint64_t tag;
    if (!r.Varint(&tag)) [[unlikely]] {
      return Fail(at, where, "truncated or overlong field tag");
    }
    if (tag > 0xffffffffu || (tag >> 3) == 0) [[unlikely]] {
      return Fail(at, where, "invalid field number " + std::to_string(tag >> 3));
    }
    *field = static_cast<std::uint32_t>(tag >> 3);
    *wire_type = static_cast<std::uint32_t>(tag & 7);
    return true;
  }

  template <typename Where>
  bool SkipUnknown(Reader& r, std::size_t at, const Where& where, std::uint32_t field,
                   std::uint32_t wire_type) {
    const char* why = "";
    if (!r.Skip(wire_type, field, 0, &why)) [[unlikely]] {
      return Fail(at, where, "unknown field " + std::to_string(field) + ": " + why);
    }
    return true;
  }

  // Finds every TimeSeries and its label run, hashes the run and prefetches
  // the cache slot its lookup reads first. Best effort: it stops at anything
  // malformed, which the main pass reports.
  void PrePass() {
    Reader r(data_, data_, data_ + size_);
    while (!r.done()) {
      std::uint64_t tag;
      if (!r.Varint(&tag) || tag > 0xffffffffu || (tag >> 3) == 0) return;
      const auto field = static_cast<std::uint32_t>(tag >> 3);
      const auto wire_type = static_cast<std::uint32_t>(tag & 7);
      if (field == 1 && wire_type == kLengthDelimited) {
        const std::uint8_t* b;
        const std::uint8_t* e;
        if (!r.Bytes(&b, &e)) return;
        KeyedSeries k{b, {}, {}, 0};
        if (LabelRun(r.Sub(b, e), &k.key)) {
          k.hash = SeriesRefCache::HashKey(k.key);
          lookup_.cache->Prefetch(k.hash);
        }
        keyed_.push_back(k);
        continue;
      }
      const char* why = "";
      if (!r.Skip(wire_type, field, 0, &why)) return;
    }
  }

  // Looks every key up, in a loop of its own: at a few requests a second the
  // cache's table is cold, and independent lookups back to back let the core
  // overlap their misses, where lookups spread over the decoding waited for a
  // miss each (BM_RemoteWriteDecodeResolveEncodedKey's cold case; the
  // pre-pass's prefetch adds nothing measurable to this).
  void LookUpKeys() {
    for (KeyedSeries& k : keyed_) {
      if (!k.key.empty()) k.cached_ref = lookup_.cache->Find(k.hash, lookup_.now_ms);
    }
  }

  // The bytes of a TimeSeries' label fields when they form one run.
  static bool LabelRun(Reader r, std::string_view* key) {
    const std::uint8_t* begin = nullptr;
    const std::uint8_t* end = nullptr;
    while (!r.done()) {
      const std::uint8_t* at = r.pos();
      std::uint64_t tag;
      if (!r.Varint(&tag) || tag > 0xffffffffu || (tag >> 3) == 0) return false;
      const auto field = static_cast<std::uint32_t>(tag >> 3);
      const auto wire_type = static_cast<std::uint32_t>(tag & 7);
      if (field == 1 && wire_type == kLengthDelimited) {
        if (begin != nullptr && end != at) return false;  // labels split by other fields
        if (begin == nullptr) begin = at;
        const std::uint8_t* b;
        const std::uint8_t* e;
        if (!r.Bytes(&b, &e)) return false;
        end = r.pos();
        continue;
      }
      const char* why = "";
      if (!r.Skip(wire_type, field, 0, &why)) return false;
    }
    if (begin == nullptr) return false;
    *key = std::string_view(reinterpret_cast<const char*>(begin),
                            static_cast<std::size_t>(end - begin));
    return true;
  }

  static std::string SeriesWhere(std::size_t series_index) {
    return "timeseries[" + std::to_string(series_index) + "]";
  }

  bool TimeSeries(Reader r, std::size_t series_index, const KeyedSeries* keyed) {
    static constexpr const char* kFieldNames[] = {"", "labels", "samples", "exemplars",
                                                  "histograms"};
    const std::size_t start = r.offset();
    const std::uint64_t cached_ref = keyed != nullptr ? keyed->cached_ref : 0;
    // Bytes the cache resolved before passed every label check then.
    const bool check_labels = cached_ref == 0;
    const auto where = [series_index] { return SeriesWhere(series_index); };
    std::size_t label_index = 0;
    std::size_t sample_index = 0;
    while (!r.done()) {
      const std::size_t at = r.offset();
      std::uint32_t field = 0;
      std::uint32_t wire_type = 0;
      if (!Tag(r, at, where, &field, &wire_type)) return false;
      if (field < 1 || field > 4) {
        if (!SkipUnknown(r, at, where, field, wire_type)) return false;
        continue;
      }
      const std::size_t index = field == 1 ? label_index++ : field == 2 ? sample_index++ : 0;
      const auto field_where = [series_index, field, index] {
        std::string w = SeriesWhere(series_index) + "." + kFieldNames[field];
        if (field <= 2) w += "[" + std::to_string(index) + "]";
        return w;
      };
      if (wire_type != kLengthDelimited) [[unlikely]] {
        return WrongType(at, field_where, wire_type, kLengthDelimited);
      }
      const std::uint8_t* b;
      const std::uint8_t* e;
      if (!r.Bytes(&b, &e)) [[unlikely]] {
        return Fail(at, field_where, kPastEnd);
      }
      switch (field) {
        case 1:
          // A known series' labels are its key; LabelKeyMetricName reads them.
          if (check_labels && !Label(r.Sub(b, e), field_where, check_labels)) return false;
          break;
        case 2:
          if (!Sample(r.Sub(b, e), field_where)) return false;
          break;
        case 3:
          ++b_.stats().exemplars_skipped;
          break;
        default:
          ++b_.stats().histograms_skipped;
          break;
      }
    }
    if (check_labels) {
      if (Status s = internal::FinishLabels(b_, limits_); !s.ok()) [[unlikely]] {
        return Fail(start, where, s.message(), s.code());
      }
    }
    if (b_.pending_sample_count() == 0) {
      b_.DiscardSeries();
    } else {
      if (keyed != nullptr) b_.SetLabelKey(keyed->key, keyed->hash, cached_ref);
      b_.FinishSeries();
    }
    return true;
  }

  template <typename Where>
  bool Label(Reader r, const Where& where, bool check) {
    const std::size_t start = r.offset();
    std::string_view name;
    std::string_view value;
    while (!r.done()) {
      const std::size_t at = r.offset();
      std::uint32_t field = 0;
      std::uint32_t wire_type = 0;
      if (!Tag(r, at, where, &field, &wire_type)) return false;
      if (field != 1 && field != 2) {
        if (!SkipUnknown(r, at, where, field, wire_type)) return false;
        continue;
      }
      const auto field_where = [&where, field] {
        return where() + (field == 1 ? ".name" : ".value");
      };
      if (wire_type != kLengthDelimited) [[unlikely]] {
        return WrongType(at, field_where, wire_type, kLengthDelimited);
      }
      const std::uint8_t* b;
      const std::uint8_t* e;
      if (!r.Bytes(&b, &e)) [[unlikely]] {
        return Fail(at, field_where, kPastEnd);
      }
      (field == 1 ? name : value) =
          std::string_view(reinterpret_cast<const char*>(b), static_cast<std::size_t>(e - b));
    }
    if (check && !internal::LabelIsValid(name, value, limits_)) [[unlikely]] {
      const Status s = internal::CheckLabel(name, value, limits_);
      return Fail(start, where, s.message(), s.code());
    }
    if (internal::LabelsFull(b_, limits_)) [[unlikely]] {
      const Status s = internal::LabelCountError(limits_);
      return Fail(start, where, s.message(), s.code());
    }
    b_.AddLabel(name, value);
    return true;
  }

  template <typename Where>
  bool Sample(Reader r, const Where& where) {
    if (b_.samples_added() >= limits_.max_samples) [[unlikely]] {
      return Fail(r.offset(), where,
                  "more than the limit of " + std::to_string(limits_.max_samples) + " samples",
                  StatusCode::kResourceExhausted);
    }
    std::uint64_t value_bits = 0;
    std::uint64_t timestamp = 0;
    while (!r.done()) {
      const std::size_t at = r.offset();
      std::uint32_t field = 0;
      std::uint32_t wire_type = 0;
      if (!Tag(r, at, where, &field, &wire_type)) return false;
      if (field == 1) {
        const auto field_where = [&where] { return where() + ".value"; };
        if (wire_type != kFixed64) [[unlikely]] {
          return WrongType(at, field_where, wire_type, kFixed64);
        }
        if (!r.Fixed64(&value_bits)) [[unlikely]] {
          return Fail(at, field_where, "truncated fixed64");
        }
      } else if (field == 2) {
        const auto field_where = [&where] { return where() + ".timestamp"; };
        if (wire_type != kVarint) [[unlikely]] {
          return WrongType(at, field_where, wire_type, kVarint);
        }
        if (!r.Varint(&timestamp)) [[unlikely]] {
          return Fail(at, field_where, "truncated or overlong varint");
        }
      } else if (!SkipUnknown(r, at, where, field, wire_type)) {
        return false;
      }
    }
    b_.AddSample(static_cast<std::int64_t>(timestamp), std::bit_cast<double>(value_bits));
    return true;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  const Limits& limits_;
  BatchBuilder& b_;
  const RefLookup& lookup_;
  std::vector<KeyedSeries>& keyed_;
  Status error_;
};

// Decodes `size` bytes at `data`, which the batch owns (BatchBuilder::InputBuffer).
Status DecodeInto(BatchBuilder& builder, const char* data, std::size_t size, const Limits& limits,
                  const RefLookup& lookup = {}) {
  // Per thread, so that a decoder reused per request does not allocate.
  thread_local std::vector<KeyedSeries> keyed;
  Decoder decoder(reinterpret_cast<const std::uint8_t*>(data), size, limits, &builder, lookup,
                  &keyed);
  NIMIFY_RETURN_IF_ERROR(decoder.Run());
  builder.Commit();
  return Status::Ok();
}

std::size_t VarintSize(std::uint64_t v) noexcept {
  return static_cast<std::size_t>((std::bit_width(v | 1) + 6) / 7);
}

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::size_t StringFieldSize(std::string_view s) noexcept {
  return s.empty() ? 0 : 1 + VarintSize(s.size()) + s.size();
}

void PutStringField(std::string& out, char tag, std::string_view s) {
  if (s.empty()) return;
  out.push_back(tag);
  PutVarint(out, s.size());
  out.append(s);
}

std::size_t SampleSize(const promql::Point& p) noexcept {
  std::size_t n = 0;
  if (std::bit_cast<std::uint64_t>(p.v) != 0) n += 9;
  if (p.t != 0) n += 1 + VarintSize(static_cast<std::uint64_t>(p.t));
  return n;
}

}  // namespace

Status DecodeRemoteWrite(std::string_view body, const Limits& limits, Batch* out) {
  return DecodeRemoteWrite(body, limits, out, RefLookup{});
}

Status DecodeRemoteWrite(std::string_view body, const Limits& limits, Batch* out,
                         const RefLookup& lookup) {
  if (body.size() > limits.max_body_bytes) {
    return Status::ResourceExhausted("remote write: body is " + std::to_string(body.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(limits.max_body_bytes));
  }
  std::size_t size = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &size)) {
    return Status::InvalidArgument(
        "remote write: body is not snappy block-format data (bad length header)");
  }
  if (size > limits.max_decompressed_bytes) {
    return Status::ResourceExhausted("remote write: decompressed body would be " +
                                     std::to_string(size) + " bytes, over the limit of " +
                                     std::to_string(limits.max_decompressed_bytes));
  }
  // Views point into the decompressed request, so it lives in the batch (in
  // the buffer a cleared batch kept, when one is large enough).
  BatchBuilder builder(out);
  char* data = builder.InputBuffer(size == 0 ? 1 : size);
  // RawUncompress checks the stream as it goes and never writes past `size`.
  if (!snappy::RawUncompress(body.data(), body.size(), data)) {
    return Status::InvalidArgument("remote write: corrupt snappy data");
  }
  return DecodeInto(builder, data, size, limits, lookup);
}

std::string_view LabelKeyMetricName(std::string_view label_key) noexcept {
  const auto* data = reinterpret_cast<const std::uint8_t*>(label_key.data());
  Reader r(data, data, data + label_key.size());
  std::string_view name;
  while (!r.done()) {
    std::uint64_t tag;
    const std::uint8_t* b;
    const std::uint8_t* e;
    if (!r.Varint(&tag) || tag != 0x0a || !r.Bytes(&b, &e)) return name;
    // One Label: the last name and value fields win and other fields are
    // skipped, as in Label().
    Reader l = r.Sub(b, e);
    std::string_view n, v;
    while (!l.done()) {
      if (!l.Varint(&tag) || tag > 0xffffffffu) return name;
      const auto field = static_cast<std::uint32_t>(tag >> 3);
      const auto wire_type = static_cast<std::uint32_t>(tag & 7);
      if (tag != 0x0a && tag != 0x12) {
        const char* why = "";
        if (!l.Skip(wire_type, field, 0, &why)) return name;
        continue;
      }
      const std::uint8_t* fb;
      const std::uint8_t* fe;
      if (!l.Bytes(&fb, &fe)) return name;
      (tag == 0x0a ? n : v) = std::string_view(reinterpret_cast<const char*>(fb),
                                               static_cast<std::size_t>(fe - fb));
    }
    if (n == promql::kMetricNameLabel) name = v;
  }
  return name;
}

Status DecodeWriteRequest(std::string_view proto, const Limits& limits, Batch* out) {
  if (proto.size() > limits.max_decompressed_bytes) {
    return Status::ResourceExhausted("remote write: request is " + std::to_string(proto.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(limits.max_decompressed_bytes));
  }
  BatchBuilder builder(out);
  char* data = builder.InputBuffer(proto.empty() ? 1 : proto.size());
  if (!proto.empty()) std::memcpy(data, proto.data(), proto.size());
  return DecodeInto(builder, data, proto.size(), limits);
}

std::string EncodeWriteRequest(const Batch& batch) {
  // Lengths come before payloads, so size every TimeSeries first.
  std::vector<std::size_t> series_sizes(batch.series_count());
  std::size_t total = 0;
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    const BatchSeries s = batch.series(i);
    std::size_t n = 0;
    for (const LabelPair& l : s.labels) {
      const std::size_t label = StringFieldSize(l.name) + StringFieldSize(l.value);
      n += 1 + VarintSize(label) + label;
    }
    for (const promql::Point& p : s.samples) {
      const std::size_t sample = SampleSize(p);
      n += 1 + VarintSize(sample) + sample;
    }
    series_sizes[i] = n;
    total += 1 + VarintSize(n) + n;
  }
  std::string out;
  out.reserve(total);
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    const BatchSeries s = batch.series(i);
    out.push_back(0x0a);
    PutVarint(out, series_sizes[i]);
    for (const LabelPair& l : s.labels) {
      out.push_back(0x0a);
      PutVarint(out, StringFieldSize(l.name) + StringFieldSize(l.value));
      PutStringField(out, 0x0a, l.name);
      PutStringField(out, 0x12, l.value);
    }
    for (const promql::Point& p : s.samples) {
      out.push_back(0x12);
      PutVarint(out, SampleSize(p));
      if (const auto bits = std::bit_cast<std::uint64_t>(p.v); bits != 0) {
        out.push_back(0x09);
        char le[8];
        for (int k = 0; k < 8; ++k) le[k] = static_cast<char>((bits >> (8 * k)) & 0xff);
        out.append(le, 8);
      }
      if (p.t != 0) {
        out.push_back(0x10);
        PutVarint(out, static_cast<std::uint64_t>(p.t));
      }
    }
  }
  return out;
}

std::string EncodeRemoteWrite(const Batch& batch) {
  const std::string proto = EncodeWriteRequest(batch);
  std::string out;
  snappy::Compress(proto.data(), proto.size(), &out);
  return out;
}

}  // namespace nimify::ingest
