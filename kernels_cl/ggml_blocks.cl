/*
 * ggml_blocks.cl — ggml's block formats (q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k) read
 * as GGUF stores them, so a model keeps its file's bits on OpenCL (fewer bytes per token than
 * a q8 repack of its 4-6 bit blocks). Byte layouts: formats/layout.h (QN_DT_GGML_*); every
 * value decodes as formats/gguf_dequant.c does (ggml's dequantize_row_*): the same integer
 * codes, scales and mins, so only the order of float operations differs.
 *
 * Two readers:
 *   qn_ggml_elem  one element (get_rows, the GPU GEMM's tile loads, tails): slow but general.
 *   qn_ggml32     32 consecutive weights (chunk c of a row) as two float16 halves in column
 *                 order, for the GEMV loops and the CPU GEMM (matmul.cl). always_inline with
 *                 the dtype a literal at each call site, so the switch folds away and each
 *                 format's loop is its own straight-line vector code under PoCL.
 * A row is row_bytes = cols / block * block bytes from W; 32-weight formats have one block per
 * chunk, the k-quants 8 chunks per 256-weight block (its sub-blocks of 32 share no scale).
 */

/* k-quant sub-block j (0..7) of 12 packed scale bytes: 6-bit scale and min (ggml's
 * get_scale_min_k4). */
