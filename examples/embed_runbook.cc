// Embeds the nimify engine with the runbook's alerting rules, streams a
// runbook incident through it (runbook_incident.h: the service going down,
// the error rate climbing, a model failing to load, then recovery) and prints
// each alert as it goes pending, fires and resolves.
//
//   embed_runbook [rules/runbook.rules.yml]
//
// Exits 0 when ServiceDown, HighErrorRate and ModelLoadFailure each fired and
// resolved, 1 otherwise, 2 on bad input.
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "nimify/nimify.h"
#include "runbook_incident.h"

namespace {

// 2024-01-01T00:00:00Z: the incident's first scrape.
constexpr std::int64_t kStartMs = 1'704'067'200'000;

std::string Clock(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

std::string Braced(const nimify::OwnedLabels& labels) {
  std::string out = "{";
  for (const auto& l : labels) {
    if (l.name == "alertname") continue;
    if (out.size() > 1) out += ", ";
    out += l.name + "=\"" + l.value + "\"";
  }
  return out + "}";
}

std::string Annotation(const nimify::AlertEvent& e, const std::string& name) {
  for (const auto& a : e.annotations) {
    if (a.name == name) return a.value;
  }
  return {};
}

// Prints transitions and remembers which alerts fired and resolved. Runs on
// the engine's dispatcher thread.
class Printer final : public nimify::AlertHandler {
 public:
  void OnAlert(const nimify::AlertEvent& e) override {
    const char* state = e.state == nimify::AlertState::kPending  ? "PENDING "
                        : e.state == nimify::AlertState::kFiring ? "FIRING  "
                                                                  : "RESOLVED";
    std::printf("[%s] %s %-16s %s\n", Clock(e.eval_time_ms).c_str(), state, e.rule.c_str(),
                Braced(e.labels).c_str());
    if (e.state == nimify::AlertState::kFiring) {
      std::printf("           %s\n           runbook: %s\n", Annotation(e, "summary").c_str(),
                  Annotation(e, "runbook").c_str());
    } else if (e.state == nimify::AlertState::kResolved && e.fired_at_ms) {
      std::printf("           fired for %" PRId64 "m%02" PRId64 "s\n",
                  (*e.resolved_at_ms - *e.fired_at_ms) / 60'000,
                  (*e.resolved_at_ms - *e.fired_at_ms) / 1000 % 60);
    }
    std::fflush(stdout);
    std::lock_guard lock(mu_);
    if (e.state == nimify::AlertState::kFiring) fired_.insert(e.rule);
    if (e.state == nimify::AlertState::kResolved && e.fired_at_ms) resolved_.insert(e.rule);
  }

  bool FiredAndResolved(const std::string& rule) const {
    std::lock_guard lock(mu_);
    return fired_.count(rule) > 0 && resolved_.count(rule) > 0;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> fired_;
  std::set<std::string> resolved_;
};

// Streams every series of the incident, one scrape at a time.
nimify::Status Stream(nimify::Producer& producer, const runbook_incident::Incident& incident) {
  std::vector<nimify::SeriesRef> refs;
  for (const auto& s : incident.series) {
    std::vector<nimify::Label> labels;
    for (const auto& [name, value] : s.labels) labels.push_back({name, value});
    NIMIFY_ASSIGN_OR_RETURN(nimify::SeriesRef ref, producer.Resolve(labels));
    refs.push_back(ref);
  }
  std::vector<nimify::Sample> scrape;
  for (std::size_t step = 0; step < incident.steps; ++step) {
    scrape.clear();
    for (std::size_t i = 0; i < incident.series.size(); ++i) {
      if (const auto& v = incident.series[i].values[step]) {
        scrape.push_back({refs[i], incident.TimeOf(step), *v});
      }
    }
    NIMIFY_RETURN_IF_ERROR(producer.AppendBatch(scrape));
    // The scrape is complete: the engine may evaluate up to its timestamp.
    NIMIFY_RETURN_IF_ERROR(producer.AdvanceWatermark(incident.TimeOf(step)));
  }
  return nimify::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string rules_path = argc > 1 ? argv[1] : "rules/runbook.rules.yml";
  auto rules = nimify::RuleSet::LoadFile(rules_path);
  if (!rules.ok()) {
    std::fprintf(stderr, "embed_runbook: %s\n", rules.status().ToString().c_str());
    return 2;
  }
  nimify::EngineOptions options;
  options.shards = 2;
  options.external_url = "http://nimify.example:9090";
  options.log = [](nimify::LogLevel, std::string_view line) {
    std::fprintf(stderr, "engine: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  auto engine = nimify::Engine::Create(options, *rules);
  if (!engine.ok()) {
    std::fprintf(stderr, "embed_runbook: %s\n", engine.status().ToString().c_str());
    return 2;
  }
  auto printer = std::make_shared<Printer>();
  (*engine)->AddHandler(printer);

  const runbook_incident::Incident incident = runbook_incident::MakeIncident(15'000, kStartMs);
  std::printf("nimify %s: %zu rules from %s; streaming a 45-minute incident (%zu series, "
              "scraped every 15s)\n\n",
              nimify::Version(), (*rules)->rule_count(), rules_path.c_str(),
              incident.series.size());
  {
    auto producer = (*engine)->NewProducer();
    if (!producer.ok()) {
      std::fprintf(stderr, "embed_runbook: %s\n", producer.status().ToString().c_str());
      return 2;
    }
    const nimify::Status streamed = Stream(**producer, incident);
    if (!streamed.ok()) {
      std::fprintf(stderr, "embed_runbook: %s\n", streamed.ToString().c_str());
      return 2;
    }
  }  // closing the producer lets the engine evaluate up to the last scrape
  const nimify::Status stopped = (*engine)->Stop();
  if (!stopped.ok()) {
    std::fprintf(stderr, "embed_runbook: %s\n", stopped.ToString().c_str());
    return 2;
  }
  const nimify::EngineStats stats = (*engine)->stats();
  std::printf("\n%" PRIu64 " samples, %" PRIu64 " evaluation instants, %" PRIu64
              " rule evaluations, %" PRIu64 " alert transitions\n",
              stats.samples_accepted, stats.evaluation_instants, stats.rule_evaluations,
              stats.alert_events);
  int missing = 0;
  for (const char* rule : {"ServiceDown", "HighErrorRate", "ModelLoadFailure"}) {
    if (!printer->FiredAndResolved(rule)) {
      std::fprintf(stderr, "embed_runbook: %s did not both fire and resolve\n", rule);
      ++missing;
    }
  }
  return missing == 0 ? 0 : 1;
}
