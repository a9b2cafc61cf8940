// `nimify replay`: pushes a recorded stream through the rules and a Responder
// on event time and prints every decision as one JSON line, sorted by time.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actions/matchers.h"
#include "cli/commands.h"
#include "cli/replay_input.h"
#include "common/mutex.h"
#include "nimify/actions.h"
#include "nimify/config.h"
#include "nimify/engine.h"
#include "nimify/rules.h"
#include "nimify/state_store.h"
#include "promql/parser.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify replay --rules FILE... --config FILE --input FILE [--plan]\n"
    "                     [--acks FILE] [--promql-compat 2|3] [--state-dir DIR]\n"
    "                     [--test-group N] [--eval-interval DURATION] [--tail DURATION]\n"
    "\n"
    "Streams the samples of FILE through the rules and the responses of the\n"
    "--config file on event time, and prints one JSON object per decision (alert,\n"
    "notify, silenced, inhibited, acknowledged, step, escalate, verify), sorted by\n"
    "time, as each evaluation instant is decided.\n"
    "\n"
    "--input: a promtool unit-test file (the `input_series` of test group N,\n"
    "  default 0, on its `interval`), a `load <step>` script in promqltest\n"
    "  notation (examples/incident.series), or a remote-write recording as\n"
    "  `nimify bench --record` writes it. Told apart by content. Promtool files and\n"
    "  load scripts start at time 0; a recording at its oldest sample.\n"
    "--plan: every handler in dry-run, whatever the config says: nothing runs.\n"
    "--acks: a YAML list of acknowledgements and silences applied at their time:\n"
    "    - at: 10m                      # after the stream start, or RFC 3339\n"
    "      ack: {matchers: ['alertname=\"ServiceDown\"'], created_by: ann, comment: on it}\n"
    "    - at: 20m\n"
    "      silence: {matchers: ['job=\"nimify-api\"'], duration: 1h, created_by: ann,\n"
    "                comment: maintenance, expire_on_resolve: true}\n"
    "--eval-interval: the rules' default group interval (default: the promtool\n"
    "  file's evaluation_interval, else 1m).\n"
    "--tail: after the data ends the responder's clock keeps moving in steps of the\n"
    "  eval interval for this long (default 1h, or longer than the longest\n"
    "  escalation), so escalations and verifications are decided; the rules are not\n"
    "  evaluated after the data (alerts stay as the data left them).\n"
    "--state-dir: keep the responder's state in a file store there (default: memory).\n"
    "\n"
    "Exit status: 0 replayed; 1 a bad config, rule, input or acks file (the message\n"
    "says file:line:col); 2 a usage error.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify replay: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

int Failed(const Status& status) {
  std::fprintf(stderr, "nimify replay: %s\n", std::string(status.message()).c_str());
  return 1;
}

// RFC 3339 (2024-05-01T12:00:00Z, with optional fraction and offset) as Unix ms.
std::optional<std::int64_t> ParseRfc3339(const std::string& s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    int scale = 100;
    const std::size_t start = ++pos;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
      millis += (s[pos] - '0') * scale;
    }
    if (pos == start) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return (static_cast<std::int64_t>(timegm(&tm)) - offset_s) * 1000 + millis;
}

// `at:` and `ends_at:` of the acks file: a duration after the stream start, or RFC 3339.
Result<std::int64_t> ReadTime(const ConfigNode& node, std::int64_t stream_start_ms) {
  if (!node.is_scalar())
    return node.Error("want a duration after the stream start or an RFC 3339 time");
  if (auto d = promql::ParseDuration(node.text()); d.ok()) return stream_start_ms + *d;
  if (auto t = ParseRfc3339(node.text())) return *t;
  return node.Error("invalid time \"" + node.text() +
                    "\": want a duration after the stream start (20m) or RFC 3339");
}

Result<std::int64_t> ReadDuration(const ConfigNode& node) {
  if (!node.is_scalar()) return node.Error("want a duration");
  auto d = promql::ParseDuration(node.text());
  if (!d.ok() || *d <= 0) return node.Error("invalid duration \"" + node.text() + "\"");
  return *d;
}

