/* cmd_quantize.c — `quanta quantize`: post-training weight quantization of a GGUF or
 * safetensors checkpoint into a GGUF file holding Quanta's formats (formats/model_files.md).
 * Each tensor is imported to f32 (ggml blocks are dequantized bit-exactly), its format chosen
 * (defaults below, --keep-embeddings, --override), quantized, and its relative RMS error
 * against the imported weights reported; the model's size before and after closes the run.
 * With --calib the model first runs over a text to measure each linear layer's input, and each
 * row's / group's clipping is chosen to minimise the activation-weighted error (model/calib.h). */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "formats.h"
#include "gguf.h"
#include "calib.h"
#include "safetensors.h"

#define MAX_OVERRIDES 32

/* A target format: a Quanta quantized dtype (with group / double quant), a dense float type,
 * or "keep" (copy the source tensor unchanged). */
typedef struct target {
    int keep;
    quanta_dtype dtype;
    int32_t group, dq;
    char spec[24];
} target;

typedef struct options {
    const char *in, *out, *config;
    target quant, embed;
    double clip_pct; /* 0 = min-max */
    const char *calib, *calib_backend;
    long calib_tokens;
    const qn_act_stats *stats; /* --calib: measured before the tensors are converted */
    int tied_head;             /* no separate output head: token_embd is the head too */
    int quiet;
    struct { const char *glob; target t; } ov[MAX_OVERRIDES];
    int n_ov;
} options;

static int parse_target(const char *s, target *t, int allow_dense) {
    memset(t, 0, sizeof *t);
    snprintf(t->spec, sizeof t->spec, "%s", s);
    if (!strcmp(s, "q8")) t->dtype = QUANTA_Q8;
    else if (!strcmp(s, "q4") || !strcmp(s, "q4:g64")) t->dtype = QUANTA_Q4, t->group = 64;
    else if (!strcmp(s, "q4:g32")) t->dtype = QUANTA_Q4, t->group = 32;
    else if (!strcmp(s, "q4:g128")) t->dtype = QUANTA_Q4, t->group = 128;
    else if (!strcmp(s, "nf4")) t->dtype = QUANTA_NF4, t->group = 64;
    else if (!strcmp(s, "nf4:dq")) t->dtype = QUANTA_NF4, t->group = 64, t->dq = 1;
    else if (!strcmp(s, "fp8") || !strcmp(s, "fp8_e4m3")) t->dtype = QUANTA_FP8_E4M3;
    else if (!strcmp(s, "fp8_e5m2")) t->dtype = QUANTA_FP8_E5M2;
    else if (allow_dense && !strcmp(s, "f16")) t->dtype = QUANTA_F16;
    else if (allow_dense && !strcmp(s, "bf16")) t->dtype = QUANTA_BF16;
    else if (allow_dense && !strcmp(s, "f32")) t->dtype = QUANTA_F32;
    else if (allow_dense && !strcmp(s, "keep")) t->keep = 1;
    else return 0;
    return 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta quantize -m IN.gguf|IN.safetensors -o OUT.gguf --quant FORMAT [options]\n\n"
            "  --quant FORMAT          q8 | q4 (= q4:g64) | q4:g32 | q4:g128 | nf4 | nf4:dq | fp8 (= fp8_e4m3) | fp8_e5m2\n"
            "  --keep-embeddings T     token embeddings and output head: f16 (default) | f32 | q8 | quant (= --quant)\n"
            "  --override GLOB=T       format for tensors whose name matches GLOB (fnmatch); T is a FORMAT,\n"
            "                          f16, bf16, f32 or keep (copy unchanged); first match wins; repeatable\n"
            "  --clip minmax|percentile:P\n"
            "                          scale choice: minmax (default) uses each row's max |w|; percentile:P first\n"
            "                          clamps each row of a quantized tensor to +-(P-th percentile of its |w|)\n"
            "  --config FILE           config.json for a safetensors input (default: next to the input)\n"
            "  --calib FILE            calibrate the scales on activations: run the model (unquantized) over the\n"
            "                          first --calib-tokens tokens of the text FILE (BOS first), measure E[x_k^2]\n"
            "                          for every input channel k of every linear layer, and for each unit with its\n"
            "                          own scale (q8/fp8: row; q4: group; nf4: 64-block) clamp it to r times its\n"
            "                          range, r = 1.00, 0.98, ..., 0.60, keeping the r with the least\n"
            "                          sum_k E[x_k^2] (w_k - w'_k)^2 (r = 1 is min-max). Weights with no measured\n"
            "                          input (embedding tables) use E[x_k^2] = 1. Not combined with --clip.\n"
            "  --calib-tokens N        tokens of the calibration text to use (default 512)\n"
            "  --calib-backend SPEC    backend that runs the model for --calib (default best; ref, opencl, cuda)\n"
            "  -q, --quiet             no per-tensor lines\n\n"
            "Defaults: 1-D tensors (norms, biases) become f32; token embeddings / output head f16; other 2-D\n"
            "weights the --quant format (f16 when their row length does not fit the format's group); tensors\n"
            "of 3-4 dims f32. Errors are relative RMS of the dequantized weights against the input's weights;\n"
            "with --calib also the activation-weighted relative error sqrt(sum E[x^2] (w - w')^2 / sum E[x^2] w^2)\n"
            "with min-max scales and with the calibrated ones.\n");
}

