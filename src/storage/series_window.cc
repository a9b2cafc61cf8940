#include "storage/series_window.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "storage/bit_stream.h"

namespace nimify::storage {
namespace {

// Delta-of-delta buckets: prefix bits, then a signed payload of this width.
constexpr int kDodBits7 = 7;
constexpr int kDodBits14 = 14;
constexpr int kDodBits20 = 20;
// Whole-word bit access reads and writes up to 8 bytes past a position.
constexpr std::uint64_t kWordSlackBytes = 8;

bool FitsSigned(std::int64_t v, int bits) noexcept {
  const std::int64_t lo = -(std::int64_t{1} << (bits - 1));
  const std::int64_t hi = (std::int64_t{1} << (bits - 1)) - 1;
  return v >= lo && v <= hi;
}

std::int64_t SignExtend(std::uint64_t v, int bits) noexcept {
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return std::bit_cast<std::int64_t>((v ^ sign) - sign);
}

// Modular arithmetic keeps extreme timestamps exact: encode and decode wrap alike.
std::int64_t WrapSub(std::int64_t a, std::int64_t b) noexcept {
  return std::bit_cast<std::int64_t>(std::bit_cast<std::uint64_t>(a) -
                                     std::bit_cast<std::uint64_t>(b));
}
std::int64_t WrapAdd(std::int64_t a, std::int64_t b) noexcept {
  return std::bit_cast<std::int64_t>(std::bit_cast<std::uint64_t>(a) +
                                     std::bit_cast<std::uint64_t>(b));
}

enum class ValueKind : std::uint8_t { kRaw, kSame, kInWindow, kNewWindow, kInteger };

// Value codes after the timestamp: 0 same value, 10 XOR in the previous
// window, 110 integer step (then 0/10/110/111 for a 4/10/20/64-bit signed
// step), 111 XOR with a new window. Integral values (most counters and many
// gauges) change by small steps that XOR encodes poorly.
constexpr int kIntBits4 = 4;
constexpr int kIntBits10 = 10;
constexpr int kIntBits20 = 20;
// The worst case of one sample: 4 + 64 timestamp bits, 3 + 6 + 6 + 64 value bits.
constexpr std::uint64_t kMaxSampleBits = 147;

// Whether `bits` is a double that converts to int64 and back exactly: an
// integer of magnitude <= 2^53, and not -0.0 (which would come back as +0.0).
bool IsExactInteger(std::uint64_t bits) noexcept {
  const double d = std::bit_cast<double>(bits);
  constexpr double kLimit = 9007199254740992.0;  // 2^53
  return d >= -kLimit && d <= kLimit && d == static_cast<double>(static_cast<std::int64_t>(d)) &&
         bits != (std::uint64_t{1} << 63);
}

std::int64_t AsInteger(std::uint64_t bits) noexcept {
  return static_cast<std::int64_t>(std::bit_cast<double>(bits));
}

// One sample's encoding, planned before writing so that its exact size is known.
struct SamplePlan {
  struct Piece {
    std::uint64_t value;
    int bits;
  };
  Piece pieces[7];
  int count = 0;
  std::uint64_t total_bits = 0;
  std::int64_t delta = 0;
  std::uint8_t lead = 0;
  std::uint8_t trail = 0;

