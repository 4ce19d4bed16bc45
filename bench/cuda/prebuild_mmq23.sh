#!/bin/bash
# prebuild_mmq23.sh — bench/cuda/ggml_mmq_bench.cu (the gemmpx, gemm and grouped rows of verify_mmq23.sh) compiled with nvcc from the
# sources (no meson build needed): the six GEMM objects and the norms (elementwise) it links (ggml_mmq, ggml_mmq_frag,
# elementwise: sm_90; the wgmma ones: sm_90a only, as kernels_cuda/meson.build builds them) in parallel. Binary and log under /tmp/prebuild/mmq23/ (P= overrides).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
P=${P:-/tmp/prebuild/mmq23}
rm -rf $P && mkdir -p $P
FL=(-std=c++17 -O3 -Iinclude -Iformats -Ibase -Ikernels_cuda -Ibench/cuda)
SM90=(-gencode=arch=compute_90,code=sm_90)
SM90A=(-gencode=arch=compute_90a,code=sm_90a)
OBJS="ggml_mmq ggml_mmq_frag ggml_mmq_wg ggml_mmq_ws_wg ggml_mmq_rs_wg ggml_mmq_rsi_wg elementwise" # elementwise: the normslab, normv, gluslab rows
pids=()
for f in ggml_mmq ggml_mmq_frag elementwise; do nvcc "${FL[@]}" "${SM90[@]}" -c kernels_cuda/$f.cu -o $P/$f.o > $P/$f.log 2>&1 & pids+=($!); done
for f in ggml_mmq_wg ggml_mmq_ws_wg ggml_mmq_rs_wg ggml_mmq_rsi_wg; do
  nvcc "${FL[@]}" "${SM90A[@]}" -c kernels_cuda/$f.cu -o $P/$f.o > $P/$f.log 2>&1 & pids+=($!)
done
nvcc "${FL[@]}" "${SM90[@]}" -c bench/cuda/ggml_mmq_bench.cu -o $P/bench.o > $P/bench.log 2>&1 & pids+=($!)
rc=0
for p in "${pids[@]}"; do wait $p || rc=1; done
[ $rc -eq 0 ] && nvcc $(for f in $OBJS; do echo $P/$f.o; done) $P/bench.o -o $P/ggml_mmq_bench >> $P/bench.log 2>&1
rc=$?
echo "prebuild_mmq23 rc=$rc" | tee -a $P/build.txt
cat $P/*.log | grep -E 'error' | head -5
exit $rc
