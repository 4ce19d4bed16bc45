"""test_prefix.py — prefix sharing of the paged KV cache (server/kv_pool.h): requests whose prompts
start with the same tokens share the KV blocks of that head instead of computing them again.

- Greedy output (tokens and their log-probabilities) of requests sharing a system prompt is the same
  with sharing on as with `--prefix-cache off`, alone and all at once, on the f32 pool and an int8
  one (quantized blocks carry their scales in their own rows, so sharing a block shares them).
  Sharing changes only how the positions after the head are cut into steps (the same 64-token
  grid, but a shorter first piece), so "the same" is promised where a backend computes each row
  alone whatever the row count (harness.Server.batch_invariant: ref, OpenCL's CPU kernels on f32
  weights) and asserted there exactly; elsewhere (CUDA, OpenCL's GPU-class kernels, which pick
  kernels by the row count) the tokens may part only at a near tie, the log-probabilities before
  that within NEAR_TIE.
- /metrics: the prompt positions taken from shared blocks are exactly the published whole blocks
  before each request's last prompt token; while N requests run, the blocks they hold are fewer than their block-table entries
  by exactly (N - 1) times the shared blocks, and without sharing the two are equal; when all have
  left, nothing is held (every holder count back to zero) and the published blocks stay cached.
- Under pool pressure cached blocks are evicted (LRU): the evictions counter rises, a later request
  with the evicted head computes it again, and its output is still the same."""
import concurrent.futures as cf
import threading

from harness import NEAR_TIE, Server, parse_args, seed

BLOCK = 16


def run(s, prompt, n):
    code, _, body = s.post("/v1/completions", {"prompt": prompt, "max_tokens": n, "temperature": 0, "logprobs": 0})
    assert code == 200, (code, body)
    c = body["choices"][0]
    return c["logprobs"]["tokens"], c["logprobs"]["token_logprobs"], c["finish_reason"]


def metrics(s):
    code, _, data = s.request("GET", "/metrics")
    assert code == 200
    out = {}
    for line in data.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def same(s, prompt, x, y, what):
    """x, y: (tokens, log-probabilities, finish reason) of greedy runs of one prompt, y the one without
    shared blocks. Equal where s's backend promises it (module docstring), else parting only at a near
    tie of y with the log-probabilities before the parting within NEAR_TIE. Returns the largest
    log-probability difference over the tokens both have."""
    k = next((i for i, (a, b) in enumerate(zip(x[0], y[0])) if a != b), min(len(x[0]), len(y[0])))
    worst = max((abs(a - b) for a, b in zip(x[1][:k], y[1][:k])), default=0.0)
    if s.batch_invariant():
        assert x[0] == y[0] and x[2] == y[2], f"{what}: tokens {x[0]} != {y[0]}"
        assert worst <= 1e-4, f"{what}: log-probabilities differ by {worst}"
    else:
        s.agree_or_near_tie(prompt, y[0], x[0], what, promised=False)
        assert worst <= NEAR_TIE, f"{what}: log-probabilities differ by {worst} before token {k}"
    return worst


