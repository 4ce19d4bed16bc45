#!/bin/bash
# run_gpu.sh — issue #12's GPU table on the device machine: Quanta's OpenCL backend on NVIDIA's OpenCL against
# Quanta's CUDA backend, same file, same call. Targets: decode >= 0.5x and prefill >= 0.4x of CUDA; GEMV q4/q8
# >= 70% of the OpenCL copy kernel's bandwidth (`quanta bench --backend opencl` rows); conformance passes.
#   OUT=$OUT PEER=.dev/peer bash bench/opencl/run_gpu.sh       (carry [".dev/peer"]; at most LIMIT s, default 240)
# Everything it writes is in $OUT/ocl_gpu/ and packed, after every step, into ONE file: $OUT/ocl_gpu.tgz
# (summary.txt there: the step lines, the tables, the ratio lines at the end).
# Builds and files: bench/opencl/prebuild_cl.sh (OpenCL-only quanta in /tmp/qbuild-cl, the two files in /tmp/ocl_gpu),
# waited for through bench/opencl/cl_setup.sh. The CUDA side is run_h200.sh's /tmp/qbuild/tools/quanta (QCUDA=...):
# as run_h200.sh's background command (BG="bash bench/opencl/run_gpu.sh") the CUDA rows come last and wait for that
# build ("build rc=" in /tmp/e2e/logs/build.log); run alone, without it, the CUDA rows are skipped.
# Files: the 1B-shaped LLaMA Q8_0 (make_llama_gguf.py) and the Gemma-shaped Q4_K_M (gguf_skeleton.py), our own
# copies made in the background (run_h200.sh may be rewriting its own), kept in /tmp/ocl_gpu between calls.
# Steps (each skipped when the budget is short; the order is by value, the CUDA rows last):
#  1. conformance of the ops with GPU-class variants on NVIDIA's OpenCL (attention, rope, rms_norm, matmul)
#     and attention with every case split in 3 (each decode case through the fused split combine)
#  2. decode and prefill on OpenCL, per file (-r 2); the same on CUDA at the end (step 7) and the ratio lines
#  3. decode (tg128 -r 3) with each clgpu12 switch off, alternated with the defaults: QUANTA_OPENCL_ATTN_GPU=0
#     (qn_attention_dec), QUANTA_OPENCL_ROPE_GPU=0 (rope_kv a group per row), QUANTA_OPENCL_ATTN_FUSED=1 (the combine
#     inside, off by default), QUANTA_OPENCL_ATTN_AHEAD=1 (qn_attention_dec's loads ahead, off by default), QUANTA_OPENCL_ASYNC_WRITE=0 (a step's inputs written with a wait each);
#     1B: 128-key splits, no split (SPLITKV=1), norms 1024 items a row (QUANTA_OPENCL_ROW_LWS=1024)
#  4. QUANTA_OPENCL_EVENTS: each kernel's device time and the gaps between kernels over 32 decode steps per file
#     (between the 1B's switch runs and Gemma's; the 1B's extra runs after)
#     (the per-op profile of QUANTA_PLAN_PROFILE waits per op and on this driver mostly counts launches)
#  5. the kernel rows (`quanta bench --backend opencl`, short timings)
#  6. the whole conformance suite on OpenCL; the kernel rows with ATTN_GPU=0; PTX summary (ptx_summary.py)
#  7. the CUDA rows (once run_h200.sh's build is done) and the ratios; the 5-6 steps yield to it in the budget
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh ocl_gpu ${LIMIT:-240}
. bench/opencl/cl_setup.sh
W=$CL_W
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
export PATH=/usr/local/cuda/bin:$PATH
RH=${RH_LOGS:-/tmp/e2e/logs} # run_h200.sh's logs: there while it runs (it starts us beside its build)
cuda_ready() { [ -x $QC ] && { [ ! -f $RH/steps.txt ] || grep -q "build rc=" $RH/build.log 2>/dev/null; }; }
timeout 60 $Q info > $D/info.txt 2>&1
say "devices: $(grep -i -E 'opencl|tuning' $D/info.txt | head -3 | tr -s ' ' | tr '\n' ';' | head -c 300)"
pack

