#!/bin/bash
# run_h200.sh — the one-run H200 benchmark and check of the CUDA backend. From the repository root:
#
#   OUT=/some/dir bench/cuda/run_h200.sh [stages]
#
# stages (default: all): env kcheck memcheck build tests conform sanitize bench qbench peers
#   kcheck    bench/cuda/kernel_check check (standalone kernel correctness, no libquanta)
#   memcheck  compute-sanitizer memcheck on kernel_check quick
#   build     meson + ninja (release) in /tmp/qbuild
#   tests     meson test --suite cuda (Check tests; Check is carried in build-devcarry/check when the
#             machine has none)
#   conform   quanta conform --backend cuda
#   sanitize  compute-sanitizer memcheck + racecheck on a conformance subset
#   bench     kernel_check bench: our matmul on LLaMA-2-13B shapes per format and M (CSV)
#   qbench    quanta bench --backend cuda --json
#   peers     bench/cuda/peers.py: torch peers on the same shapes, ratio table
# Logs go to $OUT/logs.tar.gz (one file: the device tool returns at most 8) and the summary to stdout.
set -u
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" /tmp/logs
L=/tmp/logs
STAGES=${*:-env kcheck memcheck build tests conform sanitize bench qbench peers}
has() { case " $STAGES " in *" $1 "*) return 0;; esac; return 1; }
export PATH=/usr/local/cuda/bin:$PATH
ROOT=$(pwd)
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

if has env; then
  { date -u; nvidia-smi; nvcc --version; gcc --version | head -1; meson --version; ninja --version;
    command -v pkg-config; command -v compute-sanitizer; python3 -c 'import torch; print(torch.__version__)'; nproc; } \
    > $L/env.txt 2>&1
  stamp "env: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.limit --format=csv,noheader 2>&1)"
fi

# Check for the Check tests: the machine's own, else the carried static copy behind a tiny pkg-config shim.
if ! pkg-config --exists check 2>/dev/null && [ -d build-devcarry/check ]; then
  rm -rf /tmp/checkroot && cp -r build-devcarry/check /tmp/checkroot
  if command -v pkg-config >/dev/null 2>&1; then
    export PKG_CONFIG_PATH=/tmp/checkroot/lib/pkgconfig
  else
    mkdir -p /tmp/shim
    cat > /tmp/shim/pkg-config <<'EOF'
#!/bin/sh
for a in "$@"; do case $a in --version) echo 0.29.2; exit 0;; esac; done
pkg=""; for a in "$@"; do case $a in -*) ;; *) pkg=$a;; esac; done
[ "$pkg" = check ] || exit 1
for a in "$@"; do case $a in
  --modversion) echo 0.15.2;;
  --cflags) echo "-I/tmp/checkroot/include -pthread";;
  --libs) echo "-L/tmp/checkroot/lib -lcheck_pic -lsubunit -lrt -lm -pthread";;
esac; done
exit 0
EOF
    chmod +x /tmp/shim/pkg-config
    export PATH=/tmp/shim:$PATH
  fi
fi

if has build; then
  ( cd "$ROOT" && rm -rf /tmp/qbuild && meson setup /tmp/qbuild . --buildtype=release -Dwerror=false -Dopencl=disabled \
      -Dclblast=disabled -Dspirv=disabled > $L/build.log 2>&1 && ninja -C /tmp/qbuild >> $L/build.log 2>&1;
    echo "build rc=$?" >> $L/build.log ) &
  BUILD_PID=$!
fi

if has kcheck || has memcheck || has bench; then
  bench/cuda/build_check.sh /tmp/kc > $L/kc_build.log 2>&1
  stamp "kernel_check build: $(tail -1 $L/kc_build.log)"
fi
if has kcheck; then
  timeout 120 /tmp/kc/kernel_check check > $L/kcheck.log 2>&1
  stamp "kernel_check check rc=$?: $(grep -c ' ok$' $L/kcheck.log) ok, $(grep -c FAIL $L/kcheck.log) FAIL"
  grep FAIL $L/kcheck.log | head -20
fi
if has memcheck; then
  timeout 120 compute-sanitizer --tool memcheck --leak-check no /tmp/kc/kernel_check quick > $L/memcheck_kc.log 2>&1
  stamp "memcheck kernel_check quick rc=$?: $(grep -E 'ERROR SUMMARY' $L/memcheck_kc.log)"
fi

if has build; then
  wait $BUILD_PID
  stamp "meson build: $(tail -1 $L/build.log)"
  grep -E "error|FAILED" $L/build.log | head -10
fi
Q=/tmp/qbuild/tools/quanta
if has tests && [ -x $Q ]; then
  timeout 150 meson test -C /tmp/qbuild --suite cuda -v > $L/tests_cuda.log 2>&1
  stamp "meson test --suite cuda rc=$?"
  grep -E "^ *[0-9]+/[0-9]+ |Checks:|Failure|Error" $L/tests_cuda.log | head -30
fi
if has conform && [ -x $Q ]; then
  timeout 150 $Q conform --backend cuda --json $L/conform.json > $L/conform.log 2>&1
  stamp "conform --backend cuda rc=$?"
  tail -15 $L/conform.log
  grep -iE "fail" $L/conform.log | head -20
fi
if has sanitize && [ -x $Q ]; then
  timeout 150 compute-sanitizer --tool memcheck --leak-check no $Q conform --backend cuda --quick \
    --filter matmul,rms_norm,rope,silu,gelu,add,mul,scale,softmax,get_rows,permute,convert,write_rows \
    > $L/sanitize_memcheck.log 2>&1
  stamp "memcheck conform --quick (non-attention ops) rc=$?: $(grep 'ERROR SUMMARY' $L/sanitize_memcheck.log | tail -1)"
  timeout 120 compute-sanitizer --tool racecheck /tmp/kc/kernel_check quick > $L/sanitize_racecheck.log 2>&1
  stamp "racecheck kernel_check quick rc=$?: $(grep 'RACECHECK SUMMARY\|ERROR SUMMARY' $L/sanitize_racecheck.log | tail -1)"
fi
if has bench; then
  timeout 240 /tmp/kc/kernel_check bench $OUT/ours.csv > $L/bench_ours.log 2>&1
  stamp "kernel_check bench rc=$?"
  cat $L/bench_ours.log
fi
if has qbench && [ -x $Q ]; then
  timeout 120 $Q bench --backend cuda --no-ref --json $OUT/quanta_bench.json > $L/qbench.log 2>&1
  stamp "quanta bench rc=$?"
  cat $L/qbench.log | tail -40
fi
if has peers; then
  args=""
  [ -f $OUT/ours.csv ] && args="$args --ours $OUT/ours.csv"
  [ -f $OUT/quanta_bench.json ] && args="$args --quanta-json $OUT/quanta_bench.json"
  PYTHONUNBUFFERED=1 timeout 150 python3 bench/cuda/peers.py $args --out $OUT/peers.json --log $L/peers_detail.log \
    > $L/peers.log 2>&1
  stamp "peers rc=$?"
  cat $L/peers.log
fi
tar czf $OUT/logs.tar.gz -C /tmp logs
stamp "done"
