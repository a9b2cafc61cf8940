// Internals of the PromQL evaluator, shared by its files.
//
// The structure follows Prometheus's engine on purpose: every node is
// evaluated over all steps of the query at once and yields a matrix (one
// point per step for instant-vector and scalar nodes), so that series
// identity, error order and annotations come out as Prometheus's do. An
// instant query is a range query with one step.
#ifndef NIMIFY_PROMQL_EVAL_EVAL_INTERNAL_H_
#define NIMIFY_PROMQL_EVAL_EVAL_INTERNAL_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/eval/eval_util.h"
#include "promql/eval/scratch_alloc.h"
#include "promql/evaluator.h"
#include "promql/functions.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promql::eval_internal {

// Points of one series, with inline room for one (the instant case).
class PointVec {
 public:
  PointVec() = default;
  ~PointVec() { Free(); }
  PointVec(const PointVec& other) { *this = other; }
  PointVec& operator=(const PointVec& other) {
    if (this == &other) return *this;
    size_ = 0;
    reserve(other.size_);
    for (std::uint32_t i = 0; i < other.size_; ++i) data()[i] = other.data()[i];
    size_ = other.size_;
    return *this;
  }
  PointVec(PointVec&& other) noexcept { Steal(&other); }
  PointVec& operator=(PointVec&& other) noexcept {
    if (this != &other) {
      Free();
      Steal(&other);
    }
    return *this;
  }

  Point* data() noexcept { return heap_ != nullptr ? heap_ : &inline_; }
  const Point* data() const noexcept { return heap_ != nullptr ? heap_ : &inline_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  Point& operator[](std::size_t i) noexcept { return data()[i]; }
  const Point& operator[](std::size_t i) const noexcept { return data()[i]; }
  Point* begin() noexcept { return data(); }
  Point* end() noexcept { return data() + size_; }
  const Point* begin() const noexcept { return data(); }
  const Point* end() const noexcept { return data() + size_; }
  Point& back() noexcept { return data()[size_ - 1]; }
  void clear() noexcept { size_ = 0; }
  void push_back(Point p) {
    if (size_ == cap_) reserve(static_cast<std::size_t>(cap_) * 2);
    data()[size_++] = p;
  }
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    auto* fresh = static_cast<Point*>(ScratchAllocate(n * sizeof(Point)));
    for (std::uint32_t i = 0; i < size_; ++i) fresh[i] = data()[i];
    Free();
    heap_ = fresh;
    cap_ = static_cast<std::uint32_t>(n);
  }
  std::span<const Point> span() const noexcept { return {data(), size_}; }

 private:
  void Free() noexcept {
    if (heap_ != nullptr) ScratchDeallocate(heap_, static_cast<std::size_t>(cap_) * sizeof(Point));
    heap_ = nullptr;
    cap_ = 1;
  }
  void Steal(PointVec* other) noexcept {
    inline_ = other->inline_;
    heap_ = other->heap_;
    size_ = other->size_;
    cap_ = other->cap_;
    other->heap_ = nullptr;
    other->size_ = 0;
    other->cap_ = 1;
  }
  Point inline_{};
  Point* heap_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = 1;
};

// One series of a node's result over the query's steps.
struct ESeries {
  LabelsRef metric;
  PointVec points;
  bool drop_name = false;
};
using EMatrix = ScratchVec<ESeries>;

// One element of an instant vector at one step.
struct ESample {
  LabelsRef metric;
  double f = 0;
  std::int64_t t = 0;
  bool drop_name = false;
};
using EVector = ScratchVec<ESample>;
// Join signature ordinals of the samples of one argument vector.
using SigVec = ScratchVec<int>;

// Prometheus's annotations: deduplicated by message; positions are printed
// as " (line:col)" when the query is turned into strings.
class Annotations {
 public:
  enum class Level : std::uint8_t { kWarning, kInfo };
  void Add(Level level, std::string msg, PosRange pos);
  // histogram_quantile's monotonicity info, which merges its statistics.
  void AddForcedMonotonicity(std::string msg, PosRange pos, std::int64_t ts, double min_bucket,
                             double max_bucket, double max_diff);
  void Export(std::string_view query, std::vector<std::string>* warnings,
              std::vector<std::string>* infos) const;
  bool empty() const noexcept { return entries_.empty(); }

