#include "nimify/engine.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/thread_name.h"
#include "common/wall_clock.h"
#include "engine/crossing_alerts.h"
#include "engine/dispatcher.h"
#include "engine/output_store.h"
#include "engine/rule_runtime.h"
#include "engine/rule_set_internal.h"
#include "pipeline/pipeline.h"
#include "promql/evaluator.h"
#include "promql/labels.h"
#include "promql/parser.h"
#include "storage/shard.h"

namespace nimify {
namespace {

constexpr std::size_t kMaxLabelsPerSeries = 1024;
// Prometheus's limit on the steps of a range query (web/api/v1).
constexpr std::int64_t kMaxRangeQuerySteps = 11000;
// How often the wall clock moves the producers' watermarks.
constexpr std::chrono::milliseconds kMaxClockTick{50};
// Flushes of due samples wake the clock at most this often: each wake-up is a
// cut, and a cut per request would cost more than the millisecond it saves.
constexpr std::chrono::microseconds kMinClockSpacing{500};

// Guarded against steps: a backward step must not stop evaluation until the
// wall clock passes the last instant again (common/wall_clock.h).
std::int64_t WallClockMs() { return internal::GuardedWallClockMs(); }

// CPU time of the calling thread, for the evaluation counters of EngineStats.
std::uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Turns an exception that escaped an internal call into a Status at the API boundary.
Status FromException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return Status::Internal("unexpected exception");
  }
}

OwnedLabels ToOwnedLabels(const promql::Labels& labels) {
  OwnedLabels out;
  out.reserve(labels.size());
  for (const auto& l : labels) out.push_back({l.name, l.value});
  return out;
}

QueryResult ToQueryResult(promql::QueryResult&& r) {
  QueryResult out;
  out.warnings = std::move(r.warnings);
  out.infos = std::move(r.infos);
  if (auto* scalar = std::get_if<promql::Scalar>(&r.value)) {
    out.type = QueryValueType::kScalar;
    out.scalar = {scalar->t, scalar->v};
  } else if (auto* str = std::get_if<promql::String>(&r.value)) {
    out.type = QueryValueType::kString;
    out.scalar.t_ms = str->t;
    out.string_value = std::move(str->v);
  } else if (auto* vector = std::get_if<promql::Vector>(&r.value)) {
    out.type = QueryValueType::kVector;
    out.series.reserve(vector->size());
    for (const promql::Sample& sample : *vector) {
      out.series.push_back({ToOwnedLabels(sample.metric), {{sample.t, sample.v}}});
    }
  } else {
    auto& matrix = std::get<promql::Matrix>(r.value);
    out.type = QueryValueType::kMatrix;
    out.series.reserve(matrix.size());
    for (const promql::Series& series : matrix) {
      QuerySeries qs{ToOwnedLabels(series.metric), {}};
      qs.points.reserve(series.points.size());
      for (const promql::Point& p : series.points) qs.points.push_back({p.t, p.v});
      out.series.push_back(std::move(qs));
    }
  }
  return out;
}

Status QueryTimedOut() { return Status::DeadlineExceeded("query timed out in query execution"); }

// Parses each selector of a `match[]` list.
Result<std::vector<std::vector<promql::LabelMatcher>>> ParseSelectors(
    std::span<const std::string> selectors) {
  std::vector<std::vector<promql::LabelMatcher>> out;
  out.reserve(selectors.size());
  for (const std::string& s : selectors) {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<promql::LabelMatcher> matchers,
                            promql::ParseMetricSelector(s));
    out.push_back(std::move(matchers));
  }
  return out;
}

class CallbackHandler final : public AlertHandler {
 public:
  explicit CallbackHandler(std::function<void(const AlertEvent&)> fn) : fn_(std::move(fn)) {}
  void OnAlert(const AlertEvent& event) override {
    if (fn_) fn_(event);
  }

 private:
  std::function<void(const AlertEvent&)> fn_;
};

}  // namespace

namespace internal {

// ---- EngineCore -------------------------------------------------------------

class EngineCore {
 public:
  static Result<std::shared_ptr<EngineCore>> Create(EngineOptions options,
                                              std::shared_ptr<const RuleSet> rules);
  ~EngineCore() { (void)Stop(); }

  Result<SeriesRef> Resolve(std::span<const Label> labels);
  Result<std::unique_ptr<pipeline::Producer>> NewPipelineProducer(const ProducerOptions& options);
  Status SetRules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const {
    MutexLock lock(eval_mu_);
    return rules_;
  }
  std::vector<AlertEvent> ActiveAlerts(const ActiveAlertsOptions& options) const {
    MutexLock lock(eval_mu_);
    return runtime_->ActiveAlerts(last_eval_.load(std::memory_order_relaxed), options.annotations);
  }
  std::size_t RestoreAlerts(const std::vector<AlertEvent>& alerts) {
    MutexLock lock(eval_mu_);
    return runtime_->RestoreAlerts(alerts);
  }
  EngineStats stats() const;
  std::int64_t last_evaluation_ms() const { return last_eval_.load(std::memory_order_relaxed); }
  Status Stop();

  Result<QueryResult> Query(std::string_view expr, std::int64_t start_ms, std::int64_t end_ms,
                            std::int64_t step_ms, bool range, const QueryOptions& options);
  // Label sets of the series matching any selector (every series when there
  // are none) with a sample in [start_ms, end_ms], sorted and unique.
  Result<std::vector<promql::Labels>> MatchingSeries(std::span<const std::string> selectors,
                                                     std::int64_t start_ms, std::int64_t end_ms);
  std::vector<nimify::RuleHealth> RuleHealth() const;
  Result<RulesEvaluation> EvaluateRulesOnce(const RuleSet& rules, std::int64_t t);
  std::int64_t retention_ms() const { return retention_ms_; }

  bool wall_clock() const noexcept { return options_.clock == ClockMode::kWallClock; }
  std::int64_t allowed_lateness_ms() const noexcept { return options_.allowed_lateness.count(); }
  bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

