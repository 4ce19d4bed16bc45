#!/bin/bash
# verify_clpp13.sh — issue 12's prefill half on NVIDIA's OpenCL (helper clpp13): the int8 q8 GEMM
# (kernels_cl/gemm_i8_gpu.cl, QUANTA_OPENCL_GEMM_I8=1: mma.sync by inline PTX) against the f32 GPU GEMM
# (gemm_gpu.cl, the default). <= 80 s. Writes $OUT/clpp13/summary.txt, packed as $OUT/clpp13.tgz.
#   1. the device's OpenCL version and extensions, and whether its compiler takes the inline PTX
#      (bench/opencl/clpp13_probe.c, compiled here; it also runs one mma tile against host sums)
#   2. conformance of q8 matmul cases that take the new kernel (partial tiles, K % 64 == 32, batches), with it on
#   3. pp512 on the 1B Q8_0 file and on Gemma (-r 2), the switch off / on, alternated
#   4. where a prefill's device time goes with the switch on (QUANTA_OPENCL_EVENTS, one pp512 of the 1B)
#   5. kernel rows: q8 GEMM at the 1B's prefill shapes and 256x4096x4096, off / on
#   6. the matmul conformance sweep with the switch on (as much as the budget leaves)
# and the GPU prefill attention (kernels_cl/attention_pf_gpu.cl, QUANTA_OPENCL_ATTN_PF=1): its conformance (step 2),
# pp512 with both switches on (step 3), its kernel row (step 5).
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clpp13 ${CLPP13_S:-80}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
ON=QUANTA_OPENCL_GEMM_I8=1
PF=QUANTA_OPENCL_ATTN_PF=1

# 1. the probe
if cc -O1 -o /tmp/clpp13_probe bench/opencl/clpp13_probe.c $(pkg-config --cflags --libs OpenCL) > $D/probe_cc.txt 2>&1; then
  timeout 20 /tmp/clpp13_probe > $D/probe.txt 2>&1
  say "probe rc=$?:"; cut -c1-1500 $D/probe.txt | tee -a $D/summary.txt
else
  say "probe did not compile: $(head -3 $D/probe_cc.txt | tr '\n' ' ')"
fi
pack

# 2. conformance of the cases the int8 kernel takes (the first run builds the program with QN_NV_PTX)
CASES=()
for c in "m=130,n=260,k=320" "m=65,n=129,k=544,x=f16" "m=33,n=96,k=256,b=2,x=bf16" "m=200,n=384,k=1024" \
         "m=512,n=640,k=640" "m=9,n=2048,k=32" "m=77,n=131,k=208"; do CASES+=(--case "matmul:$c,w=q8"); done
timeout 35 env $ON $Q conform --backend opencl "${CASES[@]}" > $D/conform_i8.txt 2>&1
say "conform q8 int8 GEMM ($ON) rc=$? $(grep -E '^total' $D/conform_i8.txt)"
grep -E '^FAIL|error' $D/conform_i8.txt | head -4 | tee -a $D/summary.txt
timeout 25 env $PF $Q conform --backend opencl --filter attention --failures > $D/conform_pf.txt 2>&1
say "conform attention ($PF) rc=$? $(grep -E '^total' $D/conform_pf.txt)"
grep -E '^FAIL|error' $D/conform_pf.txt | head -4 | tee -a $D/summary.txt
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }
pack

# 3. pp512, off / on alternated
cl_files_wait
pp() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "no $f"; return; }
  [ $(left) -gt 12 ] || { say "pp $label skipped (time)"; return; }
  local t=$(( $(left) - 3 )); [ $t -gt 25 ] && t=25
  env "$@" timeout $t $Q bench model -m $f -p 512 -n 0 -r 2 --backend opencl > $D/pp_$label.txt 2>&1
  say "pp512 $label ($*) rc=$?: $(grep -oE '\| *pp512 *\| *[0-9.]+( *\| *[0-9.]+)?' $D/pp_$label.txt | tr -s ' ')"
}
pp llama1b_off $L1
pp llama1b_on $L1 $ON
pp llama1b_both $L1 $ON $PF
pack
# 4. the prefill's device time per kernel, the int8 GEMM on
[ -f $L1 ] && [ $(left) -gt 15 ] && {
  env QUANTA_OPENCL_EVENTS=$D/events_pp_llama1b.txt $ON $PF timeout 20 $Q bench model -m $L1 -p 512 -n 0 -r 1 --backend opencl \
    > $D/events_pp.log 2>&1
  say "events pp512 llama1b ($ON $PF) rc=$? (launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels' $D/events_pp_llama1b.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn |
    cut -d' ' -f2- | head -10 | tee -a $D/summary.txt
  grep '^kernels' $D/events_pp_llama1b.txt | tee -a $D/summary.txt
  pack; }
pp gemma_off $G
pp gemma_on $G $ON
pp gemma_both $G $ON $PF
pack

# 5. kernel rows (q8 GEMM, the 1B's prefill shapes: qo/down 512x2048x2048 and 512x2048x5632, gate/up 512x5632x2048)
rows() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 10 ] || { say "kernel rows $label skipped (time)"; return; }
  env "$@" QUANTA_BENCH_ROWS=gemm QUANTA_BENCH_GEMM_DTYPES=q8 QUANTA_BENCH_GEMM=512x2048x2048,512x5632x2048,512x2048x5632,256x4096x4096 \
    timeout $(( $(left) - 3 )) $Q bench --backend opencl --no-ref --min-seconds 0.05 > $D/rows_$label.txt 2>&1
  say "kernel rows $label ($*) rc=$?:"
  grep -E "^gemm " $D/rows_$label.txt | grep -v '\.\.\.$' | tr -s ' ' | cut -d' ' -f1-6 | tee -a $D/summary.txt
}
rows off
rows on $ON
[ $(left) -gt 10 ] && for v in "" "$PF"; do
  env $v QUANTA_BENCH_ROWS=attention timeout 15 $Q bench --backend opencl --no-ref --min-seconds 0.05 > $D/rows_attn$v.txt 2>&1
  say "attention rows (${v:-default}) rc=$?:"; grep -E "^attention " $D/rows_attn$v.txt | grep -v '\.\.\.$' | tr -s ' ' | tee -a $D/summary.txt
done
pack

# 6. the matmul sweep with the int8 GEMM on, while time is left
[ $(left) -gt 8 ] && {
  timeout $(( $(left) - 3 )) env $ON $Q conform --backend opencl --filter matmul --failures > $D/conform_matmul_i8.txt 2>&1
  say "conform matmul ($ON) rc=$? $(grep -E '^total' $D/conform_matmul_i8.txt)"
  grep -E '^FAIL' $D/conform_matmul_i8.txt | head -4 | tee -a $D/summary.txt; }
say "done"
pack
