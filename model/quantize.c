/* quantize.c — quanta_quantize_model: post-training quantization of a GGUF or safetensors
 * checkpoint into a GGUF file of Quanta's formats (include/quanta.h). Per tensor: import to
 * f32, choose the format (quantize_choice.c), optionally clip (percentile, or the
 * activation-weighted search of clip_search.c after a calibration run, calib.c), quantize,
 * dequantize to measure the error, add to the writer; the file is written at the end through a
 * temporary file (formats/safe_write.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib.h"
#include "error.h"
#include "formats.h"
#include "quantize_internal.h"

#define CALIB_TOKENS_DEFAULT 512
#define CALIB_TOKENS_MAX (1 << 20)

void quanta_quantize_default_params(quanta_quantize_params *p) {
    if (p) memset(p, 0, sizeof *p);
}

/* Everything one run holds, released in one place. */
typedef struct qrun {
    const quanta_quantize_params *p;
    qn_qtarget quant, embed, *ov;
    const qn_act_stats *stats; /* calibration: measured before the tensors are converted */
    int tied_head;             /* no separate output head: token_embd is the head too */
    quanta_quantize_summary sum;
    double err_num, err_den, werr_minmax, werr_calib;
} qrun;

static quanta_status src_to_f32(const qn_qsrc *s, float *dst, size_t n) {
    return s->gt ? qn_gguf_tensor_to_f32(s->gt, dst, n) : qn_st_tensor_to_f32(s->st, dst, n);
}

/* ---------------------------------------------------------- percentile clip */

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

static double rel_rms(const float *ref, const float *got, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

/* ------------------------------------------------------------ calibration */

/* Runs the unquantized model over the first calib_tokens tokens of the text and collects every
 * linear layer's input statistics. */
/* The calibration's model load reported under its own stage name. */
typedef struct calib_progress {
    const quanta_quantize_params *p;
} calib_progress;
static void calib_load_progress(void *user, const char *stage, double fraction) {
    (void)stage;
    const calib_progress *cp = user;
    cp->p->progress(cp->p->progress_user, "calibration load", fraction);
}

static quanta_status run_calibration(const quanta_quantize_params *p, int32_t max_tokens, qn_act_stats **out) {
    const char *backend = p->calib_backend ? p->calib_backend : "best";
    FILE *f = fopen(p->calib_text, "rb");
    if (!f)
        return qn_error_set(QUANTA_ERR_IO, "quanta_quantize_model: cannot open calibration text '%.500s': %s",
                            p->calib_text, strerror(errno));
    /* Tokens cover at least a byte, almost always far fewer than 32: read only what can matter. */
    size_t cap = (size_t)max_tokens * 32 + 4096;
    char *text = malloc(cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: no memory for the calibration text");
    if (bad || n == 0) {
        free(text);
        return qn_error_set(bad ? QUANTA_ERR_IO : QUANTA_ERR_INVALID_ARGUMENT,
                            bad ? "quanta_quantize_model: cannot read calibration text '%.500s'"
                                : "quanta_quantize_model: calibration text '%.500s' is empty",
                            p->calib_text);
    }
    if (n == cap) /* cut at a space so no UTF-8 sequence is split */
        while (n > cap / 2 && text[n - 1] != ' ' && text[n - 1] != '\n') n--;
    text[n] = '\0';
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    int32_t *ids = NULL;
    size_t nt = 0;
    quanta_status st;
    quanta_model_params mp;
    quanta_model_default_params(&mp); /* the file's own precision: the reference the errors measure against */
    calib_progress cp = {p};
    if (p->progress) mp.progress = calib_load_progress, mp.progress_user = &cp;
    if ((st = quanta_backend_open(backend, &be))) {
        st = qn_error_set(st, "quanta_quantize_model: calib_backend %s: %s", backend, quanta_last_error());
        goto out;
    }
    if ((st = quanta_model_load(p->input, be, &mp, &m))) {
        st = qn_error_set(st, "quanta_quantize_model: calibration runs the model, which the runtime cannot load: %s",
                          quanta_last_error());
        goto out;
    }
    if ((st = quanta_model_tokenize(m, text, n, 1, 0, NULL, 0, &nt))) goto out;
    if (!(ids = malloc((nt ? nt : 1) * sizeof *ids))) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: no memory for calibration tokens");
        goto out;
    }
    if ((st = quanta_model_tokenize(m, text, n, 1, 0, ids, nt, &nt))) goto out;
    quanta_model_info info;
    quanta_model_get_info(m, &info);
    size_t content = 0;
    for (size_t i = 0; i < nt; i++) content += ids[i] != info.bos;
    if (!content) {
        st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: calibration text '%.500s' gives no tokens",
                          p->calib_text);
        goto out;
    }
    if (nt > (size_t)max_tokens) nt = (size_t)max_tokens;
    quanta_device_info dev;
    if (quanta_backend_device(be, &dev) != QUANTA_OK) snprintf(dev.backend, sizeof dev.backend, "%s", backend);
    qn_quantize_note(p, "calibration: %zu tokens of %s on the %s backend", nt, p->calib_text, dev.backend);
    if ((st = qn_model_collect_act_stats_progress(m, ids, nt, 0, p->progress, p->progress_user, out)))
        st = qn_error_set(st, "quanta_quantize_model: calibration run: %s", quanta_last_error());
out:
    free(ids);
    free(text);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return st;
}

