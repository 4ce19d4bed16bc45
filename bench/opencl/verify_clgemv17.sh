#!/bin/bash
# verify_clgemv17.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv17; bench/NOTES.md section 1
# "clgemv17"): GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (device time: `gemvk` / `copy (device)`, and
# the copy at the same bytes, QUANTA_BENCH_COPY_KIB), decode >= 0.5x CUDA kept. Round 1 (DR1): q4 through integer
# dot products (QUANTA_OPENCL_Q4I=1: qn_gemv_q4_i, x quantized in the group) against the default (qn_gemv_q4_s,
# floats), the same for q8 (QUANTA_OPENCL_Q8I=1: qn_gemv_q8_i against qn_gemv_q8_m1), their conformance on NVIDIA
# (dp4a by inline PTX), the large output-head shapes. At most VERIFY_S (45) s;
# everything in $OUT/clgemv17/, packed as $OUT/clgemv17.tgz (summary.txt). Measures, in this order (each step
# skipped when the budget is short):
#  1. q4 kernel rows (`quanta bench`, QUANTA_OPENCL_EVENTS) at 4096x4096, 11008x4096, 4096x11008:
#       base    the default (qn_gemv_q4_s) and the copy kernel's device time at the GEMVs' byte counts
#       i4      Q4I=1: qn_gemv_q4_i (4 rows a warp), i4r2 (_i2: 2 rows a warp, twice the warps), i4pf / i4r2pf
#               (_ip / _i2p, GEMVS_PF=1: the first step's weights loaded before x is quantized), then base4 (the
#               default again: the noise between two runs)
#  2. q8 kernel rows at the same shapes: base8 (the default, qn_gemv_q8_m1), q8i (Q8I=1: qn_gemv_q8_i, 4 rows a
#     warp), q8i2 (_i2: 2 rows), q8i2u (_i2u: 2 rows, 8 pieces in flight)
#  3. conformance on NVIDIA of each Q4I / Q8I kernel (q4 after the q4 rows, q8 after the q8 rows) (q4 cases; the q8 ones ride along as a control), the kernels the
#     events list in brackets
#  4. the output-head shapes 32000x4096 and 128256x4096 (q4: 70 / 280 MB, q8: 131 / 525 MB, beyond the copy's
#     launch-bound sizes): default q8 and q4, then Q4I=1 Q8I=1
#  5. decode tg128 -r 2 of $L1 and $G (default: q4 is not on the files' decode path, the weights are q8 on OpenCL)
#     against CUDA's tg128 in the same call; the 1B with Q8I=1 (its plain q8 GEMVs: o, the output head) and its
#     greedy text against the default's
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv17 ${VERIFY_S:-45}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S7="4096x4096,11008x4096,4096x11008"
SH="32000x4096,128256x4096"
# KiB copied (read and written) = half the weight bytes: q4 9.0 / 24.3 MB; 1 = the launch floor
CK=1,4400,11872
I4="QUANTA_OPENCL_Q4I=1"

