#!/bin/bash
# verify_clpp14.sh — issue 12's prefill on NVIDIA's OpenCL (helper clpp14), round 2, <= 35 s, the rows that decide first.
# Writes $OUT/clpp14/summary.txt, packed as $OUT/clpp14.tgz.
# Defaults now on NVIDIA's GPUs (GPU class): the int8 GEMM with inline-PTX mma.sync in local layout 2
# (qn_gemm_q8_i8_gpu2; QUANTA_OPENCL_GI_V2=0: layout 1), its x quantized by qn_x_quant8_gpu (QUANTA_OPENCL_XQ_GPU=0:
# qn_x_quant8), the prefill attention with its keys split where groups are few (QUANTA_OPENCL_PF_SPLIT=0: no split),
# 512-token prefill steps (QUANTA_PREFILL_STEP=256: round 1's). New, off: QUANTA_OPENCL_GEMM_MULTI=1 (q/k/v and
# gate/up at M > 8 in one int8 GEMM launch with one x quantization).
#   1. conformance: the q8 cases of the int8 GEMM and of matmul_multi / matmul_glu with GEMM_MULTI=1 (defaults
#      otherwise); every attention case with the defaults
#   2. pp512 (-r 2): defaults and GEMM_MULTI=1 (both files), round 1's defaults (all four above off), each off alone
#   3. CUDA's pp512 of both files ($QC; waited for within the budget), the ratios
#   4. the prefill events with the defaults (per label and per synchronized batch)
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clpp14 ${CLPP14_S:-34}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
MULTI=QUANTA_OPENCL_GEMM_MULTI=1
R1="QUANTA_PREFILL_STEP=256 QUANTA_OPENCL_PF_SPLIT=0 QUANTA_OPENCL_GI_V2=0 QUANTA_OPENCL_XQ_GPU=0"

# 1. conformance (K = 208: the f32 GEMM, a control)
CASES=()
for c in "matmul:m=130,n=260,k=320" "matmul:m=65,n=129,k=544,x=f16" "matmul:m=33,n=96,k=256,b=2,x=bf16" \
         "matmul:m=200,n=384,k=1024" "matmul:m=512,n=640,k=640" "matmul:m=77,n=131,k=208" \
         "matmul_multi:m=40,n=136,k=96,n1=40,n2=24,part=0" "matmul_multi:m=40,n=136,k=96,n1=40,n2=24,part=1" \
         "matmul_multi:m=40,n=136,k=96,n1=40,n2=24,part=2" "matmul_multi:m=65,n=256,k=640,n1=129,n2=0,part=1,x=f16" \
         "matmul_multi:m=256,n=1024,k=1024,n1=256,n2=256,part=2" "matmul_glu:m=40,n=136,k=96,act=0" \
         "matmul_glu:m=130,n=200,k=320,act=2,x=bf16" "matmul_glu:m=256,n=704,k=640,act=1"; do
  CASES+=(--case "$c,w=q8"); done
env $MULTI timeout 10 $Q conform --backend opencl "${CASES[@]}" > $D/conform_i8.txt 2>&1
say "conform q8 int8 GEMM, multi, glu (defaults + $MULTI) rc=$? $(grep -E '^total' $D/conform_i8.txt)"
grep -E '^FAIL|error' $D/conform_i8.txt | head -4 | tee -a $D/summary.txt
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }
timeout 10 $Q conform --backend opencl --filter attention --failures > $D/conform_attn.txt 2>&1
say "conform attention (defaults: split prefill attention) rc=$? $(grep -E '^total' $D/conform_attn.txt)"
grep -E '^FAIL|error' $D/conform_attn.txt | head -4 | tee -a $D/summary.txt
pack

# 2. pp512
cl_files_wait
pp() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "no $f"; return; }
  [ $(left) -gt 9 ] || { say "pp $label skipped (time)"; return; }
  local t=$(( $(left) - 7 )); [ $t -gt 8 ] && t=8
  env "$@" timeout $t $Q bench model -m $f -p 512 -n 0 -r 2 --backend opencl > $D/pp_$label.txt 2>&1
  say "pp512 $label (${*:-default}) rc=$?: $(grep -oE '\| *pp512 *\| *[0-9.]+( *\| *[0-9.]+)?' $D/pp_$label.txt | tr -s ' ')"
}
pp llama1b $L1
pp gemma $G
pp llama1b_multi $L1 $MULTI
pp gemma_multi $G $MULTI
pp llama1b_r1 $L1 $R1
pp gemma_r1 $G $R1
pack
pp llama1b_step256 $L1 QUANTA_PREFILL_STEP=256
pp gemma_step256 $G QUANTA_PREFILL_STEP=256
pp gemma_nosplit $G QUANTA_OPENCL_PF_SPLIT=0
pp llama1b_v1 $L1 QUANTA_OPENCL_GI_V2=0
pp llama1b_noxq $L1 QUANTA_OPENCL_XQ_GPU=0
pp llama1b_nosplit $L1 QUANTA_OPENCL_PF_SPLIT=0
pack

# 3. CUDA's pp512 in the same call (run_h200.sh's build; skipped when it is not done in time)
RH=${RH_LOGS:-/tmp/e2e/logs}
cuda_ready() { [ -x $QC ] && { [ ! -f $RH/steps.txt ] || grep -q "build rc=" $RH/build.log 2>/dev/null; }; }
while ! cuda_ready && [ $(left) -gt 8 ]; do sleep 1; done
for n in llama1b gemma; do
  f=$L1; [ $n = gemma ] && f=$G
  if cuda_ready && [ -f $f ] && [ $(left) -gt 4 ]; then
    timeout $(( $(left) - 2 > 8 ? 8 : $(left) - 2 )) $QC bench model -m $f -p 512 -n 0 -r 2 --backend cuda > $D/cuda_pp_$n.txt 2>&1
    c=$(grep -oE '\| *pp512 *\| *[0-9.]+' $D/cuda_pp_$n.txt | grep -oE '[0-9.]+$')
    o=$(grep -oE '\| *pp512 *\| *[0-9.]+' $D/pp_$n.txt 2>/dev/null | grep -oE '[0-9.]+$')
    say "cuda pp512 $n: ${c:-?} tok/s; OpenCL default ${o:-?}: ratio $(awk -v o="${o:-0}" -v c="${c:-0}" 'BEGIN { if (c > 0) printf "%.2f", o / c; else print "?" }')"
  else say "cuda pp512 $n skipped ($QC $(cuda_ready && echo ready || echo 'not ready'), $(left) s left)"; fi
done
pack

# 4. device time per kernel of one pp512 with the defaults, and per step
events() { # NAME FILE
  [ -f $2 ] && [ $(left) -gt 4 ] || { say "events $1 skipped"; return; }
  env QUANTA_OPENCL_EVENTS=$D/events_pp_$1.txt timeout $(( $(left) - 2 > 8 ? 8 : $(left) - 2 )) $Q bench model -m $2 \
    -p 512 -n 0 -r 1 --backend opencl > $D/events_pp_$1.log 2>&1
  say "events pp512 $1 (defaults) rc=$? (launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels\|^batch' $D/events_pp_$1.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn |
    cut -d' ' -f2- | head -7 | tee -a $D/summary.txt
  grep '^kernels\|^batch' $D/events_pp_$1.txt | tee -a $D/summary.txt
  pack
}
events llama1b $L1
events gemma $G
say "done"
pack
