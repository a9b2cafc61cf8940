#!/bin/sh
# Runs a command and passes only if it exits with the expected status.
#   expect_exit.sh <status> <command> [args...]
expected="$1"
shift
"$@"
actual=$?
if [ "$actual" -ne "$expected" ]; then
  echo "expect_exit: '$*' exited with $actual, expected $expected" >&2
  exit 1
fi
exit 0
