#!/usr/bin/env python3
"""serve_load.py — load generator for any OpenAI-compatible server (`quanta serve`, vLLM, llama-server):
streamed /v1/completions from N concurrent clients, optionally with requests arriving as a Poisson
process, and a summary of the run: requests/s, output tokens/s, time to first token and inter-token
latency percentiles, failures. Standard library only. bench/serve_sweep.py runs this over a sweep.

  build/tools/quanta serve -m MODEL --backend cuda --max-batch 64 --port 8080 &
  python3 bench/serve_load.py --url http://127.0.0.1:8080 --streams 64 --requests 4 --max-tokens 128

Tokens are counted from the usage the server reports at the end of each stream (what it generated,
including an end-of-generation token); time to first token is measured from sending the request to
the first event that carries text; inter-token latency is the time between consecutive text events.
A benchmark, not a test: numbers depend on the machine and its load.
"""
import argparse
import http.client
import json
import math
import queue
import random
import threading
import time
import urllib.parse

WORDS = "the of and a to in is was for on that by with as from at his it an were are which this be".split()


class Target:
    """Where the server is: base URL (http or https, optionally with a path prefix) and model name."""

    def __init__(self, url, model=None):
        u = urllib.parse.urlparse(url)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        prefix = u.path.rstrip("/")
        self.path = prefix + ("/completions" if prefix.endswith("/v1") else "/v1/completions")
        self.models_path = self.path.rsplit("/", 1)[0] + "/models"
        self.model = model

    def connect(self, timeout):
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout)

    def first_model(self, timeout=30):
        """The first model id /v1/models lists (servers that need `model` in a request), or None."""
        try:
            c = self.connect(timeout)
            c.request("GET", self.models_path)
            r = c.getresponse()
            data = r.read()
            c.close()
            return json.loads(data)["data"][0]["id"] if r.status == 200 else None
        except (OSError, ValueError, KeyError, IndexError):
            return None