  // Wall-clock mode: producers whose watermark the clock thread moves.
  void RegisterClocked(ProducerCore* p);
  void UnregisterClocked(ProducerCore* p);
  // Wall-clock mode: a producer published samples at or before `newest_ms`
  // that its watermark has not passed; moves the clock now instead of at the
  // next tick when the wall clock (less the allowed lateness) has passed them.
  void WakeClockFor(std::int64_t newest_ms);

  engine::Dispatcher& dispatcher() { return dispatcher_; }

 private:
  explicit EngineCore(EngineOptions options)
      : options_(std::move(options)),
        dispatcher_(options_.log, options_.handler_thread == HandlerThread::kEvaluator) {}
  engine::RuntimeOptions MakeRuntimeOptions() const;
  Result<std::unique_ptr<engine::RuleRuntime>> BuildRuntime(const RuleSet& rules);
  // kFailedPrecondition when `runtime` reads more history than the shards keep.
  Status CheckHistoryFits(const engine::RuleRuntime& runtime, std::string_view what) const;
  // What the pipeline must mark dirty and show the tracker.
  std::vector<pipeline::RuleSelectors> InputSelectors(const engine::RuleRuntime& runtime) const;
  void OnCut(const pipeline::Cut& cut);
  void ClockLoop();
  // Runs `fn` over the shards at the last cut together with the rule outputs
  // (what the rules read), holding eval_mu_ for the outputs.
  Status RunHeldQuery(const std::function<void(promql::Queryable&)>& fn);

  const EngineOptions options_;
  engine::InputRegistry inputs_;
  // Declared before the pipeline: its workers call the tracker until they stop.
  std::unique_ptr<engine::SampleTracker> tracker_;
  std::vector<std::uint32_t> tracked_inputs_;  // inputs with tracked predicates: always observed
  // EngineOptions::fire_on_crossing; called by the tracker on the workers' threads.
  std::unique_ptr<engine::CrossingAlerts> crossing_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  engine::Dispatcher dispatcher_;
  std::int64_t step_ms_ = 0;
  std::int64_t retention_ms_ = 0;

  // Evaluation state: the cut callback, SetRules and readers hold eval_mu_.
  mutable Mutex eval_mu_;
  std::unique_ptr<engine::RuleRuntime> runtime_ NIMIFY_GUARDED_BY(eval_mu_);
  std::shared_ptr<const RuleSet> rules_ NIMIFY_GUARDED_BY(eval_mu_);
  std::unique_ptr<engine::OutputStore> outputs_ NIMIFY_GUARDED_BY(eval_mu_);

  // relaxed: statistics and an informational timestamp.
  std::atomic<std::int64_t> last_eval_{std::numeric_limits<std::int64_t>::min()};
  std::atomic<std::uint64_t> evaluation_instants_{0};
  std::atomic<std::uint64_t> group_evaluation_instants_{0};
  std::atomic<std::uint64_t> group_evaluation_cpu_ns_{0};
  std::atomic<std::uint64_t> evaluation_cpu_ns_{0};
  std::atomic<std::uint64_t> rule_evaluations_{0};
  std::atomic<std::uint64_t> incremental_evaluations_{0};
  std::atomic<std::uint64_t> rule_evaluations_skipped_{0};
  std::atomic<std::uint64_t> rule_failures_{0};

  // Wall-clock mode.
  Mutex clock_mu_;
  CondVar clock_cv_;
  bool clock_stop_ NIMIFY_GUARDED_BY(clock_mu_) = false;
  // Set under clock_mu_ (so the clock thread cannot miss it between its check
  // and its wait); read without it only to skip a redundant wake-up.
  std::atomic<bool> clock_woken_{false};
  std::atomic<std::uint64_t> clock_ticks_{0};    // relaxed: statistics
  std::atomic<std::uint64_t> clock_wakeups_{0};  // relaxed: statistics
  std::thread clock_thread_;
  std::unique_ptr<pipeline::Producer> clock_producer_;  // clock thread only
  Mutex clocked_mu_;
  std::vector<ProducerCore*> clocked_ NIMIFY_GUARDED_BY(clocked_mu_);

  Mutex stop_mu_;
  Status stop_status_ NIMIFY_GUARDED_BY(stop_mu_);
  std::atomic<bool> stopped_{false};
};

// ---- ProducerCore ------------------------------------------------------------

class ProducerCore {
 public:
  ProducerCore(std::shared_ptr<EngineCore> engine, std::unique_ptr<pipeline::Producer> producer)
      : engine_(std::move(engine)), producer_(std::move(producer)) {}

  Result<SeriesRef> Resolve(std::span<const Label> labels) { return engine_->Resolve(labels); }

  Status Append(SeriesRef series, std::int64_t t, double v) {
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    return AppendLocked(series, t, v);
  }

  Status AppendBatch(std::span<const Sample> samples, std::size_t* accepted) {
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    Status first_error;
    std::size_t ok = 0;
    for (const Sample& s : samples) {
      Status st = AppendLocked(s.series, s.timestamp_ms, s.value);
      if (st.ok()) {
        ++ok;
      } else if (first_error.ok()) {
        first_error = std::move(st);
      }
    }
    if (accepted != nullptr) *accepted = ok;
    return first_error;
  }

  Status AppendBatch(std::span<const Sample> samples, AppendOutcome* out) {
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    *out = AppendOutcome();
    // Under mu_ the clock thread cannot move it during the batch.
    const std::int64_t watermark = producer_->watermark();
    std::int64_t newest = newest_staged_ms_;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      Status st = closed_ ? Status::FailedPrecondition("producer is closed")
                          : producer_->Stage(s.series, s.timestamp_ms, s.value);
      if (st.ok()) [[likely]] {
        ++out->accepted;
        newest = std::max(newest, s.timestamp_ms);
        if (s.timestamp_ms <= watermark) ++out->accepted_late;
      } else if (st.code() == StatusCode::kOutOfRange) {
        if (out->too_late++ == 0) {
          out->first_too_late = i;
          out->too_late_message = std::string(st.message());
        }
      } else if (st.code() == StatusCode::kInvalidArgument) {
        ++out->invalid;
      } else {
        out->not_appended = samples.size() - i;
        out->stopped = std::move(st);
        break;
      }
    }
    newest_staged_ms_ = newest;
    stats_.accepted += out->accepted;
    stats_.late += out->too_late;
    stats_.refused += out->invalid + out->not_appended;
    return out->stopped;
  }