  void Add(std::uint64_t value, int bits) noexcept {
    pieces[count++] = {value, bits};
    total_bits += static_cast<std::uint64_t>(bits);
  }
  void WriteTo(BitWriter* w) const noexcept {
    for (int i = 0; i < count; ++i) w->Write(pieces[i].value, pieces[i].bits);
  }
};

constexpr std::uint8_t kNoWindow = 0xff;

// `first`: the sample starts the bit string.
SamplePlan PlanSample(bool first, std::int64_t t, std::uint64_t bits, std::int64_t last_t,
                      std::int64_t last_delta, std::uint64_t last_v, std::uint8_t lead,
                      std::uint8_t trail) noexcept {
  SamplePlan plan;
  plan.lead = lead;
  plan.trail = trail;
  if (first) {
    // The window's first sample: its time and value in full.
    plan.Add(std::bit_cast<std::uint64_t>(t), 64);
    plan.Add(bits, 64);
    plan.lead = kNoWindow;
    plan.trail = 0;
    return plan;
  }
  plan.delta = WrapSub(t, last_t);
  const std::int64_t dod = WrapSub(plan.delta, last_delta);
  const auto dod_bits = std::bit_cast<std::uint64_t>(dod);
  if (dod == 0) {
    plan.Add(0b0, 1);
  } else if (FitsSigned(dod, kDodBits7)) {
    plan.Add(0b10, 2);
    plan.Add(dod_bits, kDodBits7);
  } else if (FitsSigned(dod, kDodBits14)) {
    plan.Add(0b110, 3);
    plan.Add(dod_bits, kDodBits14);
  } else if (FitsSigned(dod, kDodBits20)) {
    plan.Add(0b1110, 4);
    plan.Add(dod_bits, kDodBits20);
  } else {
    plan.Add(0b1111, 4);
    plan.Add(dod_bits, 64);
  }
  const std::uint64_t x = bits ^ last_v;
  if (x == 0) {
    plan.Add(0b0, 1);
    return plan;
  }
  const bool integers = IsExactInteger(bits) && IsExactInteger(last_v);
  // Both are within 2^53, so the difference fits in 55 bits.
  const std::int64_t step = integers ? AsInteger(bits) - AsInteger(last_v) : 0;
  const auto step_bits = std::bit_cast<std::uint64_t>(step);
  if (integers && FitsSigned(step, kIntBits4)) {
    // The common case of a counter or small gauge: 8 bits, without weighing XOR.
    plan.Add(0b1100, 4);
    plan.Add(step_bits, kIntBits4);
    return plan;
  }
  const int new_lead = std::countl_zero(x);
  const int new_trail = std::countr_zero(x);
  const bool in_window = lead != kNoWindow && new_lead >= lead && new_trail >= trail;
  const int xor_bits = in_window ? 2 + 64 - lead - trail : 3 + 12 + 64 - new_lead - new_trail;
  if (integers) {
    int int_bits;
    if (FitsSigned(step, kIntBits10)) {
      int_bits = 3 + 2 + kIntBits10;
    } else if (FitsSigned(step, kIntBits20)) {
      int_bits = 3 + 3 + kIntBits20;
    } else {
      int_bits = 3 + 3 + 64;
    }
    if (int_bits < xor_bits) {
      plan.Add(0b110, 3);
      if (FitsSigned(step, kIntBits10)) {
        plan.Add(0b10, 2);
        plan.Add(step_bits, kIntBits10);
      } else if (FitsSigned(step, kIntBits20)) {
        plan.Add(0b110, 3);
        plan.Add(step_bits, kIntBits20);
      } else {
        plan.Add(0b111, 3);
        plan.Add(step_bits, 64);
      }
      return plan;  // the XOR window stays as it was
    }
  }
  if (in_window) {
    plan.Add(0b10, 2);
    plan.Add(x >> trail, 64 - lead - trail);
    return plan;
  }
  const int significant = 64 - new_lead - new_trail;
  plan.Add(0b111, 3);
  plan.Add(static_cast<std::uint64_t>(new_lead), 6);
  plan.Add(static_cast<std::uint64_t>(significant - 1), 6);
  plan.Add(x >> new_trail, significant);
  plan.lead = static_cast<std::uint8_t>(new_lead);
  plan.trail = static_cast<std::uint8_t>(new_trail);
  return plan;
}

// Walks a window's bit string sample by sample.
class Decoder {
 public:
  explicit Decoder(const std::uint8_t* data)
      : reader_(data, 0), t_(std::bit_cast<std::int64_t>(reader_.Read(64))) {}
  // Resumes where `c` was saved (its sample is the previous one, not the first).
  Decoder(const std::uint8_t* data, const DecodeCursor& c)
      : reader_(data, c.position), t_(c.t), delta_(c.delta), v_(c.v), lead_(c.lead),
        trail_(c.trail) {}
  DecodeCursor Save(std::int64_t first_t) const noexcept {
    return DecodeCursor{first_t, t_, delta_, v_, static_cast<std::uint32_t>(reader_.position()),
                        lead_, trail_};
  }

