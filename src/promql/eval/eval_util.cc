#include "promql/eval/eval_util.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace nimify::promql::eval_internal {

std::string_view GetLabel(LabelsRef ref, std::string_view name) noexcept {
  if (!IsVisible(ref, name)) return {};
  return ref.base->Get(name);
}

namespace {

// Iterates the visible labels of a LabelsRef by index.
class VisibleIter {
 public:
  explicit VisibleIter(LabelsRef ref) : ref_(ref) { Skip(); }
  bool Done() const { return i_ >= ref_.base->size(); }
  const Label& Get() const { return ref_.base->items()[i_]; }
  void Next() {
    ++i_;
    Skip();
  }

 private:
  void Skip() {
    if (IsPlain(ref_)) return;
    while (i_ < ref_.base->size() && !IsVisible(ref_, ref_.base->items()[i_].name)) ++i_;
  }
  LabelsRef ref_;
  std::size_t i_ = 0;
};

}  // namespace

bool LabelsEqual(LabelsRef a, LabelsRef b) noexcept {
  if (SameView(a, b)) return true;
  VisibleIter ia(a), ib(b);
  while (!ia.Done() && !ib.Done()) {
    if (ia.Get().name != ib.Get().name || ia.Get().value != ib.Get().value) return false;
    ia.Next();
    ib.Next();
  }
  return ia.Done() && ib.Done();
}

int CompareLabels(LabelsRef a, LabelsRef b) noexcept {
  VisibleIter ia(a), ib(b);
  while (!ia.Done() && !ib.Done()) {
    if (int c = ia.Get().name.compare(ib.Get().name); c != 0) return c < 0 ? -1 : 1;
    if (int c = ia.Get().value.compare(ib.Get().value); c != 0) return c < 0 ? -1 : 1;
    ia.Next();
    ib.Next();
  }
  if (ia.Done() && ib.Done()) return 0;
  return ia.Done() ? -1 : 1;
}

Labels Materialize(LabelsRef ref) {
  if (IsPlain(ref)) return *ref.base;
  // The visible labels are already sorted and unique: one allocation for the array.
  std::vector<Label> visible;
  visible.reserve(ref.base->size());
  ForEachLabel(ref, [&visible](const Label& l) { visible.push_back(l); });
  return Labels::FromSorted(std::move(visible));
}

std::string LabelsString(LabelsRef ref) {
  std::string out = "{";
  bool first = true;
  ForEachLabel(ref, [&](const Label& l) {
    if (!first) out += ", ";
    first = false;
    if (IsValidLabelNameFor(l.name, /*legacy=*/true)) {
      out += l.name;
    } else {
      out += GoQuote(l.name);
    }
    out += '=';
    out += GoQuote(l.value);
  });
  out += '}';
  return out;
}

namespace {

// Label names mostly differ in their first byte: test it before memcmp.
inline int CompareNames(std::string_view a, std::string_view b) noexcept {
  if (!a.empty() && !b.empty() && a[0] != b[0]) {
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]) ? -1 : 1;
  }
  return a.compare(b);
}

// The set's hash without __name__, cached in the set (Labels::SecondaryHash).
// A set with another reserved label (`__type__`, `__unit__`) looks different
// through Hide::kName and Hide::kMeta, so it is not cached: kUncacheable sends
// the caller to the label-by-label path, which gives the same value.
constexpr std::uint64_t kUncacheable = 1;

std::uint64_t ComputeHashWithoutName(const Labels& labels) noexcept {
  Hasher h;
  for (const Label& l : labels) {
    if (l.name.size() >= 2 && l.name[0] == '_' && l.name[1] == '_') {
      if (l.name == kMetricNameLabel) continue;
      return kUncacheable;
    }
    h.AddLabel(l);
  }
  return h.Finish();
}

// Whether `ref` shows every label of its base but __name__ (and, for sets
// the cache accepts, nothing else is hidden).
inline bool ShowsAllButName(const LabelsRef& ref) noexcept {
  return ref.filter == nullptr && ref.hide != Hide::kNone;
}

inline std::uint64_t CachedHashWithoutName(const Labels& labels) noexcept {
  return labels.SecondaryHash(ComputeHashWithoutName);
}

}  // namespace

