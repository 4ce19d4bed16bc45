#!/bin/bash
# run_h200.sh — Quanta against llama.cpp end to end on the same GGUF files, in one device run.
# From the repository root (the device tool's checkout, or a carried copy of it):
#
#   bash bench/e2e/make_peer_dir.sh        # here, once: assembles .dev/peer (about 14 MB)
#   OUT=$OUT PEER=.dev/peer bash bench/e2e/run_h200.sh [stages]   # there, carry [".dev/peer"]
#
# PEER holds: llamacpp-peer.tar.xz and make_llama_gguf.py (../shared/anchors/peers/), the `gguf`
# wheel, gemma.skel (bench/e2e/gguf_skeleton.py extract of the default model), optionally
# check/ (include/, lib/libcheck_pic.a, lib/libsubunit.a, lib/pkgconfig/check.pc), and for the serve
# stage sdeps/ (libmicrohttpd and jansson source: bench/e2e/build_server_deps.sh says how to get it).
# stages (default all): llama build files conform tests bench variants kv peer serve profile verify
#   llama     llama.cpp's llama-bench and llama-server built in the background from the trimmed source (sm_90)
#   build     Quanta (release, CUDA) in /tmp/qbuild
#   files     Mistral-7B-shaped Q4_0 and Q8_0 (make_llama_gguf.py) and the Gemma-3-270M-shaped
#             Q4_K_M file (the default model's header and tensor types, random weights)
#   conform   quanta conform --backend cuda: the whole suite (every op, format and flag, ggml blocks,
#             paged attention, add_rms_norm), failures listed
#   tests     tests/cuda: graph replay against op-by-op decode (bit-identical), every CUDA op (needs
#             Check: the machine's, or a static copy carried in PEER/check)
#   bench     quanta bench model on each file (-p 512 -n 128 -r 3, JSON)
#   variants  the decode runs again with CUDA graphs off (QUANTA_CUDA_GRAPHS=0)
#   kv        quanta bench kv on CUDA (int8/fp8 paged KV against f16)
#   peer      llama-bench on each file (-ngl 99 -fa 1 -p 512 -n 128 -r 3, JSON)
#   serve     quanta serve and llama-server (-np 64, continuous batching) on the Gemma-shaped file, each
#             swept by bench/serve_sweep.py at 1, 16 and 64 streams (fixed and long-tailed mixes);
#             bench/e2e/serve_ratio.py prints the table (summary_serve.md)
#   profile   ncu per-kernel summary of decode steps (Gemma and the 7B Q4_0); PROFILE_PP=1 adds a pp512 of each 7B file
#   verify    each helper's device check, bench/*/verify_*.sh (VERIFY: the list, default all; 100 s each),
#             writing under $OUT/<name>/, its log in logs.tgz
#   (order: build files conform tests verify, then, once llama.cpp's niced build is done, bench variants kv
#   peer serve profile: every comparison with the peer runs on a quiet machine)
# Prints the ratio table; every log and JSON goes to $OUT/logs.tgz (packed at each step), the tables to $OUT/summary*.md.
# LLAMA_TARGETS (default "llama-bench llama-server"): what the llama stage builds; llama-bench alone when no serve stage follows.
# BG (a command) runs in the background while llama.cpp compiles; the comparisons wait for it. BENCH_ALT
# (environment settings) times the decode of each file again with them, next to the default's.
# SWEEP (serve_sweep.py's arguments) and SWEEP_S (seconds per sweep) shorten the serve stage; NAMES (the
# files benchmarked), CONFORM_S and KV_S (seconds) shorten the others, for a run on little device time.
set -u
OUT=${OUT:-/tmp/e2e-out}
PEER=${PEER:-.dev/peer}
STAGES=${*:-llama build files conform tests bench variants kv peer serve profile verify}
has() { case " $STAGES " in *" $1 "*) return 0;; esac; return 1; }
export PATH=/usr/local/cuda/bin:$PATH
export CPATH=/usr/local/cuda/include${CPATH:+:$CPATH} # nccl.h includes cuda_runtime.h
ROOT=$(pwd)
PEER=$(cd "$PEER" && pwd)
W=/tmp/e2e
# Logs go to $L and are packed into $OUT/logs.tgz at every step: the device tool brings back only a few files
# per call, and a run cut off by its time limit still brings back what it did up to its last step.
L=$W/logs
# KEEP_LOGS=1: a second invocation in the same call adds to the first one's logs
[ -n "${KEEP_LOGS:-}" ] || rm -rf $L; mkdir -p "$OUT" $L $W/files
T0=$(date +%s)
stamp() {
  echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a $L/steps.txt
  tar czf $OUT/logs.tgz.part -C $L . 2>/dev/null && mv $OUT/logs.tgz.part $OUT/logs.tgz
}
NP=$(nproc)