/* Calibrated quantization of one tensor; rep gets the weighted errors with min-max scales and
 * with the chosen ones. */
static quanta_status calibrated(qrun *r, const qn_qsrc *s, const quanta_tensor_desc *d, const float *ref, void *q,
                                size_t nb, quanta_quantize_tensor_report *rep) {
    const qn_act_site *site = qn_act_stats_find(r->stats, s->name, r->tied_head);
    double *ex2 = NULL;
    if (site && site->cols != d->dims[1])
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_quantize_model: %s: %lld columns, but its measured input has %lld",
                            s->name, (long long)d->dims[1], (long long)site->cols);
    if (site) {
        if (!(ex2 = malloc((size_t)site->cols * sizeof *ex2)))
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
        for (int64_t k = 0; k < site->cols; k++) ex2[k] = site->sum_sq[k] / (double)site->rows;
    } else {
        rep->unweighted = 1;
    }
    qn_clip_result res;
    quanta_status st = qn_quantize_weighted_clip(d, ref, ex2, q, nb, &res);
    free(ex2);
    if (st) return qn_error_set(st, "quanta_quantize_model: %s: %s", s->name, quanta_last_error());
    rep->werr_minmax = res.wnorm > 0 ? sqrt(res.werr_minmax / res.wnorm) : 0;
    rep->werr_calib = res.wnorm > 0 ? sqrt(res.werr / res.wnorm) : 0;
    r->werr_minmax += rep->werr_minmax * rep->werr_minmax;
    r->werr_calib += rep->werr_calib * rep->werr_calib;
    r->sum.n_calibrated++;
    r->sum.n_improved += res.werr < res.werr_minmax;
    return QUANTA_OK;
}

/* ------------------------------------------------------------- one tensor */

