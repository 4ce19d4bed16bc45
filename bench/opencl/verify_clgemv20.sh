#!/bin/bash
# verify_clgemv20.sh — issue 12's GEMV target on NVIDIA's OpenCL (helper clgemv20; bench/NOTES.md section 1 "clgemv20"):
# GEMV q4/q8 >= 70% of the OpenCL copy kernel's bandwidth (`gemvk` / `copy (device)`, device time), each row also
# against the copy kernel moving the same bytes (QUANTA_BENCH_COPY_KIB: what one launch of that size reaches).
# At most VERIFY_S (52) s; everything in $OUT/clgemv20/, packed as $OUT/clgemv20.tgz; summary.txt ends with the table
# (label, shape, GB/s, of the 256 MiB copy, of the same-size copy, switches). Round 2 (after the H100 call of 12:40,
# which made the streaming int8 forms q4's default: GEMVS_PF=2, the same bits). In this order, the deciding steps
# first, each skipped when the budget is short:
#  1. conformance on NVIDIA's OpenCL of the new default (q4 _is / _i2s) and of QUANTA_OPENCL_Q8I=auto (q8 int8 only
#     at >= 2^25 weights, > 1536 rows, K >= 2048: _ip at K <= 4096, now the streaming _i2us above), the kernels listed
#  2. kernel rows at 4096x4096, 11008x4096, 4096x11008 (+ q8 32000x2048, the 1B's output head), interleaved, twice:
#     q4 the new default (base4) against the old one (old4: GEMVS_PF=1, _ip / _i2p); q8 the default (the float m1
#     kernel) against Q8I=auto (q8a)
#  3. decode tg128 -r 3, default and Q8I=auto alternated (1B Q8_0 D A D A, Gemma D A: nothing of Gemma's reaches the
#     int8 kernel under auto), 24 greedy tokens of each under both (text compared)
#  4. ptxas -v registers of the int8 GEMVs from NVIDIA's cached PTX, time left
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv20 ${VERIFY_S:-52}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
S3="4096x4096,11008x4096,4096x11008"
S4="$S3,32000x2048"
QA="QUANTA_OPENCL_Q8I=auto"              # q8 int8 where it won (>= 2^25 weights, > 1536 rows, K >= 2048), RW=auto's forms
OLD4="QUANTA_OPENCL_GEMVS_PF=1"          # q4's default before 12:40 (_ip / _i2p)
TAB=""

# 1. conformance (deciding: a form that fails is not a default)
CASES=(--case "matmul:m=1,n=100,k=4096,w=q8,x=f32" --case "matmul:m=1,n=67,k=11008,w=q8,x=f32"
  --case "matmul:m=1,n=1600,k=2048,w=q8,x=f32" --case "matmul:m=1,n=8200,k=4096,w=q8,x=f32" --case "matmul:m=1,n=4096,k=11008,w=q8,x=f32"
  --case "matmul_multi:m=1,n=1664,k=4096,w=q8,n1=1024,n2=320,part=1,x=f32"
  --case "matmul:m=1,n=64,k=4096,w=q4,g=32,x=f32" --case "matmul:m=1,n=33,k=11008,w=q4,g=128,x=f32"
  --case "matmul:m=1,n=4500,k=4096,w=q4,g=64,x=f32" --case "matmul:m=1,n=5,k=96,w=q4,g=32,x=f32"
  --case "matmul:m=1,n=4096,k=11008,w=q4,g=64,x=f32")
conf() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 3 ] || { say "conform $label skipped (time)"; return; }
  rm -f $D/ev_conf_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_conf_$label.txt timeout 6 $Q conform --backend opencl "${CASES[@]}" > $D/conform_$label.txt 2>&1
  say "conform q4/q8 M=1 GEMVs $label ($*) rc=$? $(grep -E '^total' $D/conform_$label.txt) [$(grep -oE '^matmul(_multi)? \(gemv q[48] [a-z0-9]+\)' $D/ev_conf_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  grep -E '^FAIL|rror' $D/conform_$label.txt | head -4 | tee -a $D/summary.txt
  pack
}
conf default
conf auto $QA
[ -s $D/cl_build_log.txt ] && { say "program build log (first lines):"; head -c 1500 $D/cl_build_log.txt | tee -a $D/summary.txt; }

# 2. kernel rows
# KiB of the copy (read and written) moving a GEMV's weight bytes: q8 16.8 / 45.1 / 65.5 MB, q4 9.0 / 24.3 MB
ck_kib() { # DTYPE SHAPE
  case "$1/$2" in q8/4096x4096) echo 8208 ;; q8/32000x2048) echo 64000 ;; q8/*) echo 22016 ;; q4/4096x4096) echo 4400 ;; *) echo 11872 ;; esac
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
krows base4 "$S3" q4 6 QUANTA_BENCH_COPY_KIB=1,4400,11872
krows old4 "$S3" q4 5 $OLD4
krows base8 "$S4" q8 6 QUANTA_BENCH_COPY_KIB=8208,22016,64000 QUANTA_OPENCL_Q8I=0
krows q8a "$S4" q8 5 $QA
krows base4b "$S3" q4 5
krows old4b "$S3" q4 5 $OLD4
krows base8b "$S4" q8 5 QUANTA_OPENCL_Q8I=0
krows q8ab "$S4" q8 5 $QA

# 3. decode: the float q8 kernels (Q8I=0, the default before lead20) and Q8I=auto (the default since) alternated, -r 3 each, then greedy text
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
tgo l1_d1 $L1 QUANTA_OPENCL_Q8I=0
tgo l1_a1 $L1 $QA
tgo l1_d2 $L1 QUANTA_OPENCL_Q8I=0
tgo l1_a2 $L1 $QA
gen l1_d $L1 QUANTA_OPENCL_Q8I=0
gen l1_a $L1 $QA
same_text l1_d l1_a "1B Q8I=auto"
tgo g_d1 $G QUANTA_OPENCL_Q8I=0
tgo g_a1 $G $QA
gen g_d $G QUANTA_OPENCL_Q8I=0
gen g_a $G $QA
same_text g_d g_a "Gemma Q8I=auto"
pack

# 4. registers of the streaming kernels as NVIDIA's compiler made them (the cached PTX through ptxas -v)
if [ $(left) -gt 12 ]; then
  PATH=$PATH:/usr/local/cuda/bin PTX_KERNELS=qn_gemv_q4_i2s,qn_gemv_q4_is,qn_gemv_q8_i2us,qn_gemv_q8_ip,qn_gemv_q4_i2p,qn_gemv_q4_ip \
    timeout $(( $(left) - 3 )) python3 bench/opencl/ptx_summary.py $CL_W/cache /tmp/clgemv20-ptx > $D/ptx.txt 2>&1
  say "ptx summary rc=$?:"; grep -E '^ptxas' $D/ptx.txt | head -12 | tee -a $D/summary.txt
fi

printf "\n| kernel run | format shape | GB/s | of 256 MiB copy | of same-size copy | switches |\n|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
printf "\n| decode run (tg128 -r 3) | switches | tok/s | sd |\n|---|---|---|---|$ROWS\n" | tee -a $D/summary.txt
say "done"
pack