{ date -u; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.limit,memory.total --format=csv; nvcc --version | tail -2;
  gcc --version | head -1; cmake --version | head -1; meson --version; echo "cores $NP"; } > $L/env.txt 2>&1
stamp "env: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

if has llama; then
  ( cd $W && tar xJf "$PEER/llamacpp-peer.tar.xz" && cd llama.cpp &&
    { [ -f scripts/ui-assets.cmake ] || { mkdir -p scripts && cp "$ROOT/bench/e2e/llama_ui_stub.cmake" scripts/ui-assets.cmake; }; } &&
    timeout 480 cmake -B build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
      -DCMAKE_BUILD_TYPE=Release && timeout 540 nice -n 19 cmake --build build -j $NP --target ${LLAMA_TARGETS:-llama-bench llama-server};
    echo "llama build rc=$?" ) > $L/llama_build.log 2>&1 &
  LLAMA_PID=$!
fi

if has files; then
  # its own --target: prebuild_cl.sh installs the same wheel at the same moment, and two pip runs into one folder fail
  ( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site-e2e "$PEER"/gguf-*.whl &&
    export PYTHONPATH=/tmp/site-e2e &&
    timeout 300 python3 bench/e2e/gguf_skeleton.py build "$PEER/gemma.skel" $W/files/gemma3-270m-q4_k_m.gguf &&
    for q in q4_0 q8_0; do
      case " ${NAMES:-mistral7b-$q} " in *" mistral7b-$q "*)
        timeout 300 python3 "$PEER/make_llama_gguf.py" $W/files/mistral7b-$q.gguf ${q^^} || break;; esac
    done;
    echo "files rc=$?" ) > $L/files.log 2>&1 &
  FILES_PID=$!
fi

# Check (for the CUDA unit tests): the machine's own, else a carried static copy ($PEER/check).
TESTS=false
if pkg-config --exists check 2>/dev/null; then TESTS=true
elif [ -d "$PEER/check" ] && command -v pkg-config >/dev/null 2>&1; then
  rm -rf /tmp/checkroot && cp -r "$PEER/check" /tmp/checkroot &&
    sed -i "s|^prefix=.*|prefix=/tmp/checkroot|" /tmp/checkroot/lib/pkgconfig/check.pc &&
    export PKG_CONFIG_PATH=/tmp/checkroot/lib/pkgconfig && TESTS=true
fi
# `quanta serve` needs libmicrohttpd and jansson: the machine's, else built from carried source.
# the server deps only for the serve stage or the whole verify list (a named VERIFY list needs none: -> 60 s saved)
if { has serve || { has verify && [ -z "${VERIFY:-}" ]; }; } && ! pkg-config --exists libmicrohttpd jansson 2>/dev/null && [ -d "$PEER/sdeps" ]; then
  timeout 240 bash bench/e2e/build_server_deps.sh "$PEER/sdeps" /tmp/sdeps > $L/sdeps.log 2>&1
  stamp "server deps rc=$?"
  export PKG_CONFIG_PATH=/tmp/sdeps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  # an rpath, not LD_LIBRARY_PATH: the system linker itself loads libjansson.so.4 and fails on this copy
  export LDFLAGS="-Wl,-rpath,/tmp/sdeps/lib${LDFLAGS:+ $LDFLAGS}"
fi
Q=/tmp/qbuild/tools/quanta
# PREBUILD (default: every bench/*/prebuild_*.sh with the verify stage or BG): the device checks' own builds (bench
# binaries compiled with nvcc, the OpenCL-only quanta and its files), started in the background beside Quanta's build
# (16 cores); each writes under /tmp/prebuild/; the verify stage waits for them
PRE_PIDS=""
if has verify || [ -n "${BG:-}" ]; then
  for p in ${PREBUILD-$(ls bench/*/prebuild_*.sh 2>/dev/null)}; do
    ( OUT=$OUT PEER=$PEER timeout 420 bash $p > $L/$(basename $p .sh).log 2>&1; echo "$(basename $p .sh) rc=$?" >> $L/prebuild.txt ) &
    PRE_PIDS="$PRE_PIDS $!"
  done
  [ -n "$PRE_PIDS" ] && stamp "prebuilds started: ${PREBUILD-$(ls bench/*/prebuild_*.sh 2>/dev/null | tr '\n' ' ')}"
