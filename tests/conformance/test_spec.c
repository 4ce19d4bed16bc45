/* test_spec.c — case specs (defaults, parsing, canonical form, every rejection), the
 * generated sweep's coverage, and case inputs (seeded, sized and shaped as specified). */
#include <math.h>
#include <string.h>

#include "op_entry.h" /* the entries, keyed by the engine op ids */
#include "test_util.h"

static qc_case parse_ok(const char *spec) {
    qc_case c;
    char err[QC_ERR_MAX];
    ck_assert_msg(qc_case_parse(spec, &c, err, sizeof err) == 0, "'%s' rejected: %s", spec, err);
    return c;
}

START_TEST(issue_examples) {
    qc_case a = parse_ok("attention:b=2,hq=8,hkv=2,nq=37,nk=129,d=80,causal=1,window=0,mask=0,dtype=f16");
    ck_assert_int_eq(a.op, QN_OP_ATTENTION);
    ck_assert(a.b == 2 && a.hq == 8 && a.hkv == 2 && a.nq == 37 && a.nk == 129 && a.d == 80);
    ck_assert(a.causal == 1 && a.window == 0 && a.mask == 0 && a.kvlens == 0 && a.scale == 0.0f);
    ck_assert_int_eq(a.dtype, QUANTA_F16);

    qc_case m = parse_ok("matmul:m=3,n=17,k=192,w=q4,g=64,x=f16");
    ck_assert(m.op == QN_OP_MATMUL && m.m == 3 && m.n == 17 && m.k == 192 && m.group == 64 && m.dq == 0);
    ck_assert(m.wtype == QUANTA_Q4 && m.dtype == QUANTA_F16 && m.b == 1 && m.wbuf == 0);

    ck_assert_int_eq(parse_ok("matmul:w=fp8,k=64").wtype, QUANTA_FP8_E4M3);
    ck_assert_int_eq(parse_ok("matmul:w=fp8_e5m2").wtype, QUANTA_FP8_E5M2);
    qc_case n = parse_ok("matmul:w=nf4,dq=1");
    ck_assert(n.wtype == QUANTA_NF4 && n.dq == 1);
    /* whitespace around keys and values is tolerated */
    ck_assert_int_eq(parse_ok(" matmul : m = 5 , x = bf16 ").m, 5);
}
END_TEST

/* The defaults documented in conformance/README.md. */
START_TEST(documented_defaults) {
    qc_case c = parse_ok("matmul");
    ck_assert(c.m == 4 && c.n == 64 && c.k == 128 && c.wtype == QUANTA_F32 && c.dtype == QUANTA_F32 && c.b == 1);
    c = parse_ok("attention:");
    ck_assert(c.b == 1 && c.hq == 4 && c.hkv == 4 && c.nq == 16 && c.nk == 16 && c.d == 64 && !c.causal &&
              !c.mask && !c.window && !c.kvlens && c.dtype == QUANTA_F32);
    c = parse_ok("rms_norm");
    ck_assert(c.ndim == 2 && c.shape[0] == 4 && c.shape[1] == 256 && c.weight == 1 && !c.plus1 && c.eps == 1e-5f);
    c = parse_ok("rope");
    ck_assert(c.ndim == 4 && c.shape[3] == 64 && c.mode == QUANTA_ROPE_NORM && c.rot == 0 && c.offset == 0 &&
              c.theta == 10000.0f && c.fscale == 1.0f);
    c = parse_ok("scale");
    ck_assert(c.scale == 0.5f);
    c = parse_ok("get_rows");
    ck_assert(c.v == 50 && c.d == 64 && c.t == 8 && c.wtype == QUANTA_F32);
    c = parse_ok("permute");
    ck_assert(c.ndim == 4 && c.perm[0] == 0 && c.perm[1] == 2 && c.perm[2] == 1 && c.perm[3] == 3);
    c = parse_ok("convert");
    ck_assert(c.dtype == QUANTA_F32 && c.to == QUANTA_F16);
    c = parse_ok("write_rows");
    ck_assert(c.b == 1 && c.h == 2 && c.nmax == 16 && c.t == 3 && c.d == 64 && c.start == 5);
    const char *rest[] = {"silu", "gelu", "add", "mul", "softmax"};
    for (size_t i = 0; i < 5; i++) ck_assert(parse_ok(rest[i]).shape[1] == 256);
}
END_TEST

