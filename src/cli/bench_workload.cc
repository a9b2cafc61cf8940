#include "cli/bench_workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nimify::cli {
namespace {

std::uint64_t Mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
std::uint64_t Hash(std::uint64_t a, std::uint64_t b) { return Mix(Mix(a) ^ (b * 0x2545f4914f6cdd1dull)); }
// Uniform in [0, 1).
double Unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }
double Lerp(double lo, double hi, double x) { return lo + (hi - lo) * x; }

OwnedLabels Sorted(OwnedLabels labels) {
  std::sort(labels.begin(), labels.end(),
            [](const OwnedLabel& a, const OwnedLabel& b) { return a.name < b.name; });
  return labels;
}

// ---- threshold -----------------------------------------------------------------------

class ThresholdWorkload final : public BenchWorkload {
 public:
  ThresholdWorkload(std::uint64_t series, std::uint32_t metrics, std::uint64_t spikes)
      : series_(series), metrics_(metrics), spikes_(std::max<std::uint64_t>(spikes, 1)) {}
  std::string_view name() const override { return "threshold"; }
  std::uint64_t series() const override { return series_; }
  OwnedLabels Labels(std::uint64_t i) const override {
    return Sorted({{"__name__", "bench_metric_" + std::to_string(i % metrics_)},
                   {"instance", "host-" + std::to_string(i / 64)},
                   {"series", std::to_string(i)}});
  }
  double Value(std::uint64_t i, std::uint64_t step) const override {
    return Spikes(i, step) ? 1000 : static_cast<double>((i * 7 + step) % 100);
  }
  bool Spikes(std::uint64_t i, std::uint64_t step) const override {
    const std::uint64_t stride = std::max<std::uint64_t>(series_ / spikes_, 1);
    return (i + step * 7919) % stride == 0;
  }

 private:
  const std::uint64_t series_;
  const std::uint32_t metrics_;
  const std::uint64_t spikes_;
};

// ---- node ----------------------------------------------------------------------------

enum class Kind : std::uint8_t {
  kCounter,     // float counter: rate in [lo, hi] per second, noise, resets
  kIntCounter,  // restarts: a constant 0-2, or hot: +1 every 5 s
  kGauge,       // scale * a value wandering in [lo, hi]
  kConst,       // scale * lo
  kTime,        // node_time_seconds
  kBootTime,    // node_boot_time_seconds
};

// Who exports the series: sets job and instance.
enum class Source : std::uint8_t { kNode, kKsm, kKubelet, kApi, kPostgres, kDcgm, kTriton };

struct Template {
  std::string name;
  Source source = Source::kNode;
  OwnedLabels extra;
  int pod = -1;        // 0-3: namespace, pod and uid labels of that pod
  int container = -1;  // 0-1: container label
  bool deployment = false;
  bool node_label = false;  // kube_node_*: node="<host name>"
  Kind kind = Kind::kConst;
  double lo = 0, hi = 0;          // normal band
  double hot_lo = 0, hot_hi = 0;  // band of a hot host
  double scale = 1;
  // Counters of one histogram share their rate, noise and resets (buckets
  // stay cumulative); `fraction` / `hot_fraction` is each one's share.
  int group = -1;
  double fraction = 1, hot_fraction = 1;
};

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr std::uint64_t kResetSteps = 480;  // a counter resets every 480 steps (2 h at 15 s)
constexpr const char* kNamespaces[] = {"checkout", "payments", "search", "recommendations"};
constexpr const char* kWorkloads[] = {"api", "worker", "gateway", "indexer"};
constexpr const char* kContainers[] = {"app", "istio-proxy"};
constexpr const char* kClusters[] = {"prod-eu-west-1a", "prod-eu-west-1b", "prod-eu-west-1c"};