  Status Flush() {
    const bool wall_clock = engine_->wall_clock();
    Status st;
    std::int64_t newest = kNoneStaged;
    {
      ConditionalMutexLock lock(mu_, wall_clock);
      if (closed_) return Status::FailedPrecondition("producer is closed");
      // Before the flush: the flush itself raises this producer's watermark
      // to its newest sample (less the lateness), but the others lag.
      if (wall_clock && newest_staged_ms_ > producer_->watermark()) newest = newest_staged_ms_;
      st = producer_->Flush();
      newest_staged_ms_ = kNoneStaged;
    }
    // After mu_: the clock thread takes it to move this producer's watermark.
    if (st.ok() && newest != kNoneStaged) engine_->WakeClockFor(newest);
    return st;
  }

  Status AdvanceWatermark(std::int64_t t) {
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    if (closed_) return Status::FailedPrecondition("producer is closed");
    return producer_->AdvanceWatermark(t);
  }

  // Called by the clock thread (wall-clock mode only).
  void ClockTick(std::int64_t t) {
    MutexLock lock(mu_);
    if (!closed_) (void)producer_->AdvanceWatermark(t);
  }

  void Close() {
    if (engine_->wall_clock()) engine_->UnregisterClocked(this);
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    if (closed_) return;
    closed_ = true;
    producer_->Close();
  }

  std::int64_t watermark() const noexcept {
    // The clock thread moves it in wall-clock mode.
    ConditionalMutexLock lock(mu_, engine_->wall_clock());
    return producer_->watermark();
  }
  ProducerStats stats() const noexcept { return stats_; }

 private:
  Status AppendLocked(SeriesRef series, std::int64_t t, double v) NIMIFY_REQUIRES(mu_) {
    if (closed_) {
      ++stats_.refused;
      return Status::FailedPrecondition("producer is closed");
    }
    Status st = producer_->Append(series, t, v);
    if (st.ok()) {
      ++stats_.accepted;
      newest_staged_ms_ = std::max(newest_staged_ms_, t);
    } else if (st.code() == StatusCode::kOutOfRange) {
      ++stats_.late;
    } else {
      ++stats_.refused;
    }
    return st;
  }

  const std::shared_ptr<EngineCore> engine_;  // keeps the pipeline alive
  const std::unique_ptr<pipeline::Producer> producer_ NIMIFY_PT_GUARDED_BY(mu_);
  // Wall-clock mode only: the clock thread also moves this producer's watermark.
  mutable Mutex mu_;
  bool closed_ NIMIFY_GUARDED_BY(mu_) = false;
  ProducerStats stats_;  // the owning thread's
  // The newest sample time appended since the last Flush (the owning thread's;
  // only read in wall-clock mode, where Flush uses it to wake the clock).
  static constexpr std::int64_t kNoneStaged = std::numeric_limits<std::int64_t>::min();
  std::int64_t newest_staged_ms_ NIMIFY_GUARDED_BY(mu_) = kNoneStaged;
};

// ---- EngineCore: setup -----------------------------------------------------

engine::RuntimeOptions EngineCore::MakeRuntimeOptions() const {
  engine::RuntimeOptions r;
  r.eval.lookback_delta_ms = options_.lookback.count();
  r.eval.compat = options_.compat == PromqlCompat::kPrometheus2 ? promql::Compat::kPrometheus2
                                                                 : promql::Compat::kPrometheus3;
  r.eval.default_subquery_step_ms = options_.default_eval_interval.count();
  r.default_interval_ms = options_.default_eval_interval.count();
  std::vector<promql::Label> external;
  for (const auto& l : options_.external_labels) external.push_back({l.name, l.value});
  r.external_labels = promql::Labels::FromUnsorted(std::move(external));
  r.external_url = options_.external_url;
  r.eager_alerts = options_.eager_alerts;
  r.incremental_thresholds = options_.incremental_thresholds;
  r.skip_quiet_rules = options_.skip_quiet_rules;
  return r;
}

Result<std::unique_ptr<engine::RuleRuntime>> EngineCore::BuildRuntime(const RuleSet& rules) {
  return engine::RuleRuntime::Build(rules, MakeRuntimeOptions(), &inputs_);
}

