#!/usr/bin/env python3
"""fp8_wave_model.py — fp815's offline model of kernels_cuda/matmul_fp8_wg.cu's tile schedule (no GPU needed):

  python3 bench/cuda/fp8_wave_model.py            (a few seconds)

1. The stream-K partition of qn_k_fp8_tma (SK 1) and its host launch (qn_f8t_launch), the same integer formulas: for
   random (tiles, K stages, SMs), every (tile, stage) iteration is run by exactly one block, a block writes at most one
   slot (its first segment, a tile's K tail), and each tile's owner (the block holding its K head, in its last segment)
   adds exactly the slots of the blocks that ran the rest of that tile. Asserted; a failure is a bug in the kernel's
   index math as well (keep the two in step).
2. The tile pick (qn_f8t_pick: rounds x cost) and the stream-K pick (qn_f8_sk_pick), the same constants, on the 30
   LLaMA-7B/13B rows of fp8_check time5, beside the H100 times they were set from (fp814's 20:05 call: the default
   with 128x192 picked, and torch._scaled_mm row-wise fast), with the predicted stream-K time in us (~0.72 us per 128x256
   K stage at the tensor rate).
"""
import random

SMS = 132
COST = {1: 1.0, 2: 0.78, 3: 0.55, 4: 0.65, 5: 0.84}  # qn_f8t_pick's costs (5 = 128x192, QN_F8T_COST_192)
BM = {1: 128, 2: 128, 3: 128, 4: 64, 5: 128}
BN = {1: 256, 2: 128, 3: 64, 4: 64, 5: 192}
PER_SM = {1: 1, 2: 1, 3: 1, 4: 2, 5: 1}
US_PER_STAGE = 0.72