static quanta_status convert(qrun *r, qn_gguf_writer *w, const qn_qsrc *s, const qn_qtarget *t,
                             quanta_quantize_tensor_report *rep) {
    const quanta_quantize_params *p = r->p;
    uint64_t elems = 1;
    for (int i = 0; i < s->ndim; i++) elems *= (uint64_t)s->ne[i];
    static const qn_qtarget keep_it = { .keep = 1 };
    uint64_t out_bytes = s->bytes;
    float *ref = NULL, *work = NULL, *back = NULL;
    void *q = NULL;
    uint32_t type = UINT32_MAX;
    quanta_status st = QUANTA_OK;
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    if (!t->keep && (t->dtype == QUANTA_F32 || t->dtype == QUANTA_F16 || t->dtype == QUANTA_BF16)) {
        d.dtype = t->dtype;
        d.ndim = 1;
        d.dims[0] = (int64_t)elems;
        qn_gguf_type_for_desc(&d, &type);
        if (type == s->gguf_type) t = &keep_it; /* already in that form: copy verbatim */
    }
    rep->to = t->keep ? s->type_name : t->spec;
    if (t->keep) {
        if (s->gguf_type == UINT32_MAX)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_quantize_model: %s: source type %s cannot be copied into GGUF (choose a format)",
                                s->name, s->type_name);
        if ((st = qn_gguf_writer_add_tensor_ref(w, s->name, s->ndim, s->ne, s->gguf_type, s->data, s->bytes))) goto fail;
        r->sum.n_copied++;
        goto done;
    }
    if (elems > SIZE_MAX / sizeof(float))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_quantize_model: %s: too large", s->name);
    ref = malloc((size_t)elems * sizeof *ref);
    back = malloc((size_t)elems * sizeof *back);
    if (!ref || !back) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory for %llu elements", s->name,
                          (unsigned long long)elems);
        goto out;
    }
    if ((st = src_to_f32(s, ref, (size_t)elems))) goto fail;
    for (uint64_t i = 0; i < elems; i++)
        if (!isfinite(ref[i])) {
            st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_quantize_model: %s: element %llu is not finite", s->name,
                              (unsigned long long)i);
            goto out;
        }
    if (t->ggml) {
        /* ggml blocks along each row (rows are whole blocks: do_tensor checked), row after row. */
        uint64_t nb = elems / (uint64_t)qn_qtarget_ggml_block(t);
        nb *= t->ggml == QN_GGML_Q8_0 ? 34 : t->ggml == QN_GGML_Q4_0 ? 18 : t->ggml == QN_GGML_Q4_K ? 144 : 210;
        const float *src = ref;
        if (p->clip_percentile > 0 && p->clip_percentile < 100) {
            work = malloc((size_t)elems * sizeof *work);
            if (!work || (memcpy(work, ref, (size_t)elems * sizeof *work), !clip_rows(work, s->ne[1], s->ne[0],
                                                                                       p->clip_percentile))) {
                st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
                goto out;
            }
            src = work;
        }
        if (!(q = malloc((size_t)nb))) {
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
            goto out;
        }
        if ((st = qn_ggml_quantize_row(t->ggml, src, q, (int64_t)elems)) ||
            (st = qn_ggml_dequant_row(t->ggml, q, back, (int64_t)elems)))
            goto fail;
        type = t->ggml;
        out_bytes = nb;
        r->sum.n_quantized++;
    } else if (qn_dtype_is_quantized(t->dtype)) {
        d.dtype = t->dtype;
        d.ndim = 2;
        d.dims[0] = s->ne[1];
        d.dims[1] = s->ne[0];
        d.group = t->group;
        d.double_quant = t->dq;
        const float *src = ref;
        if (p->clip_percentile > 0 && p->clip_percentile < 100) {
            work = malloc((size_t)elems * sizeof *work);
            if (!work || (memcpy(work, ref, (size_t)elems * sizeof *work), !clip_rows(work, d.dims[0], d.dims[1],
                                                                                       p->clip_percentile))) {
                st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
                goto out;
            }
            src = work;
        }
        size_t nb;
        if ((st = quanta_tensor_bytes(&d, &nb)) || (st = qn_gguf_type_for_desc(&d, &type))) goto fail;
        if (!(q = malloc(nb))) {
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
            goto out;
        }
        if (r->stats) {
            if ((st = calibrated(r, s, &d, ref, q, nb, rep))) goto out;
        } else if ((st = quanta_quantize(&d, src, q, nb))) {
            goto fail;
        }
        if ((st = quanta_dequantize(&d, q, nb, back, (size_t)elems))) goto fail;
        out_bytes = nb;
        r->sum.n_quantized++;
    } else {
        d.dtype = t->dtype;
        d.ndim = 1;
        d.dims[0] = (int64_t)elems;
        qn_gguf_type_for_desc(&d, &type);
        out_bytes = elems * qn_dtype_elem_size(t->dtype);
        if (!(q = malloc((size_t)out_bytes))) {
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: %s: no memory", s->name);
            goto out;
        }
        qn_from_f32(t->dtype, ref, q, (size_t)elems);
        qn_to_f32(t->dtype, q, back, (size_t)elems);
        r->sum.n_dense++;
    }
    rep->rel_rms = rel_rms(ref, back, (size_t)elems);
    for (uint64_t i = 0; i < elems; i++) {
        double dd = (double)back[i] - ref[i];
        r->err_num += dd * dd;
        r->err_den += (double)ref[i] * ref[i];
    }
    if ((st = qn_gguf_writer_add_tensor(w, s->name, s->ndim, s->ne, type, q, out_bytes))) goto fail;
