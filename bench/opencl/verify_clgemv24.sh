#!/bin/bash
# verify_clgemv24.sh — issue 12's GEMV target on NVIDIA's OpenCL, x's int8 form made by the norm before the GEMVs
# (helper clgemv24; bench/NOTES.md section 1 "clgemv24"). The switch, off:
#   XQ = QUANTA_OPENCL_XQ_NORM=1: a held one-row norm that launches apart before a GEMV reading its row (q4's GEMVs:
#        q, k, v are three launches, gate and up two, the logits one; q8's int8 GEMVs where the fusion is refused)
#        launches as qn_rms_norm_xq, which also leaves the row's int8 form; those GEMVs take their XG forms reading it
#        (no prologue, no launch of their own); likewise the glu before down (q4 weights), as qn_glu_xq. The same bits
#        (test_opencl_xq_norm).
# Where it acts: the OpenCL default loads every file's weights as q8 (--quant auto), and no q8 GEMV of the three files
# reads a norm's row through the int8 path (q/k/v, gate/up and the logits: the norm fused into a float GEMV; down: the
# residual-fused float GEMV; Gemma: K = 640), so there the switch is a no-op (checked: the control runs list no "norm + x int8" launch). It acts on q4
# weights: the 7B q4_0 file with --quant q4 (every GEMV q4's int8 kernel), which is what the deciding rows run.
# At most VERIFY_S (50) s, everything in $OUT/clgemv24/, packed as $OUT/clgemv24.tgz. In this order, deciding first,
# each skipped when the budget is short:
#  1. test_opencl_xq_norm on NVIDIA's OpenCL (prebuild_clgemv24.sh builds it): bit-equality, NaN-filled memory, kernels
#  2. (call 1 ran it first: the greedy text the same; now 3c) 
#  3. decode tg128 (bench model -p 0 -n 128 -r 3) of the 7B q4_0 file with --quant q4: def, xq, xqb, defb (ABBA); then
#     3b. q4's int8 kernel at K = 14336 (Q4I_K=1: the 7B's down), conformance on NVIDIA, tg with and without XQ;
#     3c. greedy text default vs XQ with events (the norm's device time with and without the int8 write, the GEMVs')
#  4. kernel rows: 4096x11008 / 11008x4096 / 32000x4096 (q4, q8; the 256 MiB and same-size copies) with x pre-quantized
#     (GEMVS_XG=1: the XG form the model now runs; its x launch's events apart: the GEMV alone's GB/s = gemvk's x
#     (t_x + t_gemv) / t_gemv), each shape a run of its own (the defaults: clgemv23's call 2)
#  5. q8 7B with its GEMVs on q8's int8 forms (Q8I=2 RW=auto) under XQ_NORM=2, and with the norms apart (NORM_GEMV=0),
#     against the default (one pass)
#  6. controls, the default weights (q8) on the three files: def vs XQ once each, events on both (no x int8 launch)
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/common/verifylib.sh clgemv24 ${VERIFY_S:-50}
. bench/opencl/cl_setup.sh
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -1); tree: $(git log --oneline -1 2>/dev/null | head -c 80)"
[ $CL_OK = 1 ] || { pack; exit 0; }
XQ="QUANTA_OPENCL_XQ_NORM=1"
FD=${E2E_FILES:-/tmp/e2e/files}
F4=$FD/mistral7b-q4_0.gguf F8=$FD/mistral7b-q8_0.gguf FG=$FD/gemma3-270m-q4_k_m.gguf
if [ ! -f $F4 ]; then cl_files_wait; F4=$L1; say "no $FD/mistral7b-q4_0.gguf: the 1B-shaped $L1 with --quant q4 instead"; fi
TAB="" TG=""

# 1. the unit test on NVIDIA (deciding: the same bits)
P24=/tmp/prebuild/clgemv24
cl_wait_for $P24/build.rc 48
T=/tmp/qbuild-cl24/tests/opencl/test_opencl_xq_norm
if [ -x $T ] && [ $(left) -gt 20 ]; then
  ( cd $D && CK_FORK=no KEEPEV=1 timeout 14 $T > $D/test_xq_norm.txt 2>&1 ); rc=$?
  say "test_opencl_xq_norm rc=$rc: $(grep -E '^[0-9]+%' $D/test_xq_norm.txt | tail -1)"
  grep -E ':F:|:E:|rror' $D/test_xq_norm.txt | head -4 | tee -a $D/summary.txt
  for f in $D/test_opencl_xq_norm_events_*; do [ -f $f ] && say "  $(basename $f): $(grep -oE '^((norm|glu) \+ x int8 \(q[48]\)|add_norm|matmul(_multi)? \(gemv q[48] [a-z0-9]+\))' $f | sort -u | tr '\n' ' ')"; done
  [ $rc = 0 ] || VERDICT=FAIL
