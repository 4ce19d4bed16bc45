#!/bin/bash
# verify_clgemv13.sh — issue #12's decode half on NVIDIA's OpenCL (helper clgemv13; bench/NOTES.md section 1
# "clgemv13"). At most VERIFY_S (80) s; everything in $OUT/clgemv13/ and packed into $OUT/clgemv13.tgz
# (summary.txt: every step's line, the tg table, the events tables).
# Measures, in this order (each step skipped when the budget is short):
#  1. conformance on NVIDIA's OpenCL with the new switches on: the q8 decode GEMVs at M = 1 (matmul, matmul_glu,
#     matmul_multi cases that take qn_gemv_q8_m1 / _glu), decode attention with its loads ahead, the norms with
#     the row in registers (qn_rms_norm_reg)
#  2. decode tg128 (-r 3) on $L1 (1B LLaMA Q8_0) and $G (Gemma 3 270M Q4_K_M), the switches alternated with the
#     defaults: all three switches, then each alone (1B): QUANTA_OPENCL_GEMV1=1 (the M = 1 q8 GEMVs),
#     QUANTA_OPENCL_ATTN_AHEAD=1 (qn_attention_dec's loads ahead), QUANTA_OPENCL_NORM_REG=1 (one-pass norms);
#     Gemma all, AHEAD=1 and AHEAD=2 (16 K pieces, 8 V keys in flight) alone; at the end the 1B with all on and no key split (QUANTA_OPENCL_SPLITKV=1)
#  3. QUANTA_OPENCL_EVENTS with the switches on: each kernel's device time per call over 32 decode steps
#     (the GEMVs' per-call bytes are known from the file's shapes: GB/s of kernel time, not of launch + wait);
#     the 1B again with the M = 1 GEMVs' groups of 2 and 8 warps (QUANTA_OPENCL_GEMV1_SETS)
#  4. the kernel rows (`quanta bench --backend opencl`, copy and gemv q8/q4) with and without GEMV1, if time is left
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv13 ${VERIFY_S:-65}
. bench/opencl/cl_setup.sh
[ $CL_OK = 1 ] || { pack; exit 0; }
ON="QUANTA_OPENCL_GEMV1=1 QUANTA_OPENCL_ATTN_AHEAD=2 QUANTA_OPENCL_NORM_REG=1"

# 1. conformance: the cases that take the new kernels (explicit, so the run stays short: the reference side of a
# whole filtered sweep took over a minute on the device machine)
CASES=()
P=0
for x in f32 f16 bf16; do
  CASES+=(--case "matmul:m=1,n=512,k=1024,w=q8,x=$x" --case "matmul_glu:m=1,n=67,k=640,w=q8,x=$x,act=$P"
    --case "matmul_multi:m=1,n=67,k=640,w=q8,x=$x,n1=33,n2=13,part=$P" --case "matmul_multi:m=1,n=128,k=640,w=q8,x=$x,n1=32,n2=32,part=$P")
  P=$((P + 1))
done
CASES+=(--case "add_norm:shape=1x2048,part=1" --case "rms_norm_add_norm:shape=1x640,plus1=1,part=1"
  --case "rms_norm_add_norm:shape=3x1001,dtype=f16,part=1" --case "rms_norm:shape=1x4096,dtype=bf16"
  --case "attention:b=1,hq=4,hkv=1,nq=1,nk=129,d=256,causal=1,dtype=f32"
  --case "attention:b=1,hq=32,hkv=4,nq=1,nk=600,d=64,causal=1,dtype=f32"
  --case "attention:b=2,hq=8,hkv=1,nq=1,nk=129,d=64,causal=1,window=16,dtype=f16")
[ $(left) -gt 20 ] && {
  env $ON timeout 15 $Q conform --backend opencl "${CASES[@]}" --failures > $D/conform_gemv1.txt 2>&1
  say "conform q8 M=1 GEMVs, norms, decode attention ($ON) rc=$? $(grep -E '^total' $D/conform_gemv1.txt)"
  grep -E '^FAIL' $D/conform_gemv1.txt | head -4 | tee -a $D/summary.txt
  pack; }

cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || return
  [ $(left) -gt 8 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 15 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
events() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 10 ] || return
  rm -f $D/events_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/events_$label.txt timeout 15 $Q bench model -m $f -p 0 -n 32 -r 1 --backend opencl \
    > $D/events_$label.log 2>&1
  say "events $label ($*) rc=$? (32 decode steps + warm-up; launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels' $D/events_$label.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn | cut -d' ' -f2- |
    head -9 | tee -a $D/summary.txt
  grep '^kernels' $D/events_$label.txt | tee -a $D/summary.txt
  pack
}

# 2-3. the 1B first (the decode target's file), then Gemma
tgo l1_default1 $L1
tgo l1_all $L1 $ON
tgo g_default1 $G
tgo g_all $G $ON
tgo l1_gemv1 $L1 QUANTA_OPENCL_GEMV1=1
tgo l1_norm $L1 QUANTA_OPENCL_NORM_REG=1
tgo g_ahead2 $G QUANTA_OPENCL_ATTN_AHEAD=2
tgo g_ahead1 $G QUANTA_OPENCL_ATTN_AHEAD=1
tgo l1_default2 $L1
tgo g_default2 $G
pack
events l1_on $L1 $ON
events g_on $G $ON
tgo l1_all_nosplit $L1 $ON QUANTA_OPENCL_SPLITKV=1
tgo l1_ahead1 $L1 QUANTA_OPENCL_ATTN_AHEAD=1
printf "\n| decode run (OpenCL tg128, -r 3) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
pack

# 4. the kernel rows, once per GEMV form (the table prints at the end: only if the whole run fits)
krows() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 30 ] || { say "kernel rows $label skipped (time)"; return; }
  env "$@" timeout $(( $(left) - 3 )) $Q bench --backend opencl --no-ref --min-seconds 0.05 > $D/kernels_$label.txt 2>&1
  say "kernel rows $label ($*) rc=$?"
  grep -E "^(copy|gemv) " $D/kernels_$label.txt | grep -E "copy|q8|q4" | tr -s ' ' | tee -a $D/summary.txt
  pack
}
[ $(left) -gt 15 ] && {
  env $ON timeout 15 $Q conform --backend opencl --quick \
    --filter matmul,matmul_glu,matmul_multi,rms_norm,add_norm,add_rms_norm,rms_norm_add,rms_norm_add_norm,attention \
    --failures > $D/conform_quick.txt 2>&1
  say "conform --quick matmul*,norms,attention ($ON) rc=$? $(grep -E '^total' $D/conform_quick.txt)"
  grep -E '^FAIL' $D/conform_quick.txt | head -4 | tee -a $D/summary.txt
  pack; }
krows gemv1 QUANTA_OPENCL_GEMV1=1
krows default
say "done"
pack