/* ------------------------------------------------------------------ input */

typedef struct src_tensor {
    char name[512];
    int32_t ndim;
    int64_t ne[4];           /* ggml order: ne[0] is the row (contiguous) */
    const char *type_name;
    uint32_t gguf_type;      /* type id for a verbatim copy; UINT32_MAX if none */
    const void *data;
    uint64_t bytes;
    const qn_gguf_tensor *gt;
    const qn_st_tensor *st;
} src_tensor;

static quanta_status src_to_f32(const src_tensor *s, float *dst, size_t n) {
    return s->gt ? qn_gguf_tensor_to_f32(s->gt, dst, n) : qn_st_tensor_to_f32(s->st, dst, n);
}

static int is_embedding(const char *name) {
    static const char *names[] = { "token_embd.weight", "output.weight", "lm_head.weight",
                                   "model.embed_tokens.weight", "embed_tokens.weight", "tok_embeddings.weight",
                                   "language_model.model.embed_tokens.weight", "language_model.lm_head.weight" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t a = strlen(name), b = strlen(names[i]);
        if (a >= b && !strcmp(name + a - b, names[i]) && (a == b || name[a - b - 1] == '.')) return 1;
    }
    return 0;
}

static int is_embedding_head(const char *name) {
    size_t a = strlen(name), b = strlen("lm_head.weight");
    return a >= b && !strcmp(name + a - b, "lm_head.weight") && (a == b || name[a - b - 1] == '.');
}

/* ------------------------------------------------------------ calibration */

/* Runs the unquantized model over the first --calib-tokens tokens of the text and collects every
 * linear layer's input statistics. */
static int run_calibration(const options *o, qn_act_stats **out, char *msg, size_t msg_len) {
    FILE *f = fopen(o->calib, "rb");
    if (!f) {
        snprintf(msg, msg_len, "cannot open calibration text '%.500s': %s", o->calib, strerror(errno));
        return 0;
    }
    /* Tokens cover at least a byte, almost always far fewer than 32: read only what can matter. */
    size_t cap = (size_t)o->calib_tokens * 32 + 4096;
    char *text = malloc(cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text) {
        snprintf(msg, msg_len, "no memory for the calibration text");
        return 0;
    }
    if (bad || n == 0) {
        snprintf(msg, msg_len, bad ? "cannot read calibration text '%.500s'" : "calibration text '%.500s' is empty",
                 o->calib);
        free(text);
        return 0;
    }
    if (n == cap) /* cut at a space so no UTF-8 sequence is split */
        while (n > cap / 2 && text[n - 1] != ' ' && text[n - 1] != '\n') n--;
    text[n] = '\0';
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    int32_t *ids = NULL;
    size_t nt = 0;
    int ok = 0;
    quanta_model_params mp;
    quanta_model_default_params(&mp); /* the file's own precision: the reference the errors measure against */
    if (quanta_backend_open(o->calib_backend, &be) != QUANTA_OK) {
        snprintf(msg, msg_len, "--calib-backend %s: %s", o->calib_backend, quanta_last_error());
        goto out;
    }
    if (quanta_model_load(o->in, be, &mp, &m) != QUANTA_OK) {
        snprintf(msg, msg_len, "--calib runs the model, which the runtime cannot load: %s", quanta_last_error());
        goto out;
    }
    if (quanta_model_tokenize(m, text, n, 1, 0, NULL, 0, &nt) != QUANTA_OK || !(ids = malloc((nt ? nt : 1) * sizeof *ids)) ||
        quanta_model_tokenize(m, text, n, 1, 0, ids, nt, &nt) != QUANTA_OK) {
        snprintf(msg, msg_len, "tokenizing '%.500s': %s", o->calib, ids ? quanta_last_error() : "no memory");
        goto out;
    }
    quanta_model_info info;
    quanta_model_get_info(m, &info);
    size_t content = 0;
    for (size_t i = 0; i < nt; i++) content += ids[i] != info.bos;
    if (!content) {
        snprintf(msg, msg_len, "calibration text '%.500s' gives no tokens", o->calib);
        goto out;
    }
    if (nt > (size_t)o->calib_tokens) nt = (size_t)o->calib_tokens;
    quanta_device_info dev;
    if (quanta_backend_device(be, &dev) != QUANTA_OK) snprintf(dev.backend, sizeof dev.backend, "%s", o->calib_backend);
    printf("calibration: %zu tokens of %s on the %s backend\n", nt, o->calib, dev.backend);
    fflush(stdout);
    if (qn_model_collect_act_stats(m, ids, nt, 0, out) != QUANTA_OK) {
        snprintf(msg, msg_len, "calibration run: %s", quanta_last_error());
        goto out;
    }
    ok = 1;
out:
    free(ids);
    free(text);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return ok;
}