krows() { # LABEL SHAPES DTYPES SECONDS ENV...: the kernel rows, events on
  local label=$1 shapes=$2 dts=$3 sec=$4; shift 4
  [ $(left) -gt $((sec - 1)) ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=copy,gemvs QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout $sec $Q bench --backend opencl --no-ref --min-seconds 0.01 \
    > $D/k_$label.txt 2> $D/k_$label.err
  local rc=$?
  say "kernel rows $label ($*) rc=$rc:"
  if grep -qE '^gemv' $D/k_$label.txt; then
    grep -E '^(copy|gemvk)' $D/k_$label.txt | sed 's/copy bandwidth/copy/;s/ of weights//;s/read + written, device time/r+w,/' | cut -c1-150 | tee -a $D/summary.txt
  else # cut short: the rows it said as it went
    grep -E '^  (gemv|copy)' $D/k_$label.err | tee -a $D/summary.txt
  fi
  grep -E '^matmul' $D/ev_$label.txt 2>/dev/null | head -3 | tee -a $D/summary.txt
  pack
}
# conformance on NVIDIA (conf, after each format's rows): q4 M = 1 products (whole steps and tails, groups 32/64/128; K = 14336: x too big for
#    local memory as floats, so no Q4I there) and q8 ones (matmul and the stacked multi)
CASES=(--case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=67,k=1024,w=q4,g=64,x=f32" --case "matmul:m=1,n=37,k=14336,w=q4,g=64,x=f32"
  --case "matmul:m=1,n=7,k=32,w=q4,g=32,x=f32" --case "matmul:m=1,n=5,k=96,w=q4,g=32,x=f32"
  --case "matmul:m=1,n=300,k=4096,w=q4,g=64,x=f32"
  --case "matmul:m=1,n=100,k=4096,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=67,k=1040,w=q8,x=f32" --case "matmul:m=1,n=5,k=16,w=q8,x=f32"
  --case "matmul_multi:m=1,n=64,k=2048,w=q8,n1=40,n2=24,part=1,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; return; }
  rm -f $D/ev_conf_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_conf_$label.txt timeout 4 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$? $(grep -E '^total' $D/conform_$label.txt) [$(grep -oE '^matmul(_multi)? \(gemv q[48] [a-z0-9]+\)' $D/ev_conf_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  pack
}
# 1. the deciding kernel rows, each format's conformance right after its rows
krows base "$S7" q4 7 QUANTA_BENCH_COPY_KIB=$CK
krows i4 "$S7" q4 6 $I4
krows i4r2 "$S7" q4 6 $I4 QUANTA_OPENCL_GEMVS_RW=2
krows i4pf "$S7" q4 6 $I4 QUANTA_OPENCL_GEMVS_PF=1
krows i4r2pf "$S7" q4 6 $I4 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_PF=1
krows base4 "$S7" q4 6
conf i4 $I4
conf i4r2 $I4 QUANTA_OPENCL_GEMVS_RW=2
conf i4pf $I4 QUANTA_OPENCL_GEMVS_PF=1 QUANTA_OPENCL_GEMVS_SETS=3 QUANTA_OPENCL_GEMVS_GPC=1
conf i4r2pf $I4 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_PF=1
# 2. q8
krows base8 "$S7" q8 6 QUANTA_BENCH_COPY_KIB=8208,22016
krows q8i "$S7" q8 5 QUANTA_OPENCL_Q8I=1
krows q8i2 "$S7" q8 5 QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2
krows q8i2u "$S7" q8 5 QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8
conf q8i QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_SETS=3 QUANTA_OPENCL_GEMVS_GPC=1
conf q8i2u QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8
conf q8i2 QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2

conf default
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 4. the output heads: the target on a basis the launch does not dominate (same-size copy: 35 / 65 MiB)
krows head "$SH" q8,q4 12 QUANTA_BENCH_COPY_KIB=35000,65000
krows head_i "$SH" q8,q4 12 $I4 QUANTA_OPENCL_Q8I=1

# 5. decode: the defaults, CUDA in the same call; the 1B with Q8I=1
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 2
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "tg $label: no file $f"; return; }
  [ $(left) -gt 4 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 5 $Q bench model -m $f -p 0 -n 128 -r 2 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
tgc() { # LABEL FILE: CUDA decode tg128 -r 1 (the ratio's denominator, same call)
  local label=$1 f=$2
  [ -f $f ] && [ -x "$QC" ] || { say "cuda tg $label: no CUDA quanta ($QC) or file"; return; }
  [ $(left) -gt 4 ] || { say "cuda tg $label skipped (time)"; return; }
  timeout 5 $QC bench model -m $f -p 0 -n 128 -r 1 --backend cuda --json > $D/cuda_$label.json 2> $D/cuda_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/cuda_$label.json | grep -o '[0-9.]*$')
  say "cuda tg $label rc=$rc: ${v:-?} tok/s"
  ROWS="$ROWS\n| cuda_$label | (CUDA) | ${v:-?} | |"
}
tgo g_default $G
tgo l1_default $L1
tgc g $G
tgc l1 $L1
tgo l1_q8i $L1 QUANTA_OPENCL_Q8I=1
gen() { # LABEL FILE ENV...: 24 greedy tokens
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 3 ] || return
  env "$@" timeout 4 $Q generate -m $f -n 24 --backend opencl --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "generate $label ($*) rc=$? $(md5sum < $D/gen_$label.txt | cut -c1-12)"
}
gen l1_default $L1
gen l1_q8i $L1 QUANTA_OPENCL_Q8I=1
[ -s $D/gen_l1_q8i.txt ] && { cmp -s $D/gen_l1_default.txt $D/gen_l1_q8i.txt && say "greedy 1B Q8I=1: same text" || say "greedy 1B Q8I=1: TEXT DIFFERS"; }
printf "\n| decode run (tg128) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
say "done"
pack