 private:
  struct Entry {
    Level level = Level::kWarning;
    std::string msg;
    PosRange pos;
    bool monotonicity = false;
    int count = 0;
    std::int64_t min_ts = 0, max_ts = 0;
    double min_bucket = 0, max_bucket = 0, max_diff = 0;
  };
  Entry* Find(const std::string& msg);
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Per-node facts computed before evaluation (Prometheus stores them in the
// AST; ours is const, so they live here).
struct NodeInfo {
  bool wrap_invariant = false;  // evaluate once and repeat (StepInvariantExpr)
  bool is_selector = false;
  bool has_at = false;  // selectors and subqueries: resolved `@`
  std::int64_t at_ms = 0;
  std::int64_t select_mint = 0;  // selectors: the storage range to read
  std::int64_t select_maxt = 0;
  // Instant vector selectors read at one instant, select_maxt: only each
  // series' newest sample up to then matters (Querier::SelectNewest).
  bool newest_only = false;
};

// Everything one query shares across its (sub-)evaluators.
class QueryCtx {
 public:
  QueryCtx(const EvalOptions& options, std::string_view query, std::int64_t start,
           std::int64_t end);

  const EvalOptions& opts;
  const bool v2;               // Prometheus 2 semantics
  const bool delayed;          // delayed __name__ removal
  Querier* querier = nullptr;  // set after Prepare, from SelectBounds
  const std::string_view query;
  const std::int64_t query_start;
  const std::int64_t query_end;
  std::int64_t query_step = 0;  // range queries only
  Annotations annos;
  std::int64_t current_samples = 0;

  // Labels made during the query; deque keeps their addresses stable.
  LabelsRef Intern(Labels labels);
  // A filter that lives as long as the query.
  const LabelFilter* InternFilter(LabelFilter filter);
  LabelsRef Empty() const noexcept { return {&empty_, Hide::kNone}; }
  // The view that drops __name__ (and __type__/__unit__ in Prometheus 3).
  LabelsRef DropName(LabelsRef ref) const noexcept {
    const Hide h = v2 ? Hide::kName : Hide::kMeta;
    if (ref.hide == Hide::kMeta || ref.hide == h) return ref;
    return {ref.base, h, ref.filter};
  }

  // Annotations exist only in Prometheus 3.
  void Warn(std::string msg, PosRange pos) {
    if (!v2) annos.Add(Annotations::Level::kWarning, std::move(msg), pos);
  }
  void Info(std::string msg, PosRange pos) {
    if (!v2) annos.Add(Annotations::Level::kInfo, std::move(msg), pos);
  }

  Status TooManySamples() const;
  Status CheckSamples() const {
    return current_samples > opts.max_samples ? TooManySamples() : Status::Ok();
  }

  // Preprocessing: step invariance, `@ start()/end()`, storage ranges.
  void Prepare(const Expr& root);
  const NodeInfo& Info(const Expr& e) const;
  // The time range every selector together reads (Prometheus's FindMinMaxTime).
  void SelectBounds(std::int64_t* mint, std::int64_t* maxt) const;

  // The series of a selector, read from storage once per query.
  Status Select(const VectorSelector& vs, const std::vector<SeriesView>** out);

 private:
  struct SubqPath {
    std::int64_t offset = 0;
    std::int64_t range = 0;
    bool has_ts = false;
    std::int64_t ts = 0;
    bool in_subquery = false;
  };
  // Returns {is_step_invariant, should_wrap}, as Prometheus's preprocessExprHelper.
  std::pair<bool, bool> Preprocess(const Expr& e);
  void ComputeRanges(const Expr& e, const SubqPath& path, std::int64_t eval_range);
  NodeInfo& Mut(const Expr& e) { return info_[&e]; }
  std::int64_t ResolveAt(AtKind kind, std::int64_t at_ms) const;

  Labels empty_;
  std::deque<Labels> arena_;
  std::deque<LabelFilter> filters_;
  std::unordered_map<const Expr*, NodeInfo> info_;
  std::unordered_map<const VectorSelector*, std::vector<SeriesView>> selected_;
};

// Prometheus's EvalNodeHelper: per-node scratch reused across steps.
struct NodeHelper {
  std::int64_t ts = 0;
  // Binary operators: join signature ordinals.
  int num_sigs = 0;
  ScratchVec<std::uint8_t> sigs_present;
  ScratchVec<std::uint8_t> matched_sigs_present;
  ScratchVec<ESample> right_sigs;
  // Binary operators: result label sets by (lhs, rhs) identity.
  struct PairKey {
    const Labels* a;
    const Labels* b;
    const LabelFilter* fa;
    const LabelFilter* fb;
    std::uint8_t ha, hb;
    bool operator==(const PairKey&) const = default;
  };
  struct PairHash {
    std::size_t operator()(const PairKey& k) const noexcept {
      return std::hash<const void*>()(k.a) * 31 + std::hash<const void*>()(k.b) * 7 +
             std::hash<const void*>()(k.fa) * 5 + std::hash<const void*>()(k.fb) * 11 + k.ha * 3 +
             k.hb;
    }
  };
  std::unordered_map<PairKey, LabelsRef, PairHash> result_metric;
  std::unordered_map<const Labels*, LabelsRef> label_cache;
  // Grouping functions: output label sets by group hash.
  std::unordered_map<std::uint64_t, LabelsRef> group_labels;
};

// A function from the table, resolved once.
// The evaluation kind of a function: promql::Function::kind.
using FnKind = promql::FunctionKind;
bool IsRangeFn(FnKind k) noexcept;
// Prometheus's AtModifierUnsafeFunctions for the given compatibility.
bool IsAtModifierUnsafe(FnKind k, bool v2) noexcept;

// Inputs to one range-vector function call for one series at one step.
struct RangeFnArgs {
  std::span<const Point> points;  // window samples, stale markers removed
  std::int64_t ts = 0;            // evaluation timestamp
  std::int64_t range_start = 0;   // window bounds as Prometheus computes them
  std::int64_t range_end = 0;
  std::int64_t range_ms = 0;
  std::span<const double> params;  // the scalar arguments, in order
  LabelsRef metric;                // the input series
  PosRange arg_pos;                // position of the range argument
};
// Computes one output value; false when the series gives no sample.
Status CallRangeFn(FnKind kind, const RangeFnArgs& a, QueryCtx* q, double* out, bool* ok);

class Ev;
// Instant-vector functions (called once per step with the argument vectors).
Status CallInstantFn(Ev* ev, const Call& call, FnKind kind, std::span<EVector> args,
                     NodeHelper* enh, EVector* out);

// Prometheus 2's step-by-step label_replace and label_join.
Status LabelReplaceV2(QueryCtx* q, const Call& c, const EVector& in, NodeHelper* enh, EVector* out);
Status LabelJoinV2(QueryCtx* q, const Call& c, const EVector& in, NodeHelper* enh, EVector* out);

// histogram_quantile / histogram_fraction over classic buckets.
Status HistogramQuantileFn(QueryCtx* q, const Call& call, double quantile, const EVector& in,
                           NodeHelper* enh, EVector* out);
Status HistogramFractionFn(QueryCtx* q, const Call& call, double lower, double upper,
                           const EVector& in, NodeHelper* enh, EVector* out);
// Prometheus's quantile() over a sample set (sorts `values`).
double Quantile(double q, std::vector<double>* values);

// Saturating time arithmetic: offsets, ranges and `@` times are user input,
// so sums must not overflow. Results stay within +-kTimeLimit.
inline constexpr std::int64_t kTimeLimit = std::int64_t{1} << 61;
inline std::int64_t ClampTime(std::int64_t t) noexcept {
  return std::clamp(t, -kTimeLimit, kTimeLimit);
}
inline std::int64_t SatSub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? -kTimeLimit : kTimeLimit;
  return ClampTime(r);
}

// Strips parentheses, as Prometheus's preprocessing does for arguments.
const Expr& Unparen(const Expr& e) noexcept;
// The value of a string-literal argument (empty if it is not one).
std::string_view StringArg(const ExprPtr& e);
// Labels from the equality matchers of absent()'s argument.
Labels LabelsForAbsent(const Expr& arg);

// Evaluates nodes over [start, end] with the given step.
class Ev {
 public:
  Ev(QueryCtx* q, std::int64_t start, std::int64_t end, std::int64_t interval)
      : q_(q), start_(start), end_(end), interval_(interval) {}

