// Helpers shared by the evaluator's files: label views without copies,
// hashing, Go-compatible number formatting and parsing, and a sort that is
// safe with inconsistent comparators (Go's NaN orderings are not strict weak
// orders, so std::sort could run out of bounds on them).
#ifndef NIMIFY_PROMQL_EVAL_EVAL_UTIL_H_
#define NIMIFY_PROMQL_EVAL_EVAL_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/go_strconv.h"
#include "common/utf8.h"
#include "promql/eval/scratch_alloc.h"
#include "promql/labels.h"

namespace nimify::promql::eval_internal {

// Which reserved labels a LabelsRef hides. Dropping __name__ is by far the
// most common label change, so it is a flag on a shared label set instead of
// a copy. Prometheus 2 drops only __name__; Prometheus 3 also drops
// __type__ and __unit__ together with it.
enum class Hide : std::uint8_t { kNone, kName, kMeta };

inline bool IsHiddenName(std::string_view name, Hide hide) noexcept {
  if (hide == Hide::kNone || name.size() < 8 || name[0] != '_' || name[1] != '_') return false;
  if (name == kMetricNameLabel) return true;
  return hide == Hide::kMeta && (name == "__type__" || name == "__unit__");
}

// Keeps only, or drops, the listed label names: aggregation groups are
// views of one input series through such a filter rather than copies.
struct LabelFilter {
  bool keep = true;                // true: only `names`; false: all but `names`
  std::vector<std::string> names;  // sorted, unique
  bool Listed(std::string_view name) const noexcept {
    for (const std::string& n : names) {
      if (n == name) return true;
    }
    return false;
  }
};

// A label set seen through a Hide and an optional filter. `base` and
// `filter` must outlive the query.
struct LabelsRef {
  const Labels* base = nullptr;
  Hide hide = Hide::kNone;
  const LabelFilter* filter = nullptr;
};

// Series' label sets are scattered and three dependent loads deep (the
// Labels, its shared representation, the label array). Loops over many series
// call this at each index: it prefetches in stages a few series ahead, so that
// the misses overlap instead of stalling one after another. `labels_at(j)`
// returns the j-th series' `const Labels*`.
template <typename LabelsAt>
inline void PrefetchLabelsAhead(std::size_t i, std::size_t n, LabelsAt&& labels_at) noexcept {
  constexpr std::size_t kObject = 24, kRep = 16, kArray = 8;
  if (i + kObject < n) __builtin_prefetch(labels_at(i + kObject));
  if (i + kRep < n) __builtin_prefetch(&labels_at(i + kRep)->items());
  if (i + kArray < n) {
    const std::vector<Label>& items = labels_at(i + kArray)->items();
    const char* p = reinterpret_cast<const char*>(items.data());
    const std::size_t lines = std::min<std::size_t>(items.size() * sizeof(Label) / 64 + 1, 8);
    for (std::size_t l = 0; l < lines; ++l) __builtin_prefetch(p + l * 64);
  }
}

inline bool IsVisible(const LabelsRef& ref, std::string_view name) noexcept {
  if (ref.hide != Hide::kNone && IsHiddenName(name, ref.hide)) return false;
  return ref.filter == nullptr || ref.filter->keep == ref.filter->Listed(name);
}

inline bool IsPlain(const LabelsRef& ref) noexcept {
  return ref.hide == Hide::kNone && ref.filter == nullptr;
}

inline bool SameView(const LabelsRef& a, const LabelsRef& b) noexcept {
  return a.base == b.base && a.hide == b.hide && a.filter == b.filter;
}

template <typename F>
inline void ForEachLabel(LabelsRef ref, F&& fn) {
  if (IsPlain(ref)) {
    for (const Label& l : *ref.base) fn(l);
    return;
  }
  for (const Label& l : *ref.base) {
    if (IsVisible(ref, l.name)) fn(l);
  }
}

std::string_view GetLabel(LabelsRef ref, std::string_view name) noexcept;
bool LabelsEqual(LabelsRef a, LabelsRef b) noexcept;
// Prometheus's labels.Compare over the visible labels.
int CompareLabels(LabelsRef a, LabelsRef b) noexcept;
Labels Materialize(LabelsRef ref);
// Prometheus's labels.String(): `{a="b", c="d"}` (no name outside braces).
std::string LabelsString(LabelsRef ref);

// 64-bit streaming hash (not FNV: this one mixes eight bytes at a time).
class Hasher {
 public:
  void Add(std::string_view s) noexcept {
    Mix(s.size() ^ 0x5bd1e9955bd1e995ull);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      Mix(w);
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, n);
      Mix(w ^ (static_cast<std::uint64_t>(n) << 56));
    }
  }
  void AddLabel(const Label& l) noexcept {
    Add(l.name);
    Add(l.value);
  }
  std::uint64_t Finish() const noexcept {
    std::uint64_t h = h_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }

 private:
  void Mix(std::uint64_t w) noexcept {
    h_ ^= w;
    h_ *= 0x9e3779b97f4a7c15ull;
    h_ = (h_ << 31) | (h_ >> 33);
    h_ *= 0xbf58476d1ce4e5b9ull;
  }
  std::uint64_t h_ = 0x243f6a8885a308d3ull;
};

