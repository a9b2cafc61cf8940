// `nimify bench --remote-write URL`: one thread per keep-alive connection
// sends remote-write requests (snappy protobuf, ingest::EncodeRemoteWrite) of
// the synthetic workload or a recording; blocking sockets, because a thread
// per connection is all a load generator with a handful of connections needs.
#include "cli/bench_remote_write.h"

#include <netdb.h>
#include <snappy.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/bench_marker.h"
#include "ingest/batch.h"
#include "ingest/remote_write.h"
#include "promql/labels.h"

namespace nimify::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string host;
  std::string port;
  std::string path;
};

bool ParseUrl(const std::string& text, Url* out) {
  constexpr std::string_view kScheme = "http://";
  if (text.rfind(kScheme, 0) != 0) return false;
  std::string rest = text.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  out->path = slash == std::string::npos ? "/api/v1/write" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  const std::size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    out->host = hostport;
    out->port = "80";
  } else {
    out->host = hostport.substr(0, colon);
    out->port = hostport.substr(colon + 1);
  }
  return !out->host.empty() && !out->port.empty();
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// utime + stime of a process in seconds, from /proc/<pid>/stat; -1 when unreadable.
double ProcessCpuSecondsOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name may hold spaces: fields count from after its ')'.
  const std::size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string_view> fields;
  std::string_view rest = std::string_view(text).substr(paren + 2);
  while (!rest.empty()) {
    const std::size_t sp = rest.find(' ');
    fields.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  // Fields 14 and 15 of stat(5); index 0 here is field 3 (state).
  if (fields.size() < 13) return -1;
  unsigned long long utime = 0, stime = 0;
  std::from_chars(fields[11].data(), fields[11].data() + fields[11].size(), utime);
  std::from_chars(fields[12].data(), fields[12].data() + fields[12].size(), stime);
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// VmRSS of a process in bytes; -1 when unreadable.
long long ResidentBytesOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// One keep-alive HTTP/1.1 connection that POSTs bodies and reads the status.
// Thread safety: none; one thread per connection.
class Connection {
 public:
  explicit Connection(const Url& url) : url_(url) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The status code, or 0 with `error` set on a transport failure.
  int Post(const std::string& body, std::string* error) {
    // A keep-alive connection the server closed in between fails on first
    // use; one retry on a fresh connection tells that from a dead server.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = fd_ >= 0;
      if (fd_ < 0 && !Connect(error)) return 0;
      const int status = Exchange(body, error);
      if (status != 0) return status;
      Close();
      if (!reused) return 0;
    }
    return 0;
  }

 private:
  bool Connect(std::string* error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &res); rc != 0) {
      *error = std::string("resolve: ") + gai_strerror(rc);
      return false;
    }
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      ::close(fd);
    }
    freeaddrinfo(res);
    if (fd_ < 0) {
      *error = std::string("connect: ") + std::strerror(errno);
      return false;
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{10, 0};  // a receiver that hangs must not hang the bench
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    buffer_.clear();
    return true;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool SendAll(std::string_view data, std::string* error) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = std::string("send: ") + std::strerror(errno);
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until buffer_ holds at least `n` bytes.
  bool Fill(std::size_t n, std::string* error) {
    char chunk[16384];
    while (buffer_.size() < n) {
      const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        *error = got == 0 ? "connection closed by the receiver"
                          : std::string("recv: ") + std::strerror(errno);
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
    return true;
  }

  bool ReadLine(std::string* line, std::string* error) {
    std::size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (buffer_.size() > (64u << 10)) {
        *error = "response header too long";
        return false;
      }
      if (!Fill(buffer_.size() + 1, error)) return false;
    }
    *line = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 2);
    return true;
  }

  int Exchange(const std::string& body, std::string* error) {
    const std::string head = "POST " + url_.path + " HTTP/1.1\r\nHost: " + url_.host + ":" +
                             url_.port +
                             "\r\nUser-Agent: nimify-bench\r\nContent-Type: application/x-protobuf"
                             "\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: "
                             "0.1.0\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    if (!SendAll(head, error) || !SendAll(body, error)) return 0;
    std::string line;
    if (!ReadLine(&line, error)) return 0;
    int status = 0;
    if (line.size() < 12 || line.rfind("HTTP/1.", 0) != 0) {
      *error = "bad status line";
      return 0;
    }
    std::from_chars(line.data() + 9, line.data() + 12, status);
    long long length = 0;
    bool chunked = false, close = false;
    while (true) {
      if (!ReadLine(&line, error)) return 0;
      if (line.empty()) break;
      std::string lower = line;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lower.rfind("content-length:", 0) == 0) length = std::atoll(lower.c_str() + 15);
      if (lower.rfind("transfer-encoding:", 0) == 0 && lower.find("chunked") != std::string::npos) {
        chunked = true;
      }
      if (lower.rfind("connection:", 0) == 0 && lower.find("close") != std::string::npos) {
        close = true;
      }
    }
    if (chunked) {
      while (true) {
        if (!ReadLine(&line, error)) return 0;
        const auto size = static_cast<std::size_t>(std::strtoull(line.c_str(), nullptr, 16));
        if (!Fill(size + 2, error)) return 0;
        buffer_.erase(0, size + 2);
        if (size == 0) break;  // no trailers from the receivers we talk to
      }
    } else if (length > 0) {
      if (!Fill(static_cast<std::size_t>(length), error)) return 0;
      buffer_.erase(0, static_cast<std::size_t>(length));
    }
    if (close) Close();
    return status;
  }

  const Url url_;
  int fd_ = -1;
  std::string buffer_;  // received, not yet consumed
};