/* ---------------------------------------------------------------- choices */

static target choose(const options *o, const src_tensor *s, const char **why) {
    target t;
    for (int i = 0; i < o->n_ov; i++)
        if (!fnmatch(o->ov[i].glob, s->name, 0)) {
            *why = "override";
            return o->ov[i].t;
        }
    memset(&t, 0, sizeof t);
    if (s->ndim == 1) {
        *why = "1-D";
        t.dtype = QUANTA_F32;
        strcpy(t.spec, "f32");
    } else if (s->ndim > 2) {
        *why = ">2-D";
        t.dtype = QUANTA_F32;
        strcpy(t.spec, "f32");
    } else if (is_embedding(s->name)) {
        *why = "embedding";
        t = o->embed;
    } else {
        *why = "";
        t = o->quant;
    }
    return t;
}

/* The row constraint of a quantized format: cols must be a multiple of the group/block. */
static int fits(const target *t, int64_t cols) {
    if (t->dtype == QUANTA_Q4) return cols % t->group == 0;
    if (t->dtype == QUANTA_NF4) return cols % QN_NF4_BLOCK == 0;
    return 1;
}

/* ---------------------------------------------------------------- clipping */

/* The k-th smallest of a[0..n) (0-based), reordering a: Hoare's selection. */
static float select_kth(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k]; /* between j and i: equal to the pivot */
    }
    return a[k];
}

/* Clamps each row to +-t, t = the P-th percentile (nearest rank) of the row's |w|. */
static int clip_rows(float *w, int64_t rows, int64_t cols, double pct) {
    float *tmp = malloc((size_t)cols * sizeof *tmp);
    if (!tmp) return 0;
    for (int64_t r = 0; r < rows; r++) {
        float *row = w + r * cols;
        for (int64_t j = 0; j < cols; j++) tmp[j] = fabsf(row[j]);
        int64_t rank = (int64_t)ceil(pct / 100.0 * (double)cols);
        if (rank < 1) rank = 1;
        if (rank > cols) rank = cols;
        float t = select_kth(tmp, cols, rank - 1);
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] > t ? t : row[j] < -t ? -t : row[j];
    }
    free(tmp);
    return 1;
}

/* ----------------------------------------------------------------- report */

static void human(double b, char *buf, size_t n) {
    if (b >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0) snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else snprintf(buf, n, "%.0f B", b);
}

