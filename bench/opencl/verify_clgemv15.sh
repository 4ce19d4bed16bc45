#!/bin/bash
# verify_clgemv15.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv15; bench/NOTES.md section 1
# "clgemv15"): GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth, decode >= 0.5x CUDA kept. The session's one
# remaining call decides the defaults, so each candidate runs against the default in the same call, with its
# conformance. At most VERIFY_S (30) s; everything in $OUT/clgemv15/, packed as $OUT/clgemv15.tgz (summary.txt).
# Measures, in this order (each step skipped when the budget is short):
#  1. the kernel rates: `quanta bench` with QUANTA_OPENCL_EVENTS (device timestamps) — rows
#       copy / copy (device)  the 256 MiB copy kernel: wall clock (best of 5 launches) / its launches' device time
#       gemvk                 a GEMV's device time (events), against copy (device): the target's row
#       gemvs                 the same stream's wall clock: 2-64 products back to back over >= 256 MiB of
#                             distinct weights (no weight from L2 twice), one synchronize
#       gemv                  one product per execute (launch + blocking read: what an isolated call costs)
#     at LLaMA-7B shapes (4096x4096, 11008x4096, 4096x11008), q8 and q4: the m1 kernels (default), then
#     QUANTA_OPENCL_GEMVS=2 (4 rows a warp, x copied into local memory first), then q8 with GEMVS_RW=2 (2 rows)
#  2. conformance on NVIDIA of the GEMV cases the streamed kernels take (explicit cases), GEMVS=2 (RW 4 and 2)
#  3. decode tg128 (-r 2) of $L1 and $G: the default (NORM_GEMV on since 20:30), GEMVS=2, QUANTA_OPENCL_NG_STEP=1
#     (the fused norm + GEMV kernels with the whole-step walker), both; CUDA's tg128 ($QC) in the same call; then
#     NORM_GEMV with 2 groups a compute unit (QUANTA_OPENCL_NG_GPC=2: each group norms the row once for more rows)
#  4. if time is left: the 1B file's shapes (5632x2048, 2048x5632, 32000x2048), default and GEMVS=2
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv15 ${VERIFY_S:-30}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S7="4096x4096,11008x4096,4096x11008"
S1="5632x2048,2048x5632,32000x2048"

krows() { # LABEL ROWS SHAPES DTYPES ENV...: the kernel rows, events on
  local label=$1 rows=$2 shapes=$3 dts=$4; shift 4
  [ $(left) -gt 6 ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=$rows QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout $(( $(left) > 8 ? 7 : $(left) - 1 )) $Q bench --backend opencl --no-ref --min-seconds 0.01 \
    > $D/k_$label.txt 2> $D/k_$label.err
  local rc=$?
  say "kernel rows $label ($*) rc=$rc:"
  if grep -qE '^gemv' $D/k_$label.txt; then
    grep -E '^(copy|gemv)' $D/k_$label.txt | sed 's/copy bandwidth/copy/;s/ of weights//' | cut -c1-150 | tee -a $D/summary.txt
  else # cut short: the rows it said as it went
    grep -E '^  gemv' $D/k_$label.err | tee -a $D/summary.txt
  fi
  pack
}
# 1. the deciding rows: each form's device-time rows at the 7B shapes
krows base7 copy,gemv,gemvs "$S7" q8,q4
krows s2_7 copy,gemvs "$S7" q8,q4 QUANTA_OPENCL_GEMVS=2
krows s2r2_7 copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2

# 2. conformance on NVIDIA: the q8 / q4 M = 1 products (plain, glu, multi straddling weights) with whole steps and
# tails (K = 4096, 11008: x in local memory with fewer warps a group; K = 640, 1024: tails only), K = 14336 (x too
# big for local memory: read from global)
CASES=(--case "matmul:m=1,n=512,k=1024,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=100,k=4096,w=q8,x=f32" --case "matmul:m=1,n=37,k=14336,w=q8,x=f32"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul_glu:m=1,n=67,k=640,w=q8,x=f32,act=0" --case "matmul_glu:m=1,n=67,k=4096,w=q8,x=f32,act=1"
  --case "matmul_multi:m=1,n=128,k=640,w=q8,n1=33,n2=13,part=2,x=f32"
  --case "matmul_multi:m=1,n=64,k=2048,w=q8,n1=40,n2=24,part=1,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; return; }
  env "$@" timeout 4 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  say "conform q8/q4 M=1 GEMVs ($*) rc=$? $(grep -E '^total' $D/conform_$label.txt)"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  pack
}
conf s2 QUANTA_OPENCL_GEMVS=2
conf s2r2 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 3. decode: the default against the candidates; CUDA in the same call
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 2
  local label=$1 f=$2; shift 2
  [ -f $f ] || return
  [ $(left) -gt 4 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 5 $Q bench model -m $f -p 0 -n 128 -r 2 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
tgc() { # LABEL FILE: CUDA decode tg128 -r 1 (the ratio's denominator, same call)
  local label=$1 f=$2
  [ -f $f ] && [ -x "$QC" ] || { say "cuda tg $label: no CUDA quanta ($QC)"; return; }
  [ $(left) -gt 4 ] || { say "cuda tg $label skipped (time)"; return; }
  timeout 5 $QC bench model -m $f -p 0 -n 128 -r 1 --backend cuda --json > $D/cuda_$label.json 2> $D/cuda_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/cuda_$label.json | grep -o '[0-9.]*$')
  say "cuda tg $label rc=$rc: ${v:-?} tok/s"
  ROWS="$ROWS\n| cuda_$label | (CUDA) | ${v:-?} | |"
}
tgo l1_default $L1
tgo l1_s2 $L1 QUANTA_OPENCL_GEMVS=2
tgo g_default $G
tgo g_s2 $G QUANTA_OPENCL_GEMVS=2
tgo l1_step $L1 QUANTA_OPENCL_NG_STEP=1
tgo g_step $G QUANTA_OPENCL_NG_STEP=1
tgc l1 $L1
tgc g $G
tgo l1_all $L1 QUANTA_OPENCL_NG_STEP=1 QUANTA_OPENCL_GEMVS=2
tgo g_all $G QUANTA_OPENCL_NG_STEP=1 QUANTA_OPENCL_GEMVS=2
gen() { # LABEL FILE ENV...: 24 greedy tokens
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 3 ] || return
  env "$@" timeout 4 $Q generate -m $f -n 24 --backend opencl --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "generate $label ($*) rc=$? $(md5sum < $D/gen_$label.txt | cut -c1-12)"
}
gen g_default $G
gen g_all $G QUANTA_OPENCL_NG_STEP=1 QUANTA_OPENCL_GEMVS=2
[ -s $D/gen_g_all.txt ] && { cmp -s $D/gen_g_default.txt $D/gen_g_all.txt && say "greedy g NG_STEP + GEMVS: same text" || say "greedy g NG_STEP + GEMVS: TEXT DIFFERS"; }
tgo l1_ng2 $L1 QUANTA_OPENCL_NG_GPC=2
printf "\n| decode run (tg128) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
pack

# 4. the 1B file's shapes
krows base1 copy,gemvs "$S1" q8
krows s2_1 copy,gemvs "$S1" q8 QUANTA_OPENCL_GEMVS=2
say "done"
pack