// What one connection's thread measured inside the measurement window.
struct ConnectionStats {
  std::uint64_t requests = 0;
  std::uint64_t samples_sent = 0;
  std::uint64_t samples_accepted = 0;
  std::uint64_t late_requests = 0;  // open loop: started more than 1 ms after their slot
  std::map<std::string, std::uint64_t> errors;  // status code or "transport"
  std::string last_error;
  std::vector<double> latencies_us;
  double cpu_seconds = 0;
};

// A request's samples before encoding: series (indexes into the workload)
// and their points.
struct Request {
  std::vector<std::uint32_t> series;
  std::vector<promql::Point> points;  // one per series
  std::int64_t min_t = 0;             // recordings: the oldest timestamp
};

struct Workload {
  std::vector<promql::Labels> labels;  // every series
  // Each series' Label fields as ingest::EncodeWriteRequest writes them, so a
  // request costs the samples' bytes and snappy, not a label encoding per
  // sample: the bench must leave the 2 cores to the receiver.
  std::vector<std::string> encoded_labels;
  std::vector<std::vector<Request>> per_connection;  // recordings: the requests of each connection
};

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::size_t VarintSize(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

void EncodeLabels(Workload* w) {
  w->encoded_labels.reserve(w->labels.size());
  for (const promql::Labels& l : w->labels) {
    ingest::Batch batch;
    batch.AddSeries(l, {});
    // One TimeSeries without samples: [0x0a][length][Label fields].
    const std::string ts = ingest::EncodeWriteRequest(batch);
    std::size_t skip = 1;
    while (static_cast<unsigned char>(ts[skip]) & 0x80) ++skip;
    w->encoded_labels.push_back(ts.substr(skip + 1));
  }
}

// A WriteRequest with one TimeSeries per sample, the bytes EncodeWriteRequest
// writes for it, snappy-compressed into `body`.
// `extra`: further TimeSeries fields (a marker), appended as they are.
void Encode(const Workload& w, const Request& r, std::int64_t shift, std::string_view extra,
            std::string* proto, std::string* body) {
  proto->clear();
  char sample[32];
  for (std::size_t i = 0; i < r.series.size(); ++i) {
    std::size_t n = 0;
    if (const auto bits = std::bit_cast<std::uint64_t>(r.points[i].v); bits != 0) {
      sample[n++] = 0x09;
      for (int k = 0; k < 8; ++k) sample[n++] = static_cast<char>((bits >> (8 * k)) & 0xff);
    }
    if (const std::int64_t t = r.points[i].t + shift; t != 0) {
      sample[n++] = 0x10;
      for (auto v = static_cast<std::uint64_t>(t);; v >>= 7) {
        sample[n++] = static_cast<char>(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80) break;
      }
    }
    const std::string& labels = w.encoded_labels[r.series[i]];
    proto->push_back(0x0a);
    PutVarint(*proto, labels.size() + 1 + VarintSize(n) + n);
    proto->append(labels);
    proto->push_back(0x12);
    PutVarint(*proto, n);
    proto->append(sample, n);
  }
  proto->append(extra);
  body->clear();
  snappy::Compress(proto->data(), proto->size(), body);
}

// The synthetic workload: the series of `nimify bench`, one sample each per pass.
void BuildSynthetic(const RemoteWriteBenchOptions& o, Workload* w) {
  w->labels.reserve(o.series);
  for (std::uint64_t i = 0; i < o.series; ++i) {
    w->labels.push_back({{"__name__", "bench_metric_" + std::to_string(i % o.metrics)},
                         {"instance", "host-" + std::to_string(i / 64)},
                         {"series", std::to_string(i)}});
  }
}

// A recording: frames of [u32 little-endian length][remote-write body], its
// samples re-split into requests of at most samples_per_request samples of one
// recorded timestamp each (restamped with the wall clock when sent). A series
// always goes to the same connection (by the hash of its labels), so its
// samples arrive in order.
bool BuildRecorded(const RemoteWriteBenchOptions& o, Workload* w, std::string* error) {
  std::ifstream in(o.input, std::ios::binary);
  if (!in) {
    *error = o.input + ": cannot open file";
    return false;
  }
  std::map<promql::Labels, std::size_t> index;
  struct Item {
    std::size_t series;
    promql::Point p;
  };
  std::vector<std::vector<Item>> items(o.connections);
  for (std::size_t frame = 0;; ++frame) {
    unsigned char len[4];
    if (!in.read(reinterpret_cast<char*>(len), 4)) break;
    const std::uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (std::uint32_t{len[3]} << 24);
    std::string body(n, '\0');
    ingest::Batch batch;
    if (!in.read(body.data(), n) || !ingest::DecodeRemoteWrite(body, ingest::Limits(), &batch).ok()) {
      *error = o.input + ": frame " + std::to_string(frame) + " is truncated or malformed";
      return false;
    }
    for (std::size_t s = 0; s < batch.series_count(); ++s) {
      const ingest::BatchSeries series = batch.series(s);
      promql::Labels labels = series.ToLabels();
      auto [it, inserted] = index.emplace(labels, w->labels.size());
      if (inserted) w->labels.push_back(std::move(labels));
      const std::size_t c = it->first.Hash() % o.connections;
      for (const auto& p : series.samples) items[c].push_back({it->second, p});
    }
  }
  if (w->labels.empty()) {
    *error = o.input + ": no samples";
    return false;
  }
  w->per_connection.resize(o.connections);
  for (std::uint32_t c = 0; c < o.connections; ++c) {
    for (std::size_t begin = 0; begin < items[c].size();) {
      Request r;
      r.min_t = items[c][begin].p.t;
      std::size_t k = begin;
      for (; k < items[c].size() && k - begin < o.samples_per_request &&
             items[c][k].p.t == r.min_t;
           ++k) {
        r.series.push_back(static_cast<std::uint32_t>(items[c][k].series));
        r.points.push_back(items[c][k].p);
      }
      w->per_connection[c].push_back(std::move(r));
      begin = k;
    }
  }
  return true;
}

// What the connection threads share. Thread safety: set before they start and
// read-only after, apart from markers_due (atomic) and the ledger (locked).
struct Shared {
  const RemoteWriteBenchOptions* options;
  const Workload* workload;
  Url url;
  Clock::time_point start, measure_start, end;
  MarkerLedger* markers = nullptr;            // set with --markers
  std::atomic<std::uint64_t> markers_due{0};  // markers claimed by the connections
  // Armed markers (RemoteWriteBenchOptions::fresh_markers): ids 1..planned
  // are reserved up front; connection 0 sends `arming` (their 0 samples,
  // snappy bodies) first and then publishes how many were accepted.
  std::uint64_t planned_markers = 0;
  std::vector<std::string> arming;
  std::atomic<std::uint64_t> armed_markers{0};
  std::atomic<std::uint64_t> armed_sent{0};  // markers sent that were armed
};

// At most this many markers are armed (a run of more sends fresh ones after),
// in requests of at most kArmingPerRequest series.
constexpr std::uint64_t kMaxArmedMarkers = 100'000;
constexpr std::uint64_t kArmingPerRequest = 1'000;

// Reserves the markers a run will send and encodes their 0 samples at `t`.
void PlanArming(const RemoteWriteBenchOptions& o, std::int64_t t, Shared* sh) {
  const auto planned = std::min<std::uint64_t>(
      kMaxArmedMarkers,
      static_cast<std::uint64_t>(std::ceil(o.markers_per_second * o.seconds)) + 1);
  for (std::uint64_t i = 0; i < planned; ++i) (void)sh->markers->Reserve();
  sh->planned_markers = planned;
  const promql::Point zero{t, 0.0};
  for (std::uint64_t first = 1; first <= planned; first += kArmingPerRequest) {
    ingest::Batch batch;
    for (std::uint64_t id = first; id < first + kArmingPerRequest && id <= planned; ++id) {
      batch.AddSeries({{"__name__", std::string(kMarkerMetric)},
                       {std::string(kMarkerLabel), sh->markers->LabelValue(id)}},
                      std::span<const promql::Point>(&zero, 1));
    }
    const std::string proto = ingest::EncodeWriteRequest(batch);
    std::string body;
    snappy::Compress(proto.data(), proto.size(), &body);
    sh->arming.push_back(std::move(body));
  }
}

// Sends the arming requests in order; markers up to the last accepted one
// are armed. The marker samples come only after the warm-up, by which time
// the receiver has evaluated past the 0 samples.
void ArmMarkers(Shared& sh, Connection& conn) {
  std::uint64_t armed = 0;
  for (const std::string& body : sh.arming) {
    std::string error;
    const int status = conn.Post(body, &error);
    if (status < 200 || status >= 300) {
      std::fprintf(stderr, "nimify bench: arming the markers failed (%s); the rest are fresh\n",
                   status == 0 ? error.c_str() : ("HTTP " + std::to_string(status)).c_str());
      break;
    }
    armed = std::min(armed + kArmingPerRequest, sh.planned_markers);
  }
  // relaxed: the markers are taken only after the warm-up; a late store
  // leaves a few markers fresh, never a wrong one armed.
  sh.armed_markers.store(armed, std::memory_order_relaxed);
}

// The marker due now, if any: marker k (from 0) is due k / markers_per_second
// into the measured time; the first connection to send after that takes it.
// Returns its TimeSeries bytes and sets `id`, or returns "" when none is due.
std::string TakeMarker(Shared& sh, Clock::time_point now, std::int64_t* last_marker_t,
                       std::uint64_t* id) {
  *id = 0;
  if (sh.markers == nullptr || now < sh.measure_start) return {};
  const auto due = static_cast<std::uint64_t>(
      std::chrono::duration<double>(now - sh.measure_start).count() *
      sh.options->markers_per_second) + 1;
  std::uint64_t taken = sh.markers_due.load(std::memory_order_relaxed);
  do {
    if (taken >= due) return {};
  } while (!sh.markers_due.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed));
  // Armed markers have their ids (and 0 samples) already; the rest are new.
  if (taken < sh.armed_markers.load(std::memory_order_relaxed)) {
    *id = taken + 1;
    sh.armed_sent.fetch_add(1, std::memory_order_relaxed);
  } else {
    *id = sh.markers->Reserve();
  }
  // A series per marker, so each one is an alert (and a notification group)
  // of its own; stamped with the wall clock, as a fresh scrape would be.
  const std::int64_t t = std::max(WallMs(), *last_marker_t + 1);
  *last_marker_t = t;
  const promql::Point point{t, static_cast<double>(*id)};
  ingest::Batch batch;
  batch.AddSeries({{"__name__", std::string(kMarkerMetric)},
                   {std::string(kMarkerLabel), sh.markers->LabelValue(*id)}},
                  std::span<const promql::Point>(&point, 1));
  return ingest::EncodeWriteRequest(batch);
}

