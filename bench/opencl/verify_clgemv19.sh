#!/bin/bash
# verify_clgemv19.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv19; bench/NOTES.md section 1 "clgemv19"):
# GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (`gemvk` / `copy (device)`, device time), reported also
# against the copy kernel moving the same bytes (QUANTA_BENCH_COPY_KIB: what one launch of that size reaches; an
# upper bound, not a peer), and the flip decision for QUANTA_OPENCL_Q8I (the q8 int8 GEMV) in decode.
# At most VERIFY_S (52) s; everything in $OUT/clgemv19/, packed as $OUT/clgemv19.tgz; summary.txt ends with the table
# (label, shape, GB/s, of the 256 MiB copy, of the same-size copy). Round 2 (after the H100 call of 09:33, whose rows
# chose these): in this order, each step skipped when the budget is short, the deciding rows first:
#  1. q8 kernel rows at 4096x4096, 11008x4096, 4096x11008 (base8: the default, qn_gemv_q8_m1, and the copy at the
#     GEMVs' bytes and at 1 KiB, the launch floor): q8auto (Q8I=1 GEMVS_RW=auto: qn_gemv_q8_ip at K <= 4096 where the
#     rows fill 8-warp groups on every SM, else _i2u: 09:33's best form at each shape), q8autog (that at 2 groups a
#     compute unit, GPC=2), base8b (the noise)
#  2. the Q8I decision: decode tg128 -r 3 of the 1B Q8_0 file ($L1) and Gemma ($G), default and Q8I=2 RW=auto (the
#     int8 GEMV only above 1536 rows at K >= 2048: 09:33 had Q8I=1 +4% on the 1B, -12% on Gemma) alternated (D Q D
#     Q), then 24 greedy tokens of each under both (text compared), and Gemma's per-kernel device time (events) under
#     the default and under Q8I=1 RW=2 U=8 (which of its GEMVs lost the 12%)
#  3. q4 kernel rows (base4: the default qn_gemv_q4_i2p, the copy at q4's bytes), i4auto (GEMVS_RW=auto: _ip at
#     11008x4096, _i2p at the others; the same bits), i4autog (that with GPC=2), base4b
#  4. conformance on NVIDIA of the auto forms with Q8I=2 (the kernels the events list in brackets) and the default
#  5. CUDA's tg128 of both files (the decode ratio's denominator, same call)
#  6. ptxas -v registers of the int8 GEMVs from NVIDIA's cached PTX (bench/opencl/ptx_summary.py), if time is left
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv19 ${VERIFY_S:-52}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S3="4096x4096,11008x4096,4096x11008"
Q8B="QUANTA_OPENCL_Q8I=2 QUANTA_OPENCL_GEMVS_RW=auto" # the candidate default (H100 09:33)
Q81="QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8" # 09:33's decode form
TAB=""

