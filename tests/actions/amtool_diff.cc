// Differential test of `nimify config routes test` against Debian's amtool
// 0.25: random route trees (nested routes, continue, matchers in both quoting
// styles, match/match_re, group_by) and label sets from a seed; both tools run
// on the same alertmanager.yml and arguments; stdout and exit codes must be
// byte-identical. Fixed regression cases (amtool_cases/*.yml) run first.
//
//   amtool_diff --amtool=/usr/bin/amtool --nimify=build/bin/nimify --workdir=DIR
//               [--seed=N] [--configs=N] [--cases=DIR]
//
// The seed comes from --seed, else $NIMIFY_DIFF_SEED, else the clock, and is
// printed so a failure can be replayed. Exit 0 all equal, 1 a difference,
// 77 amtool missing (ctest: skipped) unless $CI is "true" (then 1).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct RunResult {
  std::string out;
  int status = -1;
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

RunResult Run(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const std::string& a : argv) cmd += ShellQuote(a) + " ";
  cmd += "2>/dev/null";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }

  const std::vector<std::string> names = {"alertname", "team", "severity", "env", "service"};
  const std::vector<std::string> values = {"a", "b",       "c",    "prod",        "x y",
                                           "",  "foo,bar", "q\"t", "back\\slash", "é"};
  const std::vector<std::string> regexes = {
      "a|b", "a.*", ".+", "c?", "prod|staging", "x y|z", "[abc]", ".*", "(foo|bar),?.*", "b+"};
  const std::vector<std::string> receivers = {"r0", "r1", "r2", "r3", "r4", "r5"};

  // A matcher string as a config `matchers:` entry would hold it.
  std::string MatcherText(bool allow_bare) {
    const std::string& name = Pick(names);
    const int t = Int(0, 3);
    const char* ops[] = {"=", "!=", "=~", "!~"};
    const std::string value = t >= 2 ? Pick(regexes) : Pick(values);
    bool bare_ok =
        allow_bare && !value.empty() && value.find_first_of(",\"\\ {}") == std::string::npos;
    std::string v;
    if (bare_ok && Chance(50)) {
      v = value;
    } else {
      v = "\"";
      for (char c : value) {
        if (c == '"' || c == '\\') v += '\\';
        v += c;
      }
      v += "\"";
    }
    const std::string sp = Chance(20) ? " " : "";
    return name + sp + ops[t] + sp + v;
  }

  static std::string YamlSingle(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
      if (c == '\'') out += '\'';
      out += c;
    }
    return out + "'";
  }

  void Route(std::ostringstream& y, const std::string& indent, int depth, bool root) {
    const std::string in = indent + (root ? "" : "  ");
    if (root || Chance(60)) y << in << "receiver: " << Pick(receivers) << "\n";
    if (!root) {
      const int style = Int(0, 4);
      if (style == 0 || style == 3) {
        y << in << "matchers:\n";
        const int n = Int(1, 2);
        for (int i = 0; i < n; ++i) y << in << "  - " << YamlSingle(MatcherText(true)) << "\n";
      }
      if (style == 1) {
        std::string list = Chance(50) ? "{" : "";
        const int n = Int(1, 3);
        for (int i = 0; i < n; ++i) list += (i ? ", " : "") + MatcherText(true);
        if (list[0] == '{') list += Chance(30) ? ", }" : "}";
        y << in << "matchers: [" << YamlSingle(list) << "]\n";
      }
      if (style == 2 || style == 3) {
        y << in << "match:\n"
          << in << "  " << Pick(names) << ": " << YamlSingle(Pick(values)) << "\n";
      }
      if (style == 4) {
        y << in << "match_re:\n"
          << in << "  " << Pick(names) << ": " << YamlSingle(Pick(regexes)) << "\n";
      }
      if (Chance(35)) y << in << "continue: true\n";
    }
    if (Chance(30)) {
      // A duplicate (alertname twice) now and then: both tools must reject it.
      const std::string second = Chance(5) ? "alertname" : names[1 + Int(0, 3)];
      y << in << "group_by: " << (Chance(30) ? "['...']" : "[alertname, " + second + "]") << "\n";
    }
    if (depth < 3 && (root || Chance(40))) {
      const int n = Int(1, root ? 4 : 3);
      y << in << "routes:\n";
      for (int i = 0; i < n; ++i) {
        y << in << "  -";
        std::ostringstream child;
        Route(child, in + "  ", depth + 1, false);
        std::string text = child.str();
        // The first key goes on the "-" line.
        text.erase(0, in.size() + 4);
        y << " " << text;
      }
    }
  }

  std::string Config() {
    std::ostringstream y;
    y << "route:\n";
    Route(y, "  ", 0, true);
    y << "receivers:\n";
    for (const std::string& r : receivers) y << "  - name: " << r << "\n";
    return y.str();
  }

  std::vector<std::string> Labels() {
    std::vector<std::string> out;
    const int n = Int(0, 5);
    for (int i = 0; i < n; ++i) {
      const std::string& name = Pick(names);
      // Mostly common values, so that deep routes are reached.
      const std::string& value = Chance(60) ? values[Int(0, 3)] : Pick(values);
      if (!value.empty() && value.find_first_of("\"\\ ,") == std::string::npos && Chance(50)) {
        out.push_back(name + "=" + value);
      } else {
        std::string v;
        for (char c : value) {
          if (c == '"' || c == '\\') v += '\\';
          v += c;
        }
        out.push_back(name + "=\"" + v + "\"");
      }
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

struct Options {
  std::string amtool = "/usr/bin/amtool";
  std::string nimify;
  std::string workdir = ".";
  std::string cases;
  std::uint64_t seed = 0;
  bool have_seed = false;
  int configs = 60;
};

int failures = 0;

void Compare(const Options& o, const std::string& config_path, std::vector<std::string> args,
             const std::string& what) {
  std::vector<std::string> am = {o.amtool, "config", "routes", "test",
                                 "--config.file=" + config_path};
  std::vector<std::string> ni = {o.nimify, "config", "routes", "test",
                                 "--config.file=" + config_path};
  for (const std::string& a : args) {
    am.push_back(a);
    ni.push_back(a);
  }
  const RunResult a = Run(am);
  const RunResult b = Run(ni);
  // Bad configs fail in both with an empty stdout (messages go to stderr
  // and differ by design: nimify's carry file:line:col).
  const bool equal = a.status == b.status && a.out == b.out;
  if (!equal) {
    ++failures;
    std::cout << "DIFF " << what << " (" << config_path << ")\n  args:";
    for (const std::string& s : args) std::cout << " " << ShellQuote(s);
    std::cout << "\n  amtool exit " << a.status << ":\n"
              << a.out << "  nimify exit " << b.status << ":\n"
              << b.out;
  }
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// amtool_cases/*.yml: a config whose "# test: ARG..." lines each give one
// argument list (split on spaces).
void RunFixedCases(const Options& o) {
  if (o.cases.empty() || !std::filesystem::is_directory(o.cases)) return;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(o.cases)) {
    if (e.path().extension() == ".yml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (line.rfind("# test:", 0) != 0) continue;
      std::istringstream words(line.substr(7));
      std::vector<std::string> args;
      std::string w;
      while (words >> w) args.push_back(w);
      Compare(o, f.string(), args, f.filename().string() + " #" + std::to_string(++n));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto val = [&](const char* flag) -> const char* {
      const std::string f = std::string(flag) + "=";
      return a.rfind(f, 0) == 0 ? argv[i] + f.size() : nullptr;
    };
    if (const char* v = val("--amtool")) {
      o.amtool = v;
    } else if (const char* v2 = val("--nimify")) {
      o.nimify = v2;
    } else if (const char* v3 = val("--workdir")) {
      o.workdir = v3;
    } else if (const char* v4 = val("--cases")) {
      o.cases = v4;
    } else if (const char* v5 = val("--seed")) {
      o.seed = std::strtoull(v5, nullptr, 10);
      o.have_seed = true;
    } else if (const char* v6 = val("--configs")) {
      o.configs = std::atoi(v6);
    } else {
      std::cerr << "amtool_diff: unknown argument " << a << "\n";
      return 2;
    }
  }
  if (::access(o.amtool.c_str(), X_OK) != 0) {
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::string(ci) == "true";
    std::cout << "amtool not found at " << o.amtool << (in_ci ? " (CI: failing)" : " (skipped)")
              << "\n";
    return in_ci ? 1 : 77;
  }
  if (o.nimify.empty()) {
    std::cerr << "amtool_diff: --nimify is required\n";
    return 2;
  }
  if (!o.have_seed) {
    if (const char* env = std::getenv("NIMIFY_DIFF_SEED"); env != nullptr && *env != '\0') {
      o.seed = std::strtoull(env, nullptr, 10);
    } else {
      o.seed =
          static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    }
  }
  std::filesystem::create_directories(o.workdir);
  std::cout << "amtool_diff: seed " << o.seed << " (replay with NIMIFY_DIFF_SEED=" << o.seed
            << ")\n";

  RunFixedCases(o);

  Generator gen(o.seed);
  int compared = 0;
  for (int c = 0; c < o.configs; ++c) {
    const std::string path = o.workdir + "/case" + std::to_string(c) + ".yml";
    if (!WriteFile(path, gen.Config())) {
      std::cerr << "cannot write " << path << "\n";
      return 1;
    }
    const int label_sets = 5;
    for (int l = 0; l < label_sets; ++l) {
      std::vector<std::string> args = gen.Labels();
      if (gen.Chance(15)) args.insert(args.begin(), "--tree");
      if (gen.Chance(15))
        args.insert(args.begin(), "--verify.receivers=" + gen.Pick(gen.receivers));
      Compare(o, path, args, "config " + std::to_string(c) + " labels " + std::to_string(l));
      ++compared;
    }
  }
  std::cout << "amtool_diff: " << compared << " generated comparisons, " << failures
            << " differences (seed " << o.seed << ")\n";
  return failures == 0 ? 0 : 1;
}
