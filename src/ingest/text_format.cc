#include "ingest/text_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ingest/go_float.h"
#include "ingest/series_checks.h"

namespace nimify::ingest {

namespace {

bool IsLabelStart(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsLabelChar(char c) noexcept { return IsLabelStart(c) || (c >= '0' && c <= '9'); }
bool IsMetricStart(char c) noexcept { return IsLabelStart(c) || c == ':'; }
bool IsMetricChar(char c) noexcept { return IsLabelChar(c) || c == ':'; }
bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

bool StartsWith(const char* p, const char* end, std::string_view prefix) noexcept {
  return static_cast<std::size_t>(end - p) >= prefix.size() &&
         std::memcmp(p, prefix.data(), prefix.size()) == 0;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// The metric type of the last TYPE line: it decides `le`/`quantile` rewriting.
enum class MetricType : std::uint8_t { kOther, kHistogram, kSummary };

// Series seen in this exposition, for duplicate detection: open addressing on
// the hash of the sorted label set.
class SeenSeries {
 public:
  struct Entry {
    std::uint64_t hash = 0;
    std::size_t series_index = 0;
    std::size_t line_offset = 0;
    bool used = false;
  };

  static std::uint64_t Hash(std::span<const LabelPair> labels) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ull;
    for (const LabelPair& l : labels) {
      h = Mix(h, l.name);
      h = Mix(h, l.value);
    }
    return h ^ (h >> 31);
  }

  // Multiply-xor over 8-byte words: fast, and good enough for a probe table
  // whose hits are confirmed by comparing the labels.
  static std::uint64_t Mix(std::uint64_t h, std::string_view s) noexcept {
    constexpr std::uint64_t kMul = 0xff51afd7ed558ccdull;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * kMul;
      h ^= h >> 32;
    }
    std::uint64_t tail = s.size();  // the length separates "ab","c" from "a","bc"
    for (; i < s.size(); ++i) tail = (tail << 8) | static_cast<unsigned char>(s[i]);
    h = (h ^ tail) * kMul;
    return h ^ (h >> 29);
  }

  // The entry for an equal label set, or null.
  const Entry* Find(std::uint64_t hash, std::span<const LabelPair> labels,
                    const Batch& batch) const noexcept {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (!e.used) return nullptr;
      if (e.hash == hash) {
        const std::span<const LabelPair> other = batch.series(e.series_index).labels;
        if (std::equal(labels.begin(), labels.end(), other.begin(), other.end())) return &e;
      }
    }
  }

  void Insert(std::uint64_t hash, std::size_t series_index, std::size_t line_offset) {
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    std::size_t i = hash & mask_;
    while (slots_[i].used) i = (i + 1) & mask_;
    slots_[i] = Entry{hash, series_index, line_offset, true};
    ++count_;
  }

 private:
  void Grow() {
    std::vector<Entry> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Entry());
    mask_ = slots_.size() - 1;
    for (const Entry& e : old) {
      if (!e.used) continue;
      std::size_t i = e.hash & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }

  std::vector<Entry> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

class TextParser {
 public:
  TextParser(std::string_view body, bool openmetrics, const TextOptions& options,
             const Limits& limits, BatchBuilder* builder)
      : begin_(body.data()),
        p_(body.data()),
        end_(body.data() + body.size()),
        om_(openmetrics),
        options_(options),
        limits_(limits),
        b_(*builder) {}

  Status Run() {
    while (true) {
      if (!om_) SkipBlanks();
      if (p_ >= end_) {
        if (om_) return Fail(p_, "data does not end with # EOF");
        return Status::Ok();
      }
      const char c = *p_;
      if (c == '#') {
        bool eof = false;
        NIMIFY_RETURN_IF_ERROR(om_ ? OpenMetricsComment(&eof) : PromComment());
        if (eof) return Status::Ok();
      } else if (c == '{' || IsMetricStart(c)) {
        NIMIFY_RETURN_IF_ERROR(SeriesLine());
      } else if (c == '\n' && !om_) {
        ++p_;  // blank line
      } else {
        return Fail(p_,
                    "expected a metric name, '{' or '#' at the start of a line, got " + Got(p_));
      }
    }
  }

 private:
  // --- Errors -------------------------------------------------------------