done:
    rep->bytes_out = out_bytes;
    r->sum.tensor_bytes_in += s->bytes;
    r->sum.tensor_bytes_out += out_bytes;
    if (p->on_tensor) p->on_tensor(rep, p->user);
    goto out;
fail:
    st = qn_error_set(st, "quanta_quantize_model: %s: %s", s->name, quanta_last_error());
out:
    free(ref);
    free(back);
    free(work);
    free(q);
    return st;
}

/* Applies the choice rules, falling back to f16 where a format cannot take the row length. */
static quanta_status do_tensor(qrun *r, qn_gguf_writer *w, const qn_qsrc *s) {
    quanta_quantize_tensor_report rep;
    memset(&rep, 0, sizeof rep);
    rep.name = s->name;
    rep.ndim = s->ndim;
    for (int i = 0; i < s->ndim && i < 4; i++) rep.dims[i] = s->ne[s->ndim - 1 - i];
    rep.from = s->type_name;
    rep.bytes_in = s->bytes;
    rep.werr_minmax = rep.werr_calib = -1;
    qn_qtarget t = qn_qtarget_choose(r->p, r->ov, &r->quant, &r->embed, s, &rep.why);
    /* A K-quant whose 256-block does not divide the rows takes Q8_0 where 32 does, as llama.cpp
     * falls back to a smaller block. */
    if (t.ggml && qn_qtarget_ggml_block(&t) == 256 && s->ndim == 2 && !qn_qtarget_fits(&t, s->ne[0]) &&
        s->ne[0] % 32 == 0) {
        qn_quantize_note(r->p, "%s: %s needs rows that are a multiple of 256 (%lld cols); storing q8_0", s->name,
                         t.spec, (long long)s->ne[0]);
        qn_qtarget_parse("q8_0", &t, 1);
        rep.why = "fallback";
        r->sum.n_fallback++;
    }
    if (!t.keep && qn_dtype_is_quantized(t.dtype) && (s->ndim != 2 || !qn_qtarget_fits(&t, s->ne[0]))) {
        qn_quantize_note(r->p, "%s: %s needs 2-D rows that are a multiple of its group (%lld cols); storing f16", s->name,
                         t.spec, (long long)s->ne[0]);
        qn_qtarget_parse("f16", &t, 1);
        rep.why = "fallback";
        r->sum.n_fallback++;
    }
    return convert(r, w, s, &t, &rep);
}

/* ----------------------------------------------------------------- inputs */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static uint64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The tensor list of either input kind. */
static quanta_status list_sources(qn_gguf *g, qn_safetensors *st, qn_qsrc *ts, uint64_t nt) {
    for (uint64_t i = 0; i < nt; i++) {
        qn_qsrc *t = &ts[i];
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
            if (!qn_ggml_type_can_import(gt->type))
                return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_quantize_model: %s: tensor type %s cannot be imported",
                                    t->name, t->type_name);
        } else {
            const qn_st_tensor *sv = qn_st_tensor_at(st, i);
            snprintf(t->name, sizeof t->name, "%s", sv->name);
            if (sv->ndim > 4 || qn_st_tensor_elements(sv) == 0)
                return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                                    "quanta_quantize_model: %s: %d dims / %llu elements cannot be stored in GGUF", sv->name,
                                    (int)sv->ndim, (unsigned long long)qn_st_tensor_elements(sv));
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
    return QUANTA_OK;
}