# KiB of the copy (read and written) moving a GEMV's weight bytes: q8 16.8 / 45.1 MB, q4 9.0 / 24.3 MB
ck_kib() { # DTYPE SHAPE
  case "$1/$2" in q8/4096x4096) echo 8208 ;; q8/*) echo 22016 ;; q4/4096x4096) echo 4400 ;; *) echo 11872 ;; esac
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
  pack
}

# 1. q8 rows (deciding: the int8 forms against the default)
AUTO="QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=auto"
krows base8 "$S3" q8 7 QUANTA_BENCH_COPY_KIB=1,8208,22016
krows q8auto "$S3" q8 5 $AUTO
krows q8autog "$S3" q8 5 $AUTO QUANTA_OPENCL_GEMVS_GPC=2
krows base8b "$S3" q8 5

# 3. q4 rows (before the decode when the files are not made yet)
q4rows() {
  krows base4 "$S3" q4 6 QUANTA_BENCH_COPY_KIB=4400,11872
  krows i4auto "$S3" q4 5 QUANTA_OPENCL_GEMVS_RW=auto
  krows i4autog "$S3" q4 5 QUANTA_OPENCL_GEMVS_RW=auto QUANTA_OPENCL_GEMVS_GPC=2
  krows base4b "$S3" q4 5
}
Q4DONE=0
[ -f $CL_PRE/files.rc ] || { q4rows; Q4DONE=1; }

# 2. decode: default and Q8I's best form alternated, -r 3 each, then greedy text
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "tg $label: no file $f"; return; }
  [ $(left) -gt 5 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 6 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
gen() { # LABEL FILE ENV...: 24 greedy tokens
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 3 ] || return
  env "$@" timeout 4 $Q generate -m $f -n 24 --backend opencl --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "generate $label ($*) rc=$? $(md5sum < $D/gen_$label.txt | cut -c1-12)"
}
gev() { # LABEL FILE ENV...: 24 greedy tokens with the events table; its matmul lines
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 5 ] || return
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt timeout 4 $Q generate -m $f -n 24 --backend opencl --quiet > $D/genev_$label.txt 2>&1
  say "events $label ($*) rc=$?:"; grep -E '^matmul' $D/ev_$label.txt | head -8 | cut -c1-100 | tee -a $D/summary.txt
}
same_text() { # A B WHAT
  [ -s $D/gen_$1.txt ] && [ -s $D/gen_$2.txt ] || { say "greedy $3: not compared (missing)"; return; }
  cmp -s $D/gen_$1.txt $D/gen_$2.txt && say "greedy $3: same text" || say "greedy $3: TEXT DIFFERS"
}
tgo l1_d1 $L1
tgo l1_q1 $L1 $Q8B
tgo l1_d2 $L1
tgo l1_q2 $L1 $Q8B
gen l1_d $L1
gen l1_q $L1 $Q8B
same_text l1_d l1_q "1B Q8I=2 RW=auto"
tgo g_d1 $G
tgo g_q1 $G $Q8B
tgo g_d2 $G
tgo g_q2 $G $Q8B
gen g_d $G
gen g_q $G $Q8B
same_text g_d g_q "Gemma Q8I=2 RW=auto"
gev g_d $G
gev g_q81 $G $Q81
pack

[ $Q4DONE = 1 ] || q4rows

# 4. conformance on NVIDIA: q8 M = 1 products under the new kernel (matmul and the stacked multi; whole steps and tails
#    at K = 4096 / 11008 / 2048, 1600 rows: Q8I=2's threshold), q4 ones, under the auto forms and the defaults
CASES=(--case "matmul:m=1,n=100,k=4096,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=1600,k=2048,w=q8,x=f32" --case "matmul:m=1,n=1600,k=1024,w=q8,x=f32"
  --case "matmul_multi:m=1,n=1664,k=4096,w=q8,n1=1024,n2=320,part=1,x=f32" --case "matmul:m=1,n=67,k=1040,w=q8,x=f32"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=300,k=4096,w=q4,g=64,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; return; }
  rm -f $D/ev_conf_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_conf_$label.txt timeout 4 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$? $(grep -E '^total' $D/conform_$label.txt) [$(grep -oE '^matmul(_multi)? \(gemv q[48] [a-z0-9]+\)' $D/ev_conf_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  pack
}
conf auto $Q8B
conf auto_gpc $Q8B QUANTA_OPENCL_GEMVS_GPC=1 QUANTA_OPENCL_GEMVS_SETS=3
conf default
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 5. CUDA's decode in the same call (decode >= 0.5x CUDA: kept?)
tgc() { # LABEL FILE
  local label=$1 f=$2
  [ -f $f ] && [ -x "$QC" ] || { say "cuda tg $label: no CUDA quanta ($QC) or file"; return; }
  [ $(left) -gt 4 ] || { say "cuda tg $label skipped (time)"; return; }
  timeout 5 $QC bench model -m $f -p 0 -n 128 -r 1 --backend cuda --json > $D/cuda_$label.json 2> $D/cuda_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/cuda_$label.json | grep -o '[0-9.]*$')
  say "cuda tg $label rc=$rc: ${v:-?} tok/s"
  ROWS="$ROWS\n| cuda_$label | (CUDA) | ${v:-?} | |"
}
tgc l1 $L1
tgc g $G

# 6. registers of the int8 GEMVs as NVIDIA's compiler made them (the cached PTX through ptxas -v: how many groups an SM holds)
if [ $(left) -gt 12 ]; then
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q8_i2u,qn_gemv_q8_ip,qn_gemv_q4_i2p,qn_gemv_q4_ip \
    timeout $(( $(left) - 3 )) python3 bench/opencl/ptx_summary.py $CL_W/cache /tmp/clgemv19-ptx > $D/ptx.txt 2>&1
  say "ptx summary rc=$?:"; grep -E '^ptxas' $D/ptx.txt | head -12 | tee -a $D/summary.txt
fi

printf "\n| kernel run | format shape | GB/s | of 256 MiB copy | of same-size copy | switches |\n|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
printf "\n| decode run (tg128 -r 3) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
say "done"
pack