// Matchers: strings in Alertmanager's syntax (several per string allowed) or
// objects as its API writes them ({name, value, isRegex, isEqual}).
Result<std::vector<MatcherSpec>> ReadMatchers(const ConfigNode& node) {
  if (!node.is_sequence() || node.items().empty()) {
    return node.Error("`matchers` must be a non-empty list");
  }
  std::vector<MatcherSpec> out;
  for (const ConfigNode& item : node.items()) {
    if (item.is_scalar()) {
      auto parsed = actions::ParseMatchers(item.text());
      if (!parsed.ok()) return item.Error(parsed.status().message());
      for (const auto& m : *parsed) {
        out.push_back(
            {m.name(), m.value(),
             m.type() == actions::MatchType::kRegexp || m.type() == actions::MatchType::kNotRegexp,
             m.type() == actions::MatchType::kEqual || m.type() == actions::MatchType::kRegexp});
      }
      continue;
    }
    if (!item.is_map()) return item.Error("a matcher must be a string or a mapping");
    NIMIFY_RETURN_IF_ERROR(item.CheckKeys({"name", "value", "isRegex", "isEqual"}, "matcher"));
    MatcherSpec m;
    const ConfigNode* name = item.Find("name");
    const ConfigNode* value = item.Find("value");
    if (name == nullptr || value == nullptr)
      return item.Error("a matcher needs `name` and `value`");
    NIMIFY_ASSIGN_OR_RETURN(m.name, name->AsString());
    NIMIFY_ASSIGN_OR_RETURN(m.value, value->AsString());
    if (const ConfigNode* r = item.Find("isRegex")) {
      NIMIFY_ASSIGN_OR_RETURN(m.is_regex, r->AsBool());
    }
    if (const ConfigNode* e = item.Find("isEqual")) {
      NIMIFY_ASSIGN_OR_RETURN(m.is_equal, e->AsBool());
    }
    out.push_back(std::move(m));
  }
  return out;
}

// One entry of the acks file, resolved to absolute times.
struct SideEvent {
  std::int64_t at_ms = 0;
  std::optional<Acknowledgement> ack;
  std::optional<Silence> silence;
  SourcePosition pos;
};

Result<std::vector<SideEvent>> LoadAcks(const std::string& path, std::int64_t stream_start_ms) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::NotFound(path + ": cannot read the file");
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
  std::fclose(f);
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::ParseYaml(text, path));
  std::vector<SideEvent> out;
  if (root.is_null()) return out;
  if (!root.is_sequence()) return root.Error("the acks file must be a list of {at, ack | silence}");
  for (const ConfigNode& item : root.items()) {
    if (!item.is_map()) return item.Error("an entry must be a mapping {at, ack | silence}");
    NIMIFY_RETURN_IF_ERROR(item.CheckKeys({"at", "ack", "silence"}, "acks entry"));
    SideEvent ev;
    ev.pos = item.position();
    const ConfigNode* at = item.Find("at");
    if (at == nullptr) return item.Error("missing `at`");
    NIMIFY_ASSIGN_OR_RETURN(ev.at_ms, ReadTime(*at, stream_start_ms));
    const ConfigNode* ack = item.Find("ack");
    const ConfigNode* silence = item.Find("silence");
    if ((ack == nullptr) == (silence == nullptr)) {
      return item.Error("an entry needs exactly one of `ack` and `silence`");
    }
    if (ack != nullptr) {
      if (!ack->is_map()) return ack->Error("`ack` must be a mapping");
      NIMIFY_RETURN_IF_ERROR(ack->CheckKeys(
          {"matchers", "fingerprint", "created_by", "comment", "expires_in"}, "ack"));
      Acknowledgement a;
      a.created_by = "nimify replay";
      if (const ConfigNode* m = ack->Find("matchers")) {
        NIMIFY_ASSIGN_OR_RETURN(a.matchers, ReadMatchers(*m));
      }
      if (const ConfigNode* fp = ack->Find("fingerprint")) {
        NIMIFY_ASSIGN_OR_RETURN(a.fingerprint, fp->AsString());
      }
      if (a.matchers.empty() == a.fingerprint.empty()) {
        return ack->Error("an ack needs exactly one of `matchers` and `fingerprint`");
      }
      if (const ConfigNode* c = ack->Find("created_by")) {
        NIMIFY_ASSIGN_OR_RETURN(a.created_by, c->AsString());
      }
      if (const ConfigNode* c = ack->Find("comment")) {
        NIMIFY_ASSIGN_OR_RETURN(a.comment, c->AsString());
      }
      if (const ConfigNode* e = ack->Find("expires_in")) {
        NIMIFY_ASSIGN_OR_RETURN(std::int64_t d, ReadDuration(*e));
        a.ends_at_ms = ev.at_ms + d;
      }
      ev.ack = std::move(a);
    } else {
      if (!silence->is_map()) return silence->Error("`silence` must be a mapping");
      NIMIFY_RETURN_IF_ERROR(silence->CheckKeys({"matchers", "starts_at", "ends_at", "duration",
                                                 "created_by", "comment", "expire_on_resolve"},
                                                "silence"));
      Silence s;
      s.created_by = "nimify replay";
      const ConfigNode* m = silence->Find("matchers");
      if (m == nullptr) return silence->Error("missing `matchers`");
      NIMIFY_ASSIGN_OR_RETURN(s.matchers, ReadMatchers(*m));
      s.starts_at_ms = ev.at_ms;
      if (const ConfigNode* st = silence->Find("starts_at")) {
        NIMIFY_ASSIGN_OR_RETURN(s.starts_at_ms, ReadTime(*st, stream_start_ms));
      }
      const ConfigNode* ends = silence->Find("ends_at");
      const ConfigNode* duration = silence->Find("duration");
      if (ends != nullptr && duration != nullptr) {
        return silence->Error("give `ends_at` or `duration`, not both");
      }
      s.ends_at_ms = s.starts_at_ms + 60 * 60 * 1000;  // the runbook's one hour
      if (ends != nullptr) {
        NIMIFY_ASSIGN_OR_RETURN(s.ends_at_ms, ReadTime(*ends, stream_start_ms));
      }
      if (duration != nullptr) {
        NIMIFY_ASSIGN_OR_RETURN(std::int64_t d, ReadDuration(*duration));
        s.ends_at_ms = s.starts_at_ms + d;
      }
      if (s.ends_at_ms <= s.starts_at_ms)
        return silence->Error("the silence ends before it starts");
      if (const ConfigNode* c = silence->Find("created_by")) {
        NIMIFY_ASSIGN_OR_RETURN(s.created_by, c->AsString());
      }
      if (const ConfigNode* c = silence->Find("comment")) {
        NIMIFY_ASSIGN_OR_RETURN(s.comment, c->AsString());
      }
      if (const ConfigNode* e = silence->Find("expire_on_resolve")) {
        NIMIFY_ASSIGN_OR_RETURN(s.expire_on_resolve, e->AsBool());
      }
      ev.silence = std::move(s);
    }
    out.push_back(std::move(ev));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SideEvent& a, const SideEvent& b) { return a.at_ms < b.at_ms; });
  return out;
}

