#!/bin/bash
# verify_clgemv21.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv21; bench/NOTES.md section 1 "clgemv21"):
# GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (`gemvk` / `copy (device)`, device time), each row also
# against the copy kernel moving the same bytes (QUANTA_BENCH_COPY_KIB: what one launch of that size reaches).
# Replaces verify_clgemv20.sh (its default-vs-old rows decided; both are the defaults now). At most VERIFY_S (52) s;
# everything in $OUT/clgemv21/, packed as $OUT/clgemv21.tgz; summary.txt ends with the tables (label, shape, GB/s, of
# the 256 MiB copy, of the same-size copy, switches). Round 2 (after the H100 call of 15:09, where the 16-warp forms
# were never taken: NVIDIA's OpenCL did not bound their registers by the required work-group size). The switches, off:
#   X1   = QUANTA_OPENCL_GEMVS_XB=2: the streaming int8 forms quantize x in one trip (the same planes, the same bits)
#   R128 = QUANTA_OPENCL_NV_MAXRREG=128: the program built with -cl-nv-maxrregcount=128 (NVIDIA only; prebuild_cl.sh
#          compiles it), so the 8-warp streaming forms fit 2 groups an SM (stream_gpc reads the kernel's limit)
#   W16  = QUANTA_OPENCL_GEMVS_W16=1: the 2-row streaming int8 forms in groups of 16 warps (qn_gemv_q4_i2s16 /
#          qn_gemv_q8_i2s16), which need R128 on NVIDIA
# In this order, the deciding steps first, each skipped when the budget is short:
#  0. what NVIDIA's compiler wrote for the 16-warp kernels' entries (.reqntid / .maxntid / .maxnreg), from the cache
#  1. conformance on NVIDIA's OpenCL: X1 in the default forms; R128 + W16 + X1 with q8's int8 forms forced (Q8I=1
#     RW=2 U=8 PF=2), the kernels listed from the events
#  2. kernel rows, interleaved, twice (base, x1, r128, r128w; then the b runs), q4 and q8 at 4096x11008, 11008x4096,
#     32000x4096 (a head-like row, 70.7 / 131 MB, where the copy runs at speed) and 4096x4096: default / X1 / R128 /
#     R128 + W16 + X1 (with RW=2 U=8, so that W16 reaches every int8 shape, q8 at K >= 4096)
#  3. decode tg128 -r 3 alternated, default and R128 + W16 + X1 (1B Q8_0 D S D S, Gemma D S: the register bound reaches
#     every kernel of the program), 24 greedy tokens each (text compared)
#  4. ptxas -v registers and spills of the streaming kernels from NVIDIA's cached PTX (both programs), time left
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv21 ${VERIFY_S:-52}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
X1="QUANTA_OPENCL_GEMVS_XB=2"
R="QUANTA_OPENCL_NV_MAXRREG=128"
W="QUANTA_OPENCL_NV_MAXRREG=128 QUANTA_OPENCL_GEMVS_W16=1 QUANTA_OPENCL_GEMVS_XB=2"
TAB=""

