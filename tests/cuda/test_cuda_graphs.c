/*
 * test_cuda_graphs.c — a model's decode steps replayed as CUDA graphs give bit-identical logits
 * to the same steps issued op by op (QUANTA_CUDA_GRAPHS=0), for a LLaMA-style model with f32
 * weights and a Gemma 3-style one (ring KV cache, masks written per step, q/k norms) with q8
 * weights; the replay path must really be taken (the decode plan holds a recording). Weights,
 * prompt and decode tokens are drawn from the printed test seed. Exits 77 (skip) without a
 * CUDA device.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "tiny_model.h"

/* tiny_model.h's float64 forward pass is not needed here (the plain path is the reference). */
static void unused_ref(void) { (void)ref_init, (void)ref_step, (void)ref_free; }

#define STEPS 24
#define PROMPT 5

static const tiny_spec SPEC_LLAMA = {"llama", 64, 4, 2, 16, 128, 2, 300, 0, 10000.0f, 0, 0};
static const tiny_spec SPEC_GEMMA3 = {"gemma3", 64, 2, 1, 32, 128, 7, 300, 8, 1000000.0f, 0, 0};

/* Prefill, then STEPS decode steps of the given tokens; logits[(1 + STEPS) * V]. Returns
 * whether the decode plan ended up replaying a recording. */
static int run(const tiny_model *tm, int graphs, int quantize, const int32_t *toks, float *logits) {
    if (graphs) unsetenv("QUANTA_CUDA_GRAPHS");
    else setenv("QUANTA_CUDA_GRAPHS", "0", 1);
    quanta_model_params p;
    quanta_model_default_params(&p);
    if (quantize) {
        p.quantize = 1;
        p.weight_dtype = QUANTA_Q8;
    }
    quanta_backend *be = NULL;
    quanta_model *m = tiny_open_load(tm, "cuda", &p, &be);
    ck_assert_msg(m, "load: %s", quanta_last_error());
    const int V = tm->s.n_vocab;
    quanta_model_context *ctx = NULL;
    ck_assert_int_eq(quanta_model_context_create(m, 64, &ctx), QUANTA_OK);
    ck_assert_int_eq(quanta_model_eval(ctx, toks, PROMPT, logits, (size_t)V), QUANTA_OK);
    for (int i = 0; i < STEPS; i++)
        ck_assert_msg(quanta_model_eval(ctx, &toks[PROMPT + i], 1, logits + (size_t)(1 + i) * V, (size_t)V) == QUANTA_OK,
                      "step %d: %s", i, quanta_last_error());
    const int recorded = qn_plan_is_recorded(ctx->decode.plan);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    unsetenv("QUANTA_CUDA_GRAPHS");
    return recorded;
}

static void check_model(const tiny_spec *spec, int quantize, uint64_t salt) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    const int V = spec->n_vocab;
    int32_t toks[PROMPT + STEPS];
    qt_rng r = qt_rng_make(salt ^ 0x5eed);
    for (int i = 0; i < PROMPT + STEPS; i++) toks[i] = (int32_t)(qt_next(&r) % (uint64_t)V);
    const size_t n = (size_t)(1 + STEPS) * (size_t)V;
    float *plain = malloc(n * sizeof *plain), *graph = malloc(n * sizeof *graph);
    ck_assert(plain && graph);
    qt_poison_f32(plain, n);
    qt_poison_f32(graph, n);
    ck_assert_msg(!run(&tm, 0, quantize, toks, plain), "QUANTA_CUDA_GRAPHS=0 still recorded the plan");
    ck_assert_msg(run(&tm, 1, quantize, toks, graph), "%s: the decode plan was never replayed as a graph", spec->arch);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(!memcmp(&plain[i], &graph[i], sizeof(float)), "%s q%d: logit %zu (step %zu, token %zu): plain %.9g, graph %.9g",
                      spec->arch, quantize, i, i / (size_t)V, i % (size_t)V, plain[i], graph[i]);
    free(plain);
    free(graph);
    tiny_free(&tm);
}

START_TEST(llama_f32) { check_model(&SPEC_LLAMA, 0, 1101); }
END_TEST

START_TEST(gemma3_q8) { check_model(&SPEC_GEMMA3, 1, 1102); }
END_TEST

int main(void) {
    (void)unused_ref;
    quanta_backend *probe = NULL;
    if (quanta_backend_open("cuda", &probe) != QUANTA_OK) {
        printf("no CUDA device: %s\n", quanta_last_error());
        return 77;
    }
    quanta_backend_close(probe);
    Suite *s = suite_create("cuda_graphs");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, llama_f32);
    tcase_add_test(tc, gemma3_q8);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