  QueryCtx* q() const noexcept { return q_; }
  std::int64_t start() const noexcept { return start_; }
  std::int64_t end() const noexcept { return end_; }
  std::int64_t interval() const noexcept { return interval_; }
  bool instant() const noexcept { return start_ == end_; }
  std::size_t NumSteps() const noexcept {
    return static_cast<std::size_t>((end_ - start_) / interval_) + 1;
  }
  // What to reserve for a series' points: never more than Prometheus's
  // pooled slice size, so a huge step count cannot allocate up front.
  std::size_t PointsToReserve() const noexcept { return std::min<std::size_t>(NumSteps(), 5000); }

  // Evaluates any non-string node into a matrix over this evaluator's steps.
  Status Eval(const Expr& e, EMatrix* out);

  // Prometheus's rangeEval: evaluates `args`, calls `fn` once per step with
  // one vector per argument, and gathers the results into series. With
  // `matching`, signature ordinals for vector matching are precomputed.
  // fn: Status(std::span<EVector> vectors, std::span<SigVec> sig_ordinals,
  //            NodeHelper* enh, EVector* out)
  template <typename Fn>
  Status RangeEval(std::span<const Expr* const> args, const VectorMatching* matching, Fn&& fn,
                   EMatrix* out);

  // Merges series whose label sets became equal; fails on a shared timestamp.
  Status MergeSameLabelsets(EMatrix* mat);
  // Applies delayed __name__ removal to a matrix result.
  Status CleanupMatrix(EMatrix* mat);