std::vector<pipeline::RuleSelectors> EngineCore::InputSelectors(
    const engine::RuleRuntime& runtime) const {
  std::vector<std::uint32_t> ids = runtime.InputIds();
  ids.insert(ids.end(), tracked_inputs_.begin(), tracked_inputs_.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return inputs_.Selectors(ids);
}

Result<std::shared_ptr<EngineCore>> EngineCore::Create(EngineOptions options,
                                                          std::shared_ptr<const RuleSet> rules) {
  if (options.shards == 0) options.shards = std::max(1u, std::thread::hardware_concurrency());
  if (options.lookback.count() <= 0) return Status::InvalidArgument("lookback must be > 0");
  if (options.default_eval_interval.count() <= 0) {
    return Status::InvalidArgument("default_eval_interval must be > 0");
  }
  if (options.allowed_lateness.count() < 0 || options.retention.count() < 0 ||
      (options.max_late_age && options.max_late_age->count() < 0)) {
    return Status::InvalidArgument("allowed_lateness, retention and max_late_age must be >= 0");
  }
  for (std::size_t i = 0; i < options.external_labels.size(); ++i) {
    const auto& l = options.external_labels[i];
    if (!promql::IsValidLabelName(l.name)) {
      return Status::InvalidArgument("external label name \"" + l.name + "\" is not valid");
    }
  }
  if (!rules) rules = RuleSet::Empty();

  std::shared_ptr<EngineCore> impl(new EngineCore(std::move(options)));
  const EngineOptions& opts = impl->options_;
  {
    // No other thread can see impl yet; the lock is for the analysis, and it
    // is free.
    MutexLock init(impl->eval_mu_);
    NIMIFY_ASSIGN_OR_RETURN(impl->runtime_, impl->BuildRuntime(*rules));
    impl->rules_ = rules;
    impl->step_ms_ = impl->runtime_->step_ms();
    // +1: the shards keep (t - retention, t], and Prometheus 2's closed windows
    // also read the sample exactly at t - range.
    const std::int64_t needed =
        std::max(impl->runtime_->lookbehind_ms(), opts.lookback.count()) + 1;
    if (opts.retention.count() > 0) {
      if (opts.retention.count() < needed) {
        return Status::InvalidArgument(
            "retention " + promql::FormatDuration(opts.retention.count()) +
            " is shorter than the rules need (" + promql::FormatDuration(needed) + ")");
      }
      impl->retention_ms_ = opts.retention.count();
      if (opts.max_late_age && opts.max_late_age->count() > impl->retention_ms_) {
        return Status::InvalidArgument(
            "max_late_age " + promql::FormatDuration(opts.max_late_age->count()) +
            " is longer than the retention " + promql::FormatDuration(impl->retention_ms_) +
            ": the shards would drop such samples");
      }
    } else {
      // Late samples up to max_late_age are kept as long as they are accepted.
      const std::int64_t late_ms = opts.max_late_age ? opts.max_late_age->count() : 0;
      impl->retention_ms_ = std::max(needed, late_ms);
    }
    impl->outputs_ = std::make_unique<engine::OutputStore>(impl->retention_ms_);

    pipeline::PipelineOptions p;
    p.shards = opts.shards;
    p.ring_capacity = opts.ring_capacity;
    // Wall-clock mode keeps one producer of its own for the clock.
    p.max_producers = opts.max_producers + (opts.clock == ClockMode::kWallClock ? 1 : 0);
    p.batch_size = std::min<std::uint32_t>(64, std::max<std::uint32_t>(opts.ring_capacity / 4, 1));
    p.allowed_lateness_ms = opts.allowed_lateness.count();
    p.retention_ms = impl->retention_ms_;
    // Default: as far back as the rules read (the retention).
    p.max_late_age_ms = opts.max_late_age ? opts.max_late_age->count() : impl->retention_ms_;
    p.max_series = opts.max_series;
    p.cut_interval_ms = impl->step_ms_;
    p.eager_cuts = opts.eager_alerts;
    p.inline_cuts = true;
    p.series_order =
        opts.deterministic_order ? storage::SeriesOrder::kByLabels : storage::SeriesOrder::kArrival;
    NIMIFY_ASSIGN_OR_RETURN(impl->pipeline_, pipeline::Pipeline::Create(p));
    // Threshold predicates are tracked from the first sample on; rule sets
    // given later reuse them (a new predicate would have missed earlier samples).
    std::vector<std::vector<engine::ThresholdPredicate>> predicates =
        impl->runtime_->ThresholdPredicates();
    for (std::uint32_t id = 0; id < predicates.size(); ++id) {
      if (!predicates[id].empty()) impl->tracked_inputs_.push_back(id);
    }
    impl->tracker_ = std::make_unique<engine::SampleTracker>(
        opts.shards, impl->MakeRuntimeOptions().eval, std::move(predicates));
    impl->runtime_->BindTracker(impl->tracker_.get());
    if (opts.fire_on_crossing) {
      engine::RuntimeOptions runtime_options = impl->MakeRuntimeOptions();
      impl->crossing_ = std::make_unique<engine::CrossingAlerts>(
          &impl->dispatcher_, std::move(runtime_options.external_labels),
          std::move(runtime_options.external_url));
      impl->tracker_->SetCrossingListener(impl->crossing_.get());
      impl->crossing_->Publish(impl->runtime_->CrossingRules(), impl->tracker_->epoch());
      impl->runtime_->BindCrossing(impl->crossing_.get());
    }
    impl->pipeline_->SetSampleObserver(impl->tracker_.get());
    impl->pipeline_->SetSelectors(impl->InputSelectors(*impl->runtime_));
  }
  EngineCore* raw = impl.get();
  impl->pipeline_->OnCut([raw](const pipeline::Cut& cut) { raw->OnCut(cut); });

  NIMIFY_RETURN_IF_ERROR(impl->dispatcher_.Start());
  NIMIFY_RETURN_IF_ERROR(impl->pipeline_->Start());
  if (opts.clock == ClockMode::kWallClock) {
    NIMIFY_ASSIGN_OR_RETURN(impl->clock_producer_, impl->pipeline_->NewProducer());
    try {
      impl->clock_thread_ = std::thread([raw] {
        SetCurrentThreadName("nimify-clock");
        raw->ClockLoop();
      });
    } catch (const std::system_error& e) {
      return Status::Internal(std::string("cannot start the clock thread: ") + e.what());
    }
  }
  return impl;
}

// ---- EngineCore: evaluation --------------------------------------------------

void EngineCore::OnCut(const pipeline::Cut& cut) {
  engine::EvalOutput out;
  out.eval_time_ms = cut.t;
  const std::uint64_t cpu_start = ThreadCpuNs();
  {
    MutexLock lock(eval_mu_);
    runtime_->Evaluate(cut.t, cut.dirty, cut.storage, outputs_.get(), &out);
    if (crossing_ != nullptr) {
      if (const std::size_t n = crossing_->Expire(cut.t); n != 0) {
        out.logs.emplace_back(LogLevel::kWarn,
                              std::to_string(n) +
                                  " alert(s) fired from a crossing sample were not confirmed by "
                                  "the evaluation at t=" +
                                  std::to_string(cut.t) + " ms (the rules changed in between)");
      }
    }
    tracker_->Prune(cut.t);
    outputs_->Trim(cut.t);
  }
  const std::uint64_t cpu_ns = ThreadCpuNs() - cpu_start;
  evaluation_cpu_ns_.fetch_add(cpu_ns, std::memory_order_relaxed);
  if (cut.scheduled) {
    group_evaluation_instants_.fetch_add(1, std::memory_order_relaxed);
    group_evaluation_cpu_ns_.fetch_add(cpu_ns, std::memory_order_relaxed);
  }
  last_eval_.store(cut.t, std::memory_order_relaxed);
  evaluation_instants_.fetch_add(1, std::memory_order_relaxed);
  rule_evaluations_.fetch_add(out.rule_evaluations, std::memory_order_relaxed);
  incremental_evaluations_.fetch_add(out.incremental_evaluations, std::memory_order_relaxed);
  rule_evaluations_skipped_.fetch_add(out.rule_evaluations_skipped, std::memory_order_relaxed);
  rule_failures_.fetch_add(out.rule_failures, std::memory_order_relaxed);
  dispatcher_.Push(std::move(out));
  // After the push: a crossing event sent from now on comes after this cut's events.
  tracker_->CutDone(cut.t);
}

Status EngineCore::CheckHistoryFits(const engine::RuleRuntime& runtime,
                                    std::string_view what) const {
  // +1: the shards keep (t - retention, t], and closed windows read t - range.
  if (runtime.lookbehind_ms() + 1 <= retention_ms_) return Status::Ok();
  return Status::FailedPrecondition(
      std::string(what) + " read " + promql::FormatDuration(runtime.lookbehind_ms()) +
      " of history but the engine keeps " + promql::FormatDuration(retention_ms_) +
      " (set EngineOptions::retention when creating the engine)");
}

Status EngineCore::SetRules(std::shared_ptr<const RuleSet> rules) {
  if (stopped()) return Status::FailedPrecondition("engine is stopped");
  if (!rules) rules = RuleSet::Empty();
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<engine::RuleRuntime> next, BuildRuntime(*rules));
  NIMIFY_RETURN_IF_ERROR(next->CheckIntervalsAreMultiplesOf(step_ms_));
  NIMIFY_RETURN_IF_ERROR(CheckHistoryFits(*next, "the new rules"));
  next->BindTracker(tracker_.get());
  engine::EvalOutput out;
  {
    MutexLock lock(eval_mu_);
    next->TakeStateFrom(*runtime_, last_eval_.load(std::memory_order_relaxed), &out);
    // Destroyed after the crossing table that points into it is replaced.
    std::unique_ptr<engine::RuleRuntime> old = std::move(runtime_);
    runtime_ = std::move(next);
    if (crossing_ != nullptr) {
      crossing_->Publish(runtime_->CrossingRules(), tracker_->NextEpoch());
      runtime_->BindCrossing(crossing_.get());
    }
    rules_ = std::move(rules);
    pipeline_->SetSelectors(InputSelectors(*runtime_));
  }
  dispatcher_.Push(std::move(out));
  return Status::Ok();
}