else
  say "test_opencl_xq_norm not run: $(cat $P24/build.rc 2>/dev/null || echo 'not built'); $(tail -2 $P24/build.log 2>/dev/null | tr '\n' ' ' | head -c 200)"
  VERDICT=incomplete
fi
pack

# 3. decode tg128, two passes interleaved
tgo() { # LABEL FILE QUANT ENV...
  local label=$1 f=$2 qt=$3; shift 3
  [ $(left) -gt 13 ] || { say "tg $label skipped (time)"; return; }
  env "$@" timeout 13 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --quant $qt --json > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label ($(basename $f) --quant $qt $*) rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  TG="$TG\n| $label | $(basename $f) $qt | $* | ${v:-?} | ${sd:-?} |"
  pack
}
tgo def $F4 q4 # ABBA: a drift through the call (call 1: xq 167.4 then xqb 180.9) cancels in the pairs
tgo xq $F4 q4 $XQ
tgo xqb $F4 q4 $XQ
tgo defb $F4 q4

# 3b. q4's int8 kernel at K = 14336 (QUANTA_OPENCL_Q4I_K=1: x's room counted as its int8 planes, 2.25 bytes a column, not
#    as floats: the 7B's down, otherwise qn_x_prep's launch and the float m1 kernel on NVIDIA's 48 KiB), then with XQ (the
#    glu's int8 form read by down's _i2sg): conformance on NVIDIA (events), decode on the 7B q4_0 file with --quant q4
if [ $(left) -gt 6 ]; then
  rm -f $D/ev_conf_q4k.txt
  QUANTA_OPENCL_Q4I_K=1 QUANTA_OPENCL_EVENTS=$D/ev_conf_q4k.txt timeout 5 $Q conform --backend opencl \
    --case "matmul:m=1,n=4096,k=14336,w=q4,g=32,x=f32" --case "matmul:m=1,n=67,k=16384,w=q4,g=64,x=f32" > $D/conform_q4k.txt 2>&1
  rc=$?; say "conform q4 K = 14336 / 16384 (Q4I_K=1) rc=$rc $(grep -E '^total' $D/conform_q4k.txt) [$(grep -oE '^matmul \(gemv q4 [a-z0-9]+\)' $D/ev_conf_q4k.txt 2>/dev/null | sort -u | tr '\n' ' ')]"
  [ $rc = 0 ] || VERDICT=FAIL
fi
tgo q4k $F4 q4 QUANTA_OPENCL_Q4I_K=1
tgo q4kxq $F4 q4 QUANTA_OPENCL_Q4I_K=1 $XQ

# 3c. greedy text and events, 7B q4_0 with q4 weights (call 1: the same text; here after the deciding rows)
gen() { # LABEL ENV...
  local label=$1; shift
  [ $(left) -gt 14 ] || { say "gen $label skipped (time)"; VERDICT=incomplete; return; }
  rm -f $D/ev_gen_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_gen_$label.txt timeout 14 $Q generate -m $F4 --backend opencl --quant q4 -n 32 \
    --quiet > $D/gen_$label.txt 2> $D/gen_$label.err
  say "gen $label ($*) rc=$?: $(md5sum < $D/gen_$label.txt | head -c 12) $(head -c 60 $D/gen_$label.txt | tr '\n' ' ')"
  grep -E '^(rms_norm|add_norm|glu|(norm|glu) \+ x int8 \(q[48]\)|matmul(_multi)? \(gemv q[48] [a-z0-9]+\)) ' $D/ev_gen_$label.txt 2>/dev/null |
    sed -E 's/ {2,}/|/' | awk -F'|' '{ split($2, f, " +"); printf "  ev %s: %s calls, %s us a call\n", $1, f[1], f[3] }' | tee -a $D/summary.txt
  pack
}
GT0=$(el)
gen def
if [ ! -s $D/gen_def.txt ] && [ "$F4" != "$L1" ]; then # the 7B file did not run in time: the 1B-shaped file from here on
  cl_files_wait; F4=$L1; say "gen def failed after $(( $(el) - GT0 )) s: $L1 (1B-shaped) with --quant q4 from here on"; gen def