std::uint64_t HashLabels(LabelsRef ref) noexcept {
  if (ShowsAllButName(ref)) {
    if (const std::uint64_t h = CachedHashWithoutName(*ref.base); h != kUncacheable) return h;
  }
  Hasher h;
  ForEachLabel(ref, [&h](const Label& l) { h.AddLabel(l); });
  return h.Finish();
}

std::uint64_t HashForLabels(LabelsRef ref, std::span<const std::string> sorted_names) noexcept {
  // Walk the base labels and test visibility only for listed names.
  Hasher h;
  std::size_t j = 0;
  for (const Label& l : *ref.base) {
    if (j == sorted_names.size()) break;
    int c = -1;
    while (j < sorted_names.size() && (c = CompareNames(sorted_names[j], l.name)) < 0) ++j;
    if (j < sorted_names.size() && c == 0 && IsVisible(ref, l.name)) h.AddLabel(l);
  }
  return h.Finish();
}

std::uint64_t HashWithoutLabels(LabelsRef ref, std::span<const std::string> sorted_names) noexcept {
  if (sorted_names.empty() && ref.filter == nullptr) {
    if (const std::uint64_t h = CachedHashWithoutName(*ref.base); h != kUncacheable) return h;
  }
  Hasher h;
  std::size_t j = 0;
  for (VisibleIter it(ref); !it.Done(); it.Next()) {
    const Label& l = it.Get();
    int c = -1;
    while (j < sorted_names.size() && (c = CompareNames(sorted_names[j], l.name)) < 0) ++j;
    if (j < sorted_names.size() && c == 0) continue;
    if (l.name == kMetricNameLabel) continue;
    h.AddLabel(l);
  }
  return h.Finish();
}

std::uint64_t HashExcluding(LabelsRef ref, std::span<const std::string> sorted_names) noexcept {
  Hasher h;
  std::size_t j = 0;
  for (VisibleIter it(ref); !it.Done(); it.Next()) {
    const Label& l = it.Get();
    int c = -1;
    while (j < sorted_names.size() && (c = CompareNames(sorted_names[j], l.name)) < 0) ++j;
    if (j < sorted_names.size() && c == 0) continue;
    h.AddLabel(l);
  }
  return h.Finish();
}