  promql::Point Next(bool first) noexcept {
    if (first) {
      v_ = reader_.Read(64);
      kind_ = ValueKind::kRaw;
      return {t_, std::bit_cast<double>(v_)};
    }
    std::int64_t dod = 0;
    if (reader_.ReadBit()) {
      if (!reader_.ReadBit()) {
        dod = SignExtend(reader_.Read(kDodBits7), kDodBits7);
      } else if (!reader_.ReadBit()) {
        dod = SignExtend(reader_.Read(kDodBits14), kDodBits14);
      } else if (!reader_.ReadBit()) {
        dod = SignExtend(reader_.Read(kDodBits20), kDodBits20);
      } else {
        dod = std::bit_cast<std::int64_t>(reader_.Read(64));
      }
    }
    delta_ = WrapAdd(delta_, dod);
    t_ = WrapAdd(t_, delta_);
    kind_ = ValueKind::kSame;
    if (!reader_.ReadBit()) return {t_, std::bit_cast<double>(v_)};
    if (!reader_.ReadBit()) {
      kind_ = ValueKind::kInWindow;
    } else if (!reader_.ReadBit()) {
      kind_ = ValueKind::kInteger;
      std::int64_t step;
      if (!reader_.ReadBit()) {
        step = SignExtend(reader_.Read(kIntBits4), kIntBits4);
      } else if (!reader_.ReadBit()) {
        step = SignExtend(reader_.Read(kIntBits10), kIntBits10);
      } else if (!reader_.ReadBit()) {
        step = SignExtend(reader_.Read(kIntBits20), kIntBits20);
      } else {
        step = std::bit_cast<std::int64_t>(reader_.Read(64));
      }
      v_ = std::bit_cast<std::uint64_t>(static_cast<double>(AsInteger(v_) + step));
      return {t_, std::bit_cast<double>(v_)};
    } else {
      kind_ = ValueKind::kNewWindow;
      lead_ = static_cast<std::uint8_t>(reader_.Read(6));
      const int significant = static_cast<int>(reader_.Read(6)) + 1;
      trail_ = static_cast<std::uint8_t>(64 - lead_ - significant);
    }
    v_ ^= reader_.Read(64 - lead_ - trail_) << trail_;
    return {t_, std::bit_cast<double>(v_)};
  }

  // Bit position of the next sample, and how the last one stored its value.
  std::uint64_t position() const noexcept { return reader_.position(); }
  ValueKind kind() const noexcept { return kind_; }
  // The XOR window in effect for the next sample (kNoWindow before the first).
  std::uint8_t lead() const noexcept { return lead_; }
  std::uint8_t trail() const noexcept { return trail_; }

 private:
  BitReader reader_;
  std::int64_t t_;
  std::int64_t delta_ = 0;
  std::uint64_t v_ = 0;
  std::uint8_t lead_ = kNoWindow;
  std::uint8_t trail_ = 0;
  ValueKind kind_ = ValueKind::kRaw;
};

std::uint64_t BytesFor(std::uint64_t bits) noexcept { return (bits + 7) / 8; }

}  // namespace

void SeriesWindow::set_state(const EncodeState& s) noexcept {
  last_t_ = s.last_t;
  last_delta_ = s.last_delta;
  last_v_ = s.last_v;
  lead_ = s.lead;
  trail_ = s.trail;
}

AppendStatus SeriesWindow::Append(std::int64_t t, double v, std::int64_t horizon) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
  if (last_t_ != kNoTime) {
    if (t < last_t_) return AppendStatus::kOutOfOrder;
    if (t == last_t_) return bits == last_v_ ? AppendStatus::kDuplicate : AppendStatus::kConflict;
  }
  SamplePlan plan = PlanSample(empty(), t, bits, last_t_, last_delta_, last_v_, lead_, trail_);
  if (EnsureRoom(plan.total_bits, horizon)) {
    // Compaction may have reset the encoder state: plan again, then only grow.
    plan = PlanSample(empty(), t, bits, last_t_, last_delta_, last_v_, lead_, trail_);
    EnsureRoom(plan.total_bits, kNoTime);
  }
  const bool first = empty();
  BitWriter w(bytes_.get(), bit_size_);
  plan.WriteTo(&w);
  bit_size_ = static_cast<std::uint32_t>(w.position());
  last_delta_ = first ? 0 : plan.delta;
  last_t_ = t;
  last_v_ = bits;
  lead_ = plan.lead;
  trail_ = plan.trail;
  if (count_ != kManySamples) ++count_;
  return AppendStatus::kOk;
}

