/* half.c — f32 <-> f16 / bf16 conversions, round half to even, done on the bit patterns so the
 * result does not depend on the host's FPU rounding mode or on F16C being present. */
#include "formats.h"

#include <string.h>

static inline uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t qn_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) /* NaN: keep the top payload bits, force the quiet bit */
        return (uint16_t)(sign | 0x7E00u | ((u >> 13) & 0x3FFu));
    if (u >= 0x477FF000u) /* >= 65520 (halfway 65504..65536, ties to even = Inf), or Inf */
        return (uint16_t)(sign | 0x7C00u);
    if (u >= 0x38800000u) { /* >= 2^-14: normal f16. Rebias; a mantissa carry bumps the exponent. */
        uint32_t r = u - ((uint32_t)(127 - 15) << 23);
        uint32_t rem = r & 0x1FFFu;
        r >>= 13;
        if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    /* Subnormal f16 (quantum 2^-24): value = M * 2^(E-23) -> M >> (-E-1). */
    int e = (int)(u >> 23) - 127;
    int s = -e - 1; /* >= 14 here */
    if (s >= 25 || (u >> 23) == 0) return sign; /* below half the smallest subnormal (or f32 denormal) */
    uint32_t m = (u & 0x7FFFFFu) | 0x800000u;
    uint32_t r = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (r & 1u))) r++; /* r == 0x400 is the smallest normal: correct */
    return (uint16_t)(sign | r);
}

float qn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu;
    uint32_t m = h & 0x3FFu;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        return bits_f32(f32_bits(v) | sign);
    }
    if (e == 31) return bits_f32(sign | 0x7F800000u | (m ? 0x400000u : 0u) | (m << 13));
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

uint16_t qn_f32_to_bf16(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    /* Round half to even on the low 16 bits; a carry out of the mantissa correctly yields Inf. */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float qn_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    if ((b & 0x7FFFu) > 0x7F80u) u |= 0x400000u; /* a signalling NaN comes out quiet */
    return bits_f32(u);
}