fi
if has build; then
  build() { rm -rf /tmp/qbuild; timeout 420 meson setup /tmp/qbuild . --buildtype=release -Dwerror=false -Dopencl=disabled \
      -Dclblast=disabled -Dspirv=disabled -Dtests=$1 -Dcuda=enabled && timeout 420 ninja -C /tmp/qbuild $2; }
  if $TESTS; then build true "tools/quanta tests/cuda/test_cuda_graphs tests/cuda/test_cuda_ops" > $L/build.log 2>&1 ||
    { TESTS=false; echo "with tests failed: without" >> $L/build.log; }; fi
  $TESTS || build false tools/quanta >> $L/build.log 2>&1
  echo "build rc=$?" >> $L/build.log
  stamp "quanta (tests=$TESTS) $(tail -1 $L/build.log)"
fi
[ -x $Q ] || { stamp "no quanta binary"; tail -30 $L/build.log; exit 1; }
$Q info > $L/info.txt 2>&1
# BG: a command run in the background from here (after Quanta's build, before the verify stage), while llama.cpp
# compiles, e.g. BG="bash bench/opencl/run_gpu.sh" (its own build comes first, ~140 s, so a short verify stage's GPU
# timings finish before its own start): the comparisons below wait for it, so they run on a quiet machine
if [ -n "${BG:-}" ]; then
  ( OUT=$OUT PEER=$PEER bash -c "$BG" ) > $L/bg.log 2>&1 &
  BG_PID=$!
  stamp "background: $BG"
fi

if has conform; then
  timeout ${CONFORM_S:-300} $Q conform --backend cuda --failures --json $L/conform.json > $L/conform.log 2>&1
  stamp "conform cuda rc=$?: $(grep -E '^total' $L/conform.log)"
  grep -E '^FAIL' $L/conform.log | head -20
fi

if has tests && [ -x /tmp/qbuild/tests/cuda/test_cuda_graphs ]; then
  for t in test_cuda_graphs test_cuda_ops; do
    CK_FORK=no timeout 300 /tmp/qbuild/tests/cuda/$t > $L/$t.log 2>&1
    stamp "$t rc=$?: $(grep -E '^[0-9]+%' $L/$t.log | tail -1)"
    grep -E 'FAIL|Error|error' $L/$t.log | head -5
  done
fi

if has files; then
  wait $FILES_PID
  stamp "$(tail -1 $L/files.log)"
  ls -la $W/files >> $L/files.log
fi

