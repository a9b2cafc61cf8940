// State-store benchmarks: the cost of a durable Put (one write + fdatasync)
// against an unsynced one and the memory store, and of an audit-log Append.
// The synced numbers measure the disk under the temp directory, not nimify.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "nimify/state_store.h"

namespace nimify {
namespace {

class TempStoreDir {
 public:
  TempStoreDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "nimify-store-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempStoreDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<StateStore> OpenOrSkip(benchmark::State& state, const std::string& dir, bool sync) {
  FileStateStoreOptions options;
  options.sync = sync;
  auto store = OpenFileStateStore(dir, options);
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return nullptr;
  }
  return std::move(store).value();
}

// Arg: 1 = fdatasync each write, 0 = not.
void BM_FilePut(benchmark::State& state) {
  TempStoreDir dir;
  auto store = OpenOrSkip(state, dir.path(), state.range(0) != 0);
  if (!store) return;
  const std::string value(200, 'v');
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto rev = store->Put("silence/" + std::to_string(i++ % 1000), value);
    benchmark::DoNotOptimize(rev);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FilePut)->Arg(0)->Arg(1)->UseRealTime();

void BM_FileAppend(benchmark::State& state) {
  TempStoreDir dir;
  auto store = OpenOrSkip(state, dir.path(), state.range(0) != 0);
  if (!store) return;
  const std::string record(300, 'r');
  for (auto _ : state) {
    auto seq = store->Append("audit", record);
    benchmark::DoNotOptimize(seq);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FileAppend)->Arg(0)->Arg(1)->UseRealTime();

void BM_MemoryPut(benchmark::State& state) {
  auto store = NewMemoryStateStore();
  const std::string value(200, 'v');
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto rev = store->Put("silence/" + std::to_string(i++ % 1000), value);
    benchmark::DoNotOptimize(rev);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryPut);

void BM_FileGet(benchmark::State& state) {
  TempStoreDir dir;
  auto store = OpenOrSkip(state, dir.path(), false);
  if (!store) return;
  for (int i = 0; i < 1000; ++i) (void)store->Put("silence/" + std::to_string(i), "v");
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto got = store->Get("silence/" + std::to_string(i++ % 1000));
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FileGet);

}  // namespace
}  // namespace nimify

BENCHMARK_MAIN();