std::vector<Template> HostTemplates() {
  std::vector<Template> t;
  auto add = [&](Template x) { t.push_back(std::move(x)); };
  // node_exporter: 4 cpus x 8 modes.
  struct Mode {
    const char* name;
    double lo, hi, hot_lo, hot_hi;
  };
  const Mode modes[] = {{"idle", .55, .9, .02, .1},      {"iowait", .001, .04, .15, .3},
                        {"steal", 0, .01, .12, .3},      {"system", .02, .08, .1, .2},
                        {"user", .05, .3, .3, .4},       {"nice", 0, .01, 0, .01},
                        {"irq", 0, .005, 0, .005},       {"softirq", 0, .01, .01, .02}};
  for (int cpu = 0; cpu < 4; ++cpu) {
    for (const Mode& m : modes) {
      add({.name = "node_cpu_seconds_total",
           .extra = {{"cpu", std::to_string(cpu)}, {"mode", m.name}},
           .kind = Kind::kCounter, .lo = m.lo, .hi = m.hi, .hot_lo = m.hot_lo, .hot_hi = m.hot_hi});
    }
  }
  auto gauge = [&](const char* name, double lo, double hi, double hot_lo, double hot_hi,
                   double scale, OwnedLabels extra = {}) {
    add({.name = name, .extra = std::move(extra), .kind = Kind::kGauge, .lo = lo, .hi = hi,
         .hot_lo = hot_lo, .hot_hi = hot_hi, .scale = scale});
  };
  auto constant = [&](const char* name, double v, double hot, double scale = 1,
                      OwnedLabels extra = {}) {
    add({.name = name, .extra = std::move(extra), .kind = Kind::kConst, .lo = v, .hot_lo = hot,
         .scale = scale});
  };
  auto counter = [&](const char* name, double lo, double hi, double hot_lo, double hot_hi,
                     OwnedLabels extra = {}) {
    add({.name = name, .extra = std::move(extra), .kind = Kind::kCounter, .lo = lo, .hi = hi,
         .hot_lo = hot_lo, .hot_hi = hot_hi});
  };
  constexpr double kMem = 32 * kGiB;
  constant("node_memory_MemTotal_bytes", 1, 1, kMem);
  gauge("node_memory_MemAvailable_bytes", .3, .8, .02, .04, kMem);
  gauge("node_memory_MemFree_bytes", .1, .5, .01, .03, kMem);
  gauge("node_memory_Cached_bytes", .1, .4, .01, .05, kMem);
  gauge("node_memory_Buffers_bytes", .01, .05, .001, .01, kMem);
  constant("node_memory_SwapTotal_bytes", 4 * kGiB, 4 * kGiB);
  gauge("node_memory_SwapFree_bytes", .6, 1, .01, .04, 4 * kGiB);
  struct Fs {
    const char* device;
    const char* fstype;
    const char* mountpoint;
    double size;
  };
  const Fs filesystems[] = {{"/dev/nvme0n1p1", "ext4", "/", 100 * kGiB},
                            {"/dev/nvme1n1", "xfs", "/var/lib/containerd", 500 * kGiB},
                            {"tmpfs", "tmpfs", "/run", 3.2 * kGiB}};
  for (const Fs& fs : filesystems) {
    const OwnedLabels l = {{"device", fs.device}, {"fstype", fs.fstype}, {"mountpoint", fs.mountpoint}};
    constant("node_filesystem_size_bytes", 1, 1, fs.size, l);
    gauge("node_filesystem_avail_bytes", .3, .8, .005, .04, fs.size, l);
    gauge("node_filesystem_free_bytes", .35, .85, .01, .045, fs.size, l);
    constant("node_filesystem_files", 6.5e6, 6.5e6, 1, l);
    gauge("node_filesystem_files_free", .5, .95, .005, .04, 6.5e6, l);
    constant("node_filesystem_readonly", 0, 0, 1, l);
    constant("node_filesystem_device_error", 0, 1, 1, l);
  }
  for (const char* dev : {"eth0", "ens5"}) {
    const OwnedLabels l = {{"device", dev}};
    counter("node_network_receive_bytes_total", 1e5, 5e7, 1.05e9, 1.2e9, l);
    counter("node_network_transmit_bytes_total", 1e5, 5e7, 1.05e9, 1.2e9, l);
    counter("node_network_receive_packets_total", 1e3, 5e4, 1e3, 2e3, l);
    counter("node_network_transmit_packets_total", 1e3, 5e4, 1e3, 2e3, l);
    counter("node_network_receive_errs_total", 0, .5, 120, 200, l);
    counter("node_network_transmit_errs_total", 0, .5, 120, 200, l);
    constant("node_network_speed_bytes", 1.25e9, 1.25e9, 1, l);
  }
  for (const char* dev : {"nvme0n1", "nvme1n1"}) {
    const OwnedLabels l = {{"device", dev}};
    counter("node_disk_io_time_seconds_total", .01, .4, .96, .99, l);
    counter("node_disk_reads_completed_total", 50, 500, 5, 10, l);
    counter("node_disk_read_time_seconds_total", .005, .2, 6, 8, l);
    counter("node_disk_writes_completed_total", 50, 500, 5, 10, l);
    counter("node_disk_write_time_seconds_total", .005, .2, 6, 8, l);
  }
  counter("node_vmstat_pgmajfault", 0, 50, 1500, 3000);
  counter("node_context_switches_total", 1e3, 2e4, 6e4, 1e5);
  gauge("node_nf_conntrack_entries", .005, .2, .97, .99, 262144);
  constant("node_nf_conntrack_entries_limit", 262144, 262144);
  gauge("node_timex_offset_seconds", -.01, .01, .06, .1, 1);
  constant("node_timex_sync_status", 1, 0);
  gauge("node_timex_maxerror_seconds", .001, .5, 16, 20, 1);
  gauge("node_load1", .1, 4, 20, 40, 1);
  add({.name = "node_time_seconds", .kind = Kind::kTime});
  add({.name = "node_boot_time_seconds", .kind = Kind::kBootTime});
  constant("up", 1, 0);  // job="node-exporter"

  // kube-state-metrics and cAdvisor: 4 pods of 2 containers, one deployment.
  for (int pod = 0; pod < 4; ++pod) {
    for (int c = 0; c < 2; ++c) {
      add({.name = "kube_pod_container_status_restarts_total", .source = Source::kKsm, .pod = pod,
           .container = c, .kind = Kind::kIntCounter});
      add({.name = "kube_pod_container_status_last_terminated_reason", .source = Source::kKsm,
           .extra = {{"reason", "OOMKilled"}}, .pod = pod, .container = c, .kind = Kind::kConst,
           .lo = 0, .hot_lo = 1});
      const double limit = (pod + c) % 2 == 0 ? kGiB : 512 * 1024 * 1024;
      add({.name = "container_memory_usage_bytes", .source = Source::kKubelet, .pod = pod,
           .container = c, .kind = Kind::kGauge, .lo = .2, .hi = .7, .hot_lo = .95, .hot_hi = .99,
           .scale = limit});
      add({.name = "container_spec_memory_limit_bytes", .source = Source::kKubelet, .pod = pod,
           .container = c, .kind = Kind::kConst, .lo = limit, .hot_lo = limit});
    }
    for (const char* phase : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
      const bool running = std::string_view(phase) == "Running";
      const bool pending = std::string_view(phase) == "Pending";
      add({.name = "kube_pod_status_phase", .source = Source::kKsm, .extra = {{"phase", phase}},
           .pod = pod, .kind = Kind::kConst, .lo = running ? 1.0 : 0.0,
           .hot_lo = pending ? 1.0 : 0.0});
    }
  }
  auto deployment = [&](const char* name, double v, double hot) {
    add({.name = name, .source = Source::kKsm, .deployment = true, .kind = Kind::kConst, .lo = v,
         .hot_lo = hot});
  };
  deployment("kube_deployment_spec_replicas", 3, 3);
  deployment("kube_deployment_status_replicas", 3, 3);
  deployment("kube_deployment_status_replicas_available", 3, 1);
  deployment("kube_deployment_status_observed_generation", 7, 7);
  deployment("kube_deployment_metadata_generation", 7, 8);
  for (const char* condition : {"Ready", "MemoryPressure", "DiskPressure", "NetworkUnavailable"}) {
    const bool ready = std::string_view(condition) == "Ready";
    add({.name = "kube_node_status_condition", .source = Source::kKsm,
         .extra = {{"condition", condition}, {"status", "true"}}, .node_label = true,
         .kind = Kind::kConst, .lo = ready ? 1.0 : 0.0, .hot_lo = ready ? 0.0 : 1.0});
  }

  // The HTTP service (the runbook's nimify-api): requests by method, handler
  // and status, and a latency histogram per handler.
  struct Route {
    const char* method;
    const char* handler;
    const char* status;
    double lo, hi, hot_lo, hot_hi;
  };
  const Route routes[] = {{"POST", "/v1/chat/completions", "200", 5, 50, 5, 50},
                          {"POST", "/v1/chat/completions", "500", 0, .05, 5, 20},
                          {"POST", "/v1/chat/completions", "429", 0, .5, 1, 5},
                          {"GET", "/v1/models", "200", 1, 10, 1, 10},
                          {"GET", "/v1/models", "404", 0, .1, 0, .1},
                          {"GET", "/healthz", "200", .2, .2, .2, .2}};
  for (const Route& r : routes) {
    add({.name = "http_requests_total", .source = Source::kApi,
         .extra = {{"handler", r.handler}, {"method", r.method}, {"status", r.status}},
         .kind = Kind::kCounter, .lo = r.lo, .hi = r.hi, .hot_lo = r.hot_lo, .hot_hi = r.hot_hi});
  }
  // Cumulative shares of requests faster than each bound: mostly under
  // 250 ms; on a hot host the 95th percentile is above 1 s.
  struct Bucket {
    const char* le;
    double normal, hot;
  };
  const Bucket buckets[] = {{"0.05", .3, .02}, {"0.1", .6, .05}, {"0.25", .9, .1},
                            {"0.5", .97, .2},  {"1", .99, .4},   {"2.5", .998, .8},
                            {"5", 1, .95},     {"+Inf", 1, 1}};
  int group = 0;
  for (const char* handler : {"/v1/chat/completions", "/v1/models"}) {
    for (const Bucket& b : buckets) {
      add({.name = "http_request_duration_seconds_bucket", .source = Source::kApi,
           .extra = {{"handler", handler}, {"le", b.le}}, .kind = Kind::kCounter, .lo = 5,
           .hi = 50, .hot_lo = 5, .hot_hi = 50, .group = group, .fraction = b.normal,
           .hot_fraction = b.hot});
    }
    add({.name = "http_request_duration_seconds_count", .source = Source::kApi,
         .extra = {{"handler", handler}}, .kind = Kind::kCounter, .lo = 5, .hi = 50, .hot_lo = 5,
         .hot_hi = 50, .group = group});
    add({.name = "http_request_duration_seconds_sum", .source = Source::kApi,
         .extra = {{"handler", handler}}, .kind = Kind::kCounter, .lo = 5, .hi = 50, .hot_lo = 5,
         .hot_hi = 50, .group = group, .fraction = .08, .hot_fraction = 1.6});
    ++group;
  }
  // The rest of the runbook's metrics.
  add({.name = "up", .source = Source::kApi, .kind = Kind::kConst, .lo = 1, .hot_lo = 0});
  add({.name = "up", .source = Source::kPostgres, .kind = Kind::kConst, .lo = 1, .hot_lo = 0});
  add({.name = "nvidia_gpu_count", .source = Source::kDcgm, .kind = Kind::kConst, .lo = 4, .hot_lo = 0});
  add({.name = "triton_model_load_failures_total", .source = Source::kTriton,
       .extra = {{"model", "llama-3-8b-instruct"}}, .kind = Kind::kConst, .lo = 0, .hot_lo = 3});
  add({.name = "pg_stat_statements_seconds_total", .source = Source::kPostgres,
       .extra = {{"datname", "nimify"}}, .kind = Kind::kCounter, .lo = .1, .hi = .5, .hot_lo = 20,
       .hot_hi = 40});
  add({.name = "pg_stat_statements_calls_total", .source = Source::kPostgres,
       .extra = {{"datname", "nimify"}}, .kind = Kind::kCounter, .lo = 10, .hi = 100, .hot_lo = 10,
       .hot_hi = 20});
  add({.name = "nimify_cache_hits_total", .source = Source::kApi, .kind = Kind::kCounter, .lo = 50,
       .hi = 100, .hot_lo = 1, .hot_hi = 5});
  add({.name = "nimify_cache_misses_total", .source = Source::kApi, .kind = Kind::kCounter, .lo = 5,
       .hi = 20, .hot_lo = 60, .hot_hi = 80});
  return t;
}

