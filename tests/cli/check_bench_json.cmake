# Runs `nimify bench --format json` briefly and checks its object (CMake's
# JSON parser, so nothing beyond CMake is needed).
execute_process(
  COMMAND "${NIMIFY}" bench --rules "${RULES}" --series 2000 --producers 1 --shards 2
    --seconds 2 --full-eval-runs 1 --format json
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 240)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nimify bench exited with ${rc}: ${err}")
endif()

function(get_field var)
  string(JSON value ERROR_VARIABLE error GET "${out}" ${ARGN})
  if(error)
    message(FATAL_ERROR "bench JSON has no ${ARGN}: ${error}\n${out}")
  endif()
  set(${var} "${value}" PARENT_SCOPE)
endfunction()

foreach(key samples_per_second cpu_ns_per_sample bytes_per_series full_eval_ms
    rule_evaluations rule_evaluations_skipped)
  get_field(value ${key})
  if(NOT value GREATER 0)
    message(FATAL_ERROR "${key} should be positive, got ${value}\n${out}")
  endif()
endforeach()
get_field(series series)
get_field(rules rules)
get_field(fired alerts_fired)
get_field(p50 alert_latency_us p50)
get_field(p99 alert_latency_us p99)
get_field(max alert_latency_us max)
get_field(refused samples_refused)
get_field(failures rule_failures)
if(NOT series EQUAL 2000)
  message(FATAL_ERROR "series: ${series}")
endif()
# The 11 runbook rules and the 100 generated threshold rules.
if(NOT rules EQUAL 111)
  message(FATAL_ERROR "rules: ${rules}")
endif()
# Spikes make the generated rules fire every step.
if(NOT fired GREATER 0)
  message(FATAL_ERROR "no alert fired\n${out}")
endif()
if(NOT (p50 GREATER 0 AND NOT p50 GREATER p99 AND NOT p99 GREATER max))
  message(FATAL_ERROR "latency percentiles out of order: ${p50} ${p99} ${max}")
endif()
if(NOT refused EQUAL 0 OR NOT failures EQUAL 0)
  message(FATAL_ERROR "refused ${refused}, rule failures ${failures}\n${out}")
endif()
