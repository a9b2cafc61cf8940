// Fuzz entry for the response config loader (src/actions/response_config.*):
// YAML into a ConfigNode, then validation and compilation of routes, receivers,
// handlers, responses, escalations, budgets and time intervals, with every
// handler in dry-run. Invariants: no crash; an error says where
// ("fuzz.yml:line:col" or "fuzz.yml: ...").
#include <cstdint>
#include <string>

#include "actions/memory_state_store.h"
#include "actions/response_config.h"
#include "fuzz/fuzz_check.h"
#include "nimify/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nimify;
  const std::string_view input = fuzz::AsText(data, size);
  Result<ConfigNode> root = ConfigNode::ParseYaml(input, "fuzz.yml");
  if (!root.ok()) {
    FUZZ_CHECK(std::string_view(root.status().message()).starts_with("fuzz.yml"), input);
    return 0;
  }
  actions::MemoryStateStore store([] { return std::int64_t{1700000000000}; });
  actions::LoadContext context;
  context.store = &store;
  context.force_dry_run = true;
  auto config = actions::LoadResponseConfig(*root, context);
  if (config.ok()) {
    FUZZ_CHECK(*config != nullptr, input);
  } else {
    FUZZ_CHECK(!config.status().message().empty(), input);
  }
  return 0;
}
