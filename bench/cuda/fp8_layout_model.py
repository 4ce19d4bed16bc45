#!/usr/bin/env python3
"""fp8_layout_model.py — a host model of kernels_cuda/matmul_fp8_wg.cu's index math (mmq8), run offline in a session
without a GPU: the quantizer's xq[slice][Mp][16] layout with the K order qn_f8_kperm, the producer's bulk copies
into a stage (weight tiles of the tiled layout, cuda_kernels.h's qn_cuda_weight_code_offset; the 4 activation
slices), each consumer lane's two 16-byte shared loads and byte permutes, the 8-bit A registers read through
CUTLASS's ALayout_64x32 (row 16w + g + 8 v1, k 4t + v0 + 16 v2), B read through the descriptor as mmq7 verified
it on the H100 for f16 (leading offset between K-adjacent core matrices, stride between 8-row groups), the
accumulator layout and the epilogue's staging. Small integers, so products are exact: y must equal x . W^T.

  python3 bench/cuda/fp8_layout_model.py [seed]     (about a minute; prints one line per tile)

It checks that the pieces agree with each other under those two readings of the hardware; whether the hardware
reads fp8 that way is what bench/cuda/wgmma_check.cu's FP8 case and fp8_check show on the device.
"""
import numpy as np, sys
rng=np.random.default_rng(int(sys.argv[1]) if len(sys.argv)>1 else 1)
def code_offset(Kp,n,k):  # cuda_kernels.h qn_cuda_weight_code_offset, bits == 8
    nt,kt=n//16,k//64; r,kk=n%16,k%64; ks,kin=kk//16,kk%16; g,hi_row=r%8,r//8; t,hi_k=(kin%8)//2,kin//8
    pair=kin%2; lane=g*4+t; e=hi_k*4+hi_row*2+pair
    return (nt*(Kp//64)+kt)*1024 + lane*32 + ks*8+e
def kperm(p): return 2*(p>>2)+(p&1)+8*((p>>1)&1)
def prmt(a,b,sel):
    src=list(a)+list(b); return [src[(sel>>(4*i))&0xF] for i in range(4)]
def run(M,N,K,CW,BN,splits=1):
    Kp=(K+63)//64*64; Np=(N+15)//16*16; Mp=(M+255)//256*256; KT=Kp//64; NT=Np//16; BM=64*CW
    W=rng.integers(-3,4,(N,K)); X=rng.integers(-3,4,(M,K))
    tiled=np.zeros(Np*Kp,dtype=np.int64)
    for n in range(N):
        for k in range(K): tiled[code_offset(Kp,n,k)]=W[n,k]
    xq=np.full((Kp//16)*Mp*16,-777,dtype=np.int64)
    for m in range(Mp):
        for s in range(Kp//16):
            for p in range(16):
                k=s*16+kperm(p)
                xq[(s*Mp+m)*16+p]= X[m,k] if (m<M and k<K) else 0
    assert (xq!=-777).all()
    Y=np.full((M,N),np.nan)
    LBO,SBO=BN*16,128
    gx=(NT+BM//16-1)//(BM//16); gy=(M+BN-1)//BN
    for bx in range(gx):
        for by in range(gy):
            nt0=bx*(BM//16); m0=by*BN
            tiles=min(NT-nt0,BM//16)
            D=np.zeros((CW,64,BN))
            ks=max(1,(KT+splits-1)//splits); nz=max(1,(KT+ks-1)//ks)
            steps=[(z*ks+i) for z in range(nz) for i in range(min(KT-z*ks,ks))]  # kt = kt0 + i per split z
            assert sorted(steps)==list(range(KT))
            for kt in steps:
                A_s=np.full(BM*64,1000,dtype=np.int64)  # stale data where no copy lands
                for lane in range(tiles):
                    src=((nt0+lane)*KT+kt)*1024
                    A_s[lane*1024:(lane+1)*1024]=tiled[src:src+1024]
                B_s=np.zeros(BN*64,dtype=np.int64)
                for j in range(4):
                    src=((kt*4+j)*Mp+m0)*16
                    B_s[j*BN*16:(j+1)*BN*16]=xq[src:src+BN*16]
                for cw in range(CW):
                    for q in range(2):
                        A=np.full((64,32),np.nan)
                        for w4 in range(4):
                            for lane in range(32):
                                g,t=lane>>2,lane&3
                                base=(cw*4+w4)*1024+lane*32+q*16
                                u=[A_s[base+4*i:base+4*i+4] for i in range(4)]
                                regs=[prmt(u[0],u[1],0x5410),prmt(u[0],u[1],0x7632),prmt(u[2],u[3],0x5410),prmt(u[2],u[3],0x7632)]
                                for v2 in range(2):
                                    for v1 in range(2):
                                        for v0 in range(4):
                                            A[16*w4+g+8*v1, 4*t+v0+16*v2]=regs[v1+2*v2][v0]
                        assert not np.isnan(A).any()
                        start=2*q*LBO
                        B=np.zeros((32,BN))
                        for k in range(32):
                            for n in range(BN):
                                B[k,n]=B_s[start+(k//16)*LBO+(n//8)*SBO+(n%8)*16+k%16]
                        D[cw]+=A@B
            # epilogue: thread (w4,g,t) d[j][2h+c] = D[16w4+g+8h][8j+2t+c] -> tile[8j+2t+c][16w4+g+8h] -> y
            for cw in range(CW):
                nb=(nt0+cw*4)*16
                tile=np.full((BN,64),np.nan)
                for w4 in range(4):
                    for lane in range(32):
                        g,t=lane>>2,lane&3
                        for j in range(BN//8):
                            for c in range(2):
                                for h in range(2):
                                    tile[8*j+2*t+c, w4*16+g+8*h]=D[cw,16*w4+g+8*h,8*j+2*t+c]
                for ml in range(BN):
                    for nl in range(64):
                        m,n=m0+ml,nb+nl
                        if m<M and n<N: Y[m,n]=tile[ml,nl]
    ref=X@W.T
    bad=int((~(Y==ref)).sum())
    print(f"M={M} N={N} K={K} CW={CW} BN={BN} splits={splits}: {bad} of {M*N} wrong")
    return bad
bad=0
for (M,N,K,CW,BN,S) in [(77,131,160,1,64,1),(70,40,64,1,128,1),(130,150,128,2,128,1),(260,140,192,2,256,1),
                        (70,40,320,2,128,2)]:
    bad+=run(M,N,K,CW,BN,S)
sys.exit(1 if bad else 0)
