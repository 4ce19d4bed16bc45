/* driver.h — host helpers shared by the standalone CUDA drivers (attention_check, kernel_check;
 * not libquanta, which never exits): CK stops the driver on any CUDA error, and graph timing. */
#ifndef QUANTA_BENCH_CUDA_DRIVER_H
#define QUANTA_BENCH_CUDA_DRIVER_H

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

/* A splitmix64 draw from *state, uniform in [0, 1) with 53 bits: the drivers' random inputs (each keeps its own
 * state and prints its seed). */
static inline double qn_bench_urand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Exit status 2, naming the file, line and call. */
#define CK(x)                                                                                                     \
    do {                                                                                                          \
        cudaError_t e_ = (x);                                                                                     \
        if (e_ != cudaSuccess) {                                                                                  \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));                 \
            exit(2);                                                                                              \
        }                                                                                                         \
    } while (0)

/* Median wall time in ms of body() (work enqueued on `st`) over `reps` (odd) timed runs; e0/e1
 * are the caller's events. */
template <typename F> static float median_ms(cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1, int reps, F body)
{
    std::vector<float> t;
    for (int r = 0; r < reps; ++r) {
        CK(cudaEventRecord(e0, st));
        body();
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

/* The same for one launch of the instantiated graph `ge`, after an untimed warm-up launch. */
static inline float graph_median_ms(cudaGraphExec_t ge, cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1, int reps)
{
    CK(cudaGraphLaunch(ge, st));
    CK(cudaStreamSynchronize(st));
    return median_ms(st, e0, e1, reps, [&] { CK(cudaGraphLaunch(ge, st)); });
}

/* Per call, ms: `calls` calls of body() captured into one graph (launch costs out of the timing), its median over
 * `reps` launches divided by `calls`. */
template <typename F>
static float graph_calls_ms(cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1, int calls, int reps, F body)
{
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < calls; i++) body();
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    const float ms = graph_median_ms(ge, st, e0, e1, reps) / calls;
    cudaGraphExecDestroy(ge), cudaGraphDestroy(g);
    return ms;
}

#endif
