// Stand-in for libFuzzer's main() in the gcc build, for the fuzz entries that
// have no driver of their own: it replays files (a crash reproducer, a
// regression corpus) and, with --mutations=N, runs N byte-level mutations of
// them with a fixed seed, so the entry also runs as a bounded ctest.
//
//   rule_file_fuzz tests/fuzz/regressions/rule_file_fuzz      # replay a directory
//   rule_file_fuzz --mutations=5000 --seed=3 seeds/            # bounded mutation run
//
// Not linked with NIMIFY_LIBFUZZER=ON: libFuzzer brings its own main().
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

bool ReadInputs(const std::string& arg, std::vector<std::string>* inputs) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(arg, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.emplace_back(arg);
  }
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      return false;
    }
    inputs->emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return true;
}

std::string Mutate(const std::vector<std::string>& inputs, std::mt19937_64& rng) {
  const auto below = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  std::string s = inputs[below(inputs.size())];
  const std::size_t rounds = 1 + below(4);
  for (std::size_t i = 0; i < rounds; ++i) {
    const std::size_t pos = below(s.size() + 1);
    switch (below(5)) {
      case 0:
        if (!s.empty()) s[below(s.size())] = static_cast<char>(rng());
        break;
      case 1:
        if (!s.empty()) s.erase(below(s.size()), 1 + below(16));
        break;
      case 2:
        if (!s.empty()) s.insert(pos, s.substr(below(s.size()), 1 + below(32)));
        break;
      case 3: {
        const std::string& other = inputs[below(inputs.size())];
        s = s.substr(0, pos) + other.substr(below(other.size() + 1));
        break;
      }
      default:
        s.insert(pos, 1, static_cast<char>(below(256)));
        break;
    }
    if (s.size() > 65536) s.resize(65536);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--mutations=")) {
      mutations = std::strtol(argv[i] + 12, nullptr, 10);
    } else if (arg.starts_with("--seed=")) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else if (!ReadInputs(argv[i], &inputs)) {
      return 2;
    }
  }
  for (const std::string& input : inputs) Run(input);
  if (inputs.empty()) inputs.emplace_back();
  std::mt19937_64 rng(seed);
  for (long i = 0; i < mutations; ++i) Run(Mutate(inputs, rng));
  std::printf("replayed %zu input(s), ran %ld mutation(s) (seed %llu)\n", inputs.size(), mutations,
              static_cast<unsigned long long>(seed));
  return 0;
}
