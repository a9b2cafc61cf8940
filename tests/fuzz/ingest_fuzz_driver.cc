// A bounded, deterministic stand-in for libFuzzer, so that the ingest fuzz
// entries run under ctest with g++ (which has no -fsanitize=fuzzer).
//
//   ingest_text_fuzz                     # default iterations from the built-in seeds
//   ingest_text_fuzz --iterations=1000000 --seed=7
//   ingest_text_fuzz crash-file ...      # replay inputs (e.g. from a libFuzzer run)
//
// Each entry file defines LLVMFuzzerTestOneInput and IngestFuzzSeeds(); the
// entry aborts on a broken invariant, which fails the test. Not linked when
// NIMIFY_LIBFUZZER is on: libFuzzer brings its own main().
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
std::vector<std::string> IngestFuzzSeeds();

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// Byte-level mutations plus splicing between corpus entries, which is what
// finds most structural bugs in small text and protobuf decoders.
class Mutator {
 public:
  Mutator(std::uint64_t seed, const std::vector<std::string>* corpus)
      : rng_(seed), corpus_(corpus) {}

  std::size_t Below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  std::string Mutate(std::string s) {
    using namespace std::string_view_literals;
    static constexpr std::string_view kInteresting[] = {
        "\n"sv,      " "sv,          "\t"sv,          "{"sv,
        "}"sv,       "\""sv,         "\\"sv,          ","sv,
        "="sv,       "#"sv,          "# EOF\n"sv,     "# TYPE "sv,
        "# HELP "sv, "NaN"sv,        "+Inf"sv,        "-Inf"sv,
        "1e308"sv,   "1e-400"sv,     "\xff"sv,        "\x80"sv,
        "\0"sv,      "["sv,          "]"sv,           ":"sv,
        "[1,2]"sv,   "\"labels\""sv, "\"samples\""sv, "\x0a"sv,
        "\x12"sv,    "\x09"sv,       "\x10"sv,        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"sv};
    const std::size_t ops = 1 + Below(6);
    for (std::size_t i = 0; i < ops; ++i) {
      const std::size_t pos = Below(s.size() + 1);
      switch (Below(8)) {
        case 0:
          if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
          break;
        case 1:
          if (!s.empty()) s[Below(s.size())] = static_cast<char>(Below(256));
          break;
        case 2:
          s.insert(pos, 1, static_cast<char>(Below(256)));
          break;
        case 3:
          if (!s.empty()) s.erase(Below(s.size()), 1 + Below(8));
          break;
        case 4: {
          const std::string_view token = kInteresting[Below(std::size(kInteresting))];
          s.insert(pos, token.data(), token.size());
          break;
        }
        case 5:  // duplicate a chunk
          if (!s.empty()) {
            const std::size_t from = Below(s.size());
            const std::string chunk = s.substr(from, 1 + Below(32));
            s.insert(pos, chunk);
          }
          break;
        case 6: {  // splice in part of another corpus entry
          const std::string& other = (*corpus_)[Below(corpus_->size())];
          if (!other.empty()) {
            const std::size_t from = Below(other.size());
            s.insert(pos, other.substr(from, 1 + Below(64)));
          }
          break;
        }
        default:
          s.resize(Below(s.size() + 1));
          break;
      }
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
  const std::vector<std::string>* corpus_;
};

}  // namespace

int main(int argc, char** argv) {
  long long iterations = 50000;
  std::uint64_t seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--iterations=")) {
      iterations = std::atoll(argv[i] + 13);
    } else if (arg.starts_with("--seed=")) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else {
      files.emplace_back(arg);
    }
  }
  if (!files.empty()) {
    for (const std::string& path : files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 2;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      Run(ss.str());
    }
    std::printf("replayed %zu input(s)\n", files.size());
    return 0;
  }
  // Evolving corpus: mutants that differ from their parent are kept (bounded),
  // so later mutations build on earlier ones.
  std::vector<std::string> corpus = IngestFuzzSeeds();
  corpus.emplace_back();
  for (const std::string& s : corpus) Run(s);
  Mutator mutator(seed, &corpus);
  constexpr std::size_t kMaxCorpus = 512;
  const std::size_t seeds = corpus.size();
  for (long long i = 0; i < iterations; ++i) {
    std::string input = mutator.Mutate(corpus[mutator.Below(corpus.size())]);
    Run(input);
    if (mutator.Below(16) == 0) {
      if (corpus.size() < kMaxCorpus) {
        corpus.push_back(std::move(input));
      } else {
        corpus[seeds + mutator.Below(kMaxCorpus - seeds)] = std::move(input);
      }
    }
  }
  std::printf("ran %lld mutated inputs from %zu seeds (seed %llu)\n", iterations, seeds,
              static_cast<unsigned long long>(seed));
  return 0;
}
