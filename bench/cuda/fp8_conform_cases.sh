# fp8_conform_cases.sh — sourced by the FP8 device checks (bench/cuda/verify_fp8*.sh: verify_fp823.sh): fp8_cases Q sets ALL to
# `--case` arguments for `Q conform`: every e4m3 matmul case of the suite plus shapes that select each tile and the
# split-K routes (partial tiles, M past the quantizer's one-read bound, K = 4096 with few tiles), and (fp820) the decode
# GEMV's (M = 1, 7, and 33 with K split: the kernel that reads QUANTA_CUDA_FP8_KM's K-major codes below M = 64).
fp8_cases() {
  local listed
  listed=$($1 conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
  local extra=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
               --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32"
               --case "matmul:m=300,n=1000,k=704,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=2048,k=1024,w=fp8_e4m3,x=bf16"
               --case "matmul:m=1,n=1000,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=7,n=390,k=704,w=fp8_e4m3,x=f32"
               --case "matmul:m=33,n=512,k=4096,w=fp8_e4m3,x=f16")
  ALL=($(echo "$listed" | sed 's/^/--case /') "${extra[@]}")
}
