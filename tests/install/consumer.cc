// Built against the installed package only: proves the public headers are
// self-contained and that nimify::nimify links with no other dependency, and
// that an Engine works through them: an inline rule set, a producer, samples,
// and an alert delivered to a handler.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "nimify/nimify.h"

namespace {

constexpr char kRules[] = R"(
groups:
  - name: demo
    rules:
      - alert: Hot
        expr: temp > 90
        annotations:
          summary: "room {{ $labels.room }} at {{ $value }}"
)";

int Fail(const char* what, const nimify::Status& s) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  nimify::Status s = nimify::Status::InvalidArgument("demo");
  if (s.ok() || s.code() != nimify::StatusCode::kInvalidArgument) return 1;
  std::printf("nimify %s: %s\n", nimify::Version(), s.ToString().c_str());

  auto rules = nimify::RuleSet::Parse(kRules, "inline.yml");
  if (!rules.ok()) return Fail("RuleSet::Parse", rules.status());
  nimify::EngineOptions options;
  options.shards = 1;
  auto engine = nimify::Engine::Create(options, *rules);
  if (!engine.ok()) return Fail("Engine::Create", engine.status());

  std::atomic<int> firing{0};
  std::string summary;
  (*engine)->Subscribe([&](const nimify::AlertEvent& e) {
    if (e.state == nimify::AlertState::kFiring) {
      for (const auto& a : e.annotations) {
        if (a.name == "summary") summary = a.value;
      }
      ++firing;
    }
  });
  {
    auto producer = (*engine)->NewProducer();
    if (!producer.ok()) return Fail("NewProducer", producer.status());
    const nimify::Label labels[] = {{"__name__", "temp"}, {"room", "lab"}};
    auto ref = (*producer)->Resolve(labels);
    if (!ref.ok()) return Fail("Resolve", ref.status());
    const nimify::Sample samples[] = {{*ref, 60'000, 20}, {*ref, 120'000, 95}};
    if (auto st = (*producer)->AppendBatch(samples); !st.ok()) return Fail("AppendBatch", st);
  }
  if (auto st = (*engine)->Stop(); !st.ok()) return Fail("Stop", st);
  if (firing.load() != 1 || summary != "room lab at 95") {
    std::fprintf(stderr, "consumer: expected one firing alert, got %d (summary \"%s\")\n",
                 firing.load(), summary.c_str());
    return 1;
  }
  std::printf("engine: alert Hot fired: %s\n", summary.c_str());
  return 0;
}
