#!/bin/bash
# verify_clgemv23.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv23; bench/NOTES.md section 1 "clgemv23"):
# GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (`gemvk` / `copy (device)`, device time), each row also
# against the copy kernel moving the same bytes (QUANTA_BENCH_COPY_KIB: what one launch of that size reaches).
# Replaces verify_clgemv22.sh (its Q4L / Q8L / R128 decided off). At most VERIFY_S (54) s; everything in
# $OUT/clgemv23/, packed as $OUT/clgemv23.tgz; summary.txt ends with the table (label, shape, GB/s, of the 256 MiB
# copy, of the same-size copy, switches). Call 2 (22:08) decided XG (x quantized by a launch of its own: -12 to -20%)
# and R1 (one row a warp: -6 to -10%) off; this run measures the lever it found. The switch, off:
#   P2 = QUANTA_OPENCL_GEMVS_P2=1: q8's 2-row U=8 streaming form (4096x11008's _i2us) with block 0's first two steps
#        issued before x is quantized (qn_gemv_q8_i2us2; the same bits): call 2 measured _i2us without its prologue at
#        22.0-23.2 us against 23.7-24.2 with it
# In this order, the deciding steps first, each skipped when the budget is short:
#  1. conformance on NVIDIA's OpenCL: q8 M=1 cases under P2 (events must list i2us2)
#  2. kernel rows: base at 4096x11008, 11008x4096, 32000x4096 (q4, q8; both copy references), then q8 4096x11008
#     interleaved p2 / baseb / p2b / basec / p2c, then P2 with XB=0 twice (p2x0, p2x0b)
#  3. shp: the defaults at K = 8192 / 12288 (q8: whole steps only) and 8448 / 12672 rows (q4: whole rounds only); the
#     defaults at the three shapes again (basecd)
#  4. NVIDIA's PTX of the cached programs kept (gzipped), for ptxas -v here afterwards
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv23 ${VERIFY_S:-54}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
P2="QUANTA_OPENCL_GEMVS_P2=1"
TAB=""