def one_request(target, prompt, max_tokens, timeout, temperature=0.0, seed=None):
    """One streamed completion. Returns {ttft, t0, t_first, t1, tokens, prompt_tokens, gaps} or {error}."""
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
            "stream_options": {"include_usage": True}}
    if target.model:
        body["model"] = target.model
    if seed is not None:
        body["seed"] = seed
    t0 = time.perf_counter()
    c = target.connect(timeout)
    try:
        c.request("POST", target.path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            return {"error": f"HTTP {r.status}: {r.read()[:200]!r}"}
        first, last, usage, times, buf = None, None, None, [], b""
        while True:
            chunk = r.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                ev, buf = buf.split(b"\n\n", 1)
                ev = ev.strip(b"\r\n")
                if not ev.startswith(b"data:"):
                    continue
                payload = ev[5:].strip()
                if payload == b"[DONE]":
                    continue
                d = json.loads(payload)
                now = time.perf_counter()
                if "error" in d:
                    err = d["error"]
                    return {"error": err.get("message", "error event") if isinstance(err, dict) else str(err)}
                if d.get("choices") and d["choices"][0].get("text"):
                    if first is None:
                        first = now
                    times.append(now)
                if d.get("usage"):
                    usage = d["usage"]
                last = now
    finally:
        c.close()
    if usage is None:
        return {"error": "stream ended without usage"}
    return {"ttft": (first or last) - t0, "tokens": usage["completion_tokens"],
            "prompt_tokens": usage.get("prompt_tokens", 0), "t0": t0, "t_first": first, "t1": last,
            "gaps": [b - a for a, b in zip(times, times[1:])]}


def run_load(target, jobs, concurrency, rate=None, timeout=600, seed=1):
    """Runs jobs [(prompt, max_tokens), ...] with at most `concurrency` in flight. Without a rate
    every client sends its next request as soon as the last one ended (closed loop); with a rate
    (requests/s) requests arrive at exponentially distributed intervals (Poisson) and wait for a
    free client. Returns (results in job order, wall seconds)."""
    pending = queue.Queue()
    results = [None] * len(jobs)

    def client():
        while True:
            i = pending.get()
            if i is None:
                return
            prompt, max_tokens = jobs[i]
            try:
                results[i] = one_request(target, prompt, max_tokens, timeout)
            except (OSError, ValueError, http.client.HTTPException) as e:
                results[i] = {"error": f"{type(e).__name__}: {e}"}

    threads = [threading.Thread(target=client, daemon=True) for _ in range(min(concurrency, len(jobs)))]
    arrivals = random.Random(seed)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    due = t0
    for i in range(len(jobs)):
        if rate:
            due += arrivals.expovariate(rate)
            time.sleep(max(0.0, due - time.perf_counter()))
        pending.put(i)
    for _ in threads:
        pending.put(None)
    for t in threads:
        t.join()
    return results, time.perf_counter() - t0


def pct(xs, p):
    """The p-th percentile (nearest rank on sorted values), NaN for no values."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def percentiles(xs):
    return {"p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99),
            "mean": sum(xs) / len(xs) if xs else float("nan")}


def stream_rates(ok):
    """What one stream sees: each request's output tokens after its first text event per second
    until its last event ((tokens - 1) / (t1 - t_first); requests of one token or one event have
    none), as p10 (the slowest tenth), p50 and mean; None where no request has a rate."""
    rates = sorted((r["tokens"] - 1) / (r["t1"] - r["t_first"]) for r in ok
                   if r.get("t_first") is not None and r["tokens"] >= 2 and r["t1"] > r["t_first"])
    if not rates:
        return {"p10": None, "p50": None, "mean": None}
    return {"p10": pct(rates, 10), "p50": pct(rates, 50), "mean": sum(rates) / len(rates)}


def summarize(results, wall):
    """The report of one run: counts, rates and latency percentiles (seconds)."""
    ok = [r for r in results if "error" not in r]
    bad = [r["error"] for r in results if "error" in r]
    tokens = sum(r["tokens"] for r in ok)
    return {
        "requests": len(results), "succeeded": len(ok), "failed": len(bad), "failures": bad[:5],
        "wall_s": wall, "requests_per_s": len(ok) / wall if wall > 0 else 0.0,
        "output_tokens": tokens, "prompt_tokens": sum(r["prompt_tokens"] for r in ok),
        "output_tokens_per_s": tokens / wall if wall > 0 else 0.0,
        "stream_tokens_per_s": stream_rates(ok),
        "ttft_s": percentiles([r["ttft"] for r in ok]),
        "itl_s": percentiles([g for r in ok for g in r["gaps"]]),
    }


def random_prompt(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", help="model name to send (default: the first /v1/models lists)")
    ap.add_argument("--streams", type=int, default=16, help="concurrent clients")
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--rate", type=float, help="Poisson arrivals at this many requests/s (default: closed loop)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompt-words", type=int, default=64, help="prompt length in words (random words)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the summary here")
    a = ap.parse_args()
    target = Target(a.url, a.model)
    target.model = target.model or target.first_model()
    rng = random.Random(a.seed)
    jobs = [(random_prompt(rng, a.prompt_words), a.max_tokens) for _ in range(a.streams * a.requests)]
    one_request(target, "warm up", 4, a.timeout)  # so that graph plans and kernels exist before timing
    results, wall = run_load(target, jobs, a.streams, a.rate, a.timeout, a.seed)
    s = summarize(results, wall)
    s.update(streams=a.streams, rate=a.rate, max_tokens=a.max_tokens, prompt_words=a.prompt_words)
    print(f"{a.streams} streams, {len(jobs)} requests, max_tokens {a.max_tokens}, prompt {a.prompt_words} words")
    print(f"  done {s['succeeded']}, failed {s['failed']} in {wall:.2f} s; {s['output_tokens']} tokens generated")
    print(f"  requests/s {s['requests_per_s']:.2f}; output tokens/s {s['output_tokens_per_s']:.1f}")
    for k, name in (("ttft_s", "time to first token"), ("itl_s", "inter-token latency")):
        q = s[k]
        print(f"  {name} p50 {q['p50'] * 1e3:.1f} ms, p90 {q['p90'] * 1e3:.1f} ms, p99 {q['p99'] * 1e3:.1f} ms")
    for e in s["failures"]:
        print("  failure:", e)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1)


if __name__ == "__main__":
    main()
