// Helpers for the engine tests: a handler that records events and lets the
// test wait for them.
#ifndef NIMIFY_TESTS_ENGINE_ENGINE_TEST_UTIL_H_
#define NIMIFY_TESTS_ENGINE_ENGINE_TEST_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "nimify/alert.h"
#include "nimify/sample.h"

namespace nimify {

// For gtest's failure messages.
inline void PrintTo(const OwnedLabel& l, std::ostream* os) { *os << l.name << "=" << l.value; }

}  // namespace nimify

namespace nimify::testing {

class Recorder final : public AlertHandler {
 public:
  void OnAlert(const AlertEvent& event) override {
    {
      std::lock_guard lock(mu_);
      events_.push_back(event);
    }
    cv_.notify_all();
  }
  void Flush() override {
    std::lock_guard lock(mu_);
    ++flushes_;
  }

  std::vector<AlertEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  int flushes() const {
    std::lock_guard lock(mu_);
    return flushes_;
  }

  // Waits until `pred(events)` holds; false after `timeout`.
  bool WaitFor(const std::function<bool(const std::vector<AlertEvent>&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(events_); });
  }
  bool WaitForCount(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return WaitFor([n](const std::vector<AlertEvent>& e) { return e.size() >= n; }, timeout);
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AlertEvent> events_;
  int flushes_ = 0;
};

inline std::string Get(const OwnedLabels& labels, const std::string& name) {
  for (const auto& l : labels) {
    if (l.name == name) return l.value;
  }
  return {};
}

// "TooHot firing @25000" and the like, for readable failures.
inline std::string Describe(const AlertEvent& e) {
  std::string s = e.rule + " " + std::string(AlertStateName(e.state)) + " @" +
                  std::to_string(e.eval_time_ms) + " {";
  for (const auto& l : e.labels) s += l.name + "=" + l.value + ",";
  return s + "}";
}

// Describe() plus the times, the value to 17 digits and the annotations, for
// every event, sorted (the order within one evaluation is not fixed): two
// runs that agree on this agree on everything a handler saw.
inline std::vector<std::string> DescribeAllSorted(const std::vector<AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    std::string s = Describe(e) + " active=" + std::to_string(e.active_at_ms) +
                    " fired=" + (e.fired_at_ms ? std::to_string(*e.fired_at_ms) : "-") +
                    " resolved=" + (e.resolved_at_ms ? std::to_string(*e.resolved_at_ms) : "-");
    char value[32];
    std::snprintf(value, sizeof(value), " v=%.17g", e.value);
    s += value;
    for (const auto& a : e.annotations) s += " " + a.name + "=" + a.value;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> DescribeAll(const std::vector<AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Describe(e));
  return out;
}

}  // namespace nimify::testing

#endif  // NIMIFY_TESTS_ENGINE_ENGINE_TEST_UTIL_H_
