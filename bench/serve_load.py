#!/usr/bin/env python3
"""serve_load.py — load generator for `quanta serve`: N concurrent clients, each running streamed
completions back to back, and a report of the whole run: generated tokens/s in total and per stream,
time to first token (p50 / p99), inter-token time and failures. Standard library only.

  build/tools/quanta serve -m MODEL --backend cuda --max-batch 64 --port 8080 &
  python3 bench/serve_load.py --url http://127.0.0.1:8080 --streams 64 --requests 4 --max-tokens 128

Tokens are counted from the usage in each stream's last event (what the server generated, including
an end-of-generation token); time to first token is measured from sending the request to the first
event that carries text. A benchmark, not a test: numbers depend on the machine and its load.
"""
import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse

WORDS = "the of and a to in is was for on that by with as from at his it an were are which this be".split()


def one_request(host, port, body, timeout):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        data = r.read()
        c.close()
        return {"error": f"HTTP {r.status}: {data[:200]!r}"}
    first, last, usage, times, buf = None, None, None, [], b""
    while True:
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if not ev.startswith(b"data: "):
                continue
            payload = ev[6:]
            if payload == b"[DONE]":
                continue
            d = json.loads(payload)
            now = time.perf_counter()
            if "error" in d:
                c.close()
                return {"error": d["error"].get("message", "error event")}
            if d.get("choices") and d["choices"][0].get("text"):
                if first is None:
                    first = now
                times.append(now)
            if d.get("usage"):
                usage = d["usage"]
            last = now
    c.close()
    if usage is None:
        return {"error": "stream ended without usage"}
    return {"ttft": (first or last) - t0, "tokens": usage["completion_tokens"], "t0": t0, "t1": last,
            "gaps": [b - a for a, b in zip(times, times[1:])]}


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--streams", type=int, default=16, help="concurrent clients")
    ap.add_argument("--requests", type=int, default=4, help="requests per client, back to back")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompt-words", type=int, default=64, help="prompt length in words (random words)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the summary here")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port or 80
    rng = random.Random(a.seed)
    results, lock = [], threading.Lock()

    def client(i):
        for k in range(a.requests):
            prompt = " ".join(rng.choice(WORDS) for _ in range(a.prompt_words))
            body = {"prompt": prompt, "max_tokens": a.max_tokens, "temperature": a.temperature, "stream": True,
                    "seed": i * 1000 + k}
            try:
                r = one_request(host, port, body, a.timeout)
            except OSError as e:
                r = {"error": str(e)}
            r["stream"] = i
            with lock:
                results.append(r)

    # Warm-up: one request so that graph plans and kernels exist before timing.
    one_request(host, port, {"prompt": "warm up", "max_tokens": 4, "stream": True}, a.timeout)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [r for r in results if "error" not in r]
    bad = [r for r in results if "error" in r]
    tokens = sum(r["tokens"] for r in ok)
    per_stream = [r["tokens"] / (r["t1"] - r["t0"] - r["ttft"]) for r in ok if r["tokens"] > 1 and r["t1"] > r["t0"] + r["ttft"]]
    ttft = [r["ttft"] for r in ok]
    gaps = [g for r in ok for g in r["gaps"]]
    s = {
        "streams": a.streams, "requests": len(results), "failed": len(bad), "wall_s": wall,
        "tokens": tokens, "tokens_per_s_total": tokens / wall if wall > 0 else 0,
        "tokens_per_s_per_stream_mean": statistics.mean(per_stream) if per_stream else float("nan"),
        "ttft_p50_s": pct(ttft, 50), "ttft_p99_s": pct(ttft, 99),
        "inter_event_p50_s": pct(gaps, 50), "inter_event_p99_s": pct(gaps, 99),
        "max_tokens": a.max_tokens, "prompt_words": a.prompt_words,
    }
    print(f"{a.streams} streams x {a.requests} requests, max_tokens {a.max_tokens}, prompt {a.prompt_words} words")
    print(f"  done {len(ok)}, failed {len(bad)} in {wall:.2f} s; {tokens} tokens generated")
    print(f"  tokens/s total {s['tokens_per_s_total']:.1f}; per stream (decode, mean) {s['tokens_per_s_per_stream_mean']:.1f}")
    print(f"  time to first token p50 {s['ttft_p50_s'] * 1e3:.1f} ms, p99 {s['ttft_p99_s'] * 1e3:.1f} ms")
    print(f"  between text events p50 {s['inter_event_p50_s'] * 1e3:.1f} ms, p99 {s['inter_event_p99_s'] * 1e3:.1f} ms")
    for r in bad[:5]:
        print("  failure:", r["error"])
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1)


if __name__ == "__main__":
    main()
