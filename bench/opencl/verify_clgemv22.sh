#!/bin/bash
# verify_clgemv22.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv22; bench/NOTES.md section 1 "clgemv22"):
# GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (`gemvk` / `copy (device)`, device time), each row also
# against the copy kernel moving the same bytes (QUANTA_BENCH_COPY_KIB: what one launch of that size reaches).
# Replaces verify_clgemv21.sh (its X1 for q8 is the default now; R128 / W16 decided off). At most VERIFY_S (52) s;
# everything in $OUT/clgemv22/, packed as $OUT/clgemv22.tgz; summary.txt ends with the table (label, shape, GB/s, of
# the 256 MiB copy, of the same-size copy, switches). The switches, off:
#   LEAN = QUANTA_OPENCL_GEMVS_Q4L=1 QUANTA_OPENCL_GEMVS_Q8L=1: the streaming int8 forms in a register-lean walk
#          (kernels_cl/gemv_gpu.cl qn_gemv_q4_il / _i2l, qn_gemv_q8_i2ul: a chunk's next step loaded into the slot its
#          math frees, q4's scale and zero one word, 32-bit offsets, x staged the plain way; the same bits as _is /
#          _i2s / _i2us), the host's groups a compute unit by the kernel's own limit (stream_gpc). clang's PTX through
#          ptxas sm_90: q4 128 registers (from 244 / 234), q8 159 (from 239); NVIDIA's own are in step 3
#   L8U4 = QUANTA_OPENCL_GEMVS_Q8L=4: q8's lean walk at U = 4 (qn_gemv_q8_i2l, 96 registers in clang's PTX: 2 groups an
#          SM, the same 64 KB an SM in flight as _i2us's one group; the same bits); L8U6 = GEMVS_Q8L=6 (U = 6,
#          qn_gemv_q8_i2l6, 132 in clang's PTX: 96 KB an SM if NVIDIA's compiler fits 2 groups)
#   R128 = QUANTA_OPENCL_NV_MAXRREG=128 (clgemv21; the whole program under -cl-nv-maxrregcount=128, NVIDIA only;
#          prebuild_cl.sh compiles it): with LEAN, do the lean walks fit 128 registers unspilled, 2 groups an SM?
# In this order, the deciding steps first, each skipped when the budget is short:
#  1. conformance on NVIDIA's OpenCL: the q4/q8 M=1 GEMV cases under LEAN
#  2. kernel rows, interleaved (base, lean, l8u4, l8u6): q4 and q8 at 4096x11008, 11008x4096, 32000x4096, 4096x4096
#     (LEAN reaches q4 at every shape, q8 at 4096x11008 only: its other shapes are controls, _ip / m1); l8u4 and
#     l8u6 q8 4096x11008 alone
#  3. ptxas -v registers and spills of the q4/q8 streaming kernels from NVIDIA's cached PTX (every cached program:
#     default, GEMM_I8=0, R128), and the dp4a / 16-byte load counts of their PTX
#  4. the kernel rows again (baseb, leanb, l8u4b, l8u6b): the spread; conformance of the q8 cases under L8U4 and L8U6;
#     then R128 + LEAN (r128l, r128lb), the experiment: does a bound of 128 registers pay for the lean walks?
#  5. Gemma (Q4_K_M file) decode tg128 -r 3, default and LEAN, and 24 greedy tokens each (text compared)
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv22 ${VERIFY_S:-52}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
L4="QUANTA_OPENCL_GEMVS_Q4L=1 QUANTA_OPENCL_GEMVS_Q8L=1"
RL="QUANTA_OPENCL_NV_MAXRREG=128 QUANTA_OPENCL_GEMVS_Q4L=1 QUANTA_OPENCL_GEMVS_Q8L=1"
TAB=""