// Hash of the visible labels. The hash of a set without __name__ (default
// vector matching, and results whose name is dropped) is cached in the set.
std::uint64_t HashLabels(LabelsRef ref) noexcept;
// Hash of the visible labels named in `sorted_names` (sorted, unique).
std::uint64_t HashForLabels(LabelsRef ref, std::span<const std::string> sorted_names) noexcept;
// Hash of the visible labels not in `sorted_names` and not __name__.
std::uint64_t HashWithoutLabels(LabelsRef ref, std::span<const std::string> sorted_names) noexcept;
// Hash of the visible labels not in `sorted_names` (__name__ included).
std::uint64_t HashExcluding(LabelsRef ref, std::span<const std::string> sorted_names) noexcept;

// Prometheus's labels.Hash() (xxhash64 of its string-labels encoding); used
// where the hash value itself is visible, as in limit_ratio's sampling.
std::uint64_t PrometheusLabelsHash(LabelsRef ref);

// Go's math.Max / math.Min (NaN wins, signed zeros ordered).
double GoMax(double a, double b) noexcept;
double GoMin(double a, double b) noexcept;

// Kahan-Neumaier increment as Prometheus's kahansum.Inc (Inf resets c).
inline void KahanInc(double inc, double* sum, double* c) noexcept {
  const double t = *sum + inc;
  if (std::isinf(t)) {
    *c = 0;
  } else if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}

// Prometheus 2.42's kahanSumInc (no Inf special case).
inline void KahanIncV2(double inc, double* sum, double* c) noexcept {
  const double t = *sum + inc;
  if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}

// Prometheus 3's running mean (avg, avg_over_time): a Kahan sum while it
// stays finite, then an incremental mean, so that large values neither
// overflow the sum nor lose the small ones.
struct RunningMean {
  double sum = 0;
  double c = 0;  // Kahan compensation of sum, then of mean
  double mean = 0;
  double count = 0;
  bool incremental = false;