// ---- EngineCore: ad-hoc queries ------------------------------------------------

Status EngineCore::RunHeldQuery(const std::function<void(promql::Queryable&)>& fn) {
  // Lock order: the hold (as a cut), then eval_mu_ (as the cut callback).
  return pipeline_->RunHeld([&](promql::Queryable& shards, std::int64_t /*cut_t*/) {
    MutexLock lock(eval_mu_);
    engine::UnionQueryable view(&shards, outputs_.get());
    fn(view);
  });
}

Result<QueryResult> EngineCore::Query(std::string_view expr, std::int64_t start_ms,
                                      std::int64_t end_ms, std::int64_t step_ms, bool range,
                                      const QueryOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  if (range) {
    // Prometheus's checks and texts (web/api/v1/api.go), before parsing as there.
    if (end_ms < start_ms) {
      return Status::InvalidArgument("end timestamp must not be before start time");
    }
    if (step_ms <= 0) {
      return Status::InvalidArgument(
          "zero or negative query resolution step widths are not accepted. Try a positive "
          "integer");
    }
    if ((end_ms - start_ms) / step_ms > kMaxRangeQuerySteps) {
      return Status::InvalidArgument(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
          "query resolution (?step=XX)");
    }
  }
  NIMIFY_ASSIGN_OR_RETURN(promql::ExprPtr parsed, promql::ParseExpr(expr));
  promql::EvalOptions eval = MakeRuntimeOptions().eval;
  eval.max_samples = static_cast<std::int64_t>(
      std::min<std::size_t>(options.max_samples, std::numeric_limits<std::int64_t>::max()));
  if (options.lookback.count() > 0) eval.lookback_delta_ms = options.lookback.count();
  std::optional<Result<promql::QueryResult>> result;
  NIMIFY_RETURN_IF_ERROR(RunHeldQuery([&](promql::Queryable& view) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.emplace(QueryTimedOut());
      return;
    }
    const promql::Evaluator evaluator(&view, eval);
    result.emplace(range ? evaluator.Range(*parsed, start_ms, end_ms, step_ms, expr)
                         : evaluator.Instant(*parsed, start_ms, expr));
  }));
  if (!result) return Status::Internal("the query did not run");
  if (!result->ok()) return result->status();
  if (std::chrono::steady_clock::now() > deadline) return QueryTimedOut();
  return ToQueryResult(std::move(*result).value());
}

Result<std::vector<promql::Labels>> EngineCore::MatchingSeries(
    std::span<const std::string> selectors, std::int64_t start_ms, std::int64_t end_ms) {
  if (end_ms < start_ms) {
    return Status::InvalidArgument("end timestamp must not be before start time");
  }
  NIMIFY_ASSIGN_OR_RETURN(auto matcher_sets, ParseSelectors(selectors));
  if (matcher_sets.empty()) {
    // Every series has a metric name.
    NIMIFY_ASSIGN_OR_RETURN(promql::LabelMatcher any,
                            promql::LabelMatcher::Create(promql::MatchType::kRegexMatch,
                                                         std::string(promql::kMetricNameLabel),
                                                         ".+"));
    matcher_sets.push_back({std::move(any)});
  }
  std::set<promql::Labels> found;
  Status status;
  NIMIFY_RETURN_IF_ERROR(RunHeldQuery([&](promql::Queryable& view) {
    auto querier = view.NewQuerier(start_ms, end_ms);
    if (!querier.ok()) {
      status = querier.status();
      return;
    }
    std::vector<promql::SeriesView> selected;
    for (const auto& matchers : matcher_sets) {
      selected.clear();
      status = (*querier)->Select(matchers, start_ms, end_ms, &selected);
      if (!status.ok()) return;
      for (const promql::SeriesView& s : selected) found.insert(*s.labels);
    }
  }));
  NIMIFY_RETURN_IF_ERROR(status);
  return std::vector<promql::Labels>(found.begin(), found.end());
}

