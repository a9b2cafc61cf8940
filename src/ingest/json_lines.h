// JSON lines: one series per line.
//
//   {"labels": {"__name__": "up"}, "samples": [[1700000000000, 1], [1700000015000, "NaN"]]}
//
//   NIMIFY_RETURN_IF_ERROR(ingest::DecodeJsonLines(body, ingest::Limits(), &batch));
//
// - "labels": an object of string values (the label checks of remote_write.h;
//   empty values are dropped); "samples": an array of [timestamp, value] pairs.
//   Both keys are required; no other key is allowed; "samples" may be empty
//   (the series is then not added).
// - Timestamps are JSON integers in Unix milliseconds. Numbers with a fraction
//   or an exponent (e.g. Prometheus API-style float seconds 1435781451.781) are
//   rejected rather than guessed at.
// - Values: a JSON number, or a string Prometheus's parser accepts ("1.5",
//   "NaN", "+Inf", "-Inf", "1e3"). NaN is stored as Prometheus's normal NaN.
// - Blank lines (whitespace only) are skipped; a trailing "\r" is ignored.
// - Lines are parsed with RapidJSON (iteratively, so deep nesting cannot
//   overflow the stack; strings must be valid UTF-8).
#ifndef NIMIFY_INGEST_JSON_LINES_H_
#define NIMIFY_INGEST_JSON_LINES_H_

#include <string_view>

#include "ingest/batch.h"
#include "nimify/status.h"

namespace nimify::ingest {

// Appends one series per non-blank line to `out`. All-or-nothing: on error
// `out` is unchanged and the message names the line (and column for JSON
// syntax errors), e.g. "json lines: line 4: samples[1][0]: timestamp must be an
// integer number of milliseconds, got 1.5". Errors: kParseError (JSON syntax),
// kInvalidArgument (shape, types, labels), kResourceExhausted (a limit).
Status DecodeJsonLines(std::string_view body, const Limits& limits, Batch* out);

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_JSON_LINES_H_
