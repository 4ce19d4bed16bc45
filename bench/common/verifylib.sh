# verifylib.sh — the frame the device checks bench/*/verify_*.sh share. Each sources it from the repository root:
#   . bench/common/verifylib.sh NAME BUDGET
# (named apart from verify_*.sh: bench/e2e/run_h200.sh runs every bench/*/verify_*.sh). It sets OUT (default
# /tmp/e2e-out), D=$OUT/NAME (made), T0 (the start), ROWS (empty: tg's table rows), and defines
#   el                   seconds since T0
#   left                 seconds left of BUDGET
#   say TEXT             a line stamped with el, printed and appended to $D/summary.txt
#   pack                 $D as $OUT/NAME.tgz, replaced whole (a run cut short keeps the last pack)
#   tg LABEL ENV ARGS... one decode-only `bench model` on cuda (-p 0 -n 128 -r 3, quanta $Q) with ENV, said and
#                        added to ROWS; skipped when fewer than 5 s of BUDGET are left
#   tg_table             prints ROWS as a table and appends it to the summary
#   conform LABEL ENV... -- CASES...
#                        `conform --backend cuda` of the cases with ENV (at most CONFORM_S s, default 12), said with
#                        its first FAIL lines; VERDICT (ok until then) becomes FAIL, or incomplete when skipped with
#                        5 s or less left; returns conform's status
# Refused with status 2 (return, not exit: this file is sourced) without a NAME or a numeric BUDGET: under the
# scripts' set -u a missing $1 would end the caller, and an empty NAME would make D $OUT itself.
case "${1:-}/${2:-}" in
  /* | */ | */*[!0-9]*) echo "verifylib.sh: usage: . bench/common/verifylib.sh NAME BUDGET (seconds), got '${1:-}' '${2:-}'" >&2; return 2 ;;
esac
VERIFY_NAME=$1
VERIFY_BUDGET=$2
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/$VERIFY_NAME
mkdir -p $D
T0=$(date +%s)
ROWS=""
VERDICT=ok

el() { echo $(($(date +%s) - T0)); }
left() { echo $((VERIFY_BUDGET - $(el))); }
say() { echo "[$(el)s] $*" | tee -a $D/summary.txt; }
pack() {
  tar czf $OUT/$VERIFY_NAME.tgz.part -C $OUT $VERIFY_NAME 2>/dev/null && mv $OUT/$VERIFY_NAME.tgz.part $OUT/$VERIFY_NAME.tgz
}

tg() {
  local label=$1 env=$2; shift 2
  if [ $(el) -gt $((VERIFY_BUDGET - 5)) ]; then say "tg $label skipped (time)"; return; fi
  env $env timeout 15 $Q bench model -p 0 -n 128 -r 3 --backend cuda --json "$@" > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | ${v:-?} | ${sd:-?} |"
}
tg_table() { printf "\n| decode run (tg128, -r 3) | tok/s | sd |\n|---|---|---|$ROWS\n" | tee -a $D/summary.txt; }

conform() {
  local label=$1; shift
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] || { say "conform $label: no -- before the cases (conform LABEL ENV... -- CASES...)"; return 2; }
  shift
  [ $(left) -gt 5 ] || { say "conform $label skipped (time)"; VERDICT=incomplete; return 1; }
  env "${envs[@]}" timeout ${CONFORM_S:-12} $Q conform --backend cuda "$@" > $D/conform_$label.log 2>&1
  local rc=$?
  say "conform $label rc=$rc: $(grep -E '^total' $D/conform_$label.log)"
  grep -E '^FAIL' $D/conform_$label.log | head -4 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
  return $rc
}