bool SeriesWindow::EnsureRoom(std::uint64_t bits, std::int64_t horizon) {
  if (BytesFor(bit_size_ + bits) + kWordSlackBytes <= capacity_) return false;
  bool compacted = false;
  if (!empty() && first_t() < horizon && WorthCompacting(horizon)) {
    Compact(horizon, bits);
    compacted = true;
    if (BytesFor(bit_size_ + bits) + kWordSlackBytes <= capacity_) return true;
  }
  Reallocate(bit_size_, bits);
  return compacted;
}

bool SeriesWindow::WorthCompacting(std::int64_t horizon) const noexcept {
  // A window holding exactly its retention would drop one sample (and re-encode
  // its head) on every append. Growing instead until an eighth of the samples
  // have expired makes each compaction drop many at once. The share is
  // estimated from the time span, assuming evenly spaced samples; a wrong guess
  // only costs some bytes or an early compaction, never a needed sample.
  if (count_ < kMinSamplesToDefer) return true;
  const std::int64_t first_t = this->first_t();
  const double span = static_cast<double>(last_t_) - static_cast<double>(first_t);
  if (!(span > 0)) return true;
  const double expired = static_cast<double>(horizon) - static_cast<double>(first_t);
  return expired * kExpiredShareToCompact >= span;
}

void SeriesWindow::Reallocate(std::uint64_t used_bits, std::uint64_t extra_bits) {
  // Slack of a quarter (at least 16 bytes): with the deferred compaction the
  // window grows until a good share of it has expired, then drops that share.
  const std::uint64_t used = BytesFor(used_bits + extra_bits);
  const std::uint64_t wanted = used + std::max<std::uint64_t>(used / 4, 16) + kWordSlackBytes;
  // Round up to what malloc hands out anyway (16-byte chunks with an 8-byte
  // header), so the rounding becomes usable slack instead of waste.
  const std::uint64_t rounded = ((wanted + 8 + 15) & ~std::uint64_t{15}) - 8;
  auto fresh = std::make_unique<std::uint8_t[]>(rounded);  // zero-filled
  if (bit_size_ != 0) std::memcpy(fresh.get(), bytes_.get(), BytesFor(bit_size_));
  bytes_ = std::move(fresh);
  capacity_ = static_cast<std::uint32_t>(rounded);
}

std::uint32_t SeriesWindow::Compact(std::int64_t horizon, std::uint64_t extra_bits) {
  Decoder decoder(bytes_.get());
  promql::Point keep_first = decoder.Next(true);
  std::uint32_t k = 0;
  while (keep_first.t < horizon) {
    ++k;
    if (decoder.position() == bit_size_) {
      // Everything is older than the horizon.
      bytes_.reset();
      capacity_ = 0;
      bit_size_ = 0;
      count_ = 0;
      last_delta_ = 0;
      lead_ = kNoWindow;
      trail_ = 0;
      return k;
    }
    keep_first = decoder.Next(false);
  }
  if (k == 0) return 0;
  // Re-encode samples k, k+1, ... up to the first sample j >= k+2 whose bits
  // decode the same after the new head: its delta-of-delta and previous value
  // are unchanged, so it qualifies when it opens a new XOR window or the XOR
  // window in effect is the same in both encodings. From j on the bits are
  // copied as they are.
  // Per-thread scratch: compaction runs on the append path; no allocation per call.
  thread_local std::vector<std::uint8_t> scratch;
  // Room for the old bit string (the copied tail), a head of a few samples and
  // the caller's extra bits; grown below if the head turns out longer.
  scratch.assign(BytesFor(bit_size_ + 4 * kMaxSampleBits + extra_bits) + kWordSlackBytes, 0);
  BitWriter w(scratch.data(), 0);
  EncodeState s;
  auto encode = [&](const promql::Point& p, bool first) {
    const std::uint64_t needed =
        BytesFor(w.position() + kMaxSampleBits + bit_size_ + extra_bits) + kWordSlackBytes;
    if (needed > scratch.size()) {
      scratch.resize(needed * 2, 0);
      w = BitWriter(scratch.data(), w.position());
    }
    const auto bits = std::bit_cast<std::uint64_t>(p.v);
    const SamplePlan plan =
        PlanSample(first, p.t, bits, s.last_t, s.last_delta, s.last_v, s.lead, s.trail);
    plan.WriteTo(&w);
    s = {p.t, first ? 0 : plan.delta, bits, plan.lead, plan.trail};
  };
  encode(keep_first, true);
  std::uint64_t tail_from = bit_size_;
  bool copy_tail = false;
  for (std::uint32_t j = k + 1; decoder.position() < bit_size_; ++j) {
    const std::uint64_t before = decoder.position();
    const bool same_window = decoder.lead() == s.lead && decoder.trail() == s.trail;
    const promql::Point p = decoder.Next(false);
    if (j >= k + 2 && (same_window || decoder.kind() == ValueKind::kNewWindow)) {
      tail_from = before;
      copy_tail = true;
      break;
    }
    encode(p, false);
  }
  if (copy_tail) {
    CopyBits(bytes_.get(), tail_from, bit_size_, &w);  // the state at the end is unchanged
  } else {
    set_state(s);
  }
  const std::uint64_t new_bits = w.position();
  const std::uint64_t needed = BytesFor(new_bits + extra_bits) + kWordSlackBytes;
  if (needed > capacity_ || capacity_ > 2 * needed + 32) {
    bit_size_ = 0;  // Reallocate copies nothing; the scratch is copied below
    Reallocate(new_bits, extra_bits);
  } else {
    std::memset(bytes_.get(), 0, capacity_);
  }
  std::memcpy(bytes_.get(), scratch.data(), BytesFor(new_bits));
  bit_size_ = static_cast<std::uint32_t>(new_bits);
  if (count_ != kManySamples) count_ = static_cast<std::uint16_t>(count_ - k);
  return k;
}