# 1. conformance of the ops with GPU-class kernels
[ $(left) -gt 30 ] && {
  timeout 70 $Q conform --backend opencl --filter attention,rope,rms_norm,matmul --failures > $D/conform_gpu_ops.txt 2>&1
  say "conform opencl (attention,rope,rms_norm,matmul) rc=$? $(grep -E '^total' $D/conform_gpu_ops.txt)"
  grep -E '^FAIL' $D/conform_gpu_ops.txt | head -5 | tee -a $D/summary.txt; pack; }
# the fused split combine (QUANTA_OPENCL_ATTN_FUSED=1, off by default: the last group merges; a cross-group fence
# OpenCL 1.2 does not promise), every case split in 3 so each takes it
[ $(left) -gt 30 ] && {
  QUANTA_OPENCL_ATTN_FUSED=1 QUANTA_OPENCL_SPLITKV=3 timeout 40 $Q conform --backend opencl --filter attention --failures \
    > $D/conform_attn_fused.txt 2>&1
  say "conform opencl attention SPLITKV=3 (every decode case through the fused combine) rc=$? $(grep -E '^total' $D/conform_attn_fused.txt)"
  grep -E '^FAIL' $D/conform_attn_fused.txt | head -5 | tee -a $D/summary.txt; pack; }

cl_files_wait
rates() { # "pp512 tg128" of a bench model table
  echo "$(grep -oE '\| *pp512 *\| *[0-9.]+' $1 | grep -oE '[0-9.]+$') $(grep -oE '\| *tg128 *\| *[0-9.]+' $1 | grep -oE '[0-9.]+$')"
}
# 2. OpenCL, per file (CUDA in step 7)
RESERVE=35 # seconds kept for step 7
bm() { # NAME BACKEND QUANTA FILE: pp512 / tg128, -r 2
  [ $(left) -gt ${BM_MIN:-25} ] || { say "$1 $2 skipped (time)"; return; }
  local t=$(( $(left) - 3 )); [ $t -gt 40 ] && t=40
  timeout $t $3 bench model -m $4 -p 512 -n 128 -r 2 --backend $2 > $D/$1-$2.txt 2>&1
  say "$1 $2 rc=$? pp512/tg128: $(rates $D/$1-$2.txt)"
}
for f in $L1 $G; do
  [ -f $f ] || { say "no $f"; continue; }
  bm $(basename $f .gguf) opencl $Q $f
  pack
done