def cdiv(a, b):
    return -(-a // b)


def sk_range(total, C, c):  # qn_f8_sk_range
    q, r = divmod(total, C)
    b = c * q + min(c, r)
    return b, b + q + (1 if c < r else 0)


def sk_block(it, total, C):  # qn_f8_sk_block
    q, r = divmod(total, C)
    return it // (q + 1) if it < r * (q + 1) else r + (it - r * (q + 1)) // q


def sk_launch(units, nk, sm):  # qn_f8t_launch with SK: blocks, dp_units
    C = sm
    dpu = units if units % C == 0 else ((units // C - 1) * C if units >= 2 * C else 0)
    if dpu == 0 and (units - dpu) * nk < C:
        C = (units - dpu) * nk
    return C, dpu


def check_partition(units, nk, sm):
    C, dpu = sk_launch(units, nk, sm)
    skoff, sktotal = dpu * nk, (units - dpu) * nk
    ran, tails, owners = {}, {}, {}
    for cid in range(C):
        ndp = cdiv(dpu - cid, C) if dpu > cid else 0
        it0, it1 = sk_range(sktotal, C, cid) if sktotal > 0 else (0, 0)
        it0, it1 = it0 + skoff, it1 + skoff
        nseg = ndp + ((it1 - 1) // nk - it0 // nk + 1 if it1 > it0 else 0)
        for k in range(nseg):  # the kernel's seg_of
            u, kb, ke = cid + k * C, 0, nk
            if k >= ndp:
                u = it0 // nk + (k - ndp)
                if k == ndp:
                    kb = it0 - u * nk
                if it1 - u * nk < nk:
                    ke = it1 - u * nk
            assert 0 <= kb < ke <= nk
            for kt in range(kb, ke):
                assert (u, kt) not in ran
                ran[(u, kt)] = cid
            if kb > 0:  # a tail: the block's first stream-K segment only
                assert k == ndp and cid not in sum(tails.values(), [])
                tails.setdefault(u, []).append(cid)
            elif ke < nk:  # a head: the block's last segment; its peers, as the kernel enumerates them
                assert k == nseg - 1
                c0, c1 = sk_block(u * nk + ke - skoff, sktotal, C), sk_block(u * nk + nk - 1 - skoff, sktotal, C)
                owners[u] = list(range(c0, c1 + 1))
    assert len(ran) == units * nk
    assert owners == tails, (owners, tails)


def t_pick(N, M, sms=SMS):  # qn_f8t_pick, tile 1..5
    best, tb = 1, float("inf")
    for i in range(1, 6):
        tiles = cdiv(N, BM[i]) * cdiv(M, BN[i])
        t = cdiv(tiles, sms * PER_SM[i]) * COST[i]
        if t < tb:
            best, tb = i, t
    return best


def sk_pick(N, M, Kp, sms=SMS):  # qn_f8_sk_pick: (taken, round-robin stages, stream-K stages)
    t = t_pick(N, M, sms)
    nk = cdiv(Kp, 128)
    tiles = cdiv(N, BM[t]) * cdiv(M, BN[t])
    t_dp = cdiv(tiles, sms * PER_SM[t]) * (nk * COST[t] + 3.2 * BN[t] / 256)
    units = cdiv(N, 128) * cdiv(M, 256)
    if units % sms == 0:
        return False, t_dp, t_dp
    ipc = cdiv(units * nk, sms)
    pieces = cdiv(nk, ipc) + 1 if ipc < nk else 2
    t_sk = ipc + 1.6 * ((ipc + nk - 1) // nk + 1) + 2.5 * pieces
    return t_sk < 0.92 * t_dp, t_dp, t_sk


# H100 20:05 (fp814's round 2 in call 0): the default with 128x192 where the pick now takes it (us), _scaled_mm (us)
H100_2005 = {
    (256, 4096, 4096): (14.5, 33.8), (512, 4096, 4096): (19.8, 31.6), (1024, 4096, 4096): (26.7, 35.6),
    (2048, 4096, 4096): (51.2, 52.9), (4096, 4096, 4096): (98.5, 97.9), (256, 11008, 4096): (28.3, 30.0),
    (512, 11008, 4096): (41.6, 39.7), (1024, 11008, 4096): (71.5, 70.2), (2048, 11008, 4096): (143.8, 130.4),
    (4096, 11008, 4096): (261.2, 245.7), (256, 4096, 11008): (33.1, 38.8), (512, 4096, 11008): (45.4, 38.5),
    (1024, 4096, 11008): (62.4, 68.3), (2048, 4096, 11008): (122.2, 131.8), (4096, 4096, 11008): (242.6, 264.8),
    (256, 5120, 5120): (23.3, 28.4), (512, 5120, 5120): (25.2, 38.3), (1024, 5120, 5120): (48.1, 55.4),
    (2048, 5120, 5120): (87.7, 82.1), (4096, 5120, 5120): (149.2, 150.1), (256, 13824, 5120): (36.2, 38.0),
    (512, 13824, 5120): (60.6, 65.7), (1024, 13824, 5120): (116.8, 108.4), (2048, 13824, 5120): (203.2, 205.1),
    (4096, 13824, 5120): (406.1, 415.4), (256, 5120, 13824): (55.5, 53.1), (512, 5120, 13824): (59.2, 94.3),
    (1024, 5120, 13824): (115.9, 132.5), (2048, 5120, 13824): (217.6, 204.5), (4096, 5120, 13824): (376.5, 393.5),
}


def main():
    rng = random.Random(1)
    for _ in range(3000):
        check_partition(rng.randint(1, 400), rng.randint(1, 120), rng.choice([1, 2, 3, 5, 7, 132, 133]))
    print("stream-K partition: 3000 random (tiles, K stages, SMs) cases consistent")
    print(f"{'M':>5} {'N':>6} {'K':>6} | tile | dflt us | sm us | dflt ratio | SK? | SK predicted us | ratio predicted")
    for (M, N, K), (d, s) in H100_2005.items():
        taken, t_dp, t_sk = sk_pick(N, M, K)
        # scale the model's stage units by the measured default: predicted = measured x t_sk / t_dp
        p = d * t_sk / t_dp if taken else d
        print(f"{M:>5} {N:>6} {K:>6} | {t_pick(N, M):>4} | {d:>7.1f} | {s:>5.1f} | {s / d:>10.2f} | "
              f"{'yes' if taken else '   '} | {p:>15.1f} | {s / p:>15.2f}")


if __name__ == "__main__":
    main()
