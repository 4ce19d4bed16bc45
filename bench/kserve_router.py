#!/usr/bin/env python3
"""kserve_router.py — a length-bucketed router written with NVIDIA Triton's client (tritonclient[http]),
run against `quanta serve`'s KServe v2 routes: requests are grouped by prompt length in 128-token
buckets and each bucket is sent as one batched infer call (split at the model's max_batch_size), the
buckets at the same time from one thread each, as a router in front of Triton would. Reports per
bucket: requests, prompt lengths, infer calls, latency (p50 / max) and generated tokens per second.

  build/tools/quanta serve -m MODEL --backend opencl --max-batch 16 --ctx 1024 --port 8000 &
  python3 bench/kserve_router.py --url 127.0.0.1:8000 --model MODEL_NAME --requests 32 --max-tokens 32

Prompts are token ids (input_ids, padded to the bucket's longest with input_lengths saying where each
ends), so their lengths, and the buckets, are exact without a tokenizer on the client side; ids are
drawn from [--min-id, --max-id). A benchmark, not a test: numbers depend on the machine and its load.
"""
import argparse
import random
import statistics
import threading
import time

import numpy as np
import tritonclient.http as th

BUCKET = 128


def bucket_requests(prompts):
    """{bucket index: [prompt, ...]} with bucket b holding lengths in [128·b + 1, 128·(b + 1)]."""
    buckets = {}
    for p in prompts:
        buckets.setdefault((len(p) - 1) // BUCKET, []).append(p)
    return dict(sorted(buckets.items()))


def infer_batch(client, model, prompts, max_tokens):
    """One infer call for prompts (lists of ids): (seconds, generated tokens per row)."""
    width = max(map(len, prompts))
    ids = np.zeros((len(prompts), width), dtype=np.int32)
    for b, p in enumerate(prompts):
        ids[b, :len(p)] = p
    lens = np.array([[len(p)] for p in prompts], dtype=np.int32)
    ti = th.InferInput("input_ids", list(ids.shape), "INT32")
    ti.set_data_from_numpy(ids)
    tl = th.InferInput("input_lengths", list(lens.shape), "INT32")
    tl.set_data_from_numpy(lens)
    outs = [th.InferRequestedOutput("output_lengths")]
    t0 = time.perf_counter()
    r = client.infer(model, [ti, tl], outputs=outs, parameters={"max_tokens": max_tokens, "temperature": 0})
    return time.perf_counter() - t0, r.as_numpy("output_lengths")[:, 0].tolist()


def run_bucket(url, model, prompts, max_batch, max_tokens, result):
    with th.InferenceServerClient(url, network_timeout=3600, connection_timeout=60) as client:
        t0 = time.perf_counter()
        lat, gen = [], 0
        for i in range(0, len(prompts), max_batch):
            s, n = infer_batch(client, model, prompts[i:i + max_batch], max_tokens)
            lat.append(s)
            gen += sum(n)
        result.update(latencies=lat, generated=gen, wall=time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="127.0.0.1:8000", help="host:port of quanta serve")
    ap.add_argument("--model", required=True, help="the model's name (quanta serve --name, or the file's name)")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-prompt", type=int, default=0, help="longest prompt (default: context - max-tokens, at most 512)")
    ap.add_argument("--min-id", type=int, default=100)
    ap.add_argument("--max-id", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    with th.InferenceServerClient(a.url) as c:
        if not c.is_model_ready(a.model):
            raise SystemExit(f"model {a.model} is not ready at {a.url}")
        cfg = c.get_model_config(a.model)
    n_ctx = int(cfg["parameters"]["context_length"]["string_value"])
    max_batch = int(cfg["max_batch_size"])
    longest = a.max_prompt or min(512, n_ctx - a.max_tokens - 1)
    if longest < 1:
        raise SystemExit(f"context {n_ctx} leaves no room for prompts with --max-tokens {a.max_tokens}")
    prompts = [[rng.randrange(a.min_id, a.max_id) for _ in range(rng.randint(1, longest))] for _ in range(a.requests)]
    buckets = bucket_requests(prompts)
    print(f"seed {seed}; {a.requests} requests, prompts 1..{longest} tokens, max_tokens {a.max_tokens}, "
          f"max_batch_size {max_batch}, context {n_ctx}; {len(buckets)} buckets of {BUCKET} tokens")
    results = {b: {} for b in buckets}
    threads = [threading.Thread(target=run_bucket, args=(a.url, a.model, ps, max_batch, a.max_tokens, results[b]))
               for b, ps in buckets.items()]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    print(f"{'bucket':>11} {'requests':>8} {'prompt len':>11} {'calls':>5} {'p50 s':>7} {'max s':>7} {'gen tok/s':>9}")
    total = 0
    for b, ps in buckets.items():
        r = results[b]
        if "latencies" not in r:
            raise SystemExit(f"bucket {b} failed (see the error above)")
        lens = [len(p) for p in ps]
        total += r["generated"]
        print(f"{BUCKET * b + 1:>5}-{BUCKET * (b + 1):<5} {len(ps):>8} {min(lens):>5}-{max(lens):<5} "
              f"{len(r['latencies']):>5} {statistics.median(r['latencies']):>7.2f} {max(r['latencies']):>7.2f} "
              f"{r['generated'] / r['wall']:>9.1f}")
    print(f"all buckets: {wall:.2f} s, {total} generated tokens, {total / wall:.1f} tokens/s")


if __name__ == "__main__":
    main()