 private:
  Status EvalNode(const Expr& e, EMatrix* out);
  Status EvalStepInvariant(const Expr& e, EMatrix* out);
  Status EvalVectorSelector(const VectorSelector& vs, EMatrix* out);
  Status EvalMatrixSelector(const MatrixSelector& ms, EMatrix* out);
  Status EvalSubquery(const SubqueryExpr& sq, EMatrix* out);
  Status EvalUnary(const UnaryExpr& u, EMatrix* out);
  Status EvalBinary(const BinaryExpr& b, EMatrix* out);
  Status EvalAggregate(const AggregateExpr& a, EMatrix* out);
  Status EvalCall(const Call& c, EMatrix* out);
  Status EvalRangeCall(const Call& c, FnKind kind, std::size_t matrix_arg, EMatrix* out);
  Status EvalTimestampOfSelector(const Call& c, const VectorSelector& vs, EMatrix* out);
  Status EvalLabelReplace(const Call& c, EMatrix* out);
  Status EvalLabelJoin(const Call& c, EMatrix* out);

  QueryCtx* q_;
  std::int64_t start_;
  std::int64_t end_;
  std::int64_t interval_;
};

// Binary operators (binary.cc).
Status EvalVectorBinop(Ev* ev, const BinaryExpr& b, const VectorMatching& m, std::span<EVector> v,
                       std::span<SigVec> sigs, NodeHelper* enh, EVector* out);
void EvalVectorScalarBinop(QueryCtx* q, BinaryOp op, const EVector& lhs, double rhs, bool swap,
                           bool return_bool, EVector* out);
double ScalarBinop(BinaryOp op, double lhs, double rhs) noexcept;
void EvalSetOp(BinaryOp op, const EVector& lhs, const EVector& rhs, const SigVec& lsig,
               const SigVec& rsig, NodeHelper* enh, EVector* out);

// True when two samples of `v` share a label set.
bool ContainsSameLabelset(const EVector& v);
bool ContainsSameLabelset(const EMatrix& m);

}  // namespace nimify::promql::eval_internal

#include "promql/eval/range_eval_impl.h"  // IWYU pragma: keep

#endif  // NIMIFY_PROMQL_EVAL_EVAL_INTERNAL_H_
