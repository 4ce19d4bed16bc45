#!/usr/bin/env python3
"""serve_sweep.py — serving benchmark sweep against any OpenAI-compatible server (streamed
/v1/completions): for each prompt/output length mix, each concurrency level and each request rate,
one run of bench/serve_load.py's client, reported as requests/s, output tokens/s (in total, and per
stream: each request's tokens after its first per second, p10/p50/mean), time to first token and
inter-token latency p50/p90/p99, failures, peak GPU memory (from nvidia-smi, null without it) and
cost per million output tokens at --gpu-hour-price. JSON out; bench/serve_plot.py draws it.

  build/tools/quanta serve -m MODEL --backend cuda --max-batch 256 --port 8080 &
  python3 bench/serve_sweep.py --url http://127.0.0.1:8080 --gpu-hour-price 3.50 --json sweep.json
  python3 bench/serve_plot.py sweep.json --out bench/plots/

Mixes: `fixed` (every request --prompt-words words of prompt, --max-tokens output) and `longtail`
(prompt and output lengths log-normal with those medians and sigma 1, clipped to [1/8, 8] times the
median: most requests short, a few long — the mix that shows head-of-line blocking in p99 TTFT).
Rates: `inf` is a closed loop (each client sends its next request when the last one ended); a number
is Poisson arrivals at that many requests/s, with the concurrency level as the cap on requests in flight.
"""
import argparse
import datetime
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_load import Target, one_request, random_prompt, run_load, summarize  # noqa: E402


def make_jobs(mix, n, prompt_words, max_tokens, rng):
    """n (prompt, max_tokens) pairs of the named length mix."""
    if mix == "fixed":
        return [(random_prompt(rng, prompt_words), max_tokens) for _ in range(n)]
    if mix == "longtail":
        def draw(median):
            return int(min(8 * median, max(max(1, median // 8), round(rng.lognormvariate(math.log(median), 1.0)))))
        return [(random_prompt(rng, draw(prompt_words)), draw(max_tokens)) for _ in range(n)]
    raise ValueError(f"unknown mix {mix!r} (fixed, longtail)")


class GpuMemory:
    """Peak GPU memory in use (MiB, summed over the GPUs) while running, polled from nvidia-smi;
    peak_mib is None when nvidia-smi is absent or fails."""

    def __init__(self, interval=0.5):
        self.exe, self.interval, self.peak_mib = shutil.which("nvidia-smi"), interval, None
        self.stop = threading.Event()

    def sample(self):
        try:
            out = subprocess.run([self.exe, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
            used = sum(float(x) for x in out.split())
        except (OSError, subprocess.SubprocessError, ValueError):
            return
        self.peak_mib = max(self.peak_mib or 0.0, used)

    def poll(self):
        while not self.stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        if self.exe:
            self.sample()
            self.thread = threading.Thread(target=self.poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.exe:
            self.stop.set()
            self.thread.join()
            self.sample()
        return False


def cost_per_million(gpu_hour_price, output_tokens_per_s):
    """Dollars per 10^6 output tokens at this throughput, None without a price or tokens."""
    if gpu_hour_price is None or output_tokens_per_s <= 0:
        return None
    return gpu_hour_price / 3600.0 / output_tokens_per_s * 1e6


def parse_list(s, conv):
    return [conv(x) for x in s.split(",") if x.strip()]


def parse_rate(x):
    return None if x.strip().lower() in ("inf", "0") else float(x)


def no_nan(o):
    """NaN (no values) as null, so that the JSON is standard."""
    if isinstance(o, float) and math.isnan(o):
        return None
    if isinstance(o, dict):
        return {k: no_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [no_nan(v) for v in o]
    return o


def fmt_ms(q):
    return "/".join("-" if q[k] is None else f"{q[k] * 1e3:.0f}" for k in ("p50", "p90", "p99"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    ap.add_argument("--model", help="model name to send (default: the first /v1/models lists)")
    ap.add_argument("--concurrency", default="1,4,16,64,256", help="comma-separated levels")
    ap.add_argument("--rate", default="inf", help="comma-separated request rates (requests/s; inf: closed loop)")
    ap.add_argument("--mix", default="fixed,longtail", help="comma-separated length mixes: fixed, longtail")
    ap.add_argument("--requests", type=int, default=0,
                    help="requests per level (default: 4 x concurrency, at least 16)")
    ap.add_argument("--prompt-words", type=int, default=128, help="prompt length (median for longtail), words")
    ap.add_argument("--max-tokens", type=int, default=128, help="output length (median for longtail), tokens")
    ap.add_argument("--gpu-hour-price", type=float, help="price of the GPU(s) per hour, for cost per 1M tokens")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per request")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args()
    target = Target(a.url, a.model)
    target.model = target.model or target.first_model()
    # Warm-up, so that graph plans and kernels exist before timing; its tokens are reported apart.
    warm = one_request(target, "warm up", 4, a.timeout)
    if "error" in warm:
        sys.exit(f"serve_sweep: warm-up request to {a.url} failed: {warm['error']}")
    report = {"url": a.url, "model": target.model, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "gpu_hour_price": a.gpu_hour_price, "prompt_words": a.prompt_words, "max_tokens": a.max_tokens,
              "seed": a.seed, "warmup_output_tokens": warm["tokens"], "levels": []}
    rng = random.Random(a.seed)
    print(f"{'mix':9} {'conc':>5} {'rate':>6} {'ok':>5} {'fail':>4} {'req/s':>7} {'out tok/s':>9} {'/stream':>7} "
          f"{'TTFT p50/90/99 ms':>18} {'ITL p50/90/99 ms':>17} {'GPU MiB':>8} {'$/1M':>7}")
    for mix in parse_list(a.mix, str):
        for conc in parse_list(a.concurrency, int):
            for rate in parse_list(a.rate, parse_rate):
                n = a.requests or max(16, 4 * conc)
                # The same requests at every level of a mix (a prefix of them where n differs), so
                # that levels differ only in load.
                jobs = make_jobs(mix, n, a.prompt_words, a.max_tokens, random.Random(f"{a.seed}/{mix}"))
                with GpuMemory() as gpu:
                    results, wall = run_load(target, jobs, conc, rate, a.timeout, rng.randrange(1 << 30))
                lv = {"mix": mix, "concurrency": conc, "rate": rate}
                lv.update(summarize(results, wall))
                lv["gpu_memory_mib"] = gpu.peak_mib
                lv["cost_per_million_output_tokens"] = cost_per_million(a.gpu_hour_price, lv["output_tokens_per_s"])
                lv = no_nan(lv)
                report["levels"].append(lv)
                cost = lv["cost_per_million_output_tokens"]
                per = lv["stream_tokens_per_s"]["p50"]
                print(f"{mix:9} {conc:5} {'inf' if rate is None else rate:>6} {lv['succeeded']:5} {lv['failed']:4} "
                      f"{lv['requests_per_s']:7.2f} {lv['output_tokens_per_s']:9.1f} "
                      f"{'-' if per is None else f'{per:.1f}':>7} {fmt_ms(lv['ttft_s']):>18} "
                      f"{fmt_ms(lv['itl_s']):>17} {'-' if gpu.peak_mib is None else f'{gpu.peak_mib:.0f}':>8} "
                      f"{'-' if cost is None else f'{cost:.3f}':>7}", flush=True)
                for e in lv["failures"]:
                    print("  failure:", e)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(1 if any(lv["failed"] for lv in report["levels"]) else 0)


if __name__ == "__main__":
    main()