/* Checks and parses the params into r (formats, overrides, percentile, calibration). */
static quanta_status check_params(const quanta_quantize_params *p, qrun *r) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: params is NULL");
    if (!p->input || !*p->input) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: input is not set");
    if (!p->output || !*p->output)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: output is not set");
    if (!p->format) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: format is not set");
    if (!qn_qtarget_parse(p->format, &r->quant, 0))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_quantize_model: format '%.40s' (q8, q4, q4:g32, q4:g128, nf4, nf4:dq, fp8, fp8_e5m2, "
                            "q8_0, q4_0, q4_k, q6_k)",
                            p->format);
    const char *e = p->embeddings ? p->embeddings : "f16";
    if (!strcmp(e, "quant")) r->embed = r->quant;
    else if ((strcmp(e, "f16") && strcmp(e, "f32") && strcmp(e, "q8")) || !qn_qtarget_parse(e, &r->embed, 1))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_quantize_model: embeddings '%.40s' (f16, f32, q8 or quant)", e);
    if (p->n_overrides < 0 || (p->n_overrides > 0 && !p->overrides))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: n_overrides %d without overrides",
                            p->n_overrides);
    if (p->n_overrides) {
        r->ov = calloc((size_t)p->n_overrides, sizeof *r->ov);
        if (!r->ov) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: no memory");
    }
    for (int i = 0; i < p->n_overrides; i++)
        if (!p->overrides[i].glob || !*p->overrides[i].glob || !qn_qtarget_parse(p->overrides[i].format, &r->ov[i], 1))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_quantize_model: overrides[%d]: needs a glob and a format (a format, f16, bf16, "
                                "f32 or keep), got '%.40s'",
                                i, p->overrides[i].format ? p->overrides[i].format : "(null)");
    if (!(p->clip_percentile >= 0 && p->clip_percentile <= 100))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: clip_percentile %g outside [0, 100]",
                            p->clip_percentile);
    if (p->calib_text && p->clip_percentile > 0 && p->clip_percentile < 100)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_quantize_model: calibration chooses each row's / group's clipping itself; "
                            "clip_percentile must be 0");
    if (p->calib_text && r->quant.ggml)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_quantize_model: calibration picks Quanta formats' scales; format '%s' is a ggml "
                            "block type with its own (use q8, q4, nf4 or fp8)", p->format);
    if (p->calib_tokens < 0 || p->calib_tokens > CALIB_TOKENS_MAX)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize_model: calib_tokens %d outside [0, %d]",
                            p->calib_tokens, CALIB_TOKENS_MAX);
    return QUANTA_OK;
}