const std::vector<Template>& Templates() {
  static const std::vector<Template> templates = HostTemplates();
  return templates;
}

class NodeWorkload final : public BenchWorkload {
 public:
  explicit NodeWorkload(const NodeWorkloadOptions& o)
      : o_(o), templates_(Templates()), per_host_(templates_.size()) {}
  std::string_view name() const override { return "node"; }
  std::uint64_t series() const override { return o_.series; }

  OwnedLabels Labels(std::uint64_t i) const override {
    const std::uint64_t h = i / per_host_;
    const Template& t = templates_[i % per_host_];
    const std::string host = HostName(h);
    OwnedLabels l = {{"__name__", t.name}, {"cluster", kClusters[h % 3]}};
    switch (t.source) {
      case Source::kNode:
        l.push_back({"job", "node-exporter"});
        l.push_back({"instance", host + ":9100"});
        break;
      case Source::kKsm:
        l.push_back({"job", "kube-state-metrics"});
        l.push_back({"instance", "10.96." + std::to_string(h % 3) + ".17:8080"});
        break;
      case Source::kKubelet:
        l.push_back({"job", "kubelet"});
        l.push_back({"instance", host + ":10250"});
        break;
      case Source::kApi:
        l.push_back({"job", "nimify-api"});
        l.push_back({"instance", PodIp(h) + ":8080"});
        break;
      case Source::kPostgres:
        l.push_back({"job", "postgres"});
        l.push_back({"instance", host + ":9187"});
        break;
      case Source::kDcgm:
        l.push_back({"job", "dcgm-exporter"});
        l.push_back({"instance", host + ":9400"});
        break;
      case Source::kTriton:
        l.push_back({"job", "triton"});
        l.push_back({"instance", PodIp(h) + ":8002"});
        break;
    }
    if (t.pod >= 0) {
      l.push_back({"namespace", kNamespaces[t.pod]});
      l.push_back({"pod", PodName(h, t.pod)});
      // kube-state-metrics puts uid on pod series; left off the container
      // series here to stay within 8 labels.
      if (t.source == Source::kKsm && t.container < 0) l.push_back({"uid", Uid(h, t.pod)});
    }
    if (t.container >= 0) l.push_back({"container", kContainers[t.container]});
    if (t.deployment) {
      l.push_back({"namespace", kNamespaces[0]});
      l.push_back({"deployment", Deployment(h, 0)});
    }
    if (t.node_label) l.push_back({"node", host});
    for (const OwnedLabel& e : t.extra) l.push_back(e);
    return Sorted(std::move(l));
  }

