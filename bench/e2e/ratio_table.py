#!/usr/bin/env python3
"""Ratio table of one run_h200.sh run: quanta bench model JSON against llama-bench JSON, per file.
usage: ratio_table.py LOGDIR NAME..."""
import json, os, sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    d, names = sys.argv[1], sys.argv[2:]
    print("| file | work | Quanta | llama.cpp | Quanta / llama.cpp |")
    print("|---|---|---|---|---|")
    for n in names:
        q = load(os.path.join(d, f"quanta_{n}.json"))
        l = load(os.path.join(d, f"llama_{n}.json")) or []
        lp = next((r for r in l if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0), None)
        lg = next((r for r in l if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0), None)
        for label, qk, lr in (("pp512 tok/s", "pp_tps", lp), ("tg128 tok/s", "tg_tps", lg)):
            qv = q.get(qk) if q else None
            lv = lr.get("avg_ts") if lr else None
            qs = f"{qv:.1f} ± {q.get(qk + '_sd', 0):.1f}" if qv is not None else "—"
            ls = f"{lv:.1f} ± {lr.get('stddev_ts', 0):.1f}" if lv is not None else "—"
            ratio = f"{qv / lv:.2f}×" if qv and lv else "—"
            print(f"| {n} | {label} | {qs} | {ls} | {ratio} |")
        lt = None
        try:
            with open(os.path.join(d, f"llama_load_{n}.txt")) as f:
                lt = float(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        if q:
            qt = q.get("first_token_s")
            ratio = f"{qt / lt:.2f}×" if qt and lt else "—"
            print(f"| {n} | load to first token, s | {qt:.2f} (load {q.get('load_s', 0):.2f}) | "
                  f"{lt if lt is not None else '—'} (whole llama-bench -n 1 run) | {ratio} |")
            mib = 1024 * 1024
            print(f"| {n} | memory MiB (weights / KV / scratch / device peak) | "
                  f"{q['weights_bytes'] / mib:.0f} / {q['kv_bytes'] / mib:.0f} / {q['scratch_bytes'] / mib:.0f} / "
                  f"{q['device_peak_bytes'] / mib:.0f} | | |")


if __name__ == "__main__":
    main()
