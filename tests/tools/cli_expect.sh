#!/bin/sh
# cli_expect.sh RC PATTERN [STDIN_TEXT] -- QUANTA ARGS...
# Runs the quanta binary and checks its exit status is RC and its stderr contains PATTERN
# (fixed string; empty = anything). A usage error (RC 2) must be exactly one line on stderr
# and print nothing on stdout. STDIN_TEXT, when given before "--", is fed on stdin.
want_rc=$1; pattern=$2; shift 2
input=""; have_input=0
if [ "$1" != "--" ]; then input=$1; have_input=1; shift; fi
[ "$1" = "--" ] && shift
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
if [ $have_input = 1 ]; then printf '%s' "$input" | "$@" >"$out" 2>"$err"; rc=$?
else "$@" </dev/null >"$out" 2>"$err"; rc=$?; fi
echo "command: $*"; echo "exit status: $rc (want $want_rc)"; echo "--- stderr"; cat "$err"; echo "--- stdout"; head -c 2000 "$out"; echo
[ "$rc" = "$want_rc" ] || { echo "FAIL: exit status $rc, want $want_rc"; exit 1; }
if [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$err"; then echo "FAIL: stderr lacks '$pattern'"; exit 1; fi
if [ "$want_rc" = 2 ]; then
  [ "$(wc -l <"$err")" -eq 1 ] || { echo "FAIL: a usage error must be one line on stderr"; exit 1; }
  [ ! -s "$out" ] || { echo "FAIL: a usage error must print nothing on stdout"; exit 1; }
fi
exit 0