Result<RulesEvaluation> EngineCore::EvaluateRulesOnce(const RuleSet& rules, std::int64_t t) {
  engine::RuntimeOptions ro = MakeRuntimeOptions();
  ro.eager_alerts = false;
  ro.incremental_thresholds = false;
  ro.skip_quiet_rules = false;
  // No input registry: these rules mark nothing dirty in the pipeline.
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<engine::RuleRuntime> runtime,
                          engine::RuleRuntime::Build(rules, ro, nullptr));
  NIMIFY_RETURN_IF_ERROR(CheckHistoryFits(*runtime, "the rules"));
  engine::OutputStore outputs(retention_ms_);
  engine::EvalOutput out;
  RulesEvaluation result;
  result.eval_time_ms = t;
  NIMIFY_RETURN_IF_ERROR(pipeline_->RunHeld([&](promql::Queryable& shards, std::int64_t) {
    const auto wall_start = std::chrono::steady_clock::now();
    const std::uint64_t cpu_start = ThreadCpuNs();
    runtime->Evaluate(t, pipeline::DirtySet(), shards, &outputs, &out);
    result.cpu_time = std::chrono::nanoseconds(ThreadCpuNs() - cpu_start);
    result.wall_time = std::chrono::steady_clock::now() - wall_start;
  }));
  result.rule_evaluations = out.rule_evaluations;
  result.rule_failures = out.rule_failures;
  result.alert_events = out.events.size();
  result.alerts = runtime->ActiveAlerts(t);
  return result;
}

std::vector<nimify::RuleHealth> EngineCore::RuleHealth() const {
  std::vector<nimify::RuleHealth> out;
  MutexLock lock(eval_mu_);
  runtime_->ForEachRule([&](const alerting::RuleGroup& g, const alerting::Rule& r) {
    nimify::RuleHealth h;
    h.file = g.file();
    h.group = g.name();
    h.group_interval = std::chrono::milliseconds(g.interval_ms());
    h.group_last_evaluation_ms = g.last_evaluation_ms();
    h.group_evaluation_duration = g.last_evaluation_duration();
    h.name = r.name();
    h.kind = r.kind() == alerting::RuleKind::kRecording ? RuleKind::kRecording
                                                         : RuleKind::kAlerting;
    h.expr = r.spec().expr;
    h.health = alerting::RuleHealthName(r.health());
    h.last_error = r.last_error();
    h.last_evaluation_ms = r.last_evaluation_ms();
    h.evaluation_duration = r.last_evaluation_duration();
    out.push_back(std::move(h));
  });
  return out;
}

// ---- EngineCore: producers and series ------------------------------------------

Result<SeriesRef> EngineCore::Resolve(std::span<const Label> labels) {
  if (labels.size() > kMaxLabelsPerSeries) {
    return Status::InvalidArgument("a series has " + std::to_string(labels.size()) +
                                   " labels; at most " + std::to_string(kMaxLabelsPerSeries) +
                                   " are allowed");
  }
  // Most label sets are small: sort a copy on the stack.
  std::array<storage::LabelView, 32> small;
  std::vector<storage::LabelView> large;
  std::span<storage::LabelView> views;
  if (labels.size() <= small.size()) {
    views = std::span<storage::LabelView>(small.data(), labels.size());
  } else {
    large.resize(labels.size());
    views = large;
  }
  std::size_t n = 0;
  for (const Label& l : labels) {
    // An empty value means "no such label", as in Prometheus.
    if (!l.value.empty()) views[n++] = storage::LabelView{l.name, l.value};
  }
  views = views.first(n);
  std::sort(views.begin(), views.end(),
            [](const storage::LabelView& a, const storage::LabelView& b) { return a.name < b.name; });
  bool has_name = false;
  for (std::size_t i = 0; i < views.size(); ++i) {
    const storage::LabelView& l = views[i];
    if (i > 0 && views[i - 1].name == l.name) {
      return Status::InvalidArgument("duplicate label name \"" + std::string(l.name) + "\"");
    }
    if (l.name == promql::kMetricNameLabel) {
      if (!promql::IsValidMetricName(l.value)) {
        return Status::InvalidArgument("invalid metric name \"" + std::string(l.value) + "\"");
      }
      has_name = true;
    } else if (!promql::IsValidLabelName(l.name)) {
      return Status::InvalidArgument("invalid label name \"" + std::string(l.name) + "\"");
    }
  }
  if (!has_name) return Status::InvalidArgument("a series needs a __name__ label");
  return pipeline_->Resolve(views);
}

Result<std::unique_ptr<pipeline::Producer>> EngineCore::NewPipelineProducer(
    const ProducerOptions& options) {
  if (stopped()) return Status::FailedPrecondition("engine is stopped");
  pipeline::ProducerOptions p;
  p.backpressure = options.backpressure == BackpressurePolicy::kRefuse
                       ? pipeline::Backpressure::kRefuse
                       : pipeline::Backpressure::kWait;
  p.max_wait = options.max_wait;
  return pipeline_->NewProducer(p);
}

void EngineCore::RegisterClocked(ProducerCore* p) {
  MutexLock lock(clocked_mu_);
  clocked_.push_back(p);
}

void EngineCore::UnregisterClocked(ProducerCore* p) {
  MutexLock lock(clocked_mu_);
  clocked_.erase(std::remove(clocked_.begin(), clocked_.end(), p), clocked_.end());
}