QN_INL void qn_k4_scale_min(const global uchar *q, int j, uint *sc, uint *m) {
    if (j < 4) {
        *sc = q[j] & 63u;
        *m = q[j + 4] & 63u;
    } else {
        *sc = (q[j + 4] & 15u) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

QN_INL float qn_ggml_h(const global uchar *p) { return qn_h2f((uint)p[0] | ((uint)p[1] << 8)); }
QN_INL uint qn_ggml_u32(const global uchar *p) {
    return (uint)p[0] | ((uint)p[1] << 8) | ((uint)p[2] << 16) | ((uint)p[3] << 24);
}

/* Weights 32c .. 32c+31 of a row: columns 0-15 of the chunk in w0, 16-31 in w1. */
QN_INL void qn_ggml32(const global uchar *row, const int dt, const long c, float16 *w0, float16 *w1) {
    const uint16 lane = (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    switch (dt) {
    case QN_DT_GGML_Q4_0: {
        const global uchar *b = row + c * 18;
        const float d = qn_ggml_h(b);
        const uchar16 q = vload16(0, b + 2);
        *w0 = (convert_float16(q & (uchar)15) - 8.0f) * d;
        *w1 = (convert_float16(q >> (uchar)4) - 8.0f) * d;
        break;
    }
    case QN_DT_GGML_Q4_1: {
        const global uchar *b = row + c * 20;
        const float d = qn_ggml_h(b), m = qn_ggml_h(b + 2);
        const uchar16 q = vload16(0, b + 4);
        *w0 = convert_float16(q & (uchar)15) * d + m;
        *w1 = convert_float16(q >> (uchar)4) * d + m;
        break;
    }
    case QN_DT_GGML_Q5_0: case QN_DT_GGML_Q5_1: {
        const int one = dt == QN_DT_GGML_Q5_1;
        const global uchar *b = row + c * (one ? 24 : 22);
        const float d = qn_ggml_h(b), m = one ? qn_ggml_h(b + 2) : -16.0f * d;
        const uint qh = qn_ggml_u32(b + (one ? 4 : 2));
        const uint16 q = convert_uint16(vload16(0, b + (one ? 8 : 6)));
        const uint16 h = (uint16)qh;
        *w0 = convert_float16((q & 15u) | (((h >> lane) & 1u) << 4)) * d + m;
        *w1 = convert_float16((q >> 4) | (((h >> (lane + 16u)) & 1u) << 4)) * d + m;
        break;
    }
    case QN_DT_GGML_Q8_0: {
        const global uchar *b = row + c * 34;
        const float d = qn_ggml_h(b);
        const global char *q = (const global char *)(b + 2);
        *w0 = convert_float16(vload16(0, q)) * d;
        *w1 = convert_float16(vload16(1, q)) * d;
        break;
    }
    case QN_DT_GGML_Q4_K: case QN_DT_GGML_Q5_K: {
        /* sub-block s of its 256-block: 32 bytes of nibbles shared by sub-blocks 2j, 2j+1
         * (low, high nibbles); q5_k adds bit s of each of 32 high-bit bytes */
        const int five = dt == QN_DT_GGML_Q5_K, s = (int)(c & 7);
        const global uchar *b = row + (c >> 3) * (five ? 176 : 144);
        uint sc, mn;
        qn_k4_scale_min(b + 4, s, &sc, &mn);
        const float d = qn_ggml_h(b) * (float)sc, m = qn_ggml_h(b + 2) * (float)mn;
        const global uchar *q = b + (five ? 48 : 16) + (s >> 1) * 32;
        const uint sh = (uint)(s & 1) * 4u;
        uint16 q0 = (convert_uint16(vload16(0, q)) >> sh) & 15u, q1 = (convert_uint16(vload16(1, q)) >> sh) & 15u;
        if (five) {
            q0 |= ((convert_uint16(vload16(0, b + 16)) >> (uint)s) & 1u) << 4;
            q1 |= ((convert_uint16(vload16(1, b + 16)) >> (uint)s) & 1u) << 4;
        }
        *w0 = convert_float16(q0) * d - m;
        *w1 = convert_float16(q1) * d - m;
        break;
    }
    default: { /* QN_DT_GGML_Q6_K: half n of the block, quarter t of that half */
        const int s = (int)(c & 7), n = s >> 2, t = s & 3;
        const global uchar *b = row + (c >> 3) * 210;
        const global uchar *ql = b + 64 * n + (t & 1) * 32, *qh = b + 128 + 32 * n;
        const global char *sc = (const global char *)(b + 192) + 8 * n;
        const float d = qn_ggml_h(b + 208);
        const uint lsh = (uint)(t >> 1) * 4u, hsh = 2u * (uint)t;
        const int16 q0 = convert_int16(((convert_uint16(vload16(0, ql)) >> lsh) & 15u) |
                                       (((convert_uint16(vload16(0, qh)) >> hsh) & 3u) << 4)) - 32;
        const int16 q1 = convert_int16(((convert_uint16(vload16(1, ql)) >> lsh) & 15u) |
                                       (((convert_uint16(vload16(1, qh)) >> hsh) & 3u) << 4)) - 32;
        *w0 = convert_float16(q0) * (d * (float)sc[2 * t]);
        *w1 = convert_float16(q1) * (d * (float)sc[2 * t + 1]);
        break;
    }
    }
}

/* The scale-only formats (q4_0, q5_0, q8_0): chunk c as integer-valued codes (offset taken
 * off) and its block scale returned, so a dot product applies the scale once per chunk
 * instead of once per weight. */
QN_INL float qn_ggml32_codes(const global uchar *row, const int dt, const long c, float16 *q0, float16 *q1) {
    const uint16 lane = (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    if (dt == QN_DT_GGML_Q8_0) {
        const global uchar *b = row + c * 34;
        const global char *q = (const global char *)(b + 2);
        *q0 = convert_float16(vload16(0, q));
        *q1 = convert_float16(vload16(1, q));
        return qn_ggml_h(b);
    }
    if (dt == QN_DT_GGML_Q4_0) {
        const global uchar *b = row + c * 18;
        const int16 q = convert_int16(vload16(0, b + 2));
        *q0 = convert_float16((q & 15) - 8);
        *q1 = convert_float16((q >> 4) - 8);
        return qn_ggml_h(b);
    }
    /* QN_DT_GGML_Q5_0 */
    const global uchar *b = row + c * 22;
    const uint16 h = (uint16)qn_ggml_u32(b + 2), q = convert_uint16(vload16(0, b + 6));
    *q0 = convert_float16(convert_int16((q & 15u) | (((h >> lane) << 4) & 16u)) - 16);
    *q1 = convert_float16(convert_int16((q >> 4) | (((h >> (lane + 16u)) << 4) & 16u)) - 16);
    return qn_ggml_h(b);
}

/* Element c of a row of a ggml format. */
float qn_ggml_elem(const global uchar *row, int dt, long c) {
    float16 w0, w1;
    switch (dt) { /* a literal dtype per call keeps each decode inline and folded */
    case QN_DT_GGML_Q4_0: qn_ggml32(row, QN_DT_GGML_Q4_0, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q4_1: qn_ggml32(row, QN_DT_GGML_Q4_1, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q5_0: qn_ggml32(row, QN_DT_GGML_Q5_0, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q5_1: qn_ggml32(row, QN_DT_GGML_Q5_1, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q8_0: qn_ggml32(row, QN_DT_GGML_Q8_0, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q4_K: qn_ggml32(row, QN_DT_GGML_Q4_K, c >> 5, &w0, &w1); break;
    case QN_DT_GGML_Q5_K: qn_ggml32(row, QN_DT_GGML_Q5_K, c >> 5, &w0, &w1); break;
    default: qn_ggml32(row, QN_DT_GGML_Q6_K, c >> 5, &w0, &w1); break;
    }
    float t[16];
    vstore16((c & 16) ? w1 : w0, 0, t);
    return t[c & 15];
}
