#!/bin/bash
# verify_cldec14.sh — issue #12's decode on NVIDIA's OpenCL (helper cldec14; bench/NOTES.md section 1 "cldec14").
# At most VERIFY_S (35) s; everything in $OUT/cldec14/ and packed into $OUT/cldec14.tgz (summary.txt: every step's
# line, the tg table, the events tables).
# Measures, in this order (each step skipped when the budget is short):
#  1. decode tg128 (-r 3) of $L1 (1B LLaMA Q8_0) and $G (Gemma 3 270M Q4_K_M): the default (qn_attention_dec1, a
#     work-group per query head, on since round 1) against QUANTA_OPENCL_ATTN_DEC1=0 (the old decode attention), then
#     QUANTA_OPENCL_NORM_GEMV=1 (the one-row norm inside the q8 GEMV that reads it; round 1 failed every launch with
#     CL_OUT_OF_RESOURCES, fixed since: one local buffer); CUDA's tg128 of both files ($QC) in the same call
#  2. the models' greedy text with NORM_GEMV on and off (the same bits: the same tokens), conformance of the touched ops
#  3. QUANTA_OPENCL_EVENTS with NORM_GEMV on: each kernel's device time per call over 32 decode steps
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh cldec14 ${VERIFY_S:-34}
. bench/opencl/cl_setup.sh
[ $CL_OK = 1 ] || { pack; exit 0; }
NG="QUANTA_OPENCL_NORM_GEMV=1"
A0="QUANTA_OPENCL_ATTN_DEC1=0"

cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || return
  [ $(left) -gt 8 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 8 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
tgc() { # LABEL FILE: CUDA decode tg128 -r 1 (the ratio's denominator, same call)
  local label=$1 f=$2
  [ -f $f ] && [ -x "$QC" ] || { say "cuda tg $label: no CUDA quanta ($QC)"; return; }
  [ $(left) -gt 8 ] || { say "cuda tg $label skipped (time)"; return; }
  timeout 8 $QC bench model -m $f -p 0 -n 128 -r 1 --backend cuda --json > $D/cuda_$label.json 2> $D/cuda_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/cuda_$label.json | grep -o '[0-9.]*$')
  say "cuda tg $label rc=$rc: ${v:-?} tok/s"
  ROWS="$ROWS\n| cuda_$label | (CUDA) | ${v:-?} | |"
}
events() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 10 ] || return
  rm -f $D/events_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/events_$label.txt timeout 8 $Q bench model -m $f -p 0 -n 32 -r 1 --backend opencl \
    > $D/events_$label.log 2>&1
  say "events $label ($*) rc=$? (32 decode steps + warm-up; launch, calls, us total, us per call, share):"
  grep -v '^#\|^launch\|^kernels' $D/events_$label.txt 2>/dev/null | awk '{print $(NF-2), $0}' | sort -rn | cut -d' ' -f2- |
    head -10 | tee -a $D/summary.txt
  grep '^kernels' $D/events_$label.txt | tee -a $D/summary.txt
  pack
}

# 1. the deciding rows: the new default against the old, both files; NORM_GEMV; CUDA's in the same call
tgo l1_default $L1
tgo l1_dec0 $L1 $A0
tgo g_default $G
tgo g_dec0 $G $A0
tgo l1_ng $L1 $NG
tgo g_ng $G $NG
tgc l1 $L1
tgc g $G
printf "\n| decode run (tg128) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
pack

# 2. correctness on NVIDIA: the fused path inside the models (greedy text equal), the touched ops' conformance
gen() { # LABEL FILE ENV...: 24 greedy tokens
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 4 ] || return
  env "$@" timeout 8 $Q generate -m $f -n 24 --backend opencl --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "generate $label ($*) rc=$? $(md5sum < $D/gen_$label.txt | cut -c1-12) $(tail -1 $D/gen_$label.err | cut -c1-120)"
}
gen l1_off $L1
gen l1_on $L1 $NG
gen g_off $G
gen g_on $G $NG
for f in l1 g; do # NORM_GEMV is the same bits: the same text
  [ -f $D/gen_${f}_on.txt ] && { cmp -s $D/gen_${f}_off.txt $D/gen_${f}_on.txt && say "greedy $f NORM_GEMV: same text" || say "greedy $f NORM_GEMV: TEXT DIFFERS"; }
done
CASES=(--case "matmul:m=1,n=512,k=1024,w=q8,x=f32" --case "matmul_glu:m=1,n=67,k=640,w=q8,x=f32,act=0"
  --case "add_norm:shape=1x2048,part=1" --case "rms_norm_add_norm:shape=1x640,plus1=1,part=1"
  --case "attention:b=1,hq=4,hkv=1,nq=1,nk=129,d=256,causal=1,dtype=f32"
  --case "attention:b=1,hq=32,hkv=4,nq=1,nk=600,d=64,causal=1,dtype=f32"
  --case "attention:b=2,hq=8,hkv=1,nq=1,nk=129,d=64,causal=1,window=16,dtype=f16")
[ $(left) -gt 6 ] && {
  env $NG timeout 6 $Q conform --backend opencl "${CASES[@]}" --failures > $D/conform.txt 2>&1
  say "conform q8 M=1 GEMVs, norms, decode attention ($NG) rc=$? $(grep -E '^total' $D/conform.txt)"
  grep -E '^FAIL' $D/conform.txt | head -4 | tee -a $D/summary.txt
  pack; }

# 3. where a step's time goes with NORM_GEMV on
events l1_ng $L1 $NG
events g_ng $G $NG
say "done"
pack