namespace {

constexpr std::uint64_t kP1 = 11400714785074694791ull;
constexpr std::uint64_t kP2 = 14029467366897019727ull;
constexpr std::uint64_t kP3 = 1609587929392839161ull;
constexpr std::uint64_t kP4 = 9650029242287828579ull;
constexpr std::uint64_t kP5 = 2870177450012600261ull;

std::uint64_t Rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
std::uint64_t XxRound(std::uint64_t acc, std::uint64_t input) {
  acc += input * kP2;
  acc = Rotl(acc, 31);
  return acc * kP1;
}
std::uint64_t XxMerge(std::uint64_t acc, std::uint64_t val) {
  acc ^= XxRound(0, val);
  return acc * kP1 + kP4;
}
std::uint64_t Read64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian hosts only, like the rest of nimify
}
std::uint32_t Read32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::uint64_t XxHash64(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t len = data.size();
  const unsigned char* end = p + len;
  std::uint64_t h;
  if (len >= 32) {
    std::uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    while (end - p >= 32) {
      v1 = XxRound(v1, Read64(p));
      v2 = XxRound(v2, Read64(p + 8));
      v3 = XxRound(v3, Read64(p + 16));
      v4 = XxRound(v4, Read64(p + 24));
      p += 32;
    }
    h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
    h = XxMerge(h, v1);
    h = XxMerge(h, v2);
    h = XxMerge(h, v3);
    h = XxMerge(h, v4);
  } else {
    h = kP5;
  }
  h += len;
  while (end - p >= 8) {
    h ^= XxRound(0, Read64(p));
    h = Rotl(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= static_cast<std::uint64_t>(Read32(p)) * kP1;
    h = Rotl(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= static_cast<std::uint64_t>(*p) * kP5;
    h = Rotl(h, 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

void AppendEncodedString(std::string* out, std::string_view s) {
  const std::size_t n = s.size();
  if (n < 255) {
    out->push_back(static_cast<char>(n));
  } else {
    out->push_back(static_cast<char>(255));
    out->push_back(static_cast<char>(n & 0xff));
    out->push_back(static_cast<char>((n >> 8) & 0xff));
    out->push_back(static_cast<char>((n >> 16) & 0xff));
  }
  out->append(s);
}

}  // namespace

std::uint64_t PrometheusLabelsHash(LabelsRef ref) {
  std::string data;
  ForEachLabel(ref, [&data](const Label& l) {
    AppendEncodedString(&data, l.name);
    AppendEncodedString(&data, l.value);
  });
  return XxHash64(data);
}

double GoMax(double a, double b) noexcept {
  if ((std::isinf(a) && a > 0) || (std::isinf(b) && b > 0)) {
    return std::numeric_limits<double>::infinity();
  }
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (a == 0 && a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

double GoMin(double a, double b) noexcept {
  if ((std::isinf(a) && a < 0) || (std::isinf(b) && b < 0)) {
    return -std::numeric_limits<double>::infinity();
  }
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (a == 0 && a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool GoIsOddInt(double x) {
  if (std::fabs(x) >= 0x1p53) return false;  // so large it has no fraction: even
  double int_part;
  const double frac = std::modf(x, &int_part);
  return frac == 0 && (static_cast<std::int64_t>(int_part) & 1) == 1;
}

}  // namespace

double GoPow(double x, double y) noexcept {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // Go's special cases, in Go's order.
  if (y == 0 || x == 1) return 1;
  if (y == 1) return x;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) {
    if (y < 0) return std::signbit(x) && GoIsOddInt(y) ? -kInf : kInf;
    return std::signbit(x) && GoIsOddInt(y) ? x : 0;
  }
  if (std::isinf(y)) {
    if (x == -1) return 1;
    return (std::fabs(x) < 1) == (y > 0) ? 0 : kInf;
  }
  if (std::isinf(x)) {
    if (x < 0) return GoPow(1 / x, -y);  // Pow(-0, -y)
    return y < 0 ? 0 : kInf;
  }
  if (y == 0.5) return std::sqrt(x);
  if (y == -0.5) return 1 / std::sqrt(x);

  double yi;
  double yf = std::modf(std::fabs(y), &yi);
  if (yf != 0 && x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (yi >= 0x1p63) {
    // A huge even integer: overflow or underflow for every x but -1.
    if (x == -1) return 1;
    return (std::fabs(x) < 1) == (y > 0) ? 0 : kInf;
  }
  // The result is a1 * 2^ae.
  double a1 = 1;
  std::int64_t ae = 0;
  if (yf != 0) {
    if (yf > 0.5) {
      yf--;
      yi++;
    }
    a1 = GoExp(yf * std::log(x));  // Go's own Log may differ in the last bit
  }
  int xe_int;
  double x1 = std::frexp(x, &xe_int);
  std::int64_t xe = xe_int;
  for (auto i = static_cast<std::int64_t>(yi); i != 0; i >>= 1) {
    if (xe < -(1 << 12) || (1 << 12) < xe) {
      ae += xe;  // certain overflow or underflow
      break;
    }
    if ((i & 1) == 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe <<= 1;
    if (x1 < .5) {
      x1 += x1;
      xe--;
    }
  }
  if (y < 0) {
    a1 = 1 / a1;
    ae = -ae;
  }
  ae = std::clamp<std::int64_t>(ae, -100000, 100000);  // beyond this ldexp gives 0 or Inf anyway
  return std::ldexp(a1, static_cast<int>(ae));
}

double GoExp(double x) noexcept {
  // Measured with promtool 2.42: exp(709.43613930310) is finite,
  // exp(709.436139303104) is +Inf.
  if (x >= 709.436139303104) return std::numeric_limits<double>::infinity();
  return std::exp(x);
}

double GoCosh(double x) noexcept {
  x = std::fabs(x);
  const double ex = GoExp(x);
  if (x > 21) return ex * 0.5;
  return (ex + 1 / ex) * 0.5;
}

double GoSinh(double x) noexcept {
  const double ax = std::fabs(x);
  if (ax <= 0.5) return std::sinh(x);  // Go uses a rational approximation here
  const double ex = GoExp(ax);
  const double r = ax > 21 ? ex * 0.5 : (ex - 1 / ex) * 0.5;
  return x < 0 ? -r : r;
}

bool IsLeapYear(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

CivilTime ToCivil(std::int64_t unix_secs) noexcept {
  // Go's time package (1.19, as Prometheus 2.42 is built): unsigned seconds
  // since Jan 1 of year -292277022399 (a Monday), wrapping around at 2^64 as
  // Go does. So NaN and +-Inf, which arrive here as MinInt64, give a date in
  // the year 292277026596, exactly as promtool shows.
  constexpr std::uint64_t kUnixToAbsolute = 9223372028715321600ull;
  constexpr std::int64_t kAbsoluteZeroYear = -292277022399;
  constexpr std::uint64_t kDaysPer400Years = 365 * 400 + 97;
  constexpr std::uint64_t kDaysPer100Years = 365 * 100 + 24;
  constexpr std::uint64_t kDaysPer4Years = 365 * 4 + 1;
  const std::uint64_t abs = static_cast<std::uint64_t>(unix_secs) + kUnixToAbsolute;
  CivilTime c;
  c.hour = static_cast<int>(abs % 86400 / 3600);
  c.minute = static_cast<int>(abs % 3600 / 60);
  c.second = static_cast<int>(abs % 60);
  c.weekday = static_cast<int>((abs + 86400) % (7 * 86400) / 86400);  // 0 = Sunday
  // Whole 400-, 100-, 4- and 1-year cycles; `n -= n >> 2` handles the last
  // day of a 400-year (or 4-year) cycle.
  std::uint64_t d = abs / 86400;
  std::uint64_t n = d / kDaysPer400Years;
  std::uint64_t y = 400 * n;
  d -= kDaysPer400Years * n;
  n = d / kDaysPer100Years;
  n -= n >> 2;
  y += 100 * n;
  d -= kDaysPer100Years * n;
  n = d / kDaysPer4Years;
  y += 4 * n;
  d -= kDaysPer4Years * n;
  n = d / 365;
  n -= n >> 2;
  y += n;
  d -= 365 * n;
  c.year = static_cast<std::int64_t>(y) + kAbsoluteZeroYear;
  int day = static_cast<int>(d);  // 0-based day of the year
  c.yday = day + 1;
  if (IsLeapYear(c.year)) {
    if (day == 31 + 29 - 1) {
      c.month = 2;
      c.day = 29;
      return c;
    }
    if (day > 31 + 29 - 1) --day;
  }
  static constexpr int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
  int month = day / 31;  // 0-based; one too small near month ends
  if (day >= kDaysBefore[month + 1]) ++month;
  c.month = month + 1;
  c.day = day - kDaysBefore[month] + 1;
  return c;
}

bool IsValidLabelNameFor(std::string_view name, bool legacy) noexcept {
  if (name.empty()) return false;
  if (!legacy) return IsValidUtf8(name);
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool NaturalLess(std::string_view a, std::string_view b) noexcept {
  const std::size_t ln_a = a.size();
  const std::size_t ln_b = b.size();
  std::size_t posa = 0;
  std::size_t posb = 0;
  for (;;) {
    if (ln_a <= posa) return ln_b > posb;
    if (ln_b <= posb) return false;
    char av = a[posa];
    char bv = b[posb];
    if (IsDigit(av) && IsDigit(bv)) {
      std::size_t intlna = 1;
      std::size_t intlnb = 1;
      for (;;) {
        if (posa + intlna >= ln_a) break;
        const char x = a[posa + intlna];
        if (av == '0') {
          ++posa;
          av = x;
          continue;
        }
        if (IsDigit(x)) {
          ++intlna;
        } else {
          break;
        }
      }
      for (;;) {
        if (posb + intlnb >= ln_b) break;
        const char x = b[posb + intlnb];
        if (bv == '0') {
          ++posb;
          bv = x;
          continue;
        }
        if (IsDigit(x)) {
          ++intlnb;
        } else {
          break;
        }
      }
      if (intlnb > intlna) return true;
      if (intlna > intlnb) return false;
      const int v = a.substr(posa, intlna).compare(b.substr(posb, intlnb));
      if (v < 0) return true;
      if (v > 0) return false;
      posa += intlna;
      posb += intlnb;
      continue;
    }
    if (av == bv) {
      ++posa;
      ++posb;
      continue;
    }
    return static_cast<unsigned char>(av) < static_cast<unsigned char>(bv);
  }
}

}  // namespace nimify::promql::eval_internal