  Status Fail(const char* at, std::string message,
              StatusCode code = StatusCode::kParseError) const {
    std::size_t line = 1;
    const char* line_start = begin_;
    for (const char* q = begin_; q < at; ++q) {
      if (*q == '\n') {
        ++line;
        line_start = q + 1;
      }
    }
    std::string out = om_ ? "openmetrics: line " : "text format: line ";
    out += std::to_string(line) + ":" + std::to_string(at - line_start + 1) + ": ";
    out += message;
    return Status(code, std::move(out));
  }

  std::string Got(const char* at) const {
    if (at >= end_) return "end of input";
    if (*at == '\n') return "end of line";
    const char* stop = at;
    while (stop < end_ && *stop != '\n' && stop - at < 16) ++stop;
    return internal::Quote(std::string_view(at, static_cast<std::size_t>(stop - at)));
  }

  // --- Lexing helpers -------------------------------------------------------

  void SkipBlanks() noexcept {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t')) ++p_;
  }

  const char* EndOfLine(const char* from) const noexcept {
    const void* nl = std::memchr(from, '\n', static_cast<std::size_t>(end_ - from));
    return nl ? static_cast<const char*>(nl) : end_;
  }

  // A quoted string `"(\\.|[^\\"])*"` starting at p_ ('"'); a backslash never
  // escapes a newline. On success p_ is past the closing quote and `*raw` is
  // the text between the quotes, still escaped.
  bool ScanQuoted(bool allow_newline, bool allow_nul, std::string_view* raw,
                  bool* escaped = nullptr) noexcept {
    const char* q = p_ + 1;
    bool saw_backslash = false;
    while (q < end_) {
      const char c = *q;
      if (c == '"') {
        *raw = std::string_view(p_ + 1, static_cast<std::size_t>(q - p_ - 1));
        p_ = q + 1;
        if (escaped != nullptr) *escaped = saw_backslash;
        return true;
      }
      if (c == '\\') {
        if (q + 1 >= end_ || q[1] == '\n') return false;
        saw_backslash = true;
        q += 2;
        continue;
      }
      if ((c == '\n' && !allow_newline) || (c == '\0' && !allow_nul)) return false;
      ++q;
    }
    return false;
  }

  // Label text into the arena with \\, \" and \n replaced; any other pair is kept.
  std::string_view Unescape(std::string_view raw, bool escaped = true) {
    if (!escaped || raw.find('\\') == std::string_view::npos) return Intern(raw);
    char* out = b_.AllocateBytes(raw.size());
    std::size_t n = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        const char next = raw[i + 1];
        if (next == '\\' || next == '"' || next == 'n') {
          out[n++] = next == 'n' ? '\n' : next;
          ++i;
          continue;
        }
      }
      out[n++] = raw[i];
    }
    return std::string_view(out, n);
  }

  // A stable copy of `text`, shared with an earlier equal string when the small
  // direct-mapped cache has one: label names and many values repeat line after
  // line, so most lookups avoid the copy.
  std::string_view Intern(std::string_view text) {
    if (text.empty()) return {};
    const std::size_t slot = (text.size() * 31 + static_cast<unsigned char>(text.front()) * 7 +
                              static_cast<unsigned char>(text[text.size() / 2]) * 3 +
                              static_cast<unsigned char>(text.back())) %
                             kInternSlots;
    std::string_view& cached = interned_[slot];
    if (cached != text) cached = b_.CopyString(text);
    return cached;
  }

  // A run of bytes up to a separator. 0.0.4 values stop at blank, tab, '{' or
  // newline; OpenMetrics tokens at a space or newline.
  std::string_view Token() noexcept {
    const char* start = p_;
    if (om_) {
      while (p_ < end_ && *p_ != ' ' && *p_ != '\n') ++p_;
    } else {
      while (p_ < end_ && *p_ != ' ' && *p_ != '\t' && *p_ != '\n' && *p_ != '{') ++p_;
    }
    return std::string_view(start, static_cast<std::size_t>(p_ - start));
  }

  // --- Comments and metadata ----------------------------------------------

  Status PromComment() {
    const char* hash = p_;
    ++p_;
    if (p_ < end_ && (*p_ == ' ' || *p_ == '\t')) {
      SkipBlanks();
      for (std::string_view kind : {std::string_view("HELP"), std::string_view("TYPE")}) {
        if (StartsWith(p_, end_, kind) && p_ + 4 < end_ && (p_[4] == ' ' || p_[4] == '\t')) {
          p_ += 4;
          SkipBlanks();
          return Metadata(hash, kind);
        }
      }
    }
    p_ = EndOfLine(p_);  // an ordinary comment
    if (p_ < end_) ++p_;
    return Status::Ok();
  }

