#!/bin/bash
# verify_clgemv16.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv16; bench/NOTES.md section 1
# "clgemv16"): GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (device time: `gemvk` / `copy (device)`),
# decode >= 0.5x CUDA kept. Each candidate runs against the current default in the same call, with its conformance.
# At most VERIFY_S (45) s; everything in $OUT/clgemv16/, packed as $OUT/clgemv16.tgz (summary.txt).
# Measures, in this order (each step skipped when the budget is short):
#  1. kernel rows (`quanta bench`, QUANTA_OPENCL_EVENTS) at the 7B shapes 4096x4096, 11008x4096, 4096x11008:
#       base   the defaults (q8 m1; q4 m1 after its qn_x_prep launch) and the copy kernel's device time at the
#              GEMVs' byte counts (QUANTA_BENCH_COPY_KIB; 1 KiB = a launch that does nothing: the launch floor)
#       q4x    QUANTA_OPENCL_Q4X=1: no qn_x_prep launch, the q4 GEMV splits the raw x as it stages it (4 rows a warp)
#       q4xr2  the same at 2 rows a warp (GEMVS_RW=2) with x staged 4 loads an item at a time (GEMVS_XB=1)
#       q8r2   last session's best q8 form (GEMVS=2 RW=2), then q8r2xb (+ XB=1), q8u8 (+ XB=1, GEMVS_U=8: 8 pieces
#              of each row in flight a lane, the row's tail as one step), q8pf (+ GEMVS_PF=1: the first step's weight
#              loads issued before x is staged), q8g8 (GEMVS=1 RW=2 U=8: x read from global memory, nothing staged, so
#              the weight loads start at once)
#  2. conformance on NVIDIA of every candidate route (explicit q4/q8 M = 1 cases, whole steps and tails)
#  3. decode tg128 -r 2 of $L1 and $G: default, then the candidates that reach decode (XB=1: Gemma's <= 1536-row
#     GEMVs; NG_STEP=2: the fused norm + GEMVs with the row's tail as one step, Gemma's K = 640; the q8u8 form for
#     every size); CUDA's tg128 in the same call
#  4. ptxas -v of the cached program's GEMV kernels (registers, spills), the 1B shapes if time is left
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv16 ${VERIFY_S:-45}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S7="4096x4096,11008x4096,4096x11008"
S1="5632x2048,2048x5632,32000x2048"
# KiB copied (read and written) = half the weight bytes: q4 9.0 / 24.3 MB, q8 16.8 / 45.1 MB; 1 = the launch floor
CK=1,4400,8208,11872,22016

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
    grep -E '^(copy|gemvk)' $D/k_$label.txt | sed 's/copy bandwidth/copy/;s/ of weights//' | cut -c1-160 | tee -a $D/summary.txt
  else # cut short: the rows it said as it went
    grep -E '^  (gemv|copy)' $D/k_$label.err | tee -a $D/summary.txt
  fi
  grep -E '^matmul' $D/ev_$label.txt 2>/dev/null | head -3 | tee -a $D/summary.txt
  pack
}
# 1. the deciding rows
krows base copy,gemvs "$S7" q8,q4 QUANTA_BENCH_COPY_KIB=$CK
krows q4x copy,gemvs "$S7" q4 QUANTA_OPENCL_Q4X=1
krows q4xr2 copy,gemvs "$S7" q4 QUANTA_OPENCL_Q4X=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_XB=1
krows q8r2 copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2
krows q8r2xb copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_XB=1
krows q8u8 copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1
krows q8pf copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1 QUANTA_OPENCL_GEMVS_PF=1
krows q8g8 copy,gemvs "$S7" q8 QUANTA_OPENCL_GEMVS=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8

# 2. conformance on NVIDIA: q4 / q8 M = 1 products (whole steps and tails; K = 14336: q8's x too big for local
# memory, read from global; q4 with Q4X leaves it to qn_x_prep there)
CASES=(--case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=67,k=1024,w=q4,g=64,x=f32" --case "matmul:m=1,n=37,k=14336,w=q4,g=64,x=f32"
  --case "matmul:m=1,n=100,k=4096,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=512,k=1024,w=q8,x=f32" --case "matmul:m=1,n=37,k=14336,w=q8,x=f32"
  --case "matmul_glu:m=1,n=67,k=4096,w=q8,x=f32,act=1" --case "matmul_glu:m=1,n=67,k=640,w=q8,x=f32,act=0"
  --case "matmul_multi:m=1,n=64,k=2048,w=q8,n1=40,n2=24,part=1,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; return; }
  env "$@" timeout 4 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$? $(grep -E '^total' $D/conform_$label.txt)"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  pack
}
conf q4x_q8u8 QUANTA_OPENCL_Q4X=1 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1
conf q4x_rw4 QUANTA_OPENCL_Q4X=1 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_XB=1
conf q8g8 QUANTA_OPENCL_GEMVS=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8
conf q8pf QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1 QUANTA_OPENCL_GEMVS_PF=1
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 3. decode: the default against the candidates that reach it; CUDA in the same call
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
tgo g_default $G
tgo g_xb $G QUANTA_OPENCL_GEMVS_XB=1
tgo g_t1 $G QUANTA_OPENCL_NG_STEP=2
tgo l1_u8 $L1 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1
tgc l1 $L1
tgc g $G
printf "\n| decode run (tg128) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
pack

# 4. what NVIDIA's compiler made of the GEMVs (ptxas -v on the cached PTX: registers, spills), then the 1B shapes
if [ $(left) -gt 8 ] && [ -d "${QUANTA_CACHE_DIR:-}" ]; then
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q4_s,qn_gemv_q8_s,qn_gemv_q8_s_glu,qn_gemv_q8_m1,qn_gemv_q4_m1 \
    timeout 6 python3 bench/opencl/ptx_summary.py "$QUANTA_CACHE_DIR" $D/ptx > $D/ptx_summary.txt 2>&1
  say "ptx summary rc=$?:"; grep -E '^ptxas' $D/ptx_summary.txt | sort -u | head -12 | tee -a $D/summary.txt
  rm -f $D/ptx/*.ptx $D/ptx/*.gz # the texts are MBs; the summary is what comes back
  pack
fi
krows base1 copy,gemvs "$S1" q8
krows u8_1 copy,gemvs "$S1" q8 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_XB=1
say "done"
pack
