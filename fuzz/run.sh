#!/bin/sh
# fuzz/run.sh — builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a
# bounded time. Not part of the default test run.
#   usage: fuzz/run.sh [SECONDS_PER_TARGET] [gguf] [safetensors]   (default: 120 s, both)
#   env:   FUZZ_OUT (work folder, default ../quanta-fuzz next to the repository), FUZZ_CC (clang-14),
#          FUZZ_BUILD_ONLY=1 (build the harnesses, run nothing: the meson test fuzz_harnesses_build)
# New crashes are copied to tests/model/corpus/ (so test_model_corpus replays them in CI) and
# the script exits 1. Debian packages: clang-14 libclang-rt-14-dev (libFuzzer and sanitizers).
set -eu
secs=${1:-120}
[ $# -gt 0 ] && shift
targets=${*:-gguf safetensors}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$root/../quanta-fuzz}
cc=${FUZZ_CC:-clang-14}
mkdir -p "$out"
# every file of the formats layer (a list by hand went stale as formats/ grew: the harnesses stopped
# linking), expanded in the repository root below
lib="formats/*.c base/error.c"
found=0
for t in $targets; do
    case $t in gguf) max_len=16384 ;; safetensors) max_len=8192 ;; *) echo "unknown target $t" >&2; exit 2 ;; esac
    bin="$out/fuzz_$t"
    (cd "$root" && $cc -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -Iinclude -Ibase -Iformats "fuzz/fuzz_$t.c" $lib -lm -o "$bin")
    [ -n "${FUZZ_BUILD_ONLY:-}" ] && { echo "built $bin"; continue; }
    mkdir -p "$out/corpus_$t" "$out/artifacts_$t"
    dict=""
    [ -f "$root/fuzz/$t.dict" ] && dict="-dict=$root/fuzz/$t.dict"
    echo "fuzzing $t for $secs s (work folder $out)"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$max_len $dict -print_final_stats=1 \
        -artifact_prefix="$out/artifacts_$t/" "$out/corpus_$t" "$root/fuzz/corpus/$t" 2>"$out/$t.log" || true
    grep -E "^(Done|stat::number_of_executed_units)" "$out/$t.log" || tail -5 "$out/$t.log"
    for f in "$out/artifacts_$t"/crash-* "$out/artifacts_$t"/leak-* "$out/artifacts_$t"/timeout-* "$out/artifacts_$t"/oom-*; do
        [ -f "$f" ] || continue
        dest="$root/tests/model/corpus/$t-$(basename "$f")"
        if [ ! -f "$dest" ]; then
            cp "$f" "$dest"
            echo "NEW FINDING: $f -> $dest"
            found=1
        fi
    done
done
exit $found
