#!/bin/bash
# verify_clgemv15.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv15; bench/NOTES.md section 1
# "clgemv15"): GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth, decode >= 0.5x CUDA kept.
# At most VERIFY_S (44) s; everything in $OUT/clgemv15/, packed as $OUT/clgemv15.tgz (summary.txt: every line).
# Measures, in this order (each step skipped when the budget is short):
#  1. the kernel rates: `quanta bench` with QUANTA_OPENCL_EVENTS (device timestamps) — rows
#       copy / copy (device)  the 256 MiB copy kernel: wall clock (best of 5 launches) / its launches' device time
#       gemvk                 a GEMV's device time (events), against copy (device): the target's row
#       gemvs                 the same stream's wall clock: 2-64 products back to back over >= 256 MiB of
#                             distinct weights (no weight from L2 twice), one synchronize
#       gemv                  one product per execute (launch + blocking read: what an isolated call costs)
#     at LLaMA-7B shapes (4096x4096, 11008x4096, 4096x11008), q8 and q4: the m1 kernels (default), then
#     QUANTA_OPENCL_GEMVS=2 (4 rows a warp, x copied into local memory first), =1 (x from global memory)
#  2. decode tg128 (-r 3) of $L1 and $G with the default and GEMVS=2; CUDA's tg128 ($QC) same call
#  3. conformance on NVIDIA of the GEMV cases the streamed kernels take (explicit cases), GEMVS=2
#  4. GEMVS=2 with GEMVS_GPC=4 (a few groups a compute unit walking the row blocks); the 1B file's shapes
#     (5632x2048, 2048x5632, 32000x2048), default and GEMVS=2; 1B decode and conformance with GEMVS=1
#  5. ggml q8_0 / q4_0 blocks (the generic walk: not on the decode path, the loader repacks to q8); events
#  6. ptxas -v of the GEMV kernels in NVIDIA's cached PTX (registers, spills) and their loads by kind
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv15 ${VERIFY_S:-44}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S7="4096x4096,11008x4096,4096x11008"
S1="5632x2048,2048x5632,32000x2048"

krows() { # LABEL ROWS SHAPES DTYPES ENV...: the kernel rows, events on
  local label=$1 rows=$2 shapes=$3 dts=$4; shift 4
  [ $(left) -gt 8 ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=$rows QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout 8 $Q bench --backend opencl --no-ref --min-seconds 0.02 \
    > $D/k_$label.txt 2> $D/k_$label.err
  say "kernel rows $label ($*) rc=$?:"
  grep -E '^(copy|gemv)' $D/k_$label.txt | sed 's/copy bandwidth/copy/;s/ of weights//' | cut -c1-150 | tee -a $D/summary.txt
  pack
}
# 1. the deciding rows: each form's device-time rows at the 7B shapes (the 1B's after the decode rows)
krows base7 copy,gemv,gemvs "$S7" q8,q4
krows s2_7 copy,gemvs "$S7" q8,q4 QUANTA_OPENCL_GEMVS=2
krows s1_7 copy,gemvs "$S7" q8,q4 QUANTA_OPENCL_GEMVS=1

# 2. decode, the default against the streamed GEMVs; CUDA in the same call
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || return
  [ $(left) -gt 7 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 7 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
tgc() { # LABEL FILE: CUDA decode tg128 -r 1 (the ratio's denominator, same call)
  local label=$1 f=$2
  [ -f $f ] && [ -x "$QC" ] || { say "cuda tg $label: no CUDA quanta ($QC)"; return; }
  [ $(left) -gt 6 ] || { say "cuda tg $label skipped (time)"; return; }
  timeout 6 $QC bench model -m $f -p 0 -n 128 -r 1 --backend cuda --json > $D/cuda_$label.json 2> $D/cuda_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/cuda_$label.json | grep -o '[0-9.]*$')
  say "cuda tg $label rc=$rc: ${v:-?} tok/s"
  ROWS="$ROWS\n| cuda_$label | (CUDA) | ${v:-?} | |"
}
tgo l1_default $L1
tgo l1_s2 $L1 QUANTA_OPENCL_GEMVS=2
tgo g_default $G
tgo g_s2 $G QUANTA_OPENCL_GEMVS=2
tgc l1 $L1
tgc g $G
printf "\n| decode run (tg128) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
pack

# 3. conformance on NVIDIA: the q8 / q4 M = 1 products (plain, glu, multi straddling weights), K = 11008 (x in
# local memory with fewer warps a group) and K = 14336 (x too big for local memory: read from global)
CASES=(--case "matmul:m=1,n=512,k=1024,w=q8,x=f32" --case "matmul:m=1,n=100,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=37,k=14336,w=q8,x=f32" --case "matmul:m=1,n=512,k=1024,w=q4,g=32,x=f32"
  --case "matmul:m=1,n=67,k=11008,w=q4,g=128,x=f32" --case "matmul_glu:m=1,n=67,k=640,w=q8,x=f32,act=0"
  --case "matmul_glu:m=1,n=131,k=2048,w=q8,x=f32,act=1"
  --case "matmul_multi:m=1,n=128,k=640,w=q8,n1=33,n2=13,part=2,x=f32")
conf() { # SWITCH VALUE
  [ $(left) -gt 4 ] || { say "conform GEMVS=$1 skipped (time)"; return; }
  env QUANTA_OPENCL_GEMVS=$1 timeout 5 $Q conform --backend opencl "${CASES[@]}" > $D/conform_s$1.txt 2>&1
  say "conform q8/q4 M=1 GEMVs (QUANTA_OPENCL_GEMVS=$1) rc=$? $(grep -E '^total' $D/conform_s$1.txt)"
  grep -E '^FAIL|rror' $D/conform_s$1.txt | head -4 | tee -a $D/summary.txt
  pack
}
conf 2
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 4. more forms and shapes: a few groups a compute unit walking the blocks; the 1B file's shapes; GEMVS=1's decode
krows s2p_7 copy,gemvs "$S7" q8,q4 QUANTA_OPENCL_GEMVS=2 QUANTA_OPENCL_GEMVS_GPC=4
krows base1 copy,gemvs "$S1" q8,q4
krows s2_1 copy,gemvs "$S1" q8,q4 QUANTA_OPENCL_GEMVS=2
tgo l1_s1 $L1 QUANTA_OPENCL_GEMVS=1
conf 1

# 5. the ggml blocks' rows (the generic walk; the loader repacks both files' blocks to q8 on OpenCL) and the
# events tables' kernel labels
krows ggml copy,gemvs "4096x4096" q8_0,q4_0
for f in $D/ev_base7.txt $D/ev_s2_7.txt; do
  [ -f $f ] && { say "events $(basename $f):"; grep -E 'gemv|copy' $f | tee -a $D/summary.txt; }
done
# 6. what NVIDIA's compiler made of the GEMVs: registers and spills (ptxas -v on the cached PTX), loads per kind
[ $(left) -gt 3 ] && {
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q8_m1,qn_gemv_q8_m1_glu,qn_gemv_q4_m1,qn_gemv_q8_s,qn_gemv_q8_s_glu,qn_gemv_q4_s \
    timeout $(( $(left) - 1 )) python3 bench/opencl/ptx_summary.py $QUANTA_CACHE_DIR /tmp/clgemv15-ptx > $D/ptx_summary.txt 2>&1
  say "ptx summary rc=$?:"; grep -E "^ptxas|^ptx qn" $D/ptx_summary.txt | cut -c1-300 | tee -a $D/summary.txt; }
say "done"
pack