  double Value(std::uint64_t i, std::uint64_t step) const override {
    const std::uint64_t h = i / per_host_;
    const Template& t = templates_[i % per_host_];
    const bool hot = Unit(Hash(h, 0x407)) < o_.firing_fraction;
    const double lo = hot ? t.hot_lo : t.lo;
    const double hi = hot ? t.hot_hi : t.hi;
    const double step_s = static_cast<double>(o_.step_ms) / 1000.0;
    const double t_s = static_cast<double>(step) * step_s;
    switch (t.kind) {
      case Kind::kConst:
        return t.scale * lo;
      case Kind::kTime:
        return 1.7e9 + t_s;
      case Kind::kBootTime:
        return 1.7e9 - 1e5 - 1e6 * Unit(Hash(i, 0xb007));
      case Kind::kIntCounter:
        if (hot) return std::floor(t_s / 5);
        return std::floor(3 * Unit(Hash(i, 0x12)));
      case Kind::kGauge: {
        // A walk through random knots every 8 steps, kept inside the band.
        const double center = Unit(Hash(i, 0x6a));
        const std::uint64_t knot = step / 8;
        const double x = static_cast<double>(step % 8) / 8.0;
        const double noise =
            Lerp(Unit(Hash(Hash(i, knot), 0x77)), Unit(Hash(Hash(i, knot + 1), 0x77)), x) * 2 - 1;
        return t.scale * Lerp(lo, hi, std::clamp(center + 0.3 * noise, 0.0, 1.0));
      }
      case Kind::kCounter: {
        // Series of one histogram share the seed, so buckets stay cumulative.
        const std::uint64_t seed = t.group >= 0 ? Hash(h, 0x900 + static_cast<std::uint64_t>(t.group)) : Hash(i, 0xc0);
        const double rate = Lerp(lo, hi, Unit(Hash(seed, 1)));
        const std::uint64_t k = (step + Hash(seed, 2) % kResetSteps) % kResetSteps;
        // + half a step of noise: still increasing from one step to the next.
        const double noise = 0.5 * Unit(Hash(seed, step));
        const double total = rate * step_s * (static_cast<double>(k) + noise);
        return total * (hot ? t.hot_fraction : t.fraction);
      }
    }
    return 0;
  }