void EngineCore::WakeClockFor(std::int64_t newest_ms) {
  // Not due yet (allowed lateness, or a sender's clock ahead): the tick
  // passes it in time.
  if (newest_ms > WallClockMs() - options_.allowed_lateness.count()) return;
  if (clock_woken_.load(std::memory_order_relaxed)) return;  // a wake-up is pending
  {
    MutexLock lock(clock_mu_);
    clock_woken_.store(true, std::memory_order_relaxed);
  }
  clock_cv_.NotifyOne();
}

void EngineCore::ClockLoop() {
  const auto tick = std::min<std::chrono::milliseconds>(
      kMaxClockTick, std::chrono::milliseconds(std::max<std::int64_t>(step_ms_ / 4, 1)));
  clock_mu_.Lock();
  while (!clock_stop_) {
    const auto started = std::chrono::steady_clock::now();
    const bool woken = clock_woken_.exchange(false, std::memory_order_relaxed);
    const std::int64_t t = WallClockMs() - options_.allowed_lateness.count();
    clock_mu_.Unlock();
    {
      MutexLock producers(clocked_mu_);
      for (ProducerCore* p : clocked_) p->ClockTick(t);
    }
    (void)clock_producer_->AdvanceWatermark(t);
    (woken ? clock_wakeups_ : clock_ticks_).fetch_add(1, std::memory_order_relaxed);
    clock_mu_.Lock();
    // At least kMinClockSpacing between moves, then until the tick or a wake-up.
    while (!clock_stop_ && clock_cv_.WaitUntil(clock_mu_, started + kMinClockSpacing)) {
    }
    while (!clock_stop_ && !clock_woken_.load(std::memory_order_relaxed) &&
           clock_cv_.WaitUntil(clock_mu_, started + tick)) {
    }
  }
  clock_mu_.Unlock();
}

// ---- EngineCore: stats and stop ----------------------------------------------

EngineStats EngineCore::stats() const {
  const pipeline::PipelineStats p = pipeline_->stats();
  EngineStats s;
  s.samples_accepted = p.samples_accepted;
  s.samples_refused = p.samples_refused;
  s.samples_late = p.samples_late_refused;
  s.samples_late_stored = p.samples_late_stored;
  s.samples_rejected =
      p.shards.conflicts + p.shards.out_of_order + p.shards.too_old + p.shards.unknown_series;
  s.series_live = p.shards.series_live;
  s.series_refused = p.shards.series_refused;
  s.memory_bytes = p.shards.memory_bytes;
  s.evaluation_instants = evaluation_instants_.load(std::memory_order_relaxed);
  s.group_evaluation_instants = group_evaluation_instants_.load(std::memory_order_relaxed);
  s.group_evaluation_cpu_ns = group_evaluation_cpu_ns_.load(std::memory_order_relaxed);
  s.evaluation_cpu_ns = evaluation_cpu_ns_.load(std::memory_order_relaxed);
  s.rule_evaluations = rule_evaluations_.load(std::memory_order_relaxed);
  s.incremental_evaluations = incremental_evaluations_.load(std::memory_order_relaxed);
  s.rule_evaluations_skipped = rule_evaluations_skipped_.load(std::memory_order_relaxed);
  s.rule_failures = rule_failures_.load(std::memory_order_relaxed);
  s.alert_events = dispatcher_.events_queued();
  if (crossing_ != nullptr) {
    s.alerts_fired_on_crossing = crossing_->fired();
    s.crossing_alerts_unconfirmed = crossing_->unconfirmed();
  }
  s.handler_calls = dispatcher_.handler_calls();
  s.handler_failures = dispatcher_.handler_failures();
  s.queue_depth = dispatcher_.queue_depth();
  s.last_evaluation_ms = last_eval_.load(std::memory_order_relaxed);
  s.clock_ticks = clock_ticks_.load(std::memory_order_relaxed);
  s.clock_wakeups = clock_wakeups_.load(std::memory_order_relaxed);
  return s;
}

Status EngineCore::Stop() {
  if (dispatcher_.OnDispatcherThread()) {
    return Status::FailedPrecondition("Engine::Stop() must not be called from an alert handler");
  }
  MutexLock stop(stop_mu_);
  if (stopped_.load(std::memory_order_acquire)) return stop_status_;
  if (clock_thread_.joinable()) {
    {
      MutexLock lock(clock_mu_);
      clock_stop_ = true;
    }
    clock_cv_.NotifyAll();
    clock_thread_.join();
  }
  if (clock_producer_) clock_producer_->Close();
  stopped_.store(true, std::memory_order_release);
  // Runs the evaluations still due on this thread, then the dispatcher drains.
  if (pipeline_) pipeline_->Stop();
  const pipeline::PipelineStats p = pipeline_ ? pipeline_->stats() : pipeline::PipelineStats{};
  if (p.callback_failures > 0) {
    dispatcher_.Log(LogLevel::kError, std::to_string(p.callback_failures) +
                                          " evaluations ended with an exception");
    stop_status_ = Status::Internal(std::to_string(p.callback_failures) +
                                    " evaluations ended with an exception");
  }
  dispatcher_.Stop();
  return stop_status_;
}

}  // namespace internal

// ---- Public classes ----------------------------------------------------------------

Producer::Producer(std::unique_ptr<internal::ProducerCore> impl) : impl_(std::move(impl)) {}
Producer::~Producer() { Close(); }

Result<SeriesRef> Producer::Resolve(std::span<const Label> labels) {
  try {
    return impl_->Resolve(labels);
  } catch (...) {
    return FromException();
  }
}

Status Producer::Append(SeriesRef series, std::int64_t timestamp_ms, double value) {
  return impl_->Append(series, timestamp_ms, value);
}

Status Producer::AppendBatch(std::span<const Sample> samples, std::size_t* accepted) {
  return impl_->AppendBatch(samples, accepted);
}

