/* le_bytes.h — little-endian loads and stores: the interchange layout is little-endian and its
 * f32/f16 sections need not be aligned, so every access to it goes through these. */
#ifndef QUANTA_FORMATS_LE_BYTES_H
#define QUANTA_FORMATS_LE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t qn_load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline float qn_load_f32(const uint8_t *p) {
    uint32_t u = qn_load_u32(p);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static inline void qn_store_f32(uint8_t *p, float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}
static inline uint16_t qn_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void qn_store_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

#endif