std::size_t SeriesWindow::DropBefore(std::int64_t horizon) {
  if (empty() || first_t() >= horizon) return 0;
  return Compact(horizon, 0);
}

std::int64_t SeriesWindow::first_t() const noexcept {
  return empty() ? kNoTime : std::bit_cast<std::int64_t>(LoadBigEndian64(bytes_.get()));
}

std::size_t SeriesWindow::size() const noexcept {
  if (count_ != kManySamples) return count_;
  Decoder decoder(bytes_.get());
  decoder.Next(true);
  std::size_t n = 1;
  for (; decoder.position() < bit_size_; ++n) decoder.Next(false);
  return n;
}

void SeriesWindow::Decode(std::vector<promql::Point>* out) const {
  if (empty()) return;
  out->reserve(out->size() + count_);  // exact unless kManySamples
  Decoder decoder(bytes_.get());
  out->push_back(decoder.Next(true));
  while (decoder.position() < bit_size_) out->push_back(decoder.Next(false));
}

void SeriesWindow::DecodeFrom(std::int64_t mint, std::vector<promql::Point>* out) const {
  if (empty()) return;
  Decoder decoder(bytes_.get());
  promql::Point p = decoder.Next(true);
  std::size_t skipped = 0;
  while (p.t < mint && decoder.position() < bit_size_) {
    p = decoder.Next(false);
    ++skipped;
  }
  if (p.t < mint) return;
  if (count_ > skipped) out->reserve(out->size() + count_ - skipped);  // exact unless kManySamples
  out->push_back(p);
  while (decoder.position() < bit_size_) out->push_back(decoder.Next(false));
}

void SeriesWindow::DecodeFrom(std::int64_t mint, std::vector<promql::Point>* out,
                              const DecodeCursor& resume, DecodeCursor* save) const {
  if (empty()) return;
  const std::int64_t first = first_t();
  const bool resumable = resume.position != 0 && resume.first_t == first &&
                         resume.position <= bit_size_ && resume.t < mint;
  Decoder decoder = resumable ? Decoder(bytes_.get(), resume) : Decoder(bytes_.get());
  promql::Point p{};
  bool have_p = false;
  if (!resumable) {
    p = decoder.Next(true);
    have_p = true;
  }
  DecodeCursor before;  // the decoder just before `p`
  bool have_before = false;
  while (!have_p || p.t < mint) {
    if (decoder.position() >= bit_size_) {
      have_p = false;  // every sample is older than mint
      break;
    }
    before = decoder.Save(first);
    have_before = true;
    p = decoder.Next(false);
    have_p = true;
  }
  if (save != nullptr) {
    if (!have_p) {
      *save = decoder.Save(first);  // later samples will be the first ones wanted
    } else if (have_before) {
      *save = before;
    }
  }
  if (!have_p) return;
  out->push_back(p);
  while (decoder.position() < bit_size_) out->push_back(decoder.Next(false));
}

}  // namespace nimify::storage
