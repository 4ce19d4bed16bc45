#!/bin/bash
# verify_clpp14.sh — issue 12's prefill on NVIDIA's OpenCL (helper clpp14), <= 45 s, the rows that decide first.
# Writes $OUT/clpp14/summary.txt, packed as $OUT/clpp14.tgz.
# Defaults now (NVIDIA's GPUs, the GPU class): the int8 GEMM with inline-PTX mma.sync (kernels_cl/gemm_i8_gpu.cl;
# the program builds with -DQN_NV_PTX=1) and the GPU prefill attention (attention_pf_gpu.cl, its K/V/Q tiles now
# staged with every load of an item in flight at once). Switches off: QUANTA_OPENCL_GEMM_I8=0 (f32 GEMM, program
# without PTX: prebuild_cl.sh warms that option set too), QUANTA_OPENCL_ATTN_PF=0 (qn_attention).
#   1. conformance with the defaults: the q8 cases the int8 GEMM takes, the same with QUANTA_OPENCL_XQ_GPU=1 (x
#      quantized by qn_x_quant8_gpu) + QUANTA_OPENCL_GI_V2=1 (the GEMM's local layout 2, 16-byte fragment reads),
#      both off by default; every attention case (the prefill ones take the staged kernel)
#   2. pp512 (-r 2): default; GI_V2=1, XQ_GPU=1 (1B); QUANTA_OPENCL_PF_SPLIT=1 (the prefill attention split over the
#      keys where its row blocks leave compute units idle; off by default); GEMM_I8=0; ATTN_PF=0;
#      QUANTA_PREFILL_STEP=512 (one 512-token step, not two of 256)
#   3. the prefill events with the defaults (QUANTA_OPENCL_EVENTS: per label, and per synchronized batch: batch 0 the
#      first token, 1 the first 256-token step run op by op, 2 its recording, then replays); the split attention's
#      conformance (every prefill case past 32 keys in 3 splits)
#   4. kernel rows (attention prefill, q8 GEMM) with the defaults and GI_V2=1
#   5. CUDA's pp512 of both files ($QC, once run_h200.sh's CUDA build is done: waited for within the budget), ratios
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clpp14 ${CLPP14_S:-44}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
OFF_I8=QUANTA_OPENCL_GEMM_I8=0
OFF_PF=QUANTA_OPENCL_ATTN_PF=0
STEP=QUANTA_PREFILL_STEP=512
SPLIT=QUANTA_OPENCL_PF_SPLIT=1
XQ=QUANTA_OPENCL_XQ_GPU=1
V2=QUANTA_OPENCL_GI_V2=1

# 1. conformance with the defaults (K = 208: the f32 GEMM, a control)
CASES=()
for c in "m=130,n=260,k=320" "m=65,n=129,k=544,x=f16" "m=33,n=96,k=256,b=2,x=bf16" "m=200,n=384,k=1024" \
         "m=512,n=640,k=640" "m=9,n=2048,k=32" "m=77,n=131,k=208"; do CASES+=(--case "matmul:$c,w=q8"); done
timeout 15 $Q conform --backend opencl "${CASES[@]}" > $D/conform_i8.txt 2>&1
say "conform q8 int8 GEMM (default) rc=$? $(grep -E '^total' $D/conform_i8.txt)"
grep -E '^FAIL|error' $D/conform_i8.txt | head -4 | tee -a $D/summary.txt
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }
env $XQ $V2 timeout 10 $Q conform --backend opencl "${CASES[@]}" > $D/conform_xq.txt 2>&1
say "conform q8 int8 GEMM ($XQ $V2) rc=$? $(grep -E '^total' $D/conform_xq.txt)"
grep -E '^FAIL|error' $D/conform_xq.txt | head -4 | tee -a $D/summary.txt
timeout 15 $Q conform --backend opencl --filter attention --failures > $D/conform_attn.txt 2>&1
say "conform attention (default: staged prefill kernel) rc=$? $(grep -E '^total' $D/conform_attn.txt)"
grep -E '^FAIL|error' $D/conform_attn.txt | head -4 | tee -a $D/summary.txt
pack