# 1. conformance (deciding: a form that fails is not a default)
CASES=(--case "matmul:m=1,n=67,k=11008,w=q8,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=8200,k=4096,w=q8,x=f32" --case "matmul_multi:m=1,n=3000,k=4096,w=q8,n1=3000,n2=2200,part=1"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=5,k=96,w=q4,g=32,x=f32" --case "matmul:m=1,n=4400,k=4096,w=q4,g=64,x=f32"
  --case "matmul:m=1,n=300,k=2048,w=q4,g=64,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; VERDICT=incomplete; return; }
  rm -f $D/ev_conf_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_conf_$label.txt timeout 10 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  local rc=$?
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$rc $(grep -E '^total' $D/conform_$label.txt) [$(grep -oE '^matmul(_multi)? \(gemv q[48] [a-z0-9]+\)' $D/ev_conf_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  [ $rc = 0 ] || VERDICT=FAIL
  pack
}
# P2 (call 3): the q8 cases, 4096x11008 among them (events must list i2us2)
CASES=(--case "matmul:m=1,n=67,k=11008,w=q8,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q8,x=f32"
  --case "matmul_multi:m=1,n=3000,k=11008,w=q8,n1=1000,n2=1000,part=1" --case "matmul:m=1,n=2000,k=5632,w=q8,x=f32")
conf p2 $P2
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 2. kernel rows
ck_kib() { # DTYPE SHAPE
  case "$1/$2" in q8/4096x4096) echo 8208 ;; q8/32000x4096) echo 64063 ;; q8/4096x11008 | q8/11008x4096) echo 22016 ;;
    q4/4096x4096) echo 4400 ;; q4/32000x4096) echo 34500 ;; q4/4096x11008 | q4/11008x4096) echo 11872 ;; *) echo 0 ;; esac
}
krows() { # LABEL SHAPES DTYPES SECONDS ENV...: the kernel rows, events on
  local label=$1 shapes=$2 dts=$3 sec=$4; shift 4
  [ $(left) -gt $((sec + 1)) ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=copy,gemvs QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout $sec $Q bench --backend opencl --no-ref --min-seconds 0.01 \
    > $D/k_$label.txt 2> $D/k_$label.err
  local rc=$?
  say "kernel rows $label ($*) rc=$rc: $(grep -oE '^matmul[a-z_]* \(gemv q[48] [a-z0-9]+\)' $D/ev_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')"
  # the same-size copies of this run (kept for the later rows' second column)
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/.* ([0-9.]+) GB\/s.* ([0-9]+) KiB read.*/\2 \1/' >> $D/copy_kib.txt
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/^copy +//' | cut -c1-110 | tee -a $D/summary.txt
  local lines
  lines=$(grep -E '^gemvk' $D/k_$label.txt | awk '{print $2, $3, $5, $10}')
  [ -n "$lines" ] || lines=$(grep -E '^  gemvk' $D/k_$label.err | sed -E 's/^  gemvk ([a-z0-9]+) 1x([0-9x]+): ([0-9.]+) GB\/s, ([0-9.]+) of.*/\1 1x\2 \3 \4/')
  while read -r dt shape gbs ratio; do
    [ -n "${gbs:-}" ] || continue
    local kib=$(ck_kib $dt ${shape#1x}) same
    same=$(awk -v k=$kib -v g=$gbs '$1 == k { c = $2 } END { if (c > 0) printf "%.2f", g / c; else print "?" }' $D/copy_kib.txt 2>/dev/null)
    say "  $dt ${shape#1x}: $gbs GB/s = $ratio of the 256 MiB copy, $same of the same-size copy"
    TAB="$TAB\n| $label | $dt ${shape#1x} | $gbs | $ratio | $same | $* |"
  done <<< "$lines"
  # the stream's wall rate (launch gaps included; decode sees launches this way) and each kernel's device time a call
  grep -E '^gemvs' $D/k_$label.txt | awk '{printf "  gemvs %s %s %s GB/s (%s of the copy bandwidth)\n", $2, $3, $5, $10}' | tee -a $D/summary.txt
  grep -E '\(gemv q[48] [a-z0-9]+\)' $D/ev_$label.txt 2>/dev/null | awk '{printf "  ev %s %s %s: %s us a call (%s calls)\n", $1, $3, $4, $(NF-1), $(NF-3)}' | tee -a $D/summary.txt
  pack
}
S="4096x11008,11008x4096,32000x4096" # 4096x4096 left out: its same-size copies (0.42 / 0.58) put 0.70 out of reach
# 2. interleaved three times: the defaults at the three shapes (both references) and P2 at q8 4096x11008 (the only
#    shape it changes: _i2us's)
krows base "$S" q4,q8 7 QUANTA_BENCH_COPY_KIB=11872,34500,22016,64063
krows p2 4096x11008 q8 4 $P2
krows baseb 4096x11008 q8 4
krows p2b 4096x11008 q8 4 $P2
krows basec 4096x11008 q8 4
krows p2c 4096x11008 q8 4 $P2
# P2 with the plain stager (XB=0: a piece an item a trip, 16 registers of x, not 48): in case two steps plus the one-trip
# stager's 3 pieces spill (call 2's ptxas: _i2us 231 registers, _i2usg 253)
krows p2x0 4096x11008 q8 4 $P2 QUANTA_OPENCL_GEMVS_XB=0
krows p2x0b 4096x11008 q8 4 $P2 QUANTA_OPENCL_GEMVS_XB=0

# 3. where the rest goes (task item 2), the defaults at shapes that remove one suspect each: q8 at K = 8192 / 12288
#    (_i2us's 2 / 3 whole steps of 8 pieces a row, against 11008's 2.69: the part-empty third step) and q4 at 8448 /
#    12672 rows (_is's blocks of 32 rows: exactly 2 / 3 rounds over 132 groups, against 11008's 2.61: the grid's tail)
krows shp "4096x8192,4096x12288,8448x4096,12672x4096" q4,q8 7
krows basecd "$S" q4,q8 7

# 4. NVIDIA's PTX of every cached program (gzipped, for ptxas -v here afterwards: the P2 form's registers and spills)
if [ $(left) -gt 2 ]; then
  # (ptxas itself is left for afterwards: cuda's bin is not on PATH here, so ptx_summary.py only copies and counts)
  PTX_KERNELS=qn_gemv_q8_i2us2,qn_gemv_q8_i2us \
    timeout $(( $(left) > 8 ? 6 : $(left) - 1 )) python3 bench/opencl/ptx_summary.py $CL_W/cache $D/ptx > $D/ptx.txt 2>&1
  say "ptx kept rc=$?: $(ls $D/ptx/*.ptx.gz 2>/dev/null | wc -l) programs"; grep -E '^ptx (qn|rc)' $D/ptx.txt | cut -c1-300 | head -12 | tee -a $D/summary.txt
fi

printf "\n| kernel run | format shape | GB/s | of 256 MiB copy | of same-size copy | switches |\n|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
say "done; VERDICT $VERDICT"
pack
