#!/usr/bin/env python3
"""attention_wg_layout.py — host model of wgmma's shared-memory operand addressing (PTX ISA "canonical layouts",
no-swizzle and 128-byte swizzle) against the addresses kernels_cuda/attention_wg.cu writes its K, V and Q tiles to,
for the descriptors it builds (start, leading and stride byte offsets per k16 step). The no-swizzle forms passed
on the H100 (2026-12-06 09:42), which anchors the reading of the offsets; the swizzled forms (variants 11-13) are
checked here on paper before their first device run. Prints the number of mismatches (0 expected)."""
def swz(a):  # 128-byte swizzle on byte addresses relative to a 1024-aligned base
    return a ^ (((a >> 7) & 7) << 4)
def sw_off(R, r, c):
    return (c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4)
def il_off(R, r, c):  # the no-swizzle write layout
    return (c * (R // 8) + r // 8) * 128 + (r % 8) * 16
bad = 0
for BN in (64, 128):
    # K (B of S = Q K^T, K-major): element (n = key, k) of k16 step kk
    for kk in range(8):
        for n in range(BN):
            for k in range(16):
                d = 16 * kk + k
                # interleave: start kbase + kk*2*(BN*16), LBO = BN*16 (K-adjacent), SBO = 128 (N-adjacent)
                a = kk * 2 * BN * 16 + (n % 8) * 16 + (n // 8) * 128 + (k % 8) * 2 + (k // 8) * BN * 16
                if a != il_off(BN, n, d // 8) + (d % 8) * 2: bad += 1
                # sw128: start + (kk>>2)*BN*128 + (kk&3)*32, SBO 1024
                a = (kk >> 2) * BN * 128 + (kk & 3) * 32 + (n % 8) * 128 + (n // 8) * 1024 + k * 2
                if swz(a) != sw_off(BN, n, d // 8) + (d % 8) * 2: bad += 1
    # V (B of O += P V, MN-major): element (y = key in step j, x = dim)
    for j in range(BN // 16):
        for y in range(16):
            for x in range(128):
                key = 16 * j + y
                # interleave: start + j*2*128, LBO = 128 (K: next 8 keys), SBO = BN*16 (N: next 8 dims)
                a = j * 256 + (x % 8) * 2 + (x // 8) * BN * 16 + (y % 8) * 16 + (y // 8) * 128
                if a != il_off(BN, key, x // 8) + (x % 8) * 2: bad += 1
                # sw128: start + j*2048, LBO = BN*128 (next 64 dims), SBO = 1024 (next 8 keys)
                a = j * 2048 + (x % 64) * 2 + (x // 64) * BN * 128 + (y % 8) * 128 + (y // 8) * 1024
                if swz(a) != sw_off(BN, key, x // 8) + (x % 8) * 2: bad += 1
# Q (A of S, K-major, SS form): RB rows, warpgroup cw's 64
for RB in (128, 192):
    for cw in range(RB // 64):
        for kk in range(8):
            for m in range(64):
                for k in range(16):
                    row, d = cw * 64 + m, 16 * kk + k
                    a = kk * 2 * RB * 16 + cw * 8 * 128 + (m % 8) * 16 + (m // 8) * 128 + (k % 8) * 2 + (k // 8) * RB * 16
                    if a != il_off(RB, row, d // 8) + (d % 8) * 2: bad += 1
                    a = (kk >> 2) * RB * 128 + (kk & 3) * 32 + cw * 64 * 128 + (m % 8) * 128 + (m // 8) * 1024 + k * 2
                    if swz(a) != sw_off(RB, row, d // 8) + (d % 8) * 2: bad += 1
# the writes: every (row, chunk) to a distinct 16-byte slot inside the tile, quarter warps conflict-free
for R in (64, 128, 192):
    slots = {sw_off(R, r, c) for r in range(R) for c in range(16)}
    assert len(slots) == R * 16 and max(slots) < R * 256
    for i0 in range(0, R * 16, 8):
        banks = {(sw_off(R, i >> 4, i & 15) >> 4) & 7 for i in range(i0, i0 + 8)}
        if len(banks) != 8: bad += 1
# fa15 (forms 40-42): Q by a 4-d TMA box (64 dims x G heads x 128 / G positions, dims 64 h .. at h x 16 KB), written
# densely (dims, then heads, then positions) with the 128-byte swizzle on the address: element (d, g, p) must be the
# folded row r = p x G + g of sw_off; the output's box (64 / G positions) reads consumer cw's 64 rows from
# h x 16 KB + cw x 8 KB; its 4-byte stores (rows w*16 + g8 (+ 8), chunk j, byte 4 t) conflict-free within a warp.
for G in (1, 2, 4, 8, 32, 128):
    for h in range(2):
        for p in range(128 // G):
            for g in range(G):
                for d in range(0, 64, 2):
                    dense = ((p * G + g) * 64 + d) * 2
                    if h * 16384 + swz(dense) != sw_off(128, p * G + g, (64 * h + d) // 8) + (d % 8) * 2: bad += 1
    if 64 % G == 0:
        for cw in range(2):
            for h in range(2):
                for p in range(64 // G):
                    for g in range(G):
                        dense = ((p * G + g) * 64) * 2
                        if h * 16384 + cw * 8192 + swz(dense) != sw_off(128, cw * 64 + p * G + g, 8 * h): bad += 1
for cw in range(2):
    for w in range(4):
        for hh in range(2):
            for j in range(16):
                banks = {((sw_off(128, cw * 64 + w * 16 + g8 + 8 * hh, j) + 4 * t) >> 2) & 31 for g8 in range(8) for t in range(4)}
                if len(banks) != 32: bad += 1
print("mismatches:", bad)