# 3-4. the switches, decode only, alternated with the defaults (the 1B's first: they decide the defaults), then
# where a decode step's device time goes (event timestamps, nothing waits), then the rest of the switch runs
tgo() { # LABEL FILE ENV...: OpenCL tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || return
  [ $(left) -gt $((15 + RESERVE)) ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 25 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl > $D/tg_$label.txt 2>&1
  say "tg $label ($*) rc=$?: $(rates $D/tg_$label.txt)"
}
switches() { # NAME FILE
  tgo $1_default1 $2
  tgo $1_attn_off $2 QUANTA_OPENCL_ATTN_GPU=0
  tgo $1_rope_off $2 QUANTA_OPENCL_ROPE_GPU=0
  tgo $1_fused_on $2 QUANTA_OPENCL_ATTN_FUSED=1
  tgo $1_ahead $2 QUANTA_OPENCL_ATTN_AHEAD=1
  tgo $1_async_off $2 QUANTA_OPENCL_ASYNC_WRITE=0
  tgo $1_default2 $2
  pack
}
events() { # FILE
  [ -f $1 ] && [ $(left) -gt $((15 + RESERVE)) ] || return
  local n=$(basename $1 .gguf)
  rm -f $D/events_$n.txt
  QUANTA_OPENCL_EVENTS=$D/events_$n.txt timeout 25 $Q bench model -m $1 -p 0 -n 32 -r 1 --backend opencl > $D/events_$n.log 2>&1
  say "events $n rc=$? (32 decode steps + warm-up; launch, calls, us total, us per call, share of the spans):"
  grep -v '^#\|^launch\|^kernels' $D/events_$n.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn | cut -d' ' -f2- |
    head -12 | tee -a $D/summary.txt
  grep '^kernels' $D/events_$n.txt | tee -a $D/summary.txt
  pack
}
switches llama1b $L1
events $L1
events $G
switches gemma $G
# the 1B: 128-key splits (qn_attention_dec takes 128 keys a pass: 64-key splits leave half its items idle), none
# (no combine, 4 groups on the device), norms of 1024 items a row
tgo llama1b_split128 $L1 QUANTA_OPENCL_SPLIT_MIN=128
tgo llama1b_nosplit $L1 QUANTA_OPENCL_SPLITKV=1
tgo llama1b_rowlws1024 $L1 QUANTA_OPENCL_ROW_LWS=1024
pack

# 5. the kernel rows (short timings)
[ $(left) -gt $((30 + RESERVE)) ] && {
  timeout 40 $Q bench --backend opencl --no-ref --min-seconds 0.1 > $D/kernels_opencl.txt 2>&1
  say "kernel bench opencl rc=$?"
  grep -E "^(copy|gemv|gemm|attention) " $D/kernels_opencl.txt | grep -v '\.\.\.$' | tr -s ' ' | tee -a $D/summary.txt; pack; }

# 6. the whole suite, and what NVIDIA's compiler made of the kernels
[ $(left) -gt $((20 + RESERVE)) ] && {
  timeout $(( $(left) - 12 - RESERVE )) $Q conform --backend opencl --failures > $D/conform_opencl.txt 2>&1
  say "conform opencl (whole suite) rc=$? $(grep -E '^total' $D/conform_opencl.txt)"
  grep -E '^FAIL' $D/conform_opencl.txt | head -5 | tee -a $D/summary.txt; pack; }
[ $(left) -gt $((30 + RESERVE)) ] && {
  QUANTA_OPENCL_ATTN_GPU=0 timeout 40 $Q bench --backend opencl --no-ref --min-seconds 0.1 > $D/kernels_opencl_attn_off.txt 2>&1
  say "kernel bench opencl QUANTA_OPENCL_ATTN_GPU=0 rc=$?"
  grep -E "^attention " $D/kernels_opencl_attn_off.txt | grep -v '\.\.\.$' | tr -s ' ' | tee -a $D/summary.txt; pack; }
timeout 10 python3 bench/opencl/ptx_summary.py $QUANTA_CACHE_DIR $D > $D/ptx_summary.txt 2>&1
grep -A12 -E "qn_attention_dec|qn_rms_norm_rope" $D/ptx_summary.txt | head -30 >> $D/summary.txt
pack

# 7. CUDA, per file (run_h200.sh's build, waited for), and the ratios
while ! cuda_ready && [ $(left) -gt 25 ]; do sleep 2; done
BM_MIN=10
say "CUDA side: $QC $(cuda_ready && echo ready || echo 'not ready')"
RATIOS=""
for f in $L1 $G; do
  [ -f $f ] || continue
  n=$(basename $f .gguf)
  cuda_ready && bm $n cuda $QC $f
  read cp ct <<< "$(rates $D/$n-cuda.txt 2>/dev/null)"; read op ot <<< "$(rates $D/$n-opencl.txt)"
  RATIOS="$RATIOS\n$(python3 -c "print('$n: OpenCL/CUDA prefill %.2fx (target >= 0.4), decode %.2fx (target >= 0.5)' % ($op/$cp, $ot/$ct))" 2>/dev/null ||
    echo "$n: ratio unavailable")"
  pack
done
say "done"
printf "$RATIOS\n" | tee -a $D/summary.txt
pack
