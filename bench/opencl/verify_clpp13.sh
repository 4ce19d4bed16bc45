#!/bin/bash
# verify_clpp13.sh — issue 12's prefill half on NVIDIA's OpenCL (helper clpp13), <= 65 s, the rows that decide the
# defaults first. Writes $OUT/clpp13/summary.txt, packed as $OUT/clpp13.tgz.
#   QUANTA_OPENCL_GEMM_I8=1  the int8 q8 GEMM (kernels_cl/gemm_i8_gpu.cl, mma.sync by inline PTX) in place of the
#                            f32 GPU GEMM (gemm_gpu.cl); it builds the program with -DQN_NV_PTX=1 (prebuild_cl.sh
#                            warms that option set too)
#   QUANTA_OPENCL_ATTN_PF=1  the GPU prefill attention (kernels_cl/attention_pf_gpu.cl), no build-option change
#   1. conformance: q8 matmul cases the int8 GEMM takes (partial tiles, K % 64 == 32, batches, a 512 x 640 x 640)
#   2. pp512 (-r 2) on the 1B Q8_0 file: off / GEMM_I8 / both; then Gemma: off / both / GEMM_I8
#   3. conformance of attention with ATTN_PF=1 (every prefill case with head dims <= 256 takes it)
#   4. where a prefill's device time goes with both on (QUANTA_OPENCL_EVENTS, one pp512 of the 1B, then Gemma)
#   5. kernel rows (q8 GEMM at the 1B's shapes, attention prefill), off / on; the probe (extensions, inline PTX)
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clpp13 ${CLPP13_S:-62}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
ON=QUANTA_OPENCL_GEMM_I8=1
PF=QUANTA_OPENCL_ATTN_PF=1

# 1. conformance of the cases the int8 kernel takes (K = 208: the f32 GEMM, a control)
CASES=()
for c in "m=130,n=260,k=320" "m=65,n=129,k=544,x=f16" "m=33,n=96,k=256,b=2,x=bf16" "m=200,n=384,k=1024" \
         "m=512,n=640,k=640" "m=9,n=2048,k=32" "m=77,n=131,k=208"; do CASES+=(--case "matmul:$c,w=q8"); done
timeout 20 env $ON $Q conform --backend opencl "${CASES[@]}" > $D/conform_i8.txt 2>&1
say "conform q8 int8 GEMM ($ON) rc=$? $(grep -E '^total' $D/conform_i8.txt)"
grep -E '^FAIL|error' $D/conform_i8.txt | head -4 | tee -a $D/summary.txt
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }
pack

# 2. pp512
cl_files_wait
pp() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "no $f"; return; }
  [ $(left) -gt 8 ] || { say "pp $label skipped (time)"; return; }
  local t=$(( $(left) - 3 )); [ $t -gt 20 ] && t=20
  env "$@" timeout $t $Q bench model -m $f -p 512 -n 0 -r 2 --backend opencl > $D/pp_$label.txt 2>&1
  say "pp512 $label ($*) rc=$?: $(grep -oE '\| *pp512 *\| *[0-9.]+( *\| *[0-9.]+)?' $D/pp_$label.txt | tr -s ' ')"
}
pp llama1b_off $L1
pp llama1b_i8 $L1 $ON
pp llama1b_both $L1 $ON $PF
pack
pp gemma_off $G
pp gemma_both $G $ON $PF
pp gemma_i8 $G $ON
pack

# 3. the prefill attention's conformance
[ $(left) -gt 8 ] && {
  timeout $(( $(left) > 22 ? 18 : $(left) - 4 )) env $PF $Q conform --backend opencl --filter attention --failures > $D/conform_pf.txt 2>&1
  say "conform attention ($PF) rc=$? $(grep -E '^total' $D/conform_pf.txt)"
  grep -E '^FAIL|error' $D/conform_pf.txt | head -4 | tee -a $D/summary.txt; pack; }

# 4. device time per kernel of one pp512, both on
events() { # NAME FILE
  [ -f $2 ] && [ $(left) -gt 8 ] || return
  env QUANTA_OPENCL_EVENTS=$D/events_pp_$1.txt $ON $PF timeout $(( $(left) - 3 )) $Q bench model -m $2 -p 512 -n 0 -r 1 \
    --backend opencl > $D/events_pp_$1.log 2>&1
  say "events pp512 $1 ($ON $PF) rc=$? (launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels' $D/events_pp_$1.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn |
    cut -d' ' -f2- | head -9 | tee -a $D/summary.txt
  grep '^kernels' $D/events_pp_$1.txt | tee -a $D/summary.txt
  pack
}
events llama1b $L1
events gemma $G

# 5. kernel rows, then the probe
rows() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 8 ] || { say "kernel rows $label skipped (time)"; return; }
  env "$@" QUANTA_BENCH_ROWS=gemm,attention QUANTA_BENCH_GEMM_DTYPES=q8 QUANTA_BENCH_GEMM=512x2048x2048,512x5632x2048,256x4096x4096 \
    timeout $(( $(left) - 3 )) $Q bench --backend opencl --no-ref --min-seconds 0.03 > $D/rows_$label.txt 2>&1
  say "kernel rows $label ($*) rc=$?:"
  grep -E "^(gemm|attention) " $D/rows_$label.txt | grep -v '\.\.\.$' | tr -s ' ' | cut -d' ' -f1-7 | tee -a $D/summary.txt
}
rows off
rows on $ON $PF
pack
[ $(left) -gt 4 ] && cc -O1 -o /tmp/clpp13_probe bench/opencl/clpp13_probe.c $(pkg-config --cflags --libs OpenCL) > $D/probe_cc.txt 2>&1 &&
  { timeout 5 /tmp/clpp13_probe > $D/probe.txt 2>&1; say "probe rc=$?: $(grep -E 'inline|tile run|^ptx: .version' $D/probe.txt | tr '\n' ' ')"; }
say "done"
pack