# 2. pp512
cl_files_wait
pp() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "no $f"; return; }
  [ $(left) -gt 12 ] || { say "pp $label skipped (time)"; return; }
  local t=$(( $(left) - 10 )); [ $t -gt 10 ] && t=10
  env "$@" timeout $t $Q bench model -m $f -p 512 -n 0 -r 2 --backend opencl > $D/pp_$label.txt 2>&1
  say "pp512 $label (${*:-default}) rc=$?: $(grep -oE '\| *pp512 *\| *[0-9.]+( *\| *[0-9.]+)?' $D/pp_$label.txt | tr -s ' ')"
}
pp llama1b $L1
pp gemma $G
pp llama1b_v2 $L1 $V2
pp gemma_pfsplit $G $SPLIT
pp llama1b_xq $L1 $XQ
pp llama1b_i8off $L1 $OFF_I8
pp gemma_pfoff $G $OFF_PF
pack
pp llama1b_step512 $L1 $STEP
pp gemma_step512 $G $STEP
pp llama1b_pfoff $L1 $OFF_PF
pp gemma_i8off $G $OFF_I8
pp llama1b_pfsplit $L1 $SPLIT
pack
# 3. device time per kernel of one pp512 with the defaults, and per step
events() { # NAME FILE
  [ -f $2 ] && [ $(left) -gt 12 ] || { say "events $1 skipped"; return; }
  env QUANTA_OPENCL_EVENTS=$D/events_pp_$1.txt timeout $(( $(left) - 10 > 12 ? 12 : $(left) - 10 )) $Q bench model -m $2 \
    -p 512 -n 0 -r 1 --backend opencl > $D/events_pp_$1.log 2>&1
  say "events pp512 $1 (defaults) rc=$? (launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels\|^batch' $D/events_pp_$1.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn |
    cut -d' ' -f2- | head -8 | tee -a $D/summary.txt
  grep '^kernels\|^batch' $D/events_pp_$1.txt | tee -a $D/summary.txt
  pack
}
events gemma $G
events llama1b $L1

# the split prefill attention's conformance: every prefill case with more than 32 keys split in 3
[ $(left) -gt 16 ] && {
  env $SPLIT QUANTA_OPENCL_SPLITKV=3 timeout 12 $Q conform --backend opencl --filter attention --failures > $D/conform_split.txt 2>&1
  say "conform attention ($SPLIT QUANTA_OPENCL_SPLITKV=3) rc=$? $(grep -E '^total' $D/conform_split.txt)"
  grep -E '^FAIL|error' $D/conform_split.txt | head -4 | tee -a $D/summary.txt; pack; }


# 4. kernel rows with the defaults
[ $(left) -gt 20 ] && {
  QUANTA_BENCH_ROWS=gemm,attention QUANTA_BENCH_GEMM_DTYPES=q8 QUANTA_BENCH_GEMM=512x2048x2048,256x5632x2048 \
    timeout 8 $Q bench --backend opencl --no-ref --min-seconds 0.03 > $D/rows.txt 2>&1
  say "kernel rows (defaults) rc=$?:"
  grep -E "^(gemm|attention) " $D/rows.txt | grep -v '\.\.\.$' | tr -s ' ' | cut -d' ' -f1-9 | tee -a $D/summary.txt; }
[ $(left) -gt 18 ] && {
  env $V2 QUANTA_BENCH_ROWS=gemm QUANTA_BENCH_GEMM_DTYPES=q8 QUANTA_BENCH_GEMM=512x2048x2048,256x5632x2048 \
    timeout 6 $Q bench --backend opencl --no-ref --min-seconds 0.03 > $D/rows_v2.txt 2>&1
  say "kernel rows ($V2) rc=$?:"
  grep -E "^gemm " $D/rows_v2.txt | grep -v '\.\.\.$' | tr -s ' ' | cut -d' ' -f1-9 | tee -a $D/summary.txt; }

# 5. CUDA's pp512 in the same call (run_h200.sh's build; skipped when it is not done in time)
RH=${RH_LOGS:-/tmp/e2e/logs}
cuda_ready() { [ -x $QC ] && { [ ! -f $RH/steps.txt ] || grep -q "build rc=" $RH/build.log 2>/dev/null; }; }
while ! cuda_ready && [ $(left) -gt 12 ]; do sleep 1; done
for n in llama1b gemma; do
  f=$L1; [ $n = gemma ] && f=$G
  if cuda_ready && [ -f $f ] && [ $(left) -gt 5 ]; then
    timeout $(( $(left) - 3 > 10 ? 10 : $(left) - 3 )) $QC bench model -m $f -p 512 -n 0 -r 2 --backend cuda > $D/cuda_pp_$n.txt 2>&1
    c=$(grep -oE '\| *pp512 *\| *[0-9.]+' $D/cuda_pp_$n.txt | grep -oE '[0-9.]+$')
    o=$(grep -oE '\| *pp512 *\| *[0-9.]+' $D/pp_$n.txt 2>/dev/null | grep -oE '[0-9.]+$')
    say "cuda pp512 $n: ${c:-?} tok/s; OpenCL default ${o:-?}: ratio $(awk -v o="${o:-0}" -v c="${c:-0}" 'BEGIN { if (c > 0) printf "%.2f", o / c; else print "?" }')"
  else say "cuda pp512 $n skipped ($QC $(cuda_ready && echo ready || echo 'not ready'), $(left) s left)"; fi
done
pack

say "done"
pack