// Knows which evaluation instants the engine's dispatcher has delivered.
// Registered after the responder, so OnEvaluation(t) here means the responder
// got it too (the dispatcher calls handlers in registration order).
// Thread safety: OnEvaluation runs on the dispatcher thread, WaitFor on the
// replay's; the mutex guards `last_`.
class EvaluationTracker final : public AlertHandler {
 public:
  void OnAlert(const AlertEvent& /*event*/) override {}
  void OnEvaluation(std::int64_t eval_time_ms) override {
    {
      MutexLock lock(mu_);
      last_ = std::max(last_, eval_time_ms);
    }
    cv_.NotifyAll();
  }
  // Whether instant t_ms was delivered within `timeout`.
  bool WaitFor(std::int64_t t_ms, std::chrono::milliseconds timeout) {
    MutexLock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (last_ < t_ms) {
      if (!cv_.WaitUntil(mu_, deadline)) return last_ >= t_ms;
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;  // signalled when last_ grows
  std::int64_t last_ NIMIFY_GUARDED_BY(mu_) = std::numeric_limits<std::int64_t>::min();
};

// Holds decisions until their instant is complete, then prints them sorted by
// time (decisions of one instant keep the responder's order).
// Thread safety: Add runs on the responder's thread, Print on the replay's;
// mu_ guards `pending_`, `printed_` is the replay thread's.
class DecisionPrinter {
 public:
  void Add(const Decision& d) {
    MutexLock lock(mu_);
    pending_.push_back(d);
  }
  // Prints every decision at or before `t_ms` (all of them with t_ms = max).
  std::size_t PrintUpTo(std::int64_t t_ms) {
    std::vector<Decision> ready;
    {
      MutexLock lock(mu_);
      std::stable_sort(pending_.begin(), pending_.end(),
                       [](const Decision& a, const Decision& b) { return a.ts_ms < b.ts_ms; });
      auto split = std::find_if(pending_.begin(), pending_.end(),
                                [&](const Decision& d) { return d.ts_ms > t_ms; });
      ready.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(split));
      pending_.erase(pending_.begin(), split);
    }
    for (const Decision& d : ready) std::printf("%s\n", DecisionToJson(d).c_str());
    if (!ready.empty()) std::fflush(stdout);
    printed_ += ready.size();
    return ready.size();
  }
  std::size_t printed() const { return printed_; }

 private:
  Mutex mu_;
  std::vector<Decision> pending_ NIMIFY_GUARDED_BY(mu_);
  std::size_t printed_ = 0;
};

struct ReplayFlags {
  std::vector<std::string> rules;
  std::string config;
  std::string input;
  std::string acks;
  std::string state_dir;
  bool plan = false;
  PromqlCompat compat = PromqlCompat::kPrometheus3;
  std::size_t test_group = 0;
  std::int64_t eval_interval_ms = 0;  // 0: from the input, else 1m
  std::optional<std::int64_t> tail_ms;
};

// The longest escalation delay in the config, so the default tail covers it.
std::int64_t LongestEscalationMs(const ConfigNode& config) {
  std::int64_t longest = 0;
  const ConfigNode* escalations = config.Find("escalations");
  if (escalations == nullptr) return 0;
  for (const auto& [name, policy] : escalations->entries()) {
    const ConfigNode* levels = policy.Find("levels");
    if (levels == nullptr) continue;
    for (const ConfigNode& level : levels->items()) {
      const ConfigNode* after = level.Find("after");
      if (after == nullptr) continue;
      if (auto d = after->AsDuration(); d.ok())
        longest = std::max<std::int64_t>(longest, d->count());
    }
  }
  return longest;
}

constexpr std::chrono::milliseconds kStepTimeout{60'000};

int Replay(const ReplayFlags& flags) {
  // Inputs first: every file problem is reported before anything starts.
  ReplayInputOptions input_options;
  input_options.test_group = flags.test_group;
  auto input = LoadReplayInput(flags.input, input_options);
  if (!input.ok()) return Failed(input.status());
  auto rules = RuleSet::LoadFiles(flags.rules);
  if (!rules.ok()) return Failed(rules.status());

  std::FILE* cf = std::fopen(flags.config.c_str(), "rb");
  if (cf == nullptr) return Failed(Status::NotFound(flags.config + ": cannot read the file"));
  std::string config_text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), cf)) > 0;) config_text.append(buf, n);
  std::fclose(cf);
  auto config = ConfigNode::ParseYaml(config_text, flags.config);
  if (!config.ok()) return Failed(config.status());

  const std::int64_t eval_ms = flags.eval_interval_ms > 0          ? flags.eval_interval_ms
                               : input->evaluation_interval_ms > 0 ? input->evaluation_interval_ms
                                                                   : 60'000;
  // Promtool files and load scripts count from 0; a recording from its first sample.
  const std::int64_t stream_start =
      input->format == ReplayFormat::kRemoteWrite ? input->first_ms : 0;
  std::vector<SideEvent> side;
  if (!flags.acks.empty()) {
    auto loaded = LoadAcks(flags.acks, stream_start);
    if (!loaded.ok()) return Failed(loaded.status());
    side = std::move(loaded).value();
  }

  std::shared_ptr<StateStore> store;
  if (!flags.state_dir.empty()) {
    auto opened = OpenFileStateStore(flags.state_dir);
    if (!opened.ok()) return Failed(opened.status());
    store = std::move(opened).value();
  }

  auto printer = std::make_shared<DecisionPrinter>();
  ResponderOptions ro;
  ro.clock = ResponderClock::kManual;
  ro.force_dry_run = flags.plan;
  ro.store = store;
  ro.seed = 1;  // the same jitter every run
  ro.on_decision = [printer](const Decision& d) { printer->Add(d); };
  ro.log = [](LogLevel level, std::string_view line) {
    if (level >= LogLevel::kWarn) {
      std::fprintf(stderr, "responder: %.*s\n", static_cast<int>(line.size()), line.data());
    }
  };
  auto responder = Responder::Create(*config, ro);
  if (!responder.ok()) return Failed(responder.status());

  EngineOptions eo;
  eo.shards = 1;
  eo.compat = flags.compat;
  eo.default_eval_interval = std::chrono::milliseconds(eval_ms);
  eo.deterministic_order = true;
  // Decisions in evaluation order, whatever the thread timing: a replay has no
  // latency to save.
  eo.fire_on_crossing = false;
  eo.log = [](LogLevel level, std::string_view line) {
    if (level >= LogLevel::kWarn) {
      std::fprintf(stderr, "engine: %.*s\n", static_cast<int>(line.size()), line.data());
    }
  };
  auto engine = Engine::Create(eo, *rules);
  if (!engine.ok()) return Failed(engine.status());
  if (Status s = (*responder)->Attach(**engine); !s.ok()) return Failed(s);
  auto tracker = std::make_shared<EvaluationTracker>();
  (*engine)->AddHandler(tracker);

  auto producer = (*engine)->NewProducer();
  if (!producer.ok()) return Failed(producer.status());
  // Every sample in time order, with its series' ref.
  std::vector<Sample> samples;
  for (const ReplaySeries& s : input->series) {
    std::vector<Label> labels;
    for (const auto& l : s.labels) labels.push_back({l.name, l.value});
    auto ref = (*producer)->Resolve(labels);
    if (!ref.ok()) return Failed(ref.status().WithPrefix(flags.input));
    for (const auto& p : s.points) samples.push_back({*ref, p.t_ms, p.value});
  }
  std::stable_sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return a.timestamp_ms < b.timestamp_ms;
  });

  // The engine evaluates each group at the multiples of its interval: step
  // through their greatest common divisor and wait where some group is due.
  std::vector<std::int64_t> intervals;
  for (const RuleInfo& rule : (*rules)->rules()) {
    const std::int64_t iv = rule.group_interval.count() > 0 ? rule.group_interval.count() : eval_ms;
    if (std::find(intervals.begin(), intervals.end(), iv) == intervals.end())
      intervals.push_back(iv);
  }
  if (intervals.empty()) intervals.push_back(eval_ms);
  std::int64_t step_ms = 0;
  for (std::int64_t iv : intervals) step_ms = std::gcd(step_ms, iv);
  auto group_due = [&](std::int64_t t) {
    return std::any_of(intervals.begin(), intervals.end(),
                       [&](std::int64_t iv) { return t % iv == 0; });
  };
  auto floor_to = [&](std::int64_t t) {
    return t >= 0 ? t / step_ms * step_ms : -((-t + step_ms - 1) / step_ms) * step_ms;
  };
  const std::int64_t first = floor_to(samples.empty() ? stream_start : input->first_ms);
  const std::int64_t data_end = samples.empty() ? first : floor_to(input->last_ms + step_ms - 1);
  const std::int64_t tail = flags.tail_ms.value_or(
      std::max<std::int64_t>(60 * 60 * 1000, LongestEscalationMs(*config) + 10 * step_ms));
  const std::int64_t end = data_end + tail;
  std::fprintf(
      stderr,
      "nimify replay: %s %s: %zu series, %zu samples, %s to %s ms; evaluating every %" PRId64
      " ms up to %" PRId64 " ms%s\n",
      std::string(ReplayFormatName(input->format)).c_str(), flags.input.c_str(),
      input->series.size(), samples.size(), std::to_string(input->first_ms).c_str(),
      std::to_string(input->last_ms).c_str(), step_ms, end,
      flags.plan ? " (plan: nothing runs)" : "");

  Responder& r = **responder;
  std::size_t next_sample = 0;
  std::size_t next_side = 0;
  std::vector<Sample> batch;
  auto fail = [&](const Status& s) {
    printer->PrintUpTo(std::numeric_limits<std::int64_t>::max());
    (void)(*producer)->Flush();
    (*producer)->Close();
    (void)(*engine)->Stop();
    (void)r.Stop(std::chrono::seconds(5));
    return Failed(s);
  };
  // Applies the acks file's entries due at or before t (each at its own time).
  auto apply_side = [&](std::int64_t t) -> Status {
    for (; next_side < side.size() && side[next_side].at_ms <= t; ++next_side) {
      const SideEvent& ev = side[next_side];
      if (ev.at_ms > r.now_ms()) r.AdvanceTo(ev.at_ms);
      NIMIFY_RETURN_IF_ERROR(r.WaitIdle(kStepTimeout));
      if (ev.ack) {
        auto id = r.Acknowledge(*ev.ack);
        if (!id.ok()) return id.status().WithPrefix(ev.pos.ToString());
      } else {
        auto id = r.AddSilence(*ev.silence);
        if (!id.ok()) return id.status().WithPrefix(ev.pos.ToString());
      }
    }
    return Status::Ok();
  };

  for (std::int64_t t = first; t <= end; t += step_ms) {
    if (Status s = apply_side(t); !s.ok()) return fail(s);
    if (t <= data_end) {
      // One timestamp at a time, so for: 0 rules see each sample's instant.
      while (next_sample < samples.size() && samples[next_sample].timestamp_ms <= t) {
        const std::int64_t ts = samples[next_sample].timestamp_ms;
        batch.clear();
        for (; next_sample < samples.size() && samples[next_sample].timestamp_ms == ts;
             ++next_sample) {
          batch.push_back(samples[next_sample]);
        }
        std::size_t accepted = 0;
        if (Status s = (*producer)->AppendBatch(batch, &accepted); !s.ok()) {
          std::fprintf(stderr, "nimify replay: %zu of %zu samples at %" PRId64 " refused: %s\n",
                       batch.size() - accepted, batch.size(), ts, std::string(s.message()).c_str());
        }
        if (Status s = (*producer)->AdvanceWatermark(ts); !s.ok()) return fail(s);
      }
      if (Status s = (*producer)->AdvanceWatermark(t); !s.ok()) return fail(s);
      if (group_due(t) && !tracker->WaitFor(t, kStepTimeout)) {
        return fail(Status::DeadlineExceeded("the engine did not evaluate " + std::to_string(t) +
                                             " in time"));
      }
    }
    r.AdvanceTo(t);
    if (Status s = r.WaitIdle(kStepTimeout); !s.ok()) return fail(s);
    printer->PrintUpTo(t);
  }
  if (Status s = apply_side(std::numeric_limits<std::int64_t>::max()); !s.ok()) return fail(s);

  (*producer)->Close();
  Status stopped = (*engine)->Stop();
  Status idle = r.WaitIdle(kStepTimeout);
  Status responder_stopped = r.Stop();
  printer->PrintUpTo(std::numeric_limits<std::int64_t>::max());
  for (const Status* s : {&stopped, &idle, &responder_stopped}) {
    if (!s->ok()) return Failed(*s);
  }
  const ResponderStats stats = r.stats();
  std::fprintf(stderr,
               "nimify replay: %zu decisions; %" PRIu64 " alerts, %" PRIu64
               " notifications, %" PRIu64 " steps planned, %" PRIu64 " run, %" PRIu64
               " skipped, %" PRIu64 " escalations\n",
               printer->printed(), stats.alerts_received, stats.notifications, stats.steps_planned,
               stats.steps_run, stats.steps_skipped, stats.escalations);
  return 0;
}

}  // namespace