# 1. conformance (deciding: a form that fails is not a default)
CASES=(--case "matmul:m=1,n=67,k=11008,w=q8,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=5,k=96,w=q4,g=32,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q4,g=64,x=f32"
  --case "matmul:m=1,n=300,k=2048,w=q4,g=64,x=f32")
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
conf lean $L4
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 2. kernel rows
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
S="4096x11008,11008x4096,32000x4096,4096x4096"
krows base "$S" q4,q8 8 QUANTA_BENCH_COPY_KIB=4400,11872,34500,8208,22016,64063
krows lean "$S" q4,q8 8 $L4
krows l8u4 4096x11008 q8 5 QUANTA_OPENCL_GEMVS_Q8L=4
krows l8u6 4096x11008 q8 5 QUANTA_OPENCL_GEMVS_Q8L=6

# 3. registers and spills of the streaming kernels as NVIDIA's compiler made them (the cached PTX through ptxas -v)
if [ $(left) -gt 8 ]; then
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q4_il,qn_gemv_q4_i2l,qn_gemv_q8_i2ul,qn_gemv_q8_i2l,qn_gemv_q8_i2l6,qn_gemv_q4_is,qn_gemv_q4_i2s,qn_gemv_q8_i2us,qn_gemv_q8_ip \
    timeout $(( $(left) > 15 ? 12 : $(left) - 3 )) python3 bench/opencl/ptx_summary.py $CL_W/cache /tmp/clgemv22-ptx > $D/ptx.txt 2>&1
  say "ptx summary rc=$?:"; grep -E '^ptx|^ptxas' $D/ptx.txt | cut -c1-400 | head -40 | tee -a $D/summary.txt
  # the lean kernels' and their defaults' PTX as NVIDIA's compiler wrote it (entries only, gzipped, for the next reading)
  for g in /tmp/clgemv22-ptx/*.ptx.gz; do
    [ -f "$g" ] || continue
    zcat "$g" | awk '/\.entry (qn_gemv_q4_i2l|qn_gemv_q4_il|qn_gemv_q4_i2s|qn_gemv_q8_i2ul|qn_gemv_q8_i2l|qn_gemv_q8_i2us)\(/ {p=1} p {print} p && /^}/ {p=0}' |
      gzip > $D/ptx_lean_$(basename $g .ptx.gz).ptx.gz
  done
  pack
fi

# 4. the rows again (the spread), the q8 U = 4 / 6 forms' conformance, then the register bound (R128) with LEAN
krows baseb "$S" q4,q8 8
krows leanb "$S" q4,q8 8 $L4
krows l8u4b 4096x11008 q8 5 QUANTA_OPENCL_GEMVS_Q8L=4
krows l8u6b 4096x11008 q8 5 QUANTA_OPENCL_GEMVS_Q8L=6
CASES=(--case "matmul:m=1,n=4096,k=11008,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32")
conf l8u4 QUANTA_OPENCL_GEMVS_Q8L=4
conf l8u6 QUANTA_OPENCL_GEMVS_Q8L=6
krows r128l "$S" q4,q8 8 $RL
krows r128lb "$S" q4,q8 8 $RL

# 5. decode on the Q4_K_M file (its q4 GEMVs, if any take the int8 streaming forms), default and LEAN
cl_files_wait
tgo() { # LABEL FILE ENV...: OpenCL decode tg128 -r 3
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "tg $label: no file $f"; return; }
  [ $(left) -gt 5 ] || { say "tg $label skipped (time)"; return; }
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_tg_$label.txt timeout 6 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s [$(grep -oE '\(gemv q4 [a-z0-9]+\)' $D/ev_tg_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
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
tgo g_d1 $G
tgo g_l1 $G $L4
gen g_d $G
gen g_l $G $L4
same_text g_d g_l "Gemma LEAN"
pack

printf "\n| kernel run | format shape | GB/s | of 256 MiB copy | of same-size copy | switches |\n|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
printf "\n| decode run (tg128 -r 3) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
say "done; VERDICT $VERDICT"
pack