  Status OpenMetricsComment(bool* eof) {
    const char* hash = p_;
    if (!StartsWith(p_, end_, "# ")) {
      return Fail(p_, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got " + Got(p_));
    }
    p_ += 2;
    if (StartsWith(p_, end_, "EOF")) {
      p_ += 3;
      if (p_ < end_ && *p_ == '\n') ++p_;
      if (p_ != end_) return Fail(p_, "unexpected data after # EOF");
      *eof = true;
      return Status::Ok();
    }
    for (std::string_view kind :
         {std::string_view("HELP"), std::string_view("TYPE"), std::string_view("UNIT")}) {
      if (StartsWith(p_, end_, kind) && p_ + 4 < end_ && p_[4] == ' ') {
        p_ += 5;
        return Metadata(hash, kind);
      }
    }
    return Fail(hash, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got " + Got(hash));
  }

  // After "# HELP " etc.: a metric name (maybe quoted), then the text.
  Status Metadata(const char* line_start, std::string_view kind) {
    const char* name_at = p_;
    std::string_view name;
    if (p_ < end_ && *p_ == '"') {
      if (!ScanQuoted(/*allow_newline=*/true, /*allow_nul=*/false, &name)) {
        return Fail(name_at, "unterminated quoted metric name after " + std::string(kind));
      }
    } else if (p_ < end_ && IsMetricStart(*p_)) {
      while (p_ < end_ && IsMetricChar(*p_)) ++p_;
      name = std::string_view(name_at, static_cast<std::size_t>(p_ - name_at));
    } else {
      return Fail(p_, "expected metric name after " + std::string(kind) + ", got " + Got(p_));
    }
    const char* eol = EndOfLine(p_);
    std::string_view text;
    if (om_) {
      // Exactly one space, then the text, then a newline.
      if (p_ >= end_ || *p_ != ' ' || eol == end_) {
        return Fail(p_, "expected a space and text after the metric name in " + std::string(kind));
      }
      text = std::string_view(p_ + 1, static_cast<std::size_t>(eol - p_ - 1));
    } else {
      // Prometheus drops the one separator character before the text.
      text = std::string_view(p_, static_cast<std::size_t>(eol - p_));
      text = text.size() > 1 ? text.substr(1) : std::string_view();
    }
    if (kind == "TYPE") {
      NIMIFY_RETURN_IF_ERROR(SetType(p_ + (p_ < eol ? 1 : 0), text));
    } else if (kind == "HELP") {
      if (!internal::IsValidUtf8(text)) return Fail(p_, "help text is not valid UTF-8");
    } else if (!text.empty()) {  // UNIT: must end the metric name as "_<unit>"
      if (name.size() < text.size() + 1 || !name.ends_with(text) ||
          name[name.size() - text.size() - 1] != '_') {
        return Fail(line_start, "unit " + internal::Quote(text) + " is not a suffix of metric " +
                                    internal::Quote(name));
      }
    }
    p_ = eol < end_ ? eol + 1 : end_;
    return Status::Ok();
  }

  Status SetType(const char* at, std::string_view text) {
    static constexpr std::string_view kPromTypes[] = {"counter", "gauge", "histogram", "summary",
                                                      "untyped"};
    static constexpr std::string_view kOpenMetricsTypes[] = {
        "counter", "gauge", "histogram", "gaugehistogram",
        "summary", "info",  "stateset",  "unknown"};
    const std::span<const std::string_view> types =
        om_ ? std::span<const std::string_view>(kOpenMetricsTypes)
            : std::span<const std::string_view>(kPromTypes);
    if (std::find(types.begin(), types.end(), text) == types.end()) {
      return Fail(at, "invalid metric type " + internal::Quote(text));
    }
    type_ = text == "histogram" ? MetricType::kHistogram
            : text == "summary" ? MetricType::kSummary
                                : MetricType::kOther;
    return Status::Ok();
  }

  // --- Series ---------------------------------------------------------------

  Status SeriesLine() {
    const char* line_start = p_;
    bool has_name = false;
    if (IsMetricStart(*p_)) {
      const char* start = p_;
      while (p_ < end_ && IsMetricChar(*p_)) ++p_;
      const std::string_view name(start, static_cast<std::size_t>(p_ - start));
      NIMIFY_RETURN_IF_ERROR(AddLabel(start, promql::kMetricNameLabel, Intern(name)));
      has_name = true;
      if (!om_) SkipBlanks();
    }
    if (p_ < end_ && *p_ == '{') {
      ++p_;
      NIMIFY_RETURN_IF_ERROR(Labels(/*exemplar=*/false, &has_name));
    }
    if (!has_name) return Fail(line_start, "metric name not set");

    // The value.
    const char* value_at = p_;
    if (om_) {
      if (p_ >= end_ || *p_ != ' ') {
        return Fail(p_, "expected a space and the value after the metric, got " + Got(p_));
      }
      value_at = ++p_;
    } else {
      SkipBlanks();
      value_at = p_;
    }
    const std::string_view value_text = Token();
    if (value_text.empty()) return Fail(value_at, "expected value after metric, got " + Got(p_));
    Result<double> value = internal::ParsePromFloat(value_text);
    if (!value.ok()) return Fail(value_at, std::string(value.status().message()));

    // Timestamp, exemplar, end of line.
    bool has_timestamp = false;
    std::int64_t timestamp = options_.default_timestamp_ms;
    if (om_) {
      NIMIFY_RETURN_IF_ERROR(OpenMetricsLineEnd(&has_timestamp, &timestamp));
    } else {
      NIMIFY_RETURN_IF_ERROR(PromLineEnd(&has_timestamp, &timestamp));
    }

    if (Status s = internal::FinishLabels(b_, limits_); !s.ok()) {
      return Fail(line_start, std::string(s.message()), s.code());
    }
    const std::span<const LabelPair> labels = b_.pending_labels();
    const std::uint64_t hash = SeenSeries::Hash(labels);
    if (const SeenSeries::Entry* seen = seen_.Find(hash, labels, b_.batch())) {
      if (!has_timestamp) {
        if (options_.reject_duplicate_series) {
          return Fail(line_start,
                      "duplicate series " +
                          b_.batch().series(seen->series_index).ToLabels().ToString() +
                          " (first at line " + std::to_string(LineOf(seen->line_offset)) + ")",
                      StatusCode::kInvalidArgument);
        }
        ++b_.stats().duplicates_dropped;
        b_.DiscardSeries();
        return Status::Ok();
      }
    } else {
      seen_.Insert(hash, b_.batch().series_count(), static_cast<std::size_t>(line_start - begin_));
    }
    if (b_.samples_added() >= limits_.max_samples) {
      return Fail(line_start,
                  "more than the limit of " + std::to_string(limits_.max_samples) + " samples",
                  StatusCode::kResourceExhausted);
    }
    b_.AddSample(timestamp, *value);
    b_.FinishSeries();
    return Status::Ok();
  }

  std::size_t LineOf(std::size_t offset) const noexcept {
    return 1 + static_cast<std::size_t>(std::count(begin_, begin_ + offset, '\n'));
  }

  Status PromLineEnd(bool* has_timestamp, std::int64_t* timestamp) {
    SkipBlanks();
    if (p_ >= end_ || *p_ == '\n') {
      if (p_ < end_) ++p_;
      return Status::Ok();
    }
    if (!IsDigit(*p_)) return Fail(p_, "expected timestamp or end of line, got " + Got(p_));
    const char* start = p_;
    std::uint64_t ms = 0;
    bool overflow = false;
    while (p_ < end_ && IsDigit(*p_)) {
      ms = ms * 10 + static_cast<std::uint64_t>(*p_ - '0');
      if (ms > static_cast<std::uint64_t>(INT64_MAX)) overflow = true;
      ++p_;
    }
    if (overflow || p_ - start > 19) {
      return Fail(start, "timestamp " +
                             internal::Quote(
                                 std::string_view(start, static_cast<std::size_t>(p_ - start))) +
                             " is out of range");
    }
    SkipBlanks();
    if (p_ < end_ && *p_ != '\n') {
      return Fail(p_, "expected end of line after timestamp, got " + Got(p_));
    }
    if (p_ < end_) ++p_;
    *has_timestamp = true;
    *timestamp = static_cast<std::int64_t>(ms);
    return Status::Ok();
  }

  // Prometheus converts with int64(seconds * 1000); out-of-range values are
  // undefined there and an error here.
  Result<std::int64_t> SecondsToMs(const char* at, std::string_view text, const char* what) {
    Result<double> seconds = internal::ParsePromFloat(text);
    if (!seconds.ok()) return Fail(at, std::string(seconds.status().message()));
    if (std::isnan(*seconds) || std::isinf(*seconds)) {
      return Fail(at, std::string("invalid ") + what + " " + std::string(text));
    }
    const double ms = *seconds * 1000.0;
    if (!(ms > -9.2233720368547758e18 && ms < 9.2233720368547758e18)) {
      return Fail(at, std::string(what) + " " + std::string(text) + " is out of range");
    }
    return static_cast<std::int64_t>(ms);
  }

  Status OpenMetricsLineEnd(bool* has_timestamp, std::int64_t* timestamp) {
    if (p_ >= end_) return Fail(p_, "data does not end with # EOF");
    if (*p_ == '\n') {
      ++p_;
      return Status::Ok();
    }
    if (StartsWith(p_, end_, " # {")) return Exemplar();
    if (*p_ != ' ') return Fail(p_, "expected timestamp or end of line, got " + Got(p_));
    const char* ts_at = ++p_;
    const std::string_view ts_text = Token();
    if (ts_text.empty()) return Fail(ts_at, "expected timestamp, got " + Got(p_));
    NIMIFY_ASSIGN_OR_RETURN(*timestamp, SecondsToMs(ts_at, ts_text, "timestamp"));
    *has_timestamp = true;
    if (p_ >= end_) return Fail(p_, "data does not end with # EOF");
    if (*p_ == '\n') {
      ++p_;
      return Status::Ok();
    }
    if (StartsWith(p_, end_, " # {")) return Exemplar();
    return Fail(p_, "expected end of line or exemplar after timestamp, got " + Got(p_));
  }

  // ` # {labels} value [timestamp]` after a sample: checked, then skipped.
  Status Exemplar() {
    p_ += 4;
    bool no_name = false;  // unused: Labels() refuses a metric name in an exemplar
    NIMIFY_RETURN_IF_ERROR(Labels(/*exemplar=*/true, &no_name));
    if (p_ >= end_ || *p_ != ' ') {
      return Fail(p_, "expected value after exemplar labels, got " + Got(p_));
    }
    const char* value_at = ++p_;
    const std::string_view value_text = Token();
    if (value_text.empty()) return Fail(value_at, "expected exemplar value, got " + Got(p_));
    if (Result<double> v = internal::ParsePromFloat(value_text); !v.ok()) {
      return Fail(value_at, std::string(v.status().message()));
    }
    if (p_ < end_ && *p_ == ' ') {
      const char* ts_at = ++p_;
      const std::string_view ts_text = Token();
      if (ts_text.empty()) return Fail(ts_at, "expected exemplar timestamp, got " + Got(p_));
      NIMIFY_RETURN_IF_ERROR(SecondsToMs(ts_at, ts_text, "exemplar timestamp").status());
    }
    if (p_ >= end_) return Fail(p_, "data does not end with # EOF");
    if (*p_ != '\n') return Fail(p_, "expected end of line after exemplar, got " + Got(p_));
    ++p_;
    ++b_.stats().exemplars_skipped;
    return Status::Ok();
  }

  // After '{': label pairs up to '}'. A quoted string followed by ',' or '}' is
  // the metric name. Exemplar labels are checked for syntax only.
  Status Labels(bool exemplar, bool* has_name) {
    while (true) {
      if (!om_) SkipBlanks();
      const char* name_at = p_;
      if (p_ >= end_) return Fail(p_, "expected label name or '}', got end of input");
      std::string_view name_raw;
      bool quoted = false;
      if (*p_ == '}') {
        ++p_;
        return Status::Ok();
      }
      if (IsLabelStart(*p_)) {
        while (p_ < end_ && IsLabelChar(*p_)) ++p_;
        name_raw = std::string_view(name_at, static_cast<std::size_t>(p_ - name_at));
      } else if (*p_ == '"') {
        if (!ScanQuoted(/*allow_newline=*/!om_, /*allow_nul=*/false, &name_raw)) {
          return Fail(name_at, "unterminated quoted label name");
        }
        quoted = true;
      } else {
        return Fail(p_, "expected label name or '}', got " + Got(p_));
      }
      if (!om_) SkipBlanks();
      if (quoted && p_ < end_ && (*p_ == ',' || *p_ == '}')) {
        if (exemplar) return Fail(name_at, "expected label name, got a bare quoted string");
        if (*has_name) return Fail(name_at, "metric name already set");
        *has_name = true;
        NIMIFY_RETURN_IF_ERROR(AddLabel(name_at, promql::kMetricNameLabel, Unescape(name_raw)));
        if (*p_++ == '}') return Status::Ok();
        continue;
      }
      if (p_ >= end_ || *p_ != '=') {
        return Fail(p_, "expected '=' after label name, got " + Got(p_));
      }
      ++p_;
      if (!om_) SkipBlanks();
      const char* value_at = p_;
      std::string_view value_raw;
      bool value_escaped = false;
      if (p_ >= end_ || *p_ != '"') {
        return Fail(p_, "expected label value (a quoted string), got " + Got(p_));
      }
      if (!ScanQuoted(/*allow_newline=*/!om_, /*allow_nul=*/!exemplar, &value_raw,
                      &value_escaped)) {
        return Fail(value_at, "unterminated or invalid label value");
      }
      if (!internal::IsValidUtf8(value_raw)) {
        return Fail(value_at, "label value is not valid UTF-8");
      }
      if (!exemplar) {
        const std::string_view name = quoted ? Unescape(name_raw) : Intern(name_raw);
        std::string_view value = Unescape(value_raw, value_escaped);
        if (options_.normalize_bucket_labels &&
            ((type_ == MetricType::kHistogram && name == "le") ||
             (type_ == MetricType::kSummary && name == "quantile"))) {
          if (Result<double> f = internal::ParsePromFloat(value); f.ok()) {
            value = b_.CopyString(internal::FormatOpenMetricsFloat(*f));
          }
        }
        NIMIFY_RETURN_IF_ERROR(AddLabel(name_at, name, value));
      }
      if (!om_) SkipBlanks();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
      } else if (om_ && (p_ >= end_ || *p_ != '}')) {
        return Fail(p_, "expected ',' or '}' after label value, got " + Got(p_));
      }
      // 0.0.4 also accepts a missing comma between pairs, as Prometheus does.
    }
  }

  Status AddLabel(const char* at, std::string_view name, std::string_view value) {
    if (!internal::LabelIsValid(name, value, limits_)) [[unlikely]] {
      const Status s = internal::CheckLabel(name, value, limits_);
      return Fail(at, std::string(s.message()), s.code());
    }
    if (internal::LabelsFull(b_, limits_)) [[unlikely]] {
      const Status s = internal::LabelCountError(limits_);
      return Fail(at, std::string(s.message()), s.code());
    }
    b_.AddLabel(name, value);
    return Status::Ok();
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const bool om_;
  const TextOptions& options_;
  const Limits& limits_;
  BatchBuilder& b_;
  MetricType type_ = MetricType::kOther;
  SeenSeries seen_;
  static constexpr std::size_t kInternSlots = 64;
  std::string_view interned_[kInternSlots];
};

}  // namespace

TextFormat TextFormatFromContentType(std::string_view content_type) noexcept {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (EqualsIgnoreCase(media, "application/openmetrics-text")) return TextFormat::kOpenMetrics;
  if (EqualsIgnoreCase(media, "text/plain")) return TextFormat::kPrometheus;
  return TextFormat::kAuto;
}

TextFormat DetectTextFormat(std::string_view body) noexcept {
  std::string_view rest = body;
  if (rest.ends_with('\n')) rest.remove_suffix(1);
  if (rest == "# EOF" || rest.ends_with("\n# EOF")) return TextFormat::kOpenMetrics;
  return TextFormat::kPrometheus;
}

Status DecodeText(std::string_view body, const TextOptions& options, const Limits& limits,
                  Batch* out) {
  TextFormat format = options.format;
  if (format == TextFormat::kAuto) format = DetectTextFormat(body);
  const bool om = format == TextFormat::kOpenMetrics;
  if (body.size() > limits.max_body_bytes) {
    return Status::ResourceExhausted(std::string(om ? "openmetrics" : "text format") +
                                     ": body is " + std::to_string(body.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(limits.max_body_bytes));
  }
  BatchBuilder builder(out);
  TextParser parser(body, om, options, limits, &builder);
  NIMIFY_RETURN_IF_ERROR(parser.Run());
  builder.Commit();
  return Status::Ok();
}

}  // namespace nimify::ingest