def main():
    a = parse_args()
    rng = seed()
    # Prompts as token ids: a shared head of S ids (S a multiple of the block) and a distinct tail.
    S, N = 6 * BLOCK, 8
    head = [rng.randrange(3, 200) for _ in range(S)]
    tails = [[rng.randrange(3, 200) for _ in range(rng.randint(1, 40))] for _ in range(N)]
    prompts = [head + t for t in tails]
    first = head + [rng.randrange(3, 200) for _ in range(5)]
    lens = [rng.randint(20, 60) for _ in range(N)]
    for model in (a.model, a.model2):
        for kv in ("f32", "int8"):
            common = ["--ctx", "512", "--max-batch", "16", "--kv-dtype", kv]
            with Server(model, a.backend, common + ["--prefix-cache", "off"], quant="keep") as s:
                ref_first = run(s, first, 8)
                ref_alone = [run(s, p, n) for p, n in zip(prompts, lens)]
                m = metrics(s)
                assert m["quanta_prefix_cache_hit_tokens_total"] == 0 and m["quanta_kv_blocks_cached"] == 0
            with Server(model, a.backend, common, quant="keep") as s:
                # One request publishes the head; each later one shares its S / BLOCK whole blocks.
                same(s, first, run(s, first, 8), ref_first, "first")
                assert metrics(s)["quanta_prefix_cache_hit_tokens_total"] == 0
                alone = [run(s, p, n) for p, n in zip(prompts, lens)]
                worst = max(same(s, prompts[i], x, y, f"alone {i}") for i, (x, y) in enumerate(zip(alone, ref_alone)))
                m = metrics(s)
                assert m["quanta_prefix_cache_hit_tokens_total"] == N * S, m["quanta_prefix_cache_hit_tokens_total"]
                assert m["quanta_kv_blocks_used"] == 0 and m["quanta_kv_block_refs"] == 0
                assert m["quanta_kv_blocks_cached"] >= S // BLOCK
                # All at once, while /metrics is sampled: held blocks = table entries - (running - 1) * shared.
                snaps, done = [], threading.Event()

                def sample():
                    while not done.is_set():
                        snaps.append(metrics(s))
                t = threading.Thread(target=sample)
                t.start()
                with cf.ThreadPoolExecutor(N) as ex:
                    together = list(ex.map(lambda pn: run(s, *pn), zip(prompts, [n + 100 for n in lens])))
                done.set()
                t.join()
                for i, (x, y) in enumerate(zip(together, alone)):  # the alone run's tokens are a prefix
                    if y[2] != "stop":
                        s.agree_or_near_tie(prompts[i], y[0], x[0][:len(y[0])], f"together {i}")
                busy = [m for m in snaps if m["quanta_requests_running"] >= 2]
                for m in snaps:
                    run_n = m["quanta_requests_running"]
                    saved = m["quanta_kv_block_refs"] - m["quanta_kv_blocks_used"]
                    assert saved == max(run_n - 1, 0) * (S // BLOCK), (run_n, saved, m["quanta_kv_blocks_used"])
                most = max(busy, key=lambda m: m["quanta_requests_running"])
                print(f"{model.rsplit('/', 1)[-1]} kv {kv}: logprob diff <= {worst:.2g}; {len(busy)} of {len(snaps)} "
                      f"snapshots with >= 2 running; at {most['quanta_requests_running']:.0f} running "
                      f"{most['quanta_kv_blocks_used']:.0f} blocks held for {most['quanta_kv_block_refs']:.0f} "
                      f"table entries")
                assert busy, "the requests never ran together"
                m = metrics(s)
                assert m["quanta_kv_blocks_used"] == 0 and m["quanta_kv_block_refs"] == 0, m
                # The second time each prompt also finds its own tail's whole blocks (published alone).
                again = sum((len(p) - 1) // BLOCK * BLOCK for p in prompts)
                assert m["quanta_prefix_cache_hit_tokens_total"] == N * S + again, m
                assert m["quanta_prefix_cache_evictions_total"] == 0
    # Eviction: a pool of 24 blocks; other prompts of 12 blocks each push the head's blocks out.
    with Server(a.model, a.backend, ["--ctx", "256", "--max-batch", "2", "--kv-blocks", "24"], quant="keep") as s:
        base = run(s, first, 8)
        again = run(s, first, 8)
        same(s, first, again, base, "second time")
        m = metrics(s)
        assert m["quanta_prefix_cache_hit_tokens_total"] == S and m["quanta_prefix_cache_evictions_total"] == 0
        for _ in range(4):
            run(s, [rng.randrange(3, 200) for _ in range(180)], 4)
        m = metrics(s)
        assert m["quanta_prefix_cache_evictions_total"] > 0, m["quanta_prefix_cache_evictions_total"]
        hits = m["quanta_prefix_cache_hit_tokens_total"]
        late = run(s, first, 8)
        same(s, first, late, base, "after eviction")
        m = metrics(s)
        print(f"evictions {m['quanta_prefix_cache_evictions_total']:.0f}, hit tokens of the evicted head "
              f"{m['quanta_prefix_cache_hit_tokens_total'] - hits:.0f} of {S}")
        assert m["quanta_prefix_cache_hit_tokens_total"] - hits < S
        assert m["quanta_kv_blocks_used"] == 0 and m["quanta_kv_block_refs"] == 0
    print("OK")


if __name__ == "__main__":
    main()