# The helpers' device checks compare their own switch settings side by side, so they may run while
# llama.cpp still compiles (niced); everything after them is a comparison with the peer and waits for a
# quiet machine: a 16-core compile next to Quanta cost 8% of 7B decode and half the serve throughput
# (17:45 run of 2026-12-05).
if has verify; then
  [ -n "$PRE_PIDS" ] && { wait $PRE_PIDS; stamp "prebuilds: $(tr '\n' ' ' < $L/prebuild.txt 2>/dev/null)"; }
  # VERIFY_WAIT (a path): something else of the call using the GPU (e.g. OpenCL checks run during Quanta's build)
  # writes it when done; the checks here wait for it (at most until VERIFY_WAIT_S s into the run, default 330)
  if [ -n "${VERIFY_WAIT:-}" ]; then
    while [ ! -e $VERIFY_WAIT ] && [ $(( $(date +%s) - T0 )) -lt ${VERIFY_WAIT_S:-330} ]; do sleep 1; done
    stamp "verify: waited for $VERIFY_WAIT ($( [ -e $VERIFY_WAIT ] && echo there || echo 'not there: going on'))"
  fi
  for v in ${VERIFY:-$(ls bench/*/verify_*.sh)}; do
    n=$(basename $v .sh)
    OUT=$OUT PEER=$PEER timeout ${VERIFY_S:-100} bash $v > $L/$n.log 2>&1
    stamp "$n rc=$?: $(tail -2 $L/$n.log | tr '\n' ' ' | head -c 300)"
  done
fi
if [ -n "${LLAMA_PID:-}" ] && { has bench || has peer || has serve || has variants || has profile; }; then
  wait $LLAMA_PID; stamp "quiet: $(tail -1 $L/llama_build.log)"
fi
if [ -n "${BG_PID:-}" ]; then wait $BG_PID; stamp "background rc=$?"; fi

NAMES=${NAMES:-"gemma3-270m-q4_k_m mistral7b-q4_0 mistral7b-q8_0"}
if has bench; then
  for f in $NAMES; do
    [ -f $W/files/$f.gguf ] || continue
    timeout 240 $Q bench model -m $W/files/$f.gguf -p 512 -n 128 -r 3 --backend cuda --json > $L/quanta_$f.json \
      2> $L/quanta_$f.err
    stamp "quanta $f rc=$?: $(tr -d '\n' < $L/quanta_$f.json | head -c 600)"
    # BENCH_ALT ("A=1 B=2;C=0": sets of environment settings, ';' between sets, e.g. switches not yet on by default
    # or a default's way back): the decode again with each set, right after the default's, so that each gets a
    # same-run ratio against the peer too
    if [ -n "${BENCH_ALT:-}" ]; then
      IFS=';' read -ra ALTS <<< "$BENCH_ALT"
      for k in "${!ALTS[@]}"; do
        env ${ALTS[$k]} timeout 120 $Q bench model -m $W/files/$f.gguf -p 0 -n 128 -r 3 --backend cuda --json \
          > $L/quanta_alt${k}_$f.json 2> $L/quanta_alt${k}_$f.err
        stamp "quanta $f with ${ALTS[$k]} rc=$?: tg $(grep -o '"tg_tps": [0-9.]*' $L/quanta_alt${k}_$f.json) $(grep -o '"tg_tps_sd": [0-9.]*' $L/quanta_alt${k}_$f.json)"
      done
      # and the default's decode once more after them (drift between the first and the last)
      timeout 120 $Q bench model -m $W/files/$f.gguf -p 0 -n 128 -r 3 --backend cuda --json > $L/quanta_again_$f.json \
        2> $L/quanta_again_$f.err
      stamp "quanta $f default again rc=$?: tg $(grep -o '"tg_tps": [0-9.]*' $L/quanta_again_$f.json) $(grep -o '"tg_tps_sd": [0-9.]*' $L/quanta_again_$f.json)"
    fi
  done
fi

if has variants; then
  # what the CUDA graphs are worth: the same runs op by op
  for f in gemma3-270m-q4_k_m mistral7b-q4_0; do
    [ -f $W/files/$f.gguf ] || continue
    QUANTA_CUDA_GRAPHS=0 timeout 120 $Q bench model -m $W/files/$f.gguf -p 0 -n 128 -r 2 --backend cuda --json \
      > $L/quanta_nographs_$f.json 2> $L/quanta_nographs_$f.err
    stamp "no graphs $f rc=$?: tg $(grep -o '"tg_tps": [0-9.]*' $L/quanta_nographs_$f.json)"
  done
fi

if has kv && [ -f $W/files/gemma3-270m-q4_k_m.gguf ]; then
  # the quantized KV caches on the GPU: drift and agreement against f16 (random weights: the numbers
  # check the kernels; the model's own drift is measured on the real file on the CPU, NOTES section 9)
  timeout ${KV_S:-180} $Q bench kv -m $W/files/gemma3-270m-q4_k_m.gguf --backend cuda > $L/bench_kv.txt 2>&1
  stamp "bench kv rc=$?: $(tail -3 $L/bench_kv.txt | tr '\n' ' ')"
fi

if has peer; then
  # a second invocation (KEEP_LOGS=1) finds the build done
  stamp "$(tail -1 $L/llama_build.log)"
  LB=$W/llama.cpp/build/bin/llama-bench
  for f in $NAMES; do
    [ -f $W/files/$f.gguf ] && [ -x $LB ] || continue
    timeout 240 $LB -m $W/files/$f.gguf -ngl 99 -fa 1 -p 512 -n 128 -r 3 -o json > $L/llama_$f.json 2> $L/llama_$f.err
    stamp "llama-bench $f rc=$?"
    # load to first token: llama-bench's whole run on one 1-token generation (model load included)
    t0=$(date +%s%N)
    timeout 120 $LB -m $W/files/$f.gguf -ngl 99 -fa 1 -p 0 -n 1 -r 1 > $L/llama_load_$f.log 2>&1
    t1=$(date +%s%N)
    awk "BEGIN { print ($t1 - $t0) / 1e9 }" > $L/llama_load_$f.txt
  done
fi

python3 bench/e2e/ratio_table.py $L $NAMES | tee "$OUT/summary.md"

if has serve; then
  # 64 concurrent streams of the Gemma-shaped file: Quanta's server, then llama-server, same sweep.
  F=$W/files/gemma3-270m-q4_k_m.gguf
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1) # the plots name the card that ran
  LS=$W/llama.cpp/build/bin/llama-server
  SWEEP=${SWEEP:-"--concurrency 1,16,64 --mix fixed,longtail --prompt-words 128 --max-tokens 128 --timeout 120"}
  # sweep NAME PORT SERVER-COMMAND...: starts the server, sweeps it once it answers /health, stops it
  sweep() {
    local name=$1 port=$2; shift 2
    "$@" --port $port > $L/${name}_server.log 2>&1 &
    local sp=$!
    for _ in $(seq 120); do curl -sf http://127.0.0.1:$port/health >/dev/null 2>&1 && break; sleep 1; done
    timeout ${SWEEP_S:-420} python3 bench/serve_sweep.py --url http://127.0.0.1:$port $SWEEP --json $L/${name}_sweep.json \
      > $L/${name}_sweep.txt 2>&1
    stamp "$name sweep rc=$?"; cat $L/${name}_sweep.txt
    kill -TERM $sp; wait $sp
  }
  if [ -f $F ] && $Q serve --help >/dev/null 2>&1; then
    sweep quanta 18080 $Q serve -m $F --backend cuda --max-batch 64 --ctx 4096 --kv-blocks 8192
  else stamp "no quanta serve (see build.log, sdeps.log)"; fi
  [ -n "${LLAMA_PID:-}" ] && wait $LLAMA_PID 2>/dev/null # llama-server may still be building
  if [ -f $F ] && [ -x $LS ]; then
    sweep llama 18081 $LS -m $F -ngl 99 -fa on -np 64 -c $((64 * 4096)) --cont-batching
  else stamp "no llama-server (see llama_build.log)"; fi
  [ -f $L/quanta_sweep.json ] && [ -f $L/llama_sweep.json ] &&
    python3 bench/e2e/serve_ratio.py $L/quanta_sweep.json $L/llama_sweep.json | tee "$OUT/summary_serve.md"
  # the plots (#16: PNG files linked from bench/NOTES.md): both servers on shared axes, in logs.tgz's
  # plots/; without matplotlib here, bench/serve_plot.py draws them from the JSON afterwards
  if [ -f $L/quanta_sweep.json ] && python3 -c 'import matplotlib' 2>/dev/null; then
    if [ -f $L/llama_sweep.json ]; then
      timeout 120 python3 bench/serve_plot.py $L/quanta_sweep.json $L/llama_sweep.json --names Quanta,llama-server \
        --title "Gemma 3 270M Q4_K_M, $GPU" --out $L/plots > $L/serve_plot.log 2>&1
    else
      timeout 120 python3 bench/serve_plot.py $L/quanta_sweep.json --title "Quanta, Gemma 3 270M Q4_K_M, $GPU" \
        --out $L/plots > $L/serve_plot.log 2>&1
    fi
    stamp "serve plots rc=$?"
  else stamp "no serve plots (no sweep or no matplotlib)"; fi
fi

if has profile && command -v ncu >/dev/null 2>&1; then
  # per-kernel GPU time of decode steps (kernels after the load and the first steps)
  for f in gemma3-270m-q4_k_m mistral7b-q4_0; do
    [ -f $W/files/$f.gguf ] || continue
    # one metric (kernel time): one replay pass per kernel; the default sections took 10 passes each and
    # did not get through 400 kernels in 150 s
    timeout 150 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
      --launch-skip 4000 --launch-count 1200 \
      $Q bench model -m $W/files/$f.gguf -p 0 -n 64 -r 1 --backend cuda > $L/ncu_$f.txt 2>&1
    stamp "ncu $f rc=$?"
  done
  # PROFILE_PP=1: also one pp512 of each 7B file (issue 14's unmet prefill rows: which GEMM tiles take the time)
  if [ -n "${PROFILE_PP:-}" ]; then
    for f in mistral7b-q8_0 mistral7b-q4_0; do
      [ -f $W/files/$f.gguf ] || continue
      timeout 120 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
        $Q bench model -m $W/files/$f.gguf -p 512 -n 0 -r 1 --backend cuda > $L/ncu_pp_$f.txt 2>&1
      stamp "ncu pp512 $f rc=$?"
    done
  fi
fi
stamp "end"