fi
gen xq $XQ
if [ -s $D/gen_def.txt ] && [ -s $D/gen_xq.txt ]; then
  if cmp -s $D/gen_def.txt $D/gen_xq.txt; then say "greedy text: the same (32 tokens)"; else say "greedy text: DIFFERS"; VERDICT=FAIL; fi
fi

# 4. kernel rows
ck_kib() { # DTYPE SHAPE
  case "$1/$2" in q8/32000x4096) echo 64063 ;; q8/4096x11008 | q8/11008x4096) echo 22016 ;;
    q4/32000x4096) echo 34500 ;; q4/4096x11008 | q4/11008x4096) echo 11872 ;; *) echo 0 ;; esac
}
evus() { grep -F "($2)" $1 2>/dev/null | head -1 | awk '{ print $(NF-1) }'; } # EVFILE LABEL: us a call
krows() { # LABEL SHAPES DTYPES SECONDS ENV...: the kernel rows, events on
  local label=$1 shapes=$2 dts=$3 sec=$4; shift 4
  [ $(left) -gt $((sec + 1)) ] || { say "kernel rows $label skipped (time)"; return; }
  rm -f $D/ev_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_$label.txt QUANTA_BENCH_ROWS=copy,gemvs QUANTA_BENCH_GEMV=$shapes \
    QUANTA_BENCH_GEMV_DTYPES=$dts timeout $sec $Q bench --backend opencl --no-ref --min-seconds 0.01 \
    > $D/k_$label.txt 2> $D/k_$label.err
  local rc=$?
  say "kernel rows $label ($*) rc=$rc: $(grep -oE '^matmul[a-z_]* \(gemv q[48] [a-z0-9]+\)' $D/ev_$label.txt 2>/dev/null | sort -u | tr '\n' ' ')"
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/.* ([0-9.]+) GB\/s.* ([0-9]+) KiB read.*/\2 \1/' >> $D/copy_kib.txt
  grep -E '^copy +copy \(dev, KiB\)' $D/k_$label.txt | sed -E 's/^copy +//' | cut -c1-110 | tee -a $D/summary.txt
  local lines
  lines=$(grep -E '^gemvk' $D/k_$label.txt | awk '{print $2, $3, $5, $10}')
  [ -n "$lines" ] || lines=$(grep -E '^  gemvk' $D/k_$label.err | sed -E 's/^  gemvk ([a-z0-9]+) 1x([0-9x]+): ([0-9.]+) GB\/s, ([0-9.]+) of.*/\1 1x\2 \3 \4/')
  while read -r dt shape gbs ratio; do
    [ -n "${gbs:-}" ] || continue
    local sh=${shape#1x} kib same alone="" k
    kib=$(ck_kib $dt $sh)
    same=$(awk -v k=$kib -v g=$gbs '$1 == k { c = $2 } END { if (c > 0) printf "%.2f", g / c; else print "?" }' $D/copy_kib.txt 2>/dev/null)
    # the XG run of one shape: the GEMV alone, without its x launch
    case "$dt/$sh" in q4/4096x11008) k="gemv q4 i2sg" ;; q4/*) k="gemv q4 isg" ;; q8/4096x11008) k="gemv q8 i2usg" ;; *) k="gemv q8 ipg" ;; esac
    local tx tg
    tx=$(evus $D/ev_$label.txt "gemv $dt xg") tg=$(evus $D/ev_$label.txt "$k")
    alone=$(awk -v g=$gbs -v x=${tx:-0} -v t=${tg:-0} -v c=$(awk -v k=$kib '$1 == k { c = $2 } END { print c + 0 }' $D/copy_kib.txt) \
      'BEGIN { if (t > 0) { a = g * (x + t) / t; printf "%.0f GB/s alone (%s us, x launch %s us)%s", a, t, x, (c > 0 ? sprintf(" = %.2f of the same-size copy", a / c) : "") } }')
    say "  $dt $sh: $gbs GB/s = $ratio of the 256 MiB copy, $same of the same-size copy${alone:+; GEMV $alone}"
    TAB="$TAB\n| $label | $dt $sh | $gbs | $ratio | $same | ${alone:--} | $* |"
  done <<< "$lines"
  grep -E '\(gemv q[48] [a-z0-9]+\)' $D/ev_$label.txt 2>/dev/null | sed -E 's/ {2,}/|/' |
    awk -F'|' '{ split($2, f, " +"); printf "  ev %s: %s us a call (%s calls)\n", $1, f[3], f[1] }' | tee -a $D/summary.txt
  pack
}
# (no default rows here: clgemv23's call 2 has them; each shape alone so that its kernels' events are its own, with the
# same-size copies of its q4 and q8 bytes)
krows xg_4096x11008 4096x11008 q4,q8 4 QUANTA_OPENCL_GEMVS_XG=1 QUANTA_BENCH_COPY_KIB=11872,22016
krows xg_11008x4096 11008x4096 q4,q8 4 QUANTA_OPENCL_GEMVS_XG=1
krows xg_32000x4096 32000x4096 q4,q8 4 QUANTA_OPENCL_GEMVS_XG=1 QUANTA_BENCH_COPY_KIB=34500,64063

# 5. the default weights (q8) on the 7B q8_0 file with its GEMVs on q8's int8 forms (Q8I=2 with RW=auto: auto's forms
#    without its 2^25-weight floor) in place of the float fusions (XQ_NORM=2: q/k/v and the logits read the norm's int8
#    form, down is not fused with the residual), against the default and against the same int8 GEMVs with every norm
#    apart and no int8 form (NORM_GEMV=0: =2's bits, each GEMV quantizing x itself); other bits than the default: a
#    lever for the default decode, for the next round; one pass
I2="QUANTA_OPENCL_Q8I=2 QUANTA_OPENCL_GEMVS_RW=auto"
tgo q8def $F8 auto
tgo q8x2 $F8 auto $I2 QUANTA_OPENCL_XQ_NORM=2
tgo q8ng0 $F8 auto $I2 QUANTA_OPENCL_NORM_GEMV=0

# 6. controls: the default weights (q8) on the three files, events on both runs (the switch must launch nothing new)
ctl() { # LABEL FILE ENV...
  local label=$1 f=$2; shift 2
  [ -f $f ] || { say "control $label: no $f"; return; }
  [ $(left) -gt 10 ] || { say "control $label skipped (time)"; return; }
  rm -f $D/ev_ctl_$label.txt
  env "$@" QUANTA_OPENCL_EVENTS=$D/ev_ctl_$label.txt timeout 10 $Q bench model -m $f -p 0 -n 128 -r 3 --backend opencl --json \
    > $D/tg_ctl_$label.json 2> $D/tg_ctl_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_ctl_$label.json | grep -o '[0-9.]*$')
  say "control $label ($(basename $f), weights q8, $*) rc=$rc: ${v:-?} tok/s (events on); x int8 launches: $(grep -c ' + x int8' $D/ev_ctl_$label.txt 2>/dev/null)"
  TG="$TG\n| ctl_$label | $(basename $f) auto | $* (events on) | ${v:-?} | - |"
  pack
}
ctl q8_def $F8
ctl q8_xq $F8 $XQ
ctl g_def $FG
ctl g_xq $FG $XQ

printf "\n| decode run (tg128, -r 3) | file, weights | switches | tok/s | sd |\n|---|---|---|---|---|$TG\n" | tee -a $D/summary.txt
printf "\n| kernel run | format shape | GB/s (gemvk) | of 256 MiB copy | of same-size copy | GEMV alone | switches |\n|---|---|---|---|---|---|---|$TAB\n" | tee -a $D/summary.txt
tv() { grep -o '"tg_tps": [0-9.]*' $D/tg_$1.json 2>/dev/null | grep -o '[0-9.]*$'; }
say "flip rule (3), XQ_NORM=1: $(awk -v a="$(tv xq)" -v b="$(tv xqb)" -v c="$(tv def)" -v d="$(tv defb)" 'BEGIN {
  if (a == "" || b == "" || c == "" || d == "") { print "incomplete"; exit } m = c + 0 > d + 0 ? c + 0 : d + 0
  print (a + 0 > m && b + 0 > m ? "met" : "not met") " (xq " a ", xqb " b " against max(def " c ", defb " d "))" }')"
say "flip rule, Q4I_K=1: $(awk -v a="$(tv q4k)" -v c="$(tv def)" -v d="$(tv defb)" 'BEGIN {
  if (a == "" || c == "" || d == "") { print "incomplete"; exit } m = c + 0 > d + 0 ? c + 0 : d + 0; sp = c - d; if (sp < 0) sp = -sp
  print (a + 0 > m + sp ? "met" : a + 0 > m ? "above, within the spread" : "not met") " (q4k " a " against max(def, defb) " m " + spread " sp ")" }')"
say "flip rule inputs: test rc (1), text same (2), tg xq/xqb vs def/defb (3); done; VERDICT $VERDICT"
pack