# 0. the 16-warp kernels' entry directives as NVIDIA's compiler wrote them (the cache's PTX text; instant)
for f in $CL_W/cache/*.clbin; do
  [ -f "$f" ] || continue
  say "ptx $(basename $f): q8_i2s16 [$(grep -a -A60 '\.entry qn_gemv_q8_i2s16(' "$f" | sed -n '1,/^{/p' | grep -aoE '\.(reqntid|maxntid|maxnreg|minnctapersm)[^/]*' | tr '\n' ' ')]" \
    "q4_i2s16 [$(grep -a -A60 '\.entry qn_gemv_q4_i2s16(' "$f" | sed -n '1,/^{/p' | grep -aoE '\.(reqntid|maxntid|maxnreg|minnctapersm)[^/]*' | tr '\n' ' ')]"
done

# 1. conformance (deciding: a form that fails is not a default)
# (the call of 15:09 cut both runs at 7 s in the last case: the reference's own time on the big shapes; fewer here)
CASES=(--case "matmul:m=1,n=67,k=11008,w=q8,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q8,x=f32"
  --case "matmul_multi:m=1,n=1664,k=4096,w=q8,n1=1024,n2=320,part=1,x=f32"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=5,k=96,w=q4,g=32,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q4,g=64,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; VERDICT=incomplete; return; }
  rm -f $D/ev_conf_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_conf_$label.txt timeout 9 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  local rc=$?
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$rc $(grep -E '^total' $D/conform_$label.txt) [$(grep -oE '^matmul(_multi)? \(gemv q[48] [a-z0-9]+\)' $D/ev_conf_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  [ $rc = 0 ] || VERDICT=FAIL
  pack
}
conf x1 $X1
conf r128w $W QUANTA_OPENCL_Q8I=1 QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8 QUANTA_OPENCL_GEMVS_PF=2
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 2. kernel rows
# KiB of the copy (read and written) moving a GEMV's weight bytes: q8 16.8 / 45.1 / 131.2 MB (8208 / 22016 / 64063:
# K + 4 bytes a row), q4 9.0 / 24.3 / 70.7 MB (4400 / 11872 / 34500: K/2 + K/64 · 2.5 bytes a row, groups of 64)
ck_kib() { # DTYPE SHAPE
  case "$1/$2" in q8/4096x4096) echo 8208 ;; q8/32000x4096) echo 64063 ;; q8/*) echo 22016 ;;
    q4/4096x4096) echo 4400 ;; q4/32000x4096) echo 34500 ;; *) echo 11872 ;; esac
}
krows() { # LABEL SHAPES DTYPES SECONDS ENV...: the kernel rows, events on
  local label=$1 shapes=$2 dts=$3 sec=$4; shift 4
  [ $(left) -gt $((sec + 1)) ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=copy,gemvs QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout $sec $Q bench --backend opencl --no-ref --min-seconds 0.01 \
    > $D/k_$label.txt 2> $D/k_$label.err
  local rc=$?
  say "kernel rows $label ($*) rc=$rc: $(grep -oE '^matmul[a-z_]* \(gemv q[48] [a-z0-9]+\)' $D/ev_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')"
  # the same-size copies of this run (kept for the later rows' second column)
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/.* ([0-9.]+) GB\/s.* ([0-9]+) KiB read.*/\2 \1/' >> $D/copy_kib.txt
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/^copy +//' | cut -c1-110 | tee -a $D/summary.txt
  local lines
  lines=$(grep -E '^gemvk' $D/k_$label.txt | awk '{print $2, $3, $5, $10}')
  [ -n "$lines" ] || lines=$(grep -E '^  gemvk' $D/k_$label.err | sed -E 's/^  gemvk ([a-z0-9]+) 1x([0-9x]+): ([0-9.]+) GB\/s, ([0-9.]+) of.*/\1 1x\2 \3 \4/')
  while read -r dt shape gbs ratio; do
    [ -n "${gbs:-}" ] || continue
    local kib=$(ck_kib $dt ${shape#1x}) same
    same=$(awk -v k=$kib -v g=$gbs '$1 == k { c = $2 } END { if (c > 0) printf "%.2f", g / c; else print "?" }' $D/copy_kib.txt 2>/dev/null)
    say "  $dt ${shape#1x}: $gbs GB/s = $ratio of the 256 MiB copy, $same of the same-size copy"
    TAB="$TAB\n| $label | $dt ${shape#1x} | $gbs | $ratio | $same | $* |"
  done <<< "$lines"
  pack
}
# q4 and q8 in one run a form (one start, one program load, one 256 MiB copy each); q8 4096x11008 is the one q8 shape
# the switches reach under the defaults (the others: m1 at 4096², ip at K = 4096: controls), except in the W16 runs,
# whose RW=2 puts every int8 shape on the 2-row streaming forms (q8 11008x4096 / 32000x4096 too)
S="4096x11008,11008x4096,32000x4096,4096x4096"
for p in "" b; do
  if [ -z "$p" ]; then krows base "$S" q4,q8 8 QUANTA_BENCH_COPY_KIB=4400,11872,34500,8208,22016,64063; else krows baseb "$S" q4,q8 8; fi
  krows x1$p "$S" q4,q8 8 $X1
  krows r128$p "$S" q4,q8 8 $R
  krows r128w$p "$S" q4,q8 8 $W QUANTA_OPENCL_GEMVS_RW=2 QUANTA_OPENCL_GEMVS_U=8
done

# 3. decode: the default and W16+X1 alternated, -r 3 each, then greedy text
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "tg $label: no file $f"; return; }
  [ $(left) -gt 5 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 6 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | $* | ${v:-?} | ${sd:-?} |"
}
gen() { # LABEL FILE ENV...: 24 greedy tokens
  local label=$1 f=$2; shift 2
  [ -f $f ] && [ $(left) -gt 3 ] || return
  env "$@" timeout 4 $Q generate -m $f -n 24 --backend opencl --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "generate $label ($*) rc=$? $(md5sum < $D/gen_$label.txt | cut -c1-12)"
}
same_text() { # A B WHAT
  [ -s $D/gen_$1.txt ] && [ -s $D/gen_$2.txt ] || { say "greedy $3: not compared (missing)"; return; }
  cmp -s $D/gen_$1.txt $D/gen_$2.txt && say "greedy $3: same text" || say "greedy $3: TEXT DIFFERS"
}
tgo l1_d1 $L1
tgo l1_s1 $L1 $W
tgo l1_d2 $L1
tgo l1_s2 $L1 $W
gen l1_d $L1
gen l1_s $L1 $W
same_text l1_d l1_s "1B R128+W16+X1"
tgo g_d1 $G
tgo g_s1 $G $W
gen g_d $G
gen g_s $G $W
same_text g_d g_s "Gemma R128+W16+X1"
pack

# 4. registers and spills of the streaming kernels as NVIDIA's compiler made them (the cached PTX through ptxas -v)
if [ $(left) -gt 8 ]; then
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q4_i2s16,qn_gemv_q8_i2s16,qn_gemv_q4_i2s,qn_gemv_q4_is,qn_gemv_q8_i2us,qn_gemv_q8_ip \
    timeout $(( $(left) - 3 )) python3 bench/opencl/ptx_summary.py $CL_W/cache /tmp/clgemv21-ptx > $D/ptx.txt 2>&1
  say "ptx summary rc=$?:"; grep -E '^ptx: |^ptxas' $D/ptx.txt | head -40 | tee -a $D/summary.txt
fi

printf "\n| kernel run | format shape | GB/s | of 256 MiB copy | of same-size copy | switches |\n|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
printf "\n| decode run (tg128 -r 3) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
say "done; VERDICT $VERDICT"
pack