/* Each rejection with a word its message must contain. */
START_TEST(invalid_specs) {
    static const struct { const char *spec, *word; } bad[] = {
        {"", "unknown op"},
        {"matmull:m=1", "unknown op"},
        {"matmul:q=1", "unknown key 'q'"},
        {"matmul:m", "key=value"},
        {"matmul:m=", "not an integer"},
        {"matmul:m=abc", "not an integer"},
        {"matmul:m=3x", "not an integer"},
        {"matmul:m=0", "out of range"},
        {"matmul:m=-2", "out of range"},
        {"matmul:m=99999999999999999999", "not an integer"},
        {"matmul:m=1,m=2", "twice"},
        {"matmul:w=i32", "not one of"},
        {"matmul:w=bogus", "not one of"},
        {"matmul:x=q4", "one of f32, f16, bf16"},
        {"matmul:w=q4,g=48", "g = 32, 64 or 128"},
        {"matmul:w=q4,g=64,k=96", "multiple of g"},
        {"matmul:w=q4,g=128,k=192", "multiple of g"},
        {"matmul:w=nf4,g=32", "nf4 needs g = 64"},
        {"matmul:w=nf4,k=96", "multiple of 64"},
        {"matmul:w=q8,g=64", "g applies to q4 and nf4"},
        {"matmul:w=q4,dq=1", "dq=1 applies to nf4"},
        {"matmul:dq=2", "out of range"},
        {"matmul:m=65536,k=65536", "2^28"},
        /* each tensor fits, all of them together do not */
        {"matmul:m=16384,n=16384,k=16384", "in all"},
        {"attention:b=1,hq=1,hkv=1,nq=16384,nk=16384,d=4096", "in all"},
        {"get_rows:v=16777216,d=16,t=16777216", "in all"},
        {"write_rows:b=1,h=1,nmax=16777216,t=16777216,start=0,d=16", "in all"},
        {"add:shape=16384x16384", "in all"},
        {"attention:hq=6,hkv=4", "multiple of hkv"},
        {"attention:hq=2,hkv=4", "multiple of hkv"},
        {"attention:mask=3", "out of range"},
        {"attention:causal=2", "out of range"},
        {"attention:scale=-1", "scale must be >= 0"},
        {"attention:scale=nan", "finite"},
        {"attention:scale=inf", "finite"},
        {"attention:scale=", "finite"},
        {"attention:scale=1e-60", "underflows"},
        {"attention:scale=1e39", "finite"},
        {"attention:dtype=q8", "one of f32, f16, bf16"},
        {"rms_norm:plus1=1,weight=0", "needs weight=1"},
        {"rms_norm:eps=0", "eps must be > 0"},
        {"rms_norm:shape=4x0", "out of range"},
        {"rms_norm:shape=4xx5", "shape like"},
        {"rms_norm:shape=x4", "shape like"},
        {"rms_norm:shape=1x2x3x4x5", "more than 4"},
        {"rope:shape=4x64", "4-D"},
        {"rope:shape=1x1x1x7", "even D"},
        {"rope:rot=3", "even"},
        {"rope:rot=66", "<= D"},
        {"rope:mode=gptj", "norm or neox"},
        {"rope:theta=0", "theta"},
        {"rope:fscale=-1", "fscale"},
        {"permute:perm=0013", "not a permutation"},
        {"permute:perm=021", "3 digits but shape has 4"},
        {"permute:shape=2x3,perm=012", "3 digits but shape has 2"},
        {"permute:perm=0219", "digits 0-3"},
        {"permute:perm=01234", "1 to 4 digits"},
        {"convert:to=q8", "one of f32, f16, bf16"},
        {"get_rows:table=q4,d=100", "multiple of g"},
        {"write_rows:start=14,t=3,nmax=16", "<= nmax"},
        {"write_rows:start=-1", "out of range"},
        {"write_rows:kv=q4", "kv (q4) must be q8, fp8_e4m3 or a float dtype"},
        {"paged_attention:kv=fp8_e5m2", "kv (fp8_e5m2) must be q8, fp8_e4m3 or a float dtype"},
        {"gelu:approx=2", "out of range"},
        {"add:bcast=1,shape=4x4,dtype=i32", "one of f32"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qc_case c;
        char err[QC_ERR_MAX] = "";
        ck_assert_msg(qc_case_parse(bad[i].spec, &c, err, sizeof err) == -1, "'%s' accepted", bad[i].spec);
        ck_assert_msg(strstr(err, bad[i].word), "'%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].word);
    }
    qc_case c;
    char err[QC_ERR_MAX];
    ck_assert_int_eq(qc_case_parse(NULL, &c, err, sizeof err), -1);
}
END_TEST

/* format -> parse -> format is the identity, and the parsed case equals the original. */
static void roundtrip(const qc_case *c) {
    char a[QC_SPEC_MAX], b[QC_SPEC_MAX];
    qc_case_format(c, a, sizeof a);
    qc_case p = parse_ok(a);
    qc_case_format(&p, b, sizeof b);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(p.op, c->op);
    ck_assert_int_eq(p.dtype, c->dtype);
    ck_assert(p.m == c->m && p.n == c->n && p.k == c->k && p.nq == c->nq && p.nk == c->nk && p.d == c->d);
    ck_assert(p.ndim == c->ndim && !memcmp(p.shape, c->shape, sizeof p.shape) && p.scale == c->scale);
    ck_assert(qc_case_seed(&p, 7) == qc_case_seed(c, 7));
}

START_TEST(explicit_roundtrip) {
    const char *specs[] = {"rope:theta=1e10,fscale=0.25", "scale:s=-0.1", "scale:s=3e-38", "rms_norm:eps=1e-6",
                           "attention:scale=0.125", "rope:theta=500000,offset=16777216",
                           /* subnormal: its canonical form ("1e-45") must parse back */
                           "scale:s=0x1p-149", "scale:s=1e-40"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        qc_case c = parse_ok(specs[i]);
        roundtrip(&c);
    }
    ck_assert(parse_ok("rope:theta=1e10").theta == 1e10f);
    ck_assert(parse_ok("scale:s=-0.1").scale == -0.1f);
    ck_assert(parse_ok("scale:s=1e-45").scale == 0x1p-149f);
}
END_TEST

START_TEST(generated_cases_roundtrip) {
    for (int quick = 0; quick < 2; quick++) {
        qc_case_list l = {0};
        ck_assert_int_eq(qc_cases_generate(&l, quick, NULL), 0);
        for (size_t i = 0; i < l.n; i++) roundtrip(&l.v[i]);
        qc_case_list_free(&l);
    }
}
END_TEST

/* The sweep covers what the issue lists. */
START_TEST(sweep_coverage) {
    qc_case_list l = {0};
    ck_assert_int_eq(qc_cases_generate(&l, false, NULL), 0);
    int per_op[QC_OP_MAX] = {0};
    int mm[QUANTA_GGML_Q6_K + 1][3] = {{0}}; /* [weight format variant][x dtype]: dtype codes, q4/nf4 variants */
    bool causal = false, window = false, mask1 = false, mask2 = false, kvlens = false, decode = false, nk1 = false,
         long8k = false, gqa[9] = {false}, dims[300] = {false}, odd_d = false, large_k = false, m1 = false;
    bool rope_mode[2] = {false}, rope_rot = false, rope_off = false, gelu[2] = {false}, bcast = false;
    bool wbuf = false, rows_q = false;
    for (size_t i = 0; i < l.n; i++) {
        const qc_case *c = &l.v[i];
        per_op[c->op]++;
        if (c->op == QN_OP_MATMUL) {
            int v = c->wtype == QUANTA_Q4 ? 20 + c->group / 32 : c->wtype == QUANTA_NF4 ? 10 + c->dq : (int)c->wtype;
            mm[v][c->dtype == QUANTA_F32 ? 0 : c->dtype == QUANTA_F16 ? 1 : 2]++;
            large_k |= c->k >= 4096;
            m1 |= c->m == 1;
            wbuf |= c->wbuf == 1;
        }
        if (c->op == QN_OP_ATTENTION) {
            causal |= c->causal;
            window |= c->window > 0;
            mask1 |= c->mask == 1;
            mask2 |= c->mask == 2;
            kvlens |= c->kvlens;
            decode |= c->nq == 1;
            nk1 |= c->nk == 1;
            long8k |= c->nk == 8192;
            if (c->hq / c->hkv <= 8) gqa[c->hq / c->hkv] = true;
            if (c->d < 300) dims[c->d] = true;
            odd_d |= c->d % 2 == 1;
        }
        if (c->op == QN_OP_ROPE) {
            rope_mode[c->mode] = true;
            rope_rot |= c->rot > 0;
            rope_off |= c->offset > 0;
        }
        if (c->op == QN_OP_GELU) gelu[c->approx] = true;
        if (c->op == QN_OP_ADD) bcast |= c->bcast;
        if (c->op == QN_OP_GET_ROWS) rows_q |= c->wtype == QUANTA_NF4 && c->dq;
    }
    qc_op all[QC_OP_MAX];
    int nall = qc_op_list(all);
    for (int i = 0; i < nall; i++) ck_assert_msg(per_op[all[i]] > 0, "no %s cases", qc_op_name(all[i]));
    /* f32 f16 bf16 q8 fp8 e4m3/e5m2, q4 g32/64/128, nf4 with and without double quant, the ggml blocks,
     * each x dtype */
    const int variants[] = {QUANTA_F32, QUANTA_F16, QUANTA_BF16, QUANTA_Q8, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2,
                            21, 22, 24, 10, 11,
                            QUANTA_GGML_Q4_0, QUANTA_GGML_Q4_1, QUANTA_GGML_Q5_0, QUANTA_GGML_Q5_1,
                            QUANTA_GGML_Q8_0, QUANTA_GGML_Q4_K, QUANTA_GGML_Q5_K, QUANTA_GGML_Q6_K};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        for (int x = 0; x < 3; x++) ck_assert_msg(mm[variants[v]][x] > 0, "matmul variant %d x %d", variants[v], x);
    ck_assert(causal && window && mask1 && mask2 && kvlens && decode && nk1 && long8k && odd_d);
    ck_assert(gqa[1] && gqa[4] && gqa[8]);
    ck_assert(dims[64] && dims[80] && dims[96] && dims[128] && dims[256]);
    ck_assert(large_k && m1 && wbuf && rope_mode[0] && rope_mode[1] && rope_rot && rope_off);
    ck_assert(gelu[0] && gelu[1] && bcast && rows_q);
    size_t full = l.n;
    qc_case_list_free(&l);

    /* quick: every op, far fewer cases */
    ck_assert_int_eq(qc_cases_generate(&l, true, NULL), 0);
    int qops[QC_OP_MAX] = {0};
    for (size_t i = 0; i < l.n; i++) qops[l.v[i].op]++;
    for (int i = 0; i < nall; i++) ck_assert_msg(qops[all[i]] > 0, "quick: no %s", qc_op_name(all[i]));
    ck_assert(l.n * 4 < full);
    qc_case_list_free(&l);
}
END_TEST

START_TEST(filter_selects_ops) {
    bool ops[QC_OP_MAX] = {false};
    ops[QN_OP_SOFTMAX] = ops[QN_OP_GET_ROWS] = true;
    qc_case_list l = {0};
    ck_assert_int_eq(qc_cases_generate(&l, false, ops), 0);
    ck_assert(l.n > 0);
    for (size_t i = 0; i < l.n; i++) ck_assert(l.v[i].op == QN_OP_SOFTMAX || l.v[i].op == QN_OP_GET_ROWS);
    qc_case_list_free(&l);
    qc_op op;
    ck_assert_int_eq(qc_op_parse("write_rows", &op), 0);
    ck_assert_int_eq(op, QN_OP_WRITE_ROWS);
    ck_assert_int_eq(qc_op_parse("writerows", &op), -1);
    /* each entry sits at its own engine op id; all_reduce (several ranks) has none */
    qc_op all[QC_OP_MAX];
    int nall = qc_op_list(all);
    for (int i = 0; i < nall; i++) {
        ck_assert_int_eq(qc_op_def_of(all[i])->op, all[i]);
        ck_assert_int_eq(qc_op_parse(qc_op_name(all[i]), &op), 0);
        ck_assert_int_eq(op, all[i]);
    }
    ck_assert_int_eq(nall, QN_OP_COUNT - 1);
    ck_assert_ptr_null(qc_op_name(QN_OP_ALL_REDUCE));
    ck_assert_int_eq(qc_op_parse("all_reduce", &op), -1);
    ck_assert_ptr_null(qc_op_name(-1));
    ck_assert_ptr_null(qc_op_name(QC_OP_MAX));
}
END_TEST

static size_t desc_elems(const quanta_tensor_desc *d) {
    size_t n = 1;
    for (int i = 0; i < d->ndim; i++) n *= (size_t)d->dims[i];
    return n;
}

/* Inputs: drawn from (seed, spec) only, sized by quanta_tensor_bytes, special inputs valid. */
START_TEST(case_inputs) {
    qt_rng rng = qt_rng_make(11);
    uint64_t seed = qt_next(&rng);
    qc_case a = parse_ok("attention:b=3,hq=4,hkv=2,nq=5,nk=40,d=16,mask=2,kvlens=1,dtype=bf16");
    qc_data d1, d2;
    char err[QC_ERR_MAX];
    ck_assert_msg(qc_data_make(&a, seed, &d1, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(qc_data_make(&a, seed, &d2, err, sizeof err), 0);
    ck_assert_int_eq(d1.count, 5);
    for (int i = 0; i < 5; i++) {
        size_t bytes;
        ck_assert_ptr_nonnull(d1.t[i].data);
        ck_assert_int_eq(quanta_tensor_bytes(&d1.t[i].desc, &bytes), QUANTA_OK);
        ck_assert_uint_eq(bytes, d1.t[i].bytes);
        ck_assert(!memcmp(d1.t[i].data, d2.t[i].data, bytes)); /* reproducible */
    }
    ck_assert(d1.t[3].desc.dtype == QUANTA_U8 && d1.t[3].desc.ndim == 3 && d1.t[3].desc.dims[0] == 3);
    const int32_t *lens = d1.t[4].data;
    for (int b = 0; b < 3; b++) ck_assert(lens[b] >= 1 && lens[b] <= 40);
    ck_assert(d1.out_desc.dtype == QUANTA_BF16 && d1.out_count == 3 * 4 * 5 * 16);
    /* inputs are finite */
    const uint16_t *q = d1.t[0].data;
    for (size_t i = 0; i < d1.out_count; i++) ck_assert(isfinite(quanta_bf16_to_f32(q[i])));
    qc_data_free(&d2);
    /* another seed draws other inputs */
    ck_assert_int_eq(qc_data_make(&a, seed + 1, &d2, err, sizeof err), 0);
    ck_assert(memcmp(d1.t[0].data, d2.t[0].data, d1.t[0].bytes) != 0);
    qc_data_free(&d1);
    qc_data_free(&d2);

    qc_case g = parse_ok("get_rows:v=33,d=128,t=20,table=nf4,dq=1,wbuf=1");
    ck_assert_int_eq(qc_data_make(&g, seed, &d1, err, sizeof err), 0);
    ck_assert(d1.t[0].role == QC_ROLE_BUFFER && d1.t[0].desc.double_quant == 1);
    const int32_t *ids = d1.t[1].data;
    ck_assert(ids[0] == 0 && ids[19] == 32);
    for (int i = 0; i < 20; i++) ck_assert(ids[i] >= 0 && ids[i] < 33);
    ck_assert(d1.out_desc.dtype == QUANTA_F32 && d1.out_count == 20 * 128);
    qc_data_free(&d1);

    qc_case r = parse_ok("rope:shape=1x2x9x32,offset=100");
    ck_assert_int_eq(qc_data_make(&r, seed, &d1, err, sizeof err), 0);
    const int32_t *pos = d1.t[1].data;
    for (int i = 0; i < 9; i++) ck_assert_int_eq(pos[i], 100 + i);
    qc_data_free(&d1);

    qc_case p = parse_ok("permute:shape=2x3x5,perm=201,dtype=f16");
    ck_assert_int_eq(qc_data_make(&p, seed, &d1, err, sizeof err), 0);
    ck_assert(d1.out_desc.dims[0] == 5 && d1.out_desc.dims[1] == 2 && d1.out_desc.dims[2] == 3);
    qc_data_free(&d1);

    qc_case w = parse_ok("write_rows:start=9,t=4,nmax=13");
    ck_assert_int_eq(qc_data_make(&w, seed, &d1, err, sizeof err), 0);
    ck_assert(d1.t[0].role == QC_ROLE_BUFFER && *(int32_t *)d1.t[2].data == 9);
    ck_assert_uint_eq(d1.out_count, desc_elems(&d1.t[0].desc));
    qc_data_free(&d1);

    qc_case m = parse_ok("matmul:b=2,m=3,n=5,k=64,w=q4,g=32,x=f16,wbuf=1");
    ck_assert_int_eq(qc_data_make(&m, seed, &d1, err, sizeof err), 0);
    ck_assert(d1.t[0].desc.ndim == 3 && d1.t[1].desc.group == 32 && d1.t[1].role == QC_ROLE_BUFFER);
    ck_assert(d1.out_desc.ndim == 3 && d1.out_desc.dims[2] == 5 && d1.out_desc.dtype == QUANTA_F16);
    qc_data_free(&d1);

    /* the case seed depends on the spec */
    qc_case m2 = m;
    m2.n = 6;
    ck_assert(qc_case_seed(&m, seed) != qc_case_seed(&m2, seed));
}
END_TEST

START_TEST(keys_listing) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    qc_print_keys(f);
    fclose(f);
    qc_op all[QC_OP_MAX];
    int nall = qc_op_list(all);
    ck_assert_int_ge(nall, 16);
    for (int i = 0; i < nall; i++) ck_assert(strstr(buf, qc_op_name(all[i])));
    ck_assert(strstr(buf, "hkv") && strstr(buf, "default"));
    free(buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("conformance_spec");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, issue_examples);
    tcase_add_test(tc, documented_defaults);
    tcase_add_test(tc, invalid_specs);
    tcase_add_test(tc, explicit_roundtrip);
    tcase_add_test(tc, generated_cases_roundtrip);
    tcase_add_test(tc, sweep_coverage);
    tcase_add_test(tc, filter_selects_ops);
    tcase_add_test(tc, case_inputs);
    tcase_add_test(tc, keys_listing);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