static double rel_rms(const float *ref, const float *got, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

/* --------------------------------------------------------------- metadata */

static int set_st_metadata(qn_gguf_writer *w, const options *o, qn_safetensors *st, char *msg, size_t msg_len) {
    for (uint64_t i = 0; i < qn_st_metadata_count(st); i++) {
        const char *k, *v;
        char key[256];
        qn_st_metadata_at(st, i, &k, &v);
        snprintf(key, sizeof key, "safetensors.%s", k);
        if (qn_gguf_writer_set_str(w, key, v) != QUANTA_OK) goto fail;
    }
    char cfg_path[4096];
    if (o->config) snprintf(cfg_path, sizeof cfg_path, "%s", o->config);
    else {
        const char *slash = strrchr(o->in, '/');
        int dl = slash ? (int)(slash - o->in) : 1;
        snprintf(cfg_path, sizeof cfg_path, "%.*s/config.json", dl, slash ? o->in : ".");
    }
    FILE *f = fopen(cfg_path, "rb");
    if (!f) {
        if (o->config) {
            snprintf(msg, msg_len, "cannot open config '%.500s': %s", cfg_path, strerror(errno));
            return 0;
        }
        fprintf(stderr, "quanta quantize: note: no %s; the output has tensors but no model configuration\n", cfg_path);
        return 1;
    }
    char *text = malloc(16u << 20);
    size_t n = text ? fread(text, 1, (16u << 20) - 1, f) : 0;
    fclose(f);
    if (!text) goto fail;
    text[n] = '\0';
    qn_hf_config c;
    if (qn_hf_config_parse(text, n, &c) != QUANTA_OK) {
        snprintf(msg, msg_len, "%.400s: %.500s", cfg_path, quanta_last_error());
        free(text);
        return 0;
    }
    /* GGUF's LLaMA-family keys under the architecture name (model_type without "_text") */
    char arch[64], key[128];
    snprintf(arch, sizeof arch, "%s", c.model_type[0] ? c.model_type : "llama");
    char *suffix = strstr(arch, "_text");
    if (suffix && !suffix[5]) *suffix = '\0';
    quanta_status s = qn_gguf_writer_set_str(w, "general.architecture", arch);
    s = s ? s : qn_gguf_writer_set_str(w, "quanta.hf_config_json", text);
    free(text);
#define KEY_U32(name, v)                                          \
    if (!s && (v) >= 0) {                                         \
        snprintf(key, sizeof key, "%s." name, arch);              \
        s = qn_gguf_writer_set_u32(w, key, (uint32_t)(v));        \
    }
#define KEY_F32(name, v)                                          \
    if (!s && !isnan(v)) {                                        \
        snprintf(key, sizeof key, "%s." name, arch);              \
        s = qn_gguf_writer_set_f32(w, key, (float)(v));           \
    }
    KEY_U32("block_count", c.num_hidden_layers);
    KEY_U32("embedding_length", c.hidden_size);
    KEY_U32("feed_forward_length", c.intermediate_size);
    KEY_U32("attention.head_count", c.num_attention_heads);
    KEY_U32("attention.head_count_kv", c.num_key_value_heads);
    KEY_U32("attention.key_length", c.head_dim);
    KEY_U32("attention.value_length", c.head_dim);
    KEY_U32("context_length", c.max_position_embeddings);
    KEY_U32("vocab_size", c.vocab_size);
    KEY_U32("attention.sliding_window", c.sliding_window);
    KEY_F32("rope.freq_base", c.rope_theta);
    KEY_F32("attention.layer_norm_rms_epsilon", c.rms_norm_eps);
#undef KEY_U32
#undef KEY_F32
    if (s) goto fail;
    return 1;
fail:
    snprintf(msg, msg_len, "%s", quanta_last_error());
    return 0;
}

/* -------------------------------------------------------------------- run */

typedef struct totals {
    double in_bytes, out_bytes, err_num, err_den;
    int n_quant, n_dense, n_kept, n_fallback;
    double werr_minmax, werr_calib; /* --calib: sums of the relative weighted errors (squared) */
    int n_calib, n_better;
} totals;

/* --calib: quantizes with the activation-weighted clipping search; *w0 and *w1 get the relative
 * weighted errors with min-max scales and with the chosen ones. */
static int calibrated(const options *o, const src_tensor *s, const quanta_tensor_desc *d, const float *ref, void *q,
                      size_t nb, double *w0, double *w1, const char **note, totals *tot, char *msg, size_t msg_len) {
    const qn_act_site *site = qn_act_stats_find(o->stats, s->name, o->tied_head);
    double *ex2 = NULL;
    if (site && site->cols != d->dims[1]) {
        snprintf(msg, msg_len, "%s: %lld columns, but its measured input has %lld", s->name, (long long)d->dims[1],
                 (long long)site->cols);
        return 0;
    }
    if (site) {
        if (!(ex2 = malloc((size_t)site->cols * sizeof *ex2))) {
            snprintf(msg, msg_len, "%s: no memory", s->name);
            return 0;
        }
        for (int64_t k = 0; k < site->cols; k++) ex2[k] = site->sum_sq[k] / (double)site->rows;
    } else {
        *note = " (no activations: unweighted)";
    }
    qn_clip_result r;
    quanta_status st = qn_quantize_weighted_clip(d, ref, ex2, q, nb, &r);
    free(ex2);
    if (st != QUANTA_OK) {
        snprintf(msg, msg_len, "%s: %s", s->name, quanta_last_error());
        return 0;
    }
    *w0 = r.wnorm > 0 ? sqrt(r.werr_minmax / r.wnorm) : 0;
    *w1 = r.wnorm > 0 ? sqrt(r.werr / r.wnorm) : 0;
    tot->werr_minmax += *w0 * *w0;
    tot->werr_calib += *w1 * *w1;
    tot->n_calib++;
    tot->n_better += r.werr < r.werr_minmax;
    return 1;
}

static int do_tensor_as(const options *o, qn_gguf_writer *w, const src_tensor *s, const target *t, const char *why,
                        totals *tot, char *msg, size_t msg_len) {
    uint64_t elems = 1;
    for (int i = 0; i < s->ndim; i++) elems *= (uint64_t)s->ne[i];
    static const target keep_it = { .keep = 1 };
    const char *to = t->keep ? s->type_name : t->spec;
    double err = 0, werr0 = -1, werr1 = -1;
    const char *calib_note = "";
    uint64_t out_bytes = s->bytes;
    int ok = 0;
    float *ref = NULL, *work = NULL, *back = NULL;
    void *q = NULL;
    uint32_t type = UINT32_MAX;
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    if (!t->keep && (t->dtype == QUANTA_F32 || t->dtype == QUANTA_F16 || t->dtype == QUANTA_BF16)) {
        d.dtype = t->dtype;
        d.ndim = 1;
        d.dims[0] = (int64_t)elems;
        qn_gguf_type_for_desc(&d, &type);
        if (type == s->gguf_type) t = &keep_it; /* already in that form: copy verbatim */
    }
    if (t->keep) {
        if (s->gguf_type == UINT32_MAX) {
            snprintf(msg, msg_len, "%s: source type %s cannot be copied into GGUF (choose a format)", s->name,
                     s->type_name);
            return 0;
        }
        if (qn_gguf_writer_add_tensor_ref(w, s->name, s->ndim, s->ne, s->gguf_type, s->data, s->bytes) != QUANTA_OK)
            goto fail;
        tot->n_kept++;
        ok = 1;
        goto report;
    }
    if (elems > SIZE_MAX / sizeof(float)) {
        snprintf(msg, msg_len, "%s: too large", s->name);
        return 0;
    }
    ref = malloc((size_t)elems * sizeof *ref);
    back = malloc((size_t)elems * sizeof *back);
    if (!ref || !back) {
        snprintf(msg, msg_len, "%s: no memory for %llu elements", s->name, (unsigned long long)elems);
        goto out;
    }
    if (src_to_f32(s, ref, (size_t)elems) != QUANTA_OK) goto fail;
    for (uint64_t i = 0; i < elems; i++)
        if (!isfinite(ref[i])) {
            snprintf(msg, msg_len, "%s: element %llu is not finite", s->name, (unsigned long long)i);
            goto out;
        }
    if (qn_dtype_is_quantized(t->dtype)) {
        d.dtype = t->dtype;
        d.ndim = 2;
        d.dims[0] = s->ne[1];
        d.dims[1] = s->ne[0];
        d.group = t->group;
        d.double_quant = t->dq;
        const float *src = ref;
        if (o->clip_pct > 0) {
            work = malloc((size_t)elems * sizeof *work);
            if (!work) {
                snprintf(msg, msg_len, "%s: no memory", s->name);
                goto out;
            }
            memcpy(work, ref, (size_t)elems * sizeof *work);
            if (!clip_rows(work, d.dims[0], d.dims[1], o->clip_pct)) {
                snprintf(msg, msg_len, "%s: no memory", s->name);
                goto out;
            }
            src = work;
        }
        size_t nb;
        if (quanta_tensor_bytes(&d, &nb) != QUANTA_OK || qn_gguf_type_for_desc(&d, &type) != QUANTA_OK) goto fail;
        q = malloc(nb);
        if (!q) {
            snprintf(msg, msg_len, "%s: no memory", s->name);
            goto out;
        }
        if (o->stats) {
            if (!calibrated(o, s, &d, ref, q, nb, &werr0, &werr1, &calib_note, tot, msg, msg_len)) goto out;
        } else if (quanta_quantize(&d, src, q, nb) != QUANTA_OK) {
            goto fail;
        }
        if (quanta_dequantize(&d, q, nb, back, (size_t)elems) != QUANTA_OK) goto fail;
        out_bytes = nb;
        tot->n_quant++;
    } else {
        d.dtype = t->dtype;
        d.ndim = 1;
        d.dims[0] = (int64_t)elems;
        qn_gguf_type_for_desc(&d, &type);
        size_t es = qn_dtype_elem_size(t->dtype);
        out_bytes = elems * es;
        q = malloc((size_t)out_bytes);
        if (!q) {
            snprintf(msg, msg_len, "%s: no memory", s->name);
            goto out;
        }
        qn_from_f32(t->dtype, ref, q, (size_t)elems);
        qn_to_f32(t->dtype, q, back, (size_t)elems);
        tot->n_dense++;
    }
    err = rel_rms(ref, back, (size_t)elems);
    for (uint64_t i = 0; i < elems; i++) {
        double dd = (double)back[i] - ref[i];
        tot->err_num += dd * dd;
        tot->err_den += (double)ref[i] * ref[i];
    }
    if (qn_gguf_writer_add_tensor(w, s->name, s->ndim, s->ne, type, q, out_bytes) != QUANTA_OK) goto fail;
    ok = 1;
report:
    tot->in_bytes += (double)s->bytes;
    tot->out_bytes += (double)out_bytes;
    if (!o->quiet) {
        char shape[64], a[32], b[32];
        int p = snprintf(shape, sizeof shape, "[");
        for (int i = s->ndim - 1; i >= 0; i--)
            p += snprintf(shape + p, sizeof shape - (size_t)p, "%lld%s", (long long)s->ne[i], i ? ", " : "]");
        human((double)s->bytes, a, sizeof a);
        human((double)out_bytes, b, sizeof b);
        char wbuf[96] = "";
        if (werr0 >= 0) snprintf(wbuf, sizeof wbuf, " werr %.3e -> %.3e%s", werr0, werr1, calib_note);
        printf("  %-44s %-16s %-8s -> %-9s %10s -> %-10s err %.3e%s%s%s%s\n", s->name, shape, s->type_name, to, a, b, err,
               wbuf, why[0] ? " (" : "", why, why[0] ? ")" : "");
    }
    goto out;
fail:
    snprintf(msg, msg_len, "%s: %s", s->name, quanta_last_error());
out:
    free(ref);
    free(back);
    free(work);
    free(q);
    return ok;
}

/* Applies the defaults, falling back to f16 where a format cannot take the row length. */
static int do_tensor(const options *o, qn_gguf_writer *w, const src_tensor *s, totals *tot, char *msg, size_t msg_len) {
    const char *why;
    target t = choose(o, s, &why);
    if (!t.keep && qn_dtype_is_quantized(t.dtype) && (s->ndim != 2 || !fits(&t, s->ne[0]))) {
        fprintf(stderr, "quanta quantize: %s: %s needs 2-D rows that are a multiple of its group (%lld cols); storing f16\n",
                s->name, t.spec, (long long)s->ne[0]);
        parse_target("f16", &t, 1);
        why = "fallback";
        tot->n_fallback++;
    }
    return do_tensor_as(o, w, s, &t, why, tot, msg, msg_len);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static double file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size : 0;
}

int qn_cmd_quantize(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    parse_target("f16", &o.embed, 1);
    int have_quant = 0, embed_is_quant = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "quanta quantize: option %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o.in = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o.out = v;
        else if (!strcmp(a, "--config")) o.config = v;
        else if (!strcmp(a, "--quant")) {
            if (!parse_target(v, &o.quant, 0)) {
                fprintf(stderr, "quanta quantize: unknown --quant '%s' (q8, q4, q4:g32, q4:g128, nf4, nf4:dq, fp8, fp8_e5m2)\n", v);
                return 2;
            }
            have_quant = 1;
        } else if (!strcmp(a, "--keep-embeddings")) {
            if (!strcmp(v, "quant")) embed_is_quant = 1;
            else if (strcmp(v, "f16") && strcmp(v, "f32") && strcmp(v, "q8")) {
                fprintf(stderr, "quanta quantize: --keep-embeddings takes f16, f32, q8 or quant, not '%s'\n", v);
                return 2;
            } else
                parse_target(v, &o.embed, 1);
        } else if (!strcmp(a, "--override")) {
            const char *eq = strrchr(v, '=');
            if (!eq || eq == v || o.n_ov == MAX_OVERRIDES || !parse_target(eq + 1, &o.ov[o.n_ov].t, 1)) {
                fprintf(stderr, "quanta quantize: bad --override '%s' (GLOB=FORMAT, at most %d)\n", v, MAX_OVERRIDES);
                return 2;
            }
            char *g = malloc((size_t)(eq - v) + 1);
            if (!g) return 1;
            memcpy(g, v, (size_t)(eq - v));
            g[eq - v] = '\0';
            o.ov[o.n_ov++].glob = g;
        } else if (!strcmp(a, "--clip")) {
            char *end;
            if (!strcmp(v, "minmax")) o.clip_pct = 0;
            else if (!strncmp(v, "percentile:", 11) && (o.clip_pct = strtod(v + 11, &end), *end == '\0') &&
                     o.clip_pct > 0 && o.clip_pct <= 100) {
                if (o.clip_pct == 100) o.clip_pct = 0; /* the max: min-max */
            } else {
                fprintf(stderr, "quanta quantize: --clip takes minmax or percentile:P with 0 < P <= 100, not '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--calib")) {
            o.calib = v;
        } else if (!strcmp(a, "--calib-tokens")) {
            char *end;
            errno = 0;
            o.calib_tokens = strtol(v, &end, 10);
            if (*end || end == v || errno || o.calib_tokens < 1 || o.calib_tokens > (1L << 20)) {
                fprintf(stderr, "quanta quantize: --calib-tokens takes a count from 1 to %ld, not '%s'\n", 1L << 20, v);
                return 2;
            }
        } else if (!strcmp(a, "--calib-backend")) {
            o.calib_backend = v;
        } else {
            fprintf(stderr, "quanta quantize: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.in || !o.out || !have_quant) {
        fprintf(stderr, "quanta quantize: -m, -o and --quant are required\n\n");
        usage(stderr);
        return 2;
    }
    if (embed_is_quant) o.embed = o.quant;
    if (o.calib && o.clip_pct > 0) {
        fprintf(stderr, "quanta quantize: --calib chooses each row's / group's clipping itself; drop --clip\n");
        return 2;
    }
    if (!o.calib && (o.calib_tokens || o.calib_backend)) {
        fprintf(stderr, "quanta quantize: --calib-tokens and --calib-backend need --calib FILE\n");
        return 2;
    }
    if (!o.calib_tokens) o.calib_tokens = 512;
    if (!o.calib_backend) o.calib_backend = "best";

    qn_gguf *g = NULL;
    qn_safetensors *st = NULL;
    qn_gguf_writer *w = NULL;
    src_tensor *ts = NULL;
    qn_act_stats *stats = NULL;
    uint64_t nt = 0;
    char msg[1024] = "";
    int rc = 1;
    quanta_status s;
    if (ends_with(o.in, ".safetensors")) s = qn_st_open(o.in, &st);
    else s = qn_gguf_open(o.in, &g);
    if (s != QUANTA_OK) {
        fprintf(stderr, "quanta quantize: %s\n", quanta_last_error());
        return 1;
    }
    if (qn_gguf_writer_create(&w) != QUANTA_OK) goto fail;
    nt = g ? qn_gguf_tensor_count(g) : qn_st_tensor_count(st);
    ts = calloc(nt ? (size_t)nt : 1, sizeof *ts);
    if (!ts) {
        snprintf(msg, sizeof msg, "no memory");
        goto done;
    }
    for (uint64_t i = 0; i < nt; i++) {
        src_tensor *t = &ts[i];
        if (g) {
            const qn_gguf_tensor *gt = qn_gguf_tensor_at(g, i);
            snprintf(t->name, sizeof t->name, "%.*s", (int)gt->name.len, gt->name.ptr);
            t->ndim = gt->ndim;
            memcpy(t->ne, gt->dims, sizeof t->ne);
            t->type_name = qn_ggml_type_name(gt->type);
            t->gguf_type = gt->type;
            t->data = gt->data;
            t->bytes = gt->bytes;
            t->gt = gt;
            if (!qn_ggml_type_can_import(gt->type)) {
                snprintf(msg, sizeof msg, "%s: tensor type %s cannot be imported", t->name, t->type_name);
                goto done;
            }
        } else {
            const qn_st_tensor *sv = qn_st_tensor_at(st, i);
            snprintf(t->name, sizeof t->name, "%s", sv->name);
            if (sv->ndim > 4 || qn_st_tensor_elements(sv) == 0) {
                snprintf(msg, sizeof msg, "%s: %d dims / %llu elements cannot be stored in GGUF", sv->name, (int)sv->ndim,
                         (unsigned long long)qn_st_tensor_elements(sv));
                goto done;
            }
            t->ndim = sv->ndim ? sv->ndim : 1;
            for (int d = 0; d < 4; d++) t->ne[d] = 1;
            for (int d = 0; d < sv->ndim; d++) t->ne[d] = sv->dims[sv->ndim - 1 - d];
            t->type_name = qn_st_dtype_name(sv->dtype);
            t->gguf_type = sv->dtype == QN_ST_F32 ? QN_GGML_F32 : sv->dtype == QN_ST_F16 ? QN_GGML_F16
                         : sv->dtype == QN_ST_BF16 ? QN_GGML_BF16 : UINT32_MAX;
            t->data = sv->data;
            t->bytes = sv->bytes;
            t->st = sv;
        }
    }
    /* metadata first: copied (GGUF) or built from config.json (safetensors) */
    if (g) {
        for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) {
            qn_gguf_str k;
            qn_gguf_kv_at(g, i, &k, NULL);
            /* ggml's file-type and quantization-version describe ggml block types, not ours */
            if ((k.len == 17 && !memcmp(k.ptr, "general.file_type", 17)) ||
                (k.len == 28 && !memcmp(k.ptr, "general.quantization_version", 28)))
                continue;
            if (qn_gguf_writer_copy_kv(w, g, i) != QUANTA_OK) goto fail;
        }
    } else if (!set_st_metadata(w, &o, st, msg, sizeof msg)) {
        goto done;
    }
    const char *base = strrchr(o.in, '/');
    char clip[32];
    if (o.clip_pct > 0) snprintf(clip, sizeof clip, "percentile:%g", o.clip_pct);
    else snprintf(clip, sizeof clip, o.calib ? "calib" : "minmax");
    if (qn_gguf_writer_set_u32(w, "quanta.format_version", 1) || qn_gguf_writer_set_str(w, "quanta.quant", o.quant.spec) ||
        qn_gguf_writer_set_str(w, "quanta.clip", clip) ||
        qn_gguf_writer_set_str(w, "quanta.source", base ? base + 1 : o.in))
        goto fail;
    if (o.calib) {
        o.tied_head = 1;
        for (uint64_t i = 0; i < nt; i++)
            if (!strcmp(ts[i].name, "output.weight") || is_embedding_head(ts[i].name)) o.tied_head = 0;
        if (!run_calibration(&o, &stats, msg, sizeof msg)) goto done;
        o.stats = stats;
        const char *cb = strrchr(o.calib, '/');
        if (qn_gguf_writer_set_str(w, "quanta.calib", cb ? cb + 1 : o.calib) ||
            qn_gguf_writer_set_u32(w, "quanta.calib_tokens", (uint32_t)stats->n_tokens))
            goto fail;
    }

    printf("quanta quantize: %s (%s, %llu tensors) -> %s: --quant %s, embeddings %s, clip %s\n", o.in,
           g ? "gguf" : "safetensors", (unsigned long long)nt, o.out, o.quant.spec, o.embed.spec, clip);
    if (!o.quiet)
        printf("  %-44s %-16s %-8s    %-9s %10s    %-10s relative RMS error\n", "tensor", "shape", "from", "to", "bytes in",
               "bytes out");
    totals tot;
    memset(&tot, 0, sizeof tot);
    for (uint64_t i = 0; i < nt; i++)
        if (!do_tensor(&o, w, &ts[i], &tot, msg, sizeof msg)) goto done;
    if (qn_gguf_writer_write(w, o.out) != QUANTA_OK) goto fail;
    char a[32], b[32], fa[32], fb[32];
    human(tot.in_bytes, a, sizeof a);
    human(tot.out_bytes, b, sizeof b);
    human(file_size(o.in), fa, sizeof fa);
    human(file_size(o.out), fb, sizeof fb);
    printf("tensors: %d quantized, %d dense, %d copied unchanged, %d fell back to f16\n", tot.n_quant, tot.n_dense,
           tot.n_kept, tot.n_fallback);
    printf("model error: relative RMS over all converted weights %.3e\n",
           tot.err_den > 0 ? sqrt(tot.err_num / tot.err_den) : 0.0);
    if (tot.n_calib)
        printf("calibration: %d of %d tensors lowered their activation-weighted error; rms over tensors %.3e -> %.3e\n",
               tot.n_better, tot.n_calib, sqrt(tot.werr_minmax / tot.n_calib), sqrt(tot.werr_calib / tot.n_calib));
    printf("size: tensors %s -> %s (x%.3f); file %s -> %s\n", a, b, tot.in_bytes > 0 ? tot.out_bytes / tot.in_bytes : 0.0,
           fa, fb);
    rc = 0;
    goto done;
fail:
    snprintf(msg, sizeof msg, "%s", quanta_last_error());
done:
    if (rc) fprintf(stderr, "quanta quantize: %s\n", msg[0] ? msg : "failed");
    for (int i = 0; i < o.n_ov; i++) free((void *)o.ov[i].glob);
    free(ts);
    qn_act_stats_free(stats);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(g);
    qn_st_close(st);
    return rc;
}
