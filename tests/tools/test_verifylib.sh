#!/bin/bash
# test_verifylib.sh — bench/common/verifylib.sh, the frame the device checks source, without a GPU:
# a fake quanta; conform runs it with the environment before `--` and the cases after, and a call
# without `--` is refused at once (it used to loop for ever, shifting an empty argument list);
# sourcing it without NAME and BUDGET is refused with a message and status 2 instead of a
# set -u abort or a D of $OUT itself; say/pack/tg/tg_table write where the header says.
set -u
lib=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

cat > "$work/quanta" <<'Q'
#!/bin/sh
echo "args: $*"; echo "env: ${QX:-unset}"
case "$*" in *bench*) echo '{"tg_tps": 12.5, "tg_tps_sd": 0.25}' ;; *) echo "total 3 ok 3" ;; esac
Q
chmod +x "$work/quanta"

# a frame as the scripts use it
out=$(OUT="$work/out" Q="$work/quanta" timeout 20 bash -c '
  set -u; . "$0" t1 60
  conform c1 QX=7 -- --case a --case b; echo "rc=$? verdict=$VERDICT"
  tg row1 QX=1 -m model; tg_table; pack; echo "D=$D"' "$lib" 2>&1)
check "conform runs with the env and cases" '[[ "$out" == *"conform c1 rc=0: total 3 ok 3"* ]] && grep -q "args: conform --backend cuda --case a --case b" "$work/out/t1/conform_c1.log" && grep -q "env: 7" "$work/out/t1/conform_c1.log"'
check "tg row and table" '[[ "$out" == *"tg row1 rc=0: 12.5 ± 0.25 tok/s"* ]] && grep -q "| row1 | 12.5 | 0.25 |" "$work/out/t1/summary.txt"'
check "pack" '[ -f "$work/out/t1.tgz" ] && [[ "$out" == *"D=$work/out/t1"* ]]'

# conform without `--`: refused, not a hang
out=$(OUT="$work/out" Q="$work/quanta" timeout 10 bash -c '. "$0" t2 60; conform c2 QX=1 --case a; echo "rc=$?"' "$lib" 2>&1)
rc=$?
check "conform without -- returns (timeout rc $rc)" '[ $rc -ne 124 ] && [[ "$out" == *"rc=2"* ]] && [[ "$out" == *"--"* ]]'

# sourced without its arguments: status 2 and a message, the caller's shell still running
out=$(OUT="$work/out" timeout 10 bash -c 'set -u; . "$0" || echo "sourcing failed: $?"; echo alive' "$lib" 2>&1)
check "no NAME/BUDGET: refused, caller alive" '[[ "$out" == *"sourcing failed: 2"* ]] && [[ "$out" == *alive* ]] && [[ "$out" == *NAME* ]]'
out=$(OUT="$work/out" timeout 10 bash -c '. "$0" t3 soon || echo "sourcing failed: $?"; echo alive' "$lib" 2>&1)
check "BUDGET not a number: refused" '[[ "$out" == *"sourcing failed: 2"* ]] && [[ "$out" == *alive* ]]'

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