void RunConnection(Shared& sh, std::uint32_t c, ConnectionStats* stats) {
  const RemoteWriteBenchOptions& o = *sh.options;
  Connection conn(sh.url);
  const double rate_per_connection = o.rate / o.connections;
  std::uint64_t scheduled_samples = 0;  // open loop: samples whose slot has come
  bool measuring = false;
  double cpu_at_measure = 0;
  std::int64_t last_t = 0;  // the newest timestamp this connection sent
  std::int64_t last_marker_t = 0;
  // Synthetic: this connection's series; recordings: its requests.
  const std::uint64_t series_begin = o.series * c / o.connections;
  const std::uint64_t series_end = o.series * (c + 1) / o.connections;
  std::string proto, body;  // reused: no page faults per request
  if (c == 0 && !sh.arming.empty()) ArmMarkers(sh, conn);
  for (std::uint64_t pass = 0;; ++pass) {
    // One pass over the connection's series (or its frames), all stamped at
    // or after the pass's start so that each series' samples increase.
    const std::int64_t pass_t = std::max(WallMs(), last_t + 1);
    std::vector<const Request*> requests;
    std::vector<Request> synthetic;
    if (sh.workload->per_connection.empty()) {
      for (std::uint64_t b = series_begin; b < series_end; b += o.samples_per_request) {
        Request r;
        for (std::uint64_t i = b; i < std::min<std::uint64_t>(series_end, b + o.samples_per_request);
             ++i) {
          r.series.push_back(static_cast<std::uint32_t>(i));
          r.points.push_back({pass_t, static_cast<double>((i * 7 + pass) % 100)});
        }
        synthetic.push_back(std::move(r));
      }
      for (const Request& r : synthetic) requests.push_back(&r);
    } else {
      for (const Request& r : sh.workload->per_connection[c]) requests.push_back(&r);
    }
    if (requests.empty()) return;  // more connections than series
    for (const Request* r : requests) {
      Clock::time_point slot = Clock::now();
      if (o.rate > 0) {
        slot = sh.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                              static_cast<double>(scheduled_samples) / rate_per_connection));
        std::this_thread::sleep_until(slot);
        scheduled_samples += r->points.size();
      }
      const Clock::time_point now = Clock::now();
      if (now >= sh.end) {
        if (measuring) stats->cpu_seconds = ThreadCpuSeconds() - cpu_at_measure;
        return;
      }
      if (!measuring && now >= sh.measure_start) {
        measuring = true;
        cpu_at_measure = ThreadCpuSeconds();
      }
      // Synthetic points carry pass_t already; a recorded request (one
      // recorded timestamp) is stamped just after this connection's newest.
      const std::int64_t shift = sh.workload->per_connection.empty()
                                     ? 0
                                     : std::max(WallMs(), last_t + 1) - r->min_t;
      std::uint64_t marker = 0;
      const std::string marker_series = TakeMarker(sh, now, &last_marker_t, &marker);
      Encode(*sh.workload, *r, shift, marker_series, &proto, &body);
      for (const auto& p : r->points) last_t = std::max(last_t, p.t + shift);
      std::string error;
      const Clock::time_point sent = Clock::now();
      if (marker != 0) sh.markers->Sent(marker, sent);
      const int status = conn.Post(body, &error);
      if (marker != 0) sh.markers->Answered(marker, status >= 200 && status < 300);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - sent).count();
      if (!measuring) continue;
      ++stats->requests;
      stats->samples_sent += r->points.size();
      stats->latencies_us.push_back(us);
      if (o.rate > 0 && now - slot > std::chrono::milliseconds(1)) ++stats->late_requests;
      if (status >= 200 && status < 300) {
        stats->samples_accepted += r->points.size();
      } else {
        ++stats->errors[status == 0 ? "transport" : std::to_string(status)];
        stats->last_error = status == 0 ? error : "HTTP " + std::to_string(status);
        // A dead receiver must not turn into a busy loop.
        if (status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::nan("");
  const auto idx = static_cast<std::size_t>(std::min<double>(
      static_cast<double>(sorted.size() - 1), std::ceil(p * static_cast<double>(sorted.size())) - 1));
  return sorted[idx];
}

}  // namespace

