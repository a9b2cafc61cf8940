// Fuzz entry for what nimifyd reads from an HTTP request besides the headers
// (Boost.Beast parses those): the Alertmanager JSON bodies (v2 silences, acks,
// the runbook's v1 alerts-as-acks), GET /api/v2/alerts filters, and the
// Prometheus API's form / query-string decoding with its time and duration
// parameters. The server's router needs a socket, so the entry calls the
// parsers the route handlers call. The first byte picks the parser.
// Invariants: no crash; a refused body says why; an accepted silence or ack
// survives printing and parsing again.
#include <cstdint>
#include <string>

#include "daemon/am_api.h"
#include "daemon/prom_api.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace nimify;
using namespace nimify::daemon;

void Silences(std::string_view body, std::string_view input) {
  Result<Silence> s = ParseSilenceJson(body);
  if (!s.ok()) {
    FUZZ_CHECK(!s.status().message().empty(), input);
    return;
  }
  Result<Silence> again = ParseSilenceJson(GettableSilenceJson(*s));
  FUZZ_CHECK(again.ok(), input);
  FUZZ_CHECK(again->matchers == s->matchers, input);
  FUZZ_CHECK(again->starts_at_ms == s->starts_at_ms && again->ends_at_ms == s->ends_at_ms, input);
  FUZZ_CHECK(again->created_by == s->created_by && again->comment == s->comment, input);
}

void Acks(std::string_view body, std::string_view input) {
  Result<Acknowledgement> a = ParseAckJson(body);
  if (!a.ok()) {
    FUZZ_CHECK(!a.status().message().empty(), input);
    return;
  }
  Result<Acknowledgement> again = ParseAckJson(AckJson(*a));
  FUZZ_CHECK(again.ok(), input);
  FUZZ_CHECK(again->matchers == a->matchers && again->fingerprint == a->fingerprint, input);
}

void Form(std::string_view body, std::string_view input) {
  Params params;
  if (!params.AddEncoded(body).ok()) return;
  for (const char* name : {"time", "start", "end"}) {
    if (auto v = params.Get(name)) (void)ParseApiTime(*v);
  }
  for (const char* name : {"step", "timeout", "lookback_delta"}) {
    if (auto v = params.Get(name)) (void)ParseApiDuration(*v);
  }
  for (const std::string& m : params.GetAll("match[]")) FUZZ_CHECK(m.size() <= body.size(), input);
  std::string decoded;
  if (UrlDecode(body, &decoded)) FUZZ_CHECK(decoded.size() <= body.size(), input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::AsText(data, size);
  if (input.empty()) return 0;
  const std::string_view body = input.substr(1);
  switch (static_cast<std::uint8_t>(input[0]) % 5) {
    case 0:
      Silences(body, input);
      break;
    case 1:
      Acks(body, input);
      break;
    case 2: {
      auto acks = ParseV1AlertsAsAcks(body);
      if (acks.ok()) {
        for (const Acknowledgement& a : *acks) FUZZ_CHECK(!a.matchers.empty(), input);
      }
      break;
    }
    case 3:
      (void)ParseAlertFilter(body);
      break;
    default:
      Form(body, input);
      break;
  }
  return 0;
}