Status Producer::AppendBatch(std::span<const Sample> samples, AppendOutcome* outcome) {
  return impl_->AppendBatch(samples, outcome);
}
Status Producer::Flush() { return impl_->Flush(); }
Status Producer::AdvanceWatermark(std::int64_t t_ms) { return impl_->AdvanceWatermark(t_ms); }
void Producer::Close() {
  if (impl_) impl_->Close();
}
std::int64_t Producer::watermark() const noexcept { return impl_->watermark(); }
ProducerStats Producer::stats() const noexcept { return impl_->stats(); }

Engine::Engine(std::shared_ptr<internal::EngineCore> impl) : impl_(std::move(impl)) {}
Engine::~Engine() { (void)impl_->Stop(); }

Result<std::unique_ptr<Engine>> Engine::Create(EngineOptions options,
                                               std::shared_ptr<const RuleSet> rules) {
  try {
    NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<internal::EngineCore> impl,
                            internal::EngineCore::Create(std::move(options), std::move(rules)));
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
  } catch (...) {
    return FromException();
  }
}

Result<std::unique_ptr<Producer>> Engine::NewProducer(ProducerOptions options) {
  try {
    NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Producer> p,
                            impl_->NewPipelineProducer(options));
    auto producer_impl = std::make_unique<internal::ProducerCore>(impl_, std::move(p));
    if (impl_->wall_clock()) {
      producer_impl->ClockTick(WallClockMs() - impl_->allowed_lateness_ms());
      impl_->RegisterClocked(producer_impl.get());
    }
    return std::unique_ptr<Producer>(new Producer(std::move(producer_impl)));
  } catch (...) {
    return FromException();
  }
}

Result<SeriesRef> Engine::Resolve(std::span<const Label> labels) {
  try {
    return impl_->Resolve(labels);
  } catch (...) {
    return FromException();
  }
}

HandlerId Engine::AddHandler(std::shared_ptr<AlertHandler> handler) {
  return impl_->dispatcher().Add(std::move(handler));
}

HandlerId Engine::Subscribe(std::function<void(const AlertEvent&)> callback) {
  return impl_->dispatcher().Add(std::make_shared<CallbackHandler>(std::move(callback)));
}

Status Engine::RemoveHandler(HandlerId id) { return impl_->dispatcher().Remove(id); }

Status Engine::SetRules(std::shared_ptr<const RuleSet> rules) {
  try {
    return impl_->SetRules(std::move(rules));
  } catch (...) {
    return FromException();
  }
}

std::shared_ptr<const RuleSet> Engine::rules() const { return impl_->rules(); }

std::vector<AlertEvent> Engine::ActiveAlerts(const ActiveAlertsOptions& options) const {
  try {
    return impl_->ActiveAlerts(options);
  } catch (...) {
    return {};
  }
}

Result<std::size_t> Engine::RestoreAlerts(const std::vector<AlertEvent>& alerts) {
  try {
    return impl_->RestoreAlerts(alerts);
  } catch (...) {
    return FromException();
  }
}

Result<QueryResult> Engine::Query(std::string_view expr, std::int64_t t_ms, QueryOptions options) {
  try {
    return impl_->Query(expr, t_ms, t_ms, 0, /*range=*/false, options);
  } catch (...) {
    return FromException();
  }
}

Result<QueryResult> Engine::QueryRange(std::string_view expr, std::int64_t start_ms,
                                       std::int64_t end_ms, std::chrono::milliseconds step,
                                       QueryOptions options) {
  try {
    return impl_->Query(expr, start_ms, end_ms, step.count(), /*range=*/true, options);
  } catch (...) {
    return FromException();
  }
}

Result<std::vector<OwnedLabels>> Engine::Series(std::span<const std::string> selectors,
                                                std::int64_t start_ms, std::int64_t end_ms) {
  try {
    if (selectors.empty()) return Status::InvalidArgument("no match[] parameter provided");
    NIMIFY_ASSIGN_OR_RETURN(std::vector<promql::Labels> found,
                            impl_->MatchingSeries(selectors, start_ms, end_ms));
    std::vector<OwnedLabels> out;
    out.reserve(found.size());
    for (const promql::Labels& l : found) out.push_back(ToOwnedLabels(l));
    return out;
  } catch (...) {
    return FromException();
  }
}

Result<std::vector<std::string>> Engine::LabelNames(std::span<const std::string> selectors,
                                                    std::int64_t start_ms, std::int64_t end_ms) {
  try {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<promql::Labels> found,
                            impl_->MatchingSeries(selectors, start_ms, end_ms));
    std::set<std::string, std::less<>> names;
    for (const promql::Labels& labels : found) {
      for (const auto& l : labels) names.emplace(l.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  } catch (...) {
    return FromException();
  }
}

Result<std::vector<std::string>> Engine::LabelValues(std::string_view name,
                                                     std::span<const std::string> selectors,
                                                     std::int64_t start_ms, std::int64_t end_ms) {
  try {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<promql::Labels> found,
                            impl_->MatchingSeries(selectors, start_ms, end_ms));
    std::set<std::string, std::less<>> values;
    for (const promql::Labels& labels : found) {
      for (const auto& l : labels) {
        if (l.name == name) values.emplace(l.value);
      }
    }
    return std::vector<std::string>(values.begin(), values.end());
  } catch (...) {
    return FromException();
  }
}

std::vector<nimify::RuleHealth> Engine::RuleHealth() const {
  try {
    return impl_->RuleHealth();
  } catch (...) {
    return {};
  }
}

Result<RulesEvaluation> Engine::EvaluateRulesOnce(const RuleSet& rules, std::int64_t t) {
  try {
    return impl_->EvaluateRulesOnce(rules, t);
  } catch (...) {
    return FromException();
  }
}

std::chrono::milliseconds Engine::retention() const {
  return std::chrono::milliseconds(impl_->retention_ms());
}

EngineStats Engine::stats() const { return impl_->stats(); }
std::int64_t Engine::last_evaluation_ms() const { return impl_->last_evaluation_ms(); }
Status Engine::Stop() { return impl_->Stop(); }

}  // namespace nimify
