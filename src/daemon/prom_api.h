// The pieces of Prometheus's HTTP API that do not depend on the server:
// request parameters (form decoding, times, durations) and the JSON shapes
// of its answers (value and timestamp formatting included).
#ifndef NIMIFY_DAEMON_PROM_API_H_
#define NIMIFY_DAEMON_PROM_API_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimify/engine.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify::daemon {

// Decoded `a=b&c=d` pairs of a query string or a form body, in order.
class Params {
 public:
  // kInvalidArgument for a bad %-escape.
  Status AddEncoded(std::string_view encoded);
  void Add(std::string name, std::string value) {
    pairs_.emplace_back(std::move(name), std::move(value));
  }
  // The first value of `name`.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value of `name` (`match[]` and the like).
  std::vector<std::string> GetAll(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

// %XX and '+' decoding. False for a bad escape.
bool UrlDecode(std::string_view in, std::string* out);

// Prometheus's parseTime: Unix seconds as a float, or RFC 3339 (with
// fraction and offset). Returns Unix milliseconds.
Result<std::int64_t> ParseApiTime(std::string_view text);
// Prometheus's parseDuration: seconds as a float, or a duration like 1m30s.
Result<std::int64_t> ParseApiDuration(std::string_view text);

// Go's RFC3339Nano at millisecond precision: 2024-01-02T03:04:05.12Z.
std::string FormatRfc3339(std::int64_t ms);
// A JSON timestamp as Prometheus writes it: seconds with up to 3 decimals.
std::string FormatApiTimestamp(std::int64_t ms);
// A sample value as Prometheus writes it (Go's FormatFloat(v, 'f', -1)).
std::string FormatApiValue(double v);

void AppendJsonString(std::string* out, std::string_view s);
void AppendLabelsObject(std::string* out, const OwnedLabels& labels);

// {"status":"error","errorType":...,"error":...}
std::string ApiErrorBody(std::string_view error_type, std::string_view message);
// {"status":"success","data":<data_json>} (with "warnings"/"infos" when given).
std::string ApiSuccessBody(std::string_view data_json,
                           const std::vector<std::string>& warnings = {},
                           const std::vector<std::string>& infos = {});

// The "data" object of /api/v1/query and /api/v1/query_range.
std::string QueryDataJson(const QueryResult& result);

// errorType and HTTP status for a failed query, as Prometheus maps them.
struct ApiError {
  std::string type;  // bad_data, execution, timeout, internal, unavailable, not_found
  int http_status = 400;
};
ApiError ApiErrorForStatus(const Status& status);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_PROM_API_H_
