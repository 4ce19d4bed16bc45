#!/bin/bash
# verify_mmq8_e2e.sh — the FP8 x FP8 GEMM (QUANTA_CUDA_FP8_WGMMA=1, mmq8) in a whole model: the e2e files hold no
# fp8 weights, so Gemma 3 270M (Q4_K_M) is requantized to Quanta's fp8_e4m3 (`quanta quantize --quant fp8`,
# embeddings kept f16; dequantized and quantized again, so it is a smoke test of the path, not a quality claim),
# then with the switch off and on: greedy text of one prompt (printed side by side: e4m3 activations may flip a
# near tie, so equal text is expected often, not always) and pp512 (`quanta bench model`, mean ± sd of 3).
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files):
#   VERIFY="bench/cuda/verify_mmq8.sh bench/cuda/verify_mmq8_e2e.sh" bash bench/e2e/run_h200.sh build files verify
# At most ~60 s. Everything goes to $OUT/mmq8_e2e/.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh mmq8_e2e 58
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
SRC=$F/gemma3-270m-q4_k_m.gguf
[ -f $SRC ] || { say "no $SRC"; exit 1; }
M8=/tmp/mmq8_gemma_fp8.gguf
timeout 30 $Q quantize -m $SRC -o $M8 --quant fp8 --keep-embeddings f16 -q > $D/quantize.log 2>&1
say "quantize to fp8 rc=$?: $(grep -E '^size' $D/quantize.log)"
[ -f $M8 ] || exit 1

PROMPT="The three largest cities of France are"
for sw in 0 1; do
  [ $(left) -gt 6 ] || break
  QUANTA_CUDA_FP8_WGMMA=$sw timeout 15 $Q generate -m $M8 -p "$PROMPT" -n 32 --backend cuda > $D/generate_$sw.txt 2> $D/generate_$sw.err
  say "generate switch=$sw rc=$?: $(tr '\n' ' ' < $D/generate_$sw.txt | head -c 300)"
done
if [ -s $D/generate_0.txt ] && [ -s $D/generate_1.txt ]; then
  cmp -s $D/generate_0.txt $D/generate_1.txt && say "greedy text: identical" || say "greedy text: differs (see above)"
fi

ROWS=()
for sw in 0 1 0 1; do
  [ $(left) -gt 6 ] || break
  QUANTA_CUDA_FP8_WGMMA=$sw timeout 12 $Q bench model -m $M8 -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$sw.json 2> $D/pp_$sw.err
  rc=$?
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$sw.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 gemma fp8 switch=$sw rc=$rc: ${v:-none}"
  ROWS+=("switch=$sw ${v:-none}")
done
{
  echo "== mmq8 e2e summary (Gemma 3 270M requantized to fp8_e4m3; pp512 tok/s, off/on alternating)"
  for r in "${ROWS[@]}"; do echo "  $r"; done
} | tee -a $D/summary.txt
say "done"