int RunRemoteWriteBench(const RemoteWriteBenchOptions& o) {
  Shared sh;
  sh.options = &o;
  if (!ParseUrl(o.url, &sh.url)) {
    std::fprintf(stderr, "nimify bench: --remote-write needs http://HOST:PORT/PATH, got %s\n",
                 o.url.c_str());
    return 2;
  }
  Workload workload;
  if (o.input.empty()) {
    BuildSynthetic(o, &workload);
  } else if (std::string error; !BuildRecorded(o, &workload, &error)) {
    std::fprintf(stderr, "nimify bench: %s\n", error.c_str());
    return 2;
  }
  EncodeLabels(&workload);
  sh.workload = &workload;
  MarkerLedger ledger;
  MarkerWebhookServer webhook(&ledger);
  if (o.markers_per_second > 0) {
    if (Status st = webhook.Start(o.webhook_listen); !st.ok()) {
      std::fprintf(stderr, "nimify bench: %s\n", std::string(st.message()).c_str());
      return 2;
    }
    sh.markers = &ledger;
    // Without a warm-up the receiver could not have evaluated the 0 samples
    // before the first marker: those would be fresh markers anyway.
    if (!o.fresh_markers && o.warmup_seconds > 0) PlanArming(o, WallMs(), &sh);
  }
  sh.start = Clock::now();
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  sh.measure_start = sh.start + seconds(o.warmup_seconds);
  sh.end = sh.measure_start + seconds(o.seconds);

  std::vector<ConnectionStats> stats(o.connections);
  std::vector<std::thread> threads;
  for (std::uint32_t c = 0; c < o.connections; ++c) {
    threads.emplace_back([&sh, &stats, c] { RunConnection(sh, c, &stats[c]); });
  }
  std::this_thread::sleep_until(sh.measure_start);
  const double receiver_cpu0 = o.pid > 0 ? ProcessCpuSecondsOf(o.pid) : -1;
  std::this_thread::sleep_until(sh.end);
  const double receiver_cpu1 = o.pid > 0 ? ProcessCpuSecondsOf(o.pid) : -1;
  const long long receiver_rss = o.pid > 0 ? ResidentBytesOf(o.pid) : -1;
  for (auto& t : threads) t.join();
  // Markers still on their way: wait for them (bounded), then stop serving.
  const Clock::time_point marker_deadline =
      Clock::now() + seconds(sh.markers != nullptr ? o.marker_wait_seconds : 0);
  while (sh.markers != nullptr && ledger.Outstanding() > 0 && Clock::now() < marker_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  webhook.Stop();
  const MarkerLedger::Summary markers = ledger.Summarize();

  ConnectionStats total;
  for (const ConnectionStats& s : stats) {
    total.requests += s.requests;
    total.samples_sent += s.samples_sent;
    total.samples_accepted += s.samples_accepted;
    total.late_requests += s.late_requests;
    total.cpu_seconds += s.cpu_seconds;
    for (const auto& [k, v] : s.errors) total.errors[k] += v;
    if (!s.last_error.empty()) total.last_error = s.last_error;
    total.latencies_us.insert(total.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
  }
  std::sort(total.latencies_us.begin(), total.latencies_us.end());
  const double receiver_cpu =
      receiver_cpu0 >= 0 && receiver_cpu1 >= 0 ? receiver_cpu1 - receiver_cpu0 : std::nan("");
  const auto per_sample_ns = [&](double cpu_s) {
    return total.samples_accepted > 0 ? cpu_s * 1e9 / static_cast<double>(total.samples_accepted)
                                      : std::nan("");
  };
#ifdef NDEBUG
  const char* build = "optimized";
#else
  const char* build = "debug";
#endif
  std::string j = "{";
  j += "\"url\": " + JsonString(o.url);
  j += ", \"input\": " + JsonString(o.input.empty() ? "synthetic" : o.input);
  j += ", \"series\": " + std::to_string(workload.labels.size());
  j += ", \"connections\": " + std::to_string(o.connections);
  j += ", \"samples_per_request\": " + std::to_string(o.samples_per_request);
  j += ", \"mode\": " + JsonString(o.rate > 0 ? "open" : "closed");
  j += ", \"rate\": " + Num(o.rate);
  j += ", \"seconds\": " + Num(o.seconds);
  j += ", \"warmup_seconds\": " + Num(o.warmup_seconds);
  j += ", \"requests\": " + std::to_string(total.requests);
  j += ", \"samples_sent\": " + std::to_string(total.samples_sent);
  j += ", \"samples_accepted\": " + std::to_string(total.samples_accepted);
  j += ", \"samples_per_second_sent\": " + Num(static_cast<double>(total.samples_sent) / o.seconds);
  j += ", \"samples_per_second_accepted\": " +
       Num(static_cast<double>(total.samples_accepted) / o.seconds);
  j += ", \"request_latency_ms\": {\"p50\": " + Num(Percentile(total.latencies_us, 0.5) / 1000) +
       ", \"p99\": " + Num(Percentile(total.latencies_us, 0.99) / 1000) + ", \"max\": " +
       Num(total.latencies_us.empty() ? std::nan("") : total.latencies_us.back() / 1000) + "}";
  j += ", \"errors\": {";
  bool first = true;
  for (const auto& [k, v] : total.errors) {
    j += (first ? "" : ", ") + JsonString(k) + ": " + std::to_string(v);
    first = false;
  }
  j += "}";
  if (!total.last_error.empty()) j += ", \"last_error\": " + JsonString(total.last_error);
  j += ", \"late_requests\": " + std::to_string(total.late_requests);
  j += ", \"receiver_pid\": " + std::to_string(o.pid);
  j += ", \"receiver_cpu_seconds\": " + Num(receiver_cpu);
  j += ", \"receiver_cpu_ns_per_sample\": " + Num(per_sample_ns(receiver_cpu));
  j += ", \"receiver_rss_bytes\": " + (receiver_rss >= 0 ? std::to_string(receiver_rss) : "null");
  j += ", \"client_cpu_ns_per_sample\": " + Num(per_sample_ns(total.cpu_seconds));
  if (sh.markers != nullptr) {
    // Marker send (request write) -> webhook request received whole.
    const std::vector<double>& l = markers.latencies_us;
    j += ", \"markers_per_second\": " + Num(o.markers_per_second);
    j += ", \"webhook_port\": " + std::to_string(webhook.port());
    j += ", \"markers\": {\"sent\": " + std::to_string(markers.sent) +
         ", \"armed\": " + std::to_string(sh.armed_sent.load(std::memory_order_relaxed)) +
         ", \"accepted\": " + std::to_string(markers.accepted) +
         ", \"delivered\": " + std::to_string(markers.delivered) +
         ", \"duplicates\": " + std::to_string(markers.duplicates) +
         ", \"unexpected\": " + std::to_string(markers.unexpected) +
         ", \"webhook_requests\": " + std::to_string(webhook.requests()) +
         ", \"webhook_bad_requests\": " + std::to_string(webhook.bad_requests()) + "}";
    j += ", \"sample_to_handler_us\": {\"p50\": " + Num(Percentile(l, 0.5)) +
         ", \"p99\": " + Num(Percentile(l, 0.99)) +
         ", \"max\": " + Num(l.empty() ? std::nan("") : l.back()) +
         ", \"count\": " + std::to_string(l.size()) + "}";
  }
  j += ", \"build\": " + JsonString(build);
  j += "}";
  std::printf("%s\n", j.c_str());
  const bool nothing_sent = total.requests > 0 && total.errors.count("transport") == 1 &&
                            total.errors["transport"] == total.requests;
  return nothing_sent ? 1 : 0;
}

}  // namespace nimify::cli