quanta_status quanta_quantize_model(const quanta_quantize_params *p, quanta_quantize_summary *summary) {
    qrun r;
    memset(&r, 0, sizeof r);
    r.p = p;
    if (summary) memset(summary, 0, sizeof *summary);
    if (p && p->temp_path && p->temp_path_cap) p->temp_path[0] = '\0';
    qn_gguf *g = NULL;
    qn_safetensors *st = NULL;
    qn_gguf_writer *w = NULL;
    qn_qsrc *ts = NULL;
    qn_act_stats *stats = NULL;
    uint64_t nt = 0;
    quanta_status s = check_params(p, &r);
    if (s) goto done;
    s = ends_with(p->input, ".safetensors") ? qn_st_open(p->input, &st) : qn_gguf_open(p->input, &g);
    if (s || (s = qn_gguf_writer_create(&w))) goto done;
    nt = g ? qn_gguf_tensor_count(g) : qn_st_tensor_count(st);
    if (!(ts = calloc(nt ? (size_t)nt : 1, sizeof *ts))) {
        s = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: no memory for %llu tensors", (unsigned long long)nt);
        goto done;
    }
    if ((s = list_sources(g, st, ts, nt))) goto done;
    /* metadata first: copied (GGUF) or built from config.json (safetensors) */
    if (g) {
        for (uint64_t i = 0; i < qn_gguf_kv_count(g) && !s; i++) {
            qn_gguf_str k;
            qn_gguf_kv_at(g, i, &k, NULL);
            /* ggml's file-type and quantization-version describe ggml block types, not ours */
            if ((k.len == 17 && !memcmp(k.ptr, "general.file_type", 17)) ||
                (k.len == 28 && !memcmp(k.ptr, "general.quantization_version", 28)))
                continue;
            s = qn_gguf_writer_copy_kv(w, g, i);
        }
    } else {
        s = qn_quantize_st_metadata(w, p, st);
    }
    if (s) goto done;
    const char *base = strrchr(p->input, '/');
    char clip[32];
    if (p->clip_percentile > 0 && p->clip_percentile < 100) snprintf(clip, sizeof clip, "percentile:%g", p->clip_percentile);
    else snprintf(clip, sizeof clip, p->calib_text ? "calib" : "minmax");
    if ((s = qn_gguf_writer_set_u32(w, "quanta.format_version", 1)) ||
        (s = qn_gguf_writer_set_str(w, "quanta.quant", r.quant.spec)) || (s = qn_gguf_writer_set_str(w, "quanta.clip", clip)) ||
        (s = qn_gguf_writer_set_str(w, "quanta.source", base ? base + 1 : p->input)))
        goto done;
    if (p->calib_text) {
        r.tied_head = 1;
        for (uint64_t i = 0; i < nt; i++)
            if (qn_quantize_is_head(ts[i].name)) r.tied_head = 0;
        if ((s = run_calibration(p, p->calib_tokens ? p->calib_tokens : CALIB_TOKENS_DEFAULT, &stats))) goto done;
        r.stats = stats;
        r.sum.calib_tokens = (int32_t)stats->n_tokens;
        const char *cb = strrchr(p->calib_text, '/');
        if ((s = qn_gguf_writer_set_str(w, "quanta.calib", cb ? cb + 1 : p->calib_text)) ||
            (s = qn_gguf_writer_set_u32(w, "quanta.calib_tokens", (uint32_t)stats->n_tokens)))
            goto done;
    }
    r.sum.n_tensors = (int32_t)nt;
    uint64_t all_bytes = 0, done_bytes = 0;
    for (uint64_t i = 0; i < nt; i++) all_bytes += ts[i].bytes;
    for (uint64_t i = 0; i < nt && !s; i++) {
        s = do_tensor(&r, w, &ts[i]);
        done_bytes += ts[i].bytes;
        if (p->progress && all_bytes) p->progress(p->progress_user, "quantize", (double)done_bytes / (double)all_bytes);
    }
    if (s || (s = qn_gguf_writer_write_safe(w, p->output, p->temp_path, p->temp_path_cap))) goto done;
    r.sum.rel_rms = r.err_den > 0 ? sqrt(r.err_num / r.err_den) : 0.0;
    if (r.sum.n_calibrated) {
        r.sum.werr_minmax_rms = sqrt(r.werr_minmax / r.sum.n_calibrated);
        r.sum.werr_calib_rms = sqrt(r.werr_calib / r.sum.n_calibrated);
    }
    r.sum.file_bytes_in = file_size(p->input);
    r.sum.file_bytes_out = file_size(p->output);
    if (summary) *summary = r.sum;
done:
    free(r.ov);
    free(ts);
    qn_act_stats_free(stats);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(g);
    qn_st_close(st);
    return s;
}
