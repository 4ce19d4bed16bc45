"""test_sweep.py — smoke test of the serving benchmark tooling (bench/serve_sweep.py, serve_plot.py):
a tiny sweep (2 mixes x concurrency 1 and 4 x closed loop and Poisson arrivals, short outputs)
against `quanta serve` must have every request succeed, report every field for every level with sane
values (ordered percentiles, rates that agree with counts), count exactly the tokens the server says
it generated (its /metrics counter), and the plot script must write two non-empty PNGs, for one
report and for two servers' reports on shared axes, and serve_ratio.py's comparison table must have a
row per level; requests the
server refuses must show up as failures with their messages and a failing exit status."""
import json
import os
import subprocess
import sys
import tempfile

from harness import Server, parse_args, seed

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
LEVEL_FIELDS = {"mix", "concurrency", "rate", "requests", "succeeded", "failed", "failures", "wall_s",
                "requests_per_s", "output_tokens", "prompt_tokens", "output_tokens_per_s", "ttft_s", "itl_s",
                "gpu_memory_mib", "cost_per_million_output_tokens", "stream_tokens_per_s"}
PRICE = 2.0


def check_level(lv, n):
    missing = LEVEL_FIELDS - lv.keys()
    assert not missing, f"level {lv.get('mix')}/{lv.get('concurrency')}: missing {missing}"
    assert lv["requests"] == lv["succeeded"] == n and lv["failed"] == 0 and lv["failures"] == [], lv
    assert lv["wall_s"] > 0 and lv["output_tokens"] >= n and lv["prompt_tokens"] >= n, lv
    assert abs(lv["requests_per_s"] - n / lv["wall_s"]) < 1e-6 * lv["requests_per_s"], lv
    assert abs(lv["output_tokens_per_s"] - lv["output_tokens"] / lv["wall_s"]) < 1e-6 * lv["output_tokens_per_s"], lv
    for key in ("ttft_s", "itl_s"):
        q = lv[key]
        assert set(q) == {"p50", "p90", "p99", "mean"}, q
        if key == "itl_s" and q["p50"] is None:
            # No request of the level streamed two text events. The server sends what was generated
            # since its last write as one event, so a fast machine may answer short outputs in one
            # (a rehearsal saw it for all 4 six-token requests of fixed/1/inf); a one-token output
            # has no gap either. Then all four are null, never some.
            assert q == {"p50": None, "p90": None, "p99": None, "mean": None}, q
            continue
        assert 0 < q["p50"] <= q["p90"] <= q["p99"] < lv["wall_s"], (key, q)
    # Per stream: each request's tokens after its first per second; none where no request streamed
    # two events (a fast machine answers six tokens in one), else ordered and positive.
    per = lv["stream_tokens_per_s"]
    assert set(per) == {"p10", "p50", "mean"}, per
    if per["p50"] is None:
        assert per == {"p10": None, "p50": None, "mean": None}, per
    else:
        assert 0 < per["p10"] <= per["p50"] and per["mean"] > 0, per
    # No nvidia-smi on the CI machine: null; where there is one, a positive number.
    assert lv["gpu_memory_mib"] is None or lv["gpu_memory_mib"] > 0, lv
    want = PRICE / 3600 / lv["output_tokens_per_s"] * 1e6
    assert abs(lv["cost_per_million_output_tokens"] - want) < 1e-9 * want, lv


def check_pngs(folder):
    for name in ("throughput.png", "latency.png"):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10000, (name, len(data))


def main():
    a = parse_args()
    rng = seed()
    n = 4
    with Server(a.model, a.backend, ["--ctx", "256", "--max-batch", "4"]) as s, \
            tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "sweep.json")
        before = s.metric("quanta_generation_tokens_total")
        cmd = [sys.executable, os.path.join(BENCH, "serve_sweep.py"), "--url", s.base, "--concurrency", "1,4",
               "--rate", "inf,20", "--mix", "fixed,longtail", "--requests", str(n), "--prompt-words", "6",
               "--max-tokens", "6", "--gpu-hour-price", str(PRICE), "--seed", str(rng.randrange(1 << 30)),
               "--json", report_path]
        print("running:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, timeout=300)
        generated = s.metric("quanta_generation_tokens_total") - before
        with open(report_path) as f:
            report = json.load(f)
        assert report["model"] == "test-model", report["model"]
        levels = report["levels"]
        got = {(lv["mix"], lv["concurrency"], lv["rate"]) for lv in levels}
        want = {(m, c, r) for m in ("fixed", "longtail") for c in (1, 4) for r in (None, 20.0)}
        assert got == want and len(levels) == len(want), got
        for lv in levels:
            check_level(lv, n)
        counted = sum(lv["output_tokens"] for lv in levels) + report["warmup_output_tokens"]
        print(f"sweep counted {counted} output tokens; the server generated {generated:.0f}")
        assert counted == generated, (counted, generated)

        out = os.path.join(tmp, "plots")
        subprocess.run([sys.executable, os.path.join(BENCH, "serve_plot.py"), report_path, "--out", out],
                       check=True, timeout=120)
        check_pngs(out)
        # two servers' reports on shared axes (the device run's Quanta vs llama-server plots); each
        # report must be named
        both = os.path.join(tmp, "both")
        subprocess.run([sys.executable, os.path.join(BENCH, "serve_plot.py"), report_path, report_path,
                        "--names", "Quanta,peer", "--out", both], check=True, timeout=120)
        check_pngs(both)
        # the device run's comparison table (bench/e2e/serve_ratio.py): a row per level, a report
        # against itself at 1.00x throughput and p99 TTFT
        r = subprocess.run([sys.executable, os.path.join(BENCH, "e2e", "serve_ratio.py"), report_path, report_path],
                           capture_output=True, text=True, timeout=60, check=True)
        rows = [l for l in r.stdout.splitlines() if l.startswith("| ") and not l.startswith("| mix")]
        print(r.stdout)
        assert len(rows) == len(levels), (len(rows), r.stdout)
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert len(cells) == 10 and cells[4] == "1.00x" and cells[7] == "1.00x", cells
        r = subprocess.run([sys.executable, os.path.join(BENCH, "serve_plot.py"), report_path, report_path,
                            "--out", both], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "--names must name each of the 2 reports" in r.stderr, (r.returncode, r.stderr)

        # Failures are counted, not hidden: prompts longer than the context (400 words > 256 tokens)
        # are refused with 400, and the sweep says so and exits with 1.
        bad_path = os.path.join(tmp, "bad.json")
        r = subprocess.run([sys.executable, os.path.join(BENCH, "serve_sweep.py"), "--url", s.base, "--concurrency",
                            "2", "--mix", "fixed", "--requests", "3", "--prompt-words", "400", "--max-tokens", "4",
                            "--json", bad_path], timeout=120)
        assert r.returncode == 1, r.returncode
        with open(bad_path) as f:
            (lv,) = json.load(f)["levels"]
        assert lv["requests"] == lv["failed"] == 3 and lv["succeeded"] == 0, lv
        assert all(e.startswith("HTTP 400") for e in lv["failures"]) and len(lv["failures"]) == 3, lv["failures"]
        assert lv["ttft_s"]["p50"] is None and lv["output_tokens_per_s"] == 0, lv
        assert lv["cost_per_million_output_tokens"] is None, lv
        assert lv["stream_tokens_per_s"] == {"p10": None, "p50": None, "mean": None}, lv
    print("OK")


if __name__ == "__main__":
    main()
