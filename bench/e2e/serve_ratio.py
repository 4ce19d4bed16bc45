#!/usr/bin/env python3
"""serve_ratio.py — Quanta's serving sweep against llama-server's, level by level, as a Markdown
table: output tokens/s (and the ratio), each stream's tokens/s (p50), TTFT p50/p99 and ITL p50/p99 of
each, and the ratio of p99 TTFT.
Both reports come from bench/serve_sweep.py run with the same arguments in the same device run.

  python3 bench/e2e/serve_ratio.py quanta_sweep.json llama_sweep.json
"""
import json
import sys


def ms(q, k):
    return "-" if not q or q.get(k) is None else f"{q[k] * 1e3:.0f}"


def per_stream(lv):
    """A level's per-stream p50 tokens/s (reports from before serve_sweep wrote it: -)."""
    v = (lv.get("stream_tokens_per_s") or {}).get("p50")
    return "-" if v is None else f"{v:.0f}"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours, peer = (json.load(open(p)) for p in sys.argv[1:])
    key = lambda lv: (lv["mix"], lv["concurrency"], lv["rate"])  # noqa: E731
    theirs = {key(lv): lv for lv in peer["levels"]}
    print("| mix | streams | Quanta out tok/s | llama-server | ratio | per stream p50 tok/s (Q / L) "
          "| TTFT p50/p99 ms (Q / L) | p99 TTFT ratio | ITL p50/p99 ms (Q / L) | failed (Q / L) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for lv in ours["levels"]:
        th = theirs.get(key(lv))
        if th is None:
            continue
        rate = "" if lv["rate"] is None else f" @ {lv['rate']:g} req/s"
        print(f"| {lv['mix']}{rate} | {lv['concurrency']} | {lv['output_tokens_per_s']:.0f} | "
              f"{th['output_tokens_per_s']:.0f} | {ratio(lv['output_tokens_per_s'], th['output_tokens_per_s'])} | "
              f"{per_stream(lv)} / {per_stream(th)} | "
              f"{ms(lv['ttft_s'], 'p50')}/{ms(lv['ttft_s'], 'p99')} / {ms(th['ttft_s'], 'p50')}/{ms(th['ttft_s'], 'p99')} | "
              f"{ratio((lv['ttft_s'] or {}).get('p99'), (th['ttft_s'] or {}).get('p99'))} | "
              f"{ms(lv['itl_s'], 'p50')}/{ms(lv['itl_s'], 'p99')} / {ms(th['itl_s'], 'p50')}/{ms(th['itl_s'], 'p99')} | "
              f"{lv['failed']} / {th['failed']} |")


if __name__ == "__main__":
    main()
