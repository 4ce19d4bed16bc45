#!/usr/bin/env python3
"""serve_plot.py — draws a bench/serve_sweep.py report as two PNGs:
  throughput.png  output tokens/s (and requests/s) against concurrency, one line per mix and rate;
  latency.png     TTFT and inter-token latency p50/p90/p99 against concurrency, per mix and rate.

  python3 bench/serve_plot.py sweep.json --out bench/plots/ [--title "gemma3-270m, H200"]
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402


def series(levels):
    """{(mix, rate): levels sorted by concurrency}"""
    out = {}
    for lv in levels:
        out.setdefault((lv["mix"], lv["rate"]), []).append(lv)
    return {k: sorted(v, key=lambda lv: lv["concurrency"]) for k, v in out.items()}


def label(mix, rate):
    return f"{mix}, " + ("closed loop" if rate is None else f"{rate:g} req/s")


def log_x(ax, xs):
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels([str(x) for x in xs])
    ax.set_xlabel("concurrent requests")
    ax.grid(True, which="major", alpha=0.3)


def plot_throughput(report, path, title):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = sorted({lv["concurrency"] for lv in report["levels"]})
    for (mix, rate), lvs in series(report["levels"]).items():
        c = [lv["concurrency"] for lv in lvs]
        a1.plot(c, [lv["output_tokens_per_s"] for lv in lvs], "o-", label=label(mix, rate))
        a2.plot(c, [lv["requests_per_s"] for lv in lvs], "o-", label=label(mix, rate))
    a1.set_ylabel("output tokens/s")
    a2.set_ylabel("requests/s")
    for ax in (a1, a2):
        log_x(ax, xs)
        ax.set_ylim(bottom=0)
    a1.legend(fontsize=8)
    fig.suptitle(f"{title}: throughput against concurrency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(report, path, title):
    groups = series(report["levels"])
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.6 * len(groups)), squeeze=False)
    xs = sorted({lv["concurrency"] for lv in report["levels"]})
    for row, ((mix, rate), lvs) in zip(axes, groups.items()):
        c = [lv["concurrency"] for lv in lvs]
        for ax, key, name in ((row[0], "ttft_s", "time to first token"), (row[1], "itl_s", "inter-token latency")):
            for p, style in (("p50", "o-"), ("p90", "s--"), ("p99", "^:")):
                ys = [lv[key][p] * 1e3 if lv[key][p] is not None else float("nan") for lv in lvs]
                ax.plot(c, ys, style, label=p)
            ax.set_yscale("log")
            # plain numbers (200, 1000) rather than 2x10^2 on the log axis
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))
            ax.set_ylabel("ms")
            ax.set_title(f"{name} — {label(mix, rate)}", fontsize=10)
            log_x(ax, xs)
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}: latency percentiles against load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", help="JSON written by serve_sweep.py --json")
    ap.add_argument("--out", default=".", help="folder for throughput.png and latency.png")
    ap.add_argument("--title", help="plot title (default: the report's model and URL)")
    a = ap.parse_args()
    with open(a.report) as f:
        report = json.load(f)
    if not report["levels"]:
        raise SystemExit("serve_plot: the report has no levels")
    title = a.title or f"{report.get('model') or 'model'} @ {report['url']}"
    os.makedirs(a.out, exist_ok=True)
    plot_throughput(report, os.path.join(a.out, "throughput.png"), title)
    plot_latency(report, os.path.join(a.out, "latency.png"), title)
    print("wrote", os.path.join(a.out, "throughput.png"), "and", os.path.join(a.out, "latency.png"))


if __name__ == "__main__":
    main()
