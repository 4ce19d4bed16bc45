/* le_bytes.h — little-endian loads and stores: the interchange layout is little-endian and its
 * f32/f16 sections need not be aligned, so every access to it goes through these. GGUF files
 * are little-endian and unaligned too: their reader, writer and dequantizers use them as well. */
#ifndef QUANTA_BASE_LE_BYTES_H
#define QUANTA_BASE_LE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t qn_load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t qn_load_u64(const uint8_t *p) {
    return (uint64_t)qn_load_u32(p) | ((uint64_t)qn_load_u32(p + 4) << 32);
}
static inline float qn_load_f32(const uint8_t *p) {
    uint32_t u = qn_load_u32(p);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static inline double qn_load_f64(const uint8_t *p) {
    uint64_t u = qn_load_u64(p);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static inline void qn_store_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void qn_store_u64(uint8_t *p, uint64_t v) {
    qn_store_u32(p, (uint32_t)v);
    qn_store_u32(p + 4, (uint32_t)(v >> 32));
}
static inline void qn_store_f32(uint8_t *p, float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    qn_store_u32(p, u);
}
static inline uint16_t qn_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void qn_store_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

#endif