  void Start(double f) noexcept {
    sum = f;
    c = 0;
    mean = f;
    count = 1;
    incremental = false;
  }
  void Add(double f) noexcept {
    count++;
    if (!incremental) {
      double s = sum, cc = c;
      KahanInc(f, &s, &cc);
      if (!std::isinf(s)) {
        sum = s;
        c = cc;
        return;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const double q = (count - 1) / count;
    double m = q * mean;
    double cc = q * c;
    KahanInc(f / count, &m, &cc);
    mean = m;
    c = cc;
  }
  double Result() const noexcept { return incremental ? mean + c : sum / count + c / count; }
};

// Go's math.Pow (as `^` computes it): integer powers by repeated squaring, so
// the result can differ from std::pow in the last bits, which `%` or the
// trigonometric functions of a huge power would make visible.
double GoPow(double x, double y) noexcept;
// Go's math.Exp on amd64 (Prometheus's platform): its assembly builds 2^k
// with k = round(x/ln 2), so it overflows to +Inf from 1023.5 ln 2 = 709.436...
// on, where std::exp stays finite up to 709.78.
double GoExp(double x) noexcept;
// Go's math.Cosh and math.Sinh: above |x| = 21 they are Exp(|x|)/2, which
// overflows to Inf about 0.7 sooner than std::cosh/std::sinh.
double GoCosh(double x) noexcept;
double GoSinh(double x) noexcept;

// Go's strconv.FormatFloat(v, 'g', -1, 64), which is also fmt's %v and %g.
inline std::string FormatGoG(double v) { return internal::FormatGoFloat(v, 'g', -1); }
// Go's strconv.FormatFloat(v, 'f', -1, 64).
inline std::string FormatGoF(double v) { return internal::FormatGoFloat(v, 'f', -1); }
// fmt's %.<prec>g and %f (precision 6).
inline std::string FormatGoGPrec(double v, int prec) {
  return internal::FormatGoFloat(v, 'g', prec);
}
inline std::string FormatGoFixed6(double v) { return internal::FormatGoFloat(v, 'f', 6); }
// Go's strconv.Quote (invalid UTF-8 bytes become \xNN).
using internal::GoQuote;
// Go's strconv.ParseFloat(s, 64); false on a syntax or range error.
inline bool ParseGoFloat(std::string_view s, double* out) {
  return internal::ParseGoFloat(s, out) == internal::GoNumError::kNone;
}

// A UTC calendar time, as Go's time.Unix(secs, 0).UTC() gives it.
struct CivilTime {
  std::int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0, minute = 0, second = 0;
  int weekday = 4;  // 0 = Sunday
  int yday = 1;     // 1..366
};
CivilTime ToCivil(std::int64_t unix_secs) noexcept;
bool IsLeapYear(std::int64_t year) noexcept;

using internal::IsValidUtf8;
// Label name validity: Prometheus 3 accepts any non-empty UTF-8; 2 the legacy charset.
bool IsValidLabelNameFor(std::string_view name, bool legacy) noexcept;

// facette/natsort's Compare (numeric runs compared as numbers).
bool NaturalLess(std::string_view a, std::string_view b) noexcept;

// An open-addressing map from 64-bit keys (hashes) to 32-bit indexes; one
// allocation, no per-entry nodes.
class IndexMap {
 public:
  explicit IndexMap(std::size_t expected = 8) { Reset(expected); }
  void Reset(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    slots_.assign(cap, Slot{0, kEmpty});
    mask_ = cap - 1;
    size_ = 0;
  }
  std::size_t size() const noexcept { return size_; }
  // Returns the value for `key`, inserting `value` if absent.
  std::pair<std::uint32_t, bool> TryEmplace(std::uint64_t key, std::uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    std::size_t i = Index(key);
    while (slots_[i].value != kEmpty) {
      if (slots_[i].key == key) return {slots_[i].value, false};
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, value};
    ++size_;
    return {value, true};
  }
  // True if `key` was not yet present.
  bool Insert(std::uint64_t key) { return TryEmplace(key, 0).second; }

 private:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  struct Slot {
    std::uint64_t key;
    std::uint32_t value;
  };
  std::size_t Index(std::uint64_t key) const noexcept {
    return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ull) >> 20) & mask_;
  }
  void Grow() {
    ScratchVec<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{0, kEmpty});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.value == kEmpty) continue;
      std::size_t i = Index(s.key);
      while (slots_[i].value != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  ScratchVec<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

// A stable merge sort that stays in bounds whatever the comparator does.
template <typename Vec, typename Less>
void SafeStableSort(Vec* v, Less less) {
  const std::size_t n = v->size();
  if (n < 2) return;
  if (n <= 12) {  // insertion sort, as Go does for short slices
    for (std::size_t i = 1; i < n; ++i) {
      for (std::size_t j = i; j > 0 && less((*v)[j], (*v)[j - 1]); --j) {
        std::swap((*v)[j], (*v)[j - 1]);
      }
    }
    return;
  }
  Vec buf(n);
  for (std::size_t width = 1; width < n; width *= 2) {
    for (std::size_t lo = 0; lo < n; lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, n);
      const std::size_t hi = std::min(lo + 2 * width, n);
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (less((*v)[j], (*v)[i])) {
          buf[k++] = std::move((*v)[j++]);
        } else {
          buf[k++] = std::move((*v)[i++]);
        }
      }
      while (i < mid) buf[k++] = std::move((*v)[i++]);
      while (j < hi) buf[k++] = std::move((*v)[j++]);
    }
    v->swap(buf);
  }
}

}  // namespace nimify::promql::eval_internal

#endif  // NIMIFY_PROMQL_EVAL_EVAL_UTIL_H_