 private:
  static std::string HostName(std::uint64_t h) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "ip-10-%u-%u-%u.eu-west-1.compute.internal",
                  static_cast<unsigned>(16 + (h / 62500) % 200),
                  static_cast<unsigned>((h / 250) % 250), static_cast<unsigned>(h % 250 + 2));
    return buf;
  }
  static std::string PodIp(std::uint64_t h) {
    return "10.244." + std::to_string((h / 250) % 250) + "." + std::to_string(h % 250 + 2);
  }
  static std::string Deployment(std::uint64_t h, int pod) {
    return std::string(kNamespaces[pod]) + "-" + kWorkloads[pod] + "-" + std::to_string(h);
  }
  static std::string PodName(std::uint64_t h, int pod) {
    static constexpr char kAlnum[] = "bcdfghjklmnpqrstvwxz2456789";
    const std::uint64_t r = Hash(h, 0x70d + static_cast<std::uint64_t>(pod));
    char buf[32];
    std::snprintf(buf, sizeof(buf), "-%010llx-", static_cast<unsigned long long>(r >> 24));
    std::string name = Deployment(h, pod) + buf;
    for (int k = 0; k < 5; ++k) name += kAlnum[(r >> (k * 5)) % (sizeof(kAlnum) - 1)];
    return name;
  }
  static std::string Uid(std::uint64_t h, int pod) {
    const std::uint64_t a = Hash(h, 0x11d + static_cast<std::uint64_t>(pod));
    const std::uint64_t b = Hash(a, 3);
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                  static_cast<unsigned long long>(a >> 32),
                  static_cast<unsigned long long>((a >> 16) & 0xffff),
                  static_cast<unsigned long long>(a & 0xfff),
                  static_cast<unsigned long long>((b >> 48) & 0xfff),
                  static_cast<unsigned long long>(b & 0xffffffffffffull));
    return buf;
  }

  const NodeWorkloadOptions o_;
  const std::vector<Template>& templates_;
  const std::uint64_t per_host_;
};

}  // namespace

std::unique_ptr<BenchWorkload> MakeThresholdWorkload(std::uint64_t series, std::uint32_t metrics,
                                                     std::uint64_t spikes_per_step) {
  return std::make_unique<ThresholdWorkload>(series, metrics, spikes_per_step);
}

std::unique_ptr<BenchWorkload> MakeNodeWorkload(const NodeWorkloadOptions& options) {
  return std::make_unique<NodeWorkload>(options);
}

std::uint64_t NodeWorkloadSeriesPerHost() { return Templates().size(); }

}  // namespace nimify::cli