int RunReplay(const Args& args) {
  ReplayFlags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (arg == "--plan") {
      flags.plan = true;
      continue;
    }
    const auto eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    std::string value;
    if (flag.rfind("--", 0) != 0) return UsageError("unexpected argument '" + arg + "'");
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return UsageError("flag " + flag + " needs a value");
    }
    if (flag == "--rules") {
      flags.rules.push_back(value);
      // --rules a.yml b.yml: the files up to the next flag.
      while (eq == std::string::npos && i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
        flags.rules.push_back(args[++i]);
      }
    } else if (flag == "--config") {
      flags.config = value;
    } else if (flag == "--input") {
      flags.input = value;
    } else if (flag == "--acks") {
      flags.acks = value;
    } else if (flag == "--state-dir") {
      flags.state_dir = value;
    } else if (flag == "--promql-compat") {
      if (value == "2") {
        flags.compat = PromqlCompat::kPrometheus2;
      } else if (value == "3") {
        flags.compat = PromqlCompat::kPrometheus3;
      } else {
        return UsageError("--promql-compat must be 2 or 3");
      }
    } else if (flag == "--test-group") {
      char* end = nullptr;
      const unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0') return UsageError("--test-group wants a number");
      flags.test_group = n;
    } else if (flag == "--eval-interval" || flag == "--tail") {
      auto d = promql::ParseDuration(value);
      if (!d.ok() || *d < 0 || (flag == "--eval-interval" && *d == 0)) {
        return UsageError("invalid " + flag + " '" + value + "'");
      }
      if (flag == "--tail") {
        flags.tail_ms = *d;
      } else {
        flags.eval_interval_ms = *d;
      }
    } else {
      return UsageError("unknown flag " + flag);
    }
  }
  if (flags.rules.empty()) return UsageError("missing --rules FILE");
  if (flags.config.empty()) return UsageError("missing --config FILE");
  if (flags.input.empty()) return UsageError("missing --input FILE");
  return Replay(flags);
}

}  // namespace nimify::cli
