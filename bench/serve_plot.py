#!/usr/bin/env python3
"""serve_plot.py — draws bench/serve_sweep.py reports as two PNGs:
  throughput.png  output tokens/s (and requests/s) against concurrency, one line per mix and rate;
  latency.png     TTFT and inter-token latency p50/p90/p99 against concurrency, per mix and rate.
Several reports (the same sweep of several servers, e.g. Quanta and llama-server in one device run)
share the axes: one colour per server, named by --names.

  python3 bench/serve_plot.py sweep.json --out bench/plots/NAME [--title "gemma3-270m, H200"]
  python3 bench/serve_plot.py quanta_sweep.json llama_sweep.json --names Quanta,llama-server --out DIR
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

PERCENTILES = (("p50", "o-"), ("p90", "s--"), ("p99", "^:"))


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


def concurrencies(runs):
    return sorted({lv["concurrency"] for _, report in runs for lv in report["levels"]})


def plot_throughput(runs, path, title):
    """runs: [(name or None, report)]; one line per server, mix and rate."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, report in runs:
        for (mix, rate), lvs in series(report["levels"]).items():
            c = [lv["concurrency"] for lv in lvs]
            what = label(mix, rate) if name is None else f"{name}: {label(mix, rate)}"
            a1.plot(c, [lv["output_tokens_per_s"] for lv in lvs], "o-", label=what)
            a2.plot(c, [lv["requests_per_s"] for lv in lvs], "o-", label=what)
    a1.set_ylabel("output tokens/s")
    a2.set_ylabel("requests/s")
    for ax in (a1, a2):
        log_x(ax, concurrencies(runs))
        ax.set_ylim(bottom=0)
    a1.legend(fontsize=8)
    fig.suptitle(f"{title}: throughput against concurrency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(runs, path, title):
    """One row per mix and rate (of any report); each server's percentiles in a colour of its own."""
    groups = {}
    for i, (name, report) in enumerate(runs):
        for key, lvs in series(report["levels"]).items():
            groups.setdefault(key, []).append((i, name, lvs))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.6 * len(groups)), squeeze=False)
    for row, ((mix, rate), per_server) in zip(axes, groups.items()):
        for ax, key, what in ((row[0], "ttft_s", "time to first token"), (row[1], "itl_s", "inter-token latency")):
            for i, name, lvs in per_server:
                c = [lv["concurrency"] for lv in lvs]
                for p, style in PERCENTILES:
                    ys = [lv[key][p] * 1e3 if lv[key][p] is not None else float("nan") for lv in lvs]
                    ax.plot(c, ys, style, color=None if name is None else f"C{i}",
                            label=p if name is None else f"{name} {p}")
            ax.set_yscale("log")
            # plain numbers (200, 1000) rather than 2x10^2 on the log axis
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))
            ax.set_ylabel("ms")
            ax.set_title(f"{what} — {label(mix, rate)}", fontsize=10)
            log_x(ax, concurrencies(runs))
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}: latency percentiles against load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="report", help="JSON written by serve_sweep.py --json")
    ap.add_argument("--names", help="comma-separated server names, one per report (several reports)")
    ap.add_argument("--out", default=".", help="folder for throughput.png and latency.png")
    ap.add_argument("--title", help="plot title (default: the first report's model and URL)")
    a = ap.parse_args()
    names = a.names.split(",") if a.names else None
    if len(a.reports) > 1 and (not names or len(names) != len(a.reports)):
        ap.error(f"--names must name each of the {len(a.reports)} reports (comma-separated)")
    if len(a.reports) == 1 and names and len(names) != 1:
        ap.error("--names gives one name for one report")
    runs = []
    for i, path in enumerate(a.reports):
        with open(path) as f:
            report = json.load(f)
        if not report.get("levels"):
            raise SystemExit(f"serve_plot: {path} has no levels")
        runs.append((names[i] if names else None, report))
    title = a.title or f"{runs[0][1].get('model') or 'model'} @ {runs[0][1]['url']}"
    os.makedirs(a.out, exist_ok=True)
    plot_throughput(runs, os.path.join(a.out, "throughput.png"), title)
    plot_latency(runs, os.path.join(a.out, "latency.png"), title)
    print("wrote", os.path.join(a.out, "throughput.png"), "and", os.path.join(a.out, "latency.png"))


if __name__ == "__main__":
    main()
