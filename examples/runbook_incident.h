// A runbook incident as samples, for the embedding example and the engine's
// replay tests: 45 minutes of metrics scraped every `step_ms` from the
// nimify API, its database, a GPU node and Triton.
//
//   minute  5: api-1 stops answering scrapes (up == 0)    -> ServiceDown
//   minute 10: api-1 is back                              -> ServiceDown resolves
//   minute 12: api-0's 5xx rate starts climbing (to 30%)  -> HighErrorRate (for: 2m)
//   minute 22: the errors stop                            -> resolves once the 5m rate drops
//   28m15s:    Triton fails to load model resnet50        -> ModelLoadFailure (for: 0)
//   minute 36: Triton restarted with the fixed model      -> ModelLoadFailure resolves
//              (its failure counter starts again from 0)
//
// Only standard C++ and the public nimify headers, so an embedding program
// can copy it.
#ifndef NIMIFY_EXAMPLES_RUNBOOK_INCIDENT_H_
#define NIMIFY_EXAMPLES_RUNBOOK_INCIDENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace runbook_incident {

struct Series {
  std::vector<std::pair<std::string, std::string>> labels;  // __name__ first
  std::vector<std::optional<double>> values;                // one per step; nullopt: no sample
};

struct Incident {
  std::int64_t start_ms = 0;
  std::int64_t step_ms = 0;
  std::size_t steps = 0;
  std::vector<Series> series;

  std::int64_t TimeOf(std::size_t step) const {
    return start_ms + static_cast<std::int64_t>(step) * step_ms;
  }
};

// `step_ms` must divide one minute. Samples start at `start_ms` (a multiple
// of one minute keeps them on the rule groups' evaluation grid).
inline Incident MakeIncident(std::int64_t step_ms = 15'000, std::int64_t start_ms = 0) {
  constexpr double kMinute = 60'000;
  Incident in;
  in.start_ms = start_ms;
  in.step_ms = step_ms;
  in.steps = static_cast<std::size_t>(45 * 60'000 / step_ms) + 1;
  auto add = [&](std::vector<std::pair<std::string, std::string>> labels, auto value_at) {
    Series s;
    s.labels = std::move(labels);
    for (std::size_t i = 0; i < in.steps; ++i) {
      const double minute = static_cast<double>(i) * static_cast<double>(step_ms) / kMinute;
      s.values.push_back(value_at(minute));
    }
    in.series.push_back(std::move(s));
  };
  auto constant = [](double v) { return [v](double) -> std::optional<double> { return v; }; };

  // Scrape health.
  add({{"__name__", "up"}, {"job", "nimify-api"}, {"instance", "api-0:8000"}}, constant(1));
  add({{"__name__", "up"}, {"job", "nimify-api"}, {"instance", "api-1:8000"}},
      [](double m) -> std::optional<double> { return m >= 5 && m < 10 ? 0 : 1; });
  add({{"__name__", "up"}, {"job", "postgres"}, {"instance", "pg-0:9187"}}, constant(1));
  add({{"__name__", "nvidia_gpu_count"}, {"instance", "gpu-node-1:9400"}}, constant(1));

  // Requests: 100/s of 200s on each instance; api-0's 5xx rate climbs from
  // 0.5/s to 30/s between minutes 12 and 22, then drops back.
  auto requests_200 = [](double m) -> std::optional<double> { return 6000 * m; };
  add({{"__name__", "http_requests_total"},
       {"job", "nimify-api"},
       {"instance", "api-0:8000"},
       {"status", "200"}},
      requests_200);
  // The integral over time of 0.5/s, then 0.5 + 3 * (minutes since 12) per second.
  add({{"__name__", "http_requests_total"},
       {"job", "nimify-api"},
       {"instance", "api-0:8000"},
       {"status", "500"}},
      [](double m) -> std::optional<double> {
        if (m < 12) return 30 * m;
        const double x = m < 22 ? m - 12 : 10;
        const double at_end_of_climb = 360 + 60 * (0.5 * x + 1.5 * x * x);
        return m < 22 ? at_end_of_climb : at_end_of_climb + 30 * (m - 22);
      });
  // Not scraped while api-1 is down.
  add({{"__name__", "http_requests_total"},
       {"job", "nimify-api"},
       {"instance", "api-1:8000"},
       {"status", "200"}},
      [requests_200](double m) -> std::optional<double> {
        if (m >= 5 && m < 10) return std::nullopt;
        return requests_200(m);
      });

  // Triton: one failed model load, scraped at 28m15s (between two rule
  // evaluations); the restart at minute 36 resets the counter.
  add({{"__name__", "triton_model_load_failures_total"},
       {"instance", "triton-0:8002"},
       {"model", "resnet50"}},
      [](double m) -> std::optional<double> { return m >= 28.25 && m < 36 ? 1 : 0; });
  return in;
}

}  // namespace runbook_incident

#endif  // NIMIFY_EXAMPLES_RUNBOOK_INCIDENT_H_
