"""bench_model_json.py QUANTA MODEL — `quanta bench model --json` on a copy of MODEL whose path holds a
quote and a backslash: the output must be one valid JSON object (strings escaped) carrying every key
bench/e2e/ratio_table.py and NOTES' tables read, with sane values (rates > 0, sd >= 0, p/n/r as given,
memory counts > 0 where they must be)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

KEYS = {"model", "backend", "device", "weights", "n_params", "p", "n", "r", "pp_tps", "pp_tps_sd", "tg_tps",
        "tg_tps_sd", "load_s", "first_token_s", "weights_bytes", "kv_bytes", "scratch_bytes", "device_peak_bytes"}


def main():
    exe, model = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'a "b\\c.gguf')
        shutil.copy(model, path)
        r = subprocess.run([exe, "bench", "model", "-m", path, "--backend", "ref", "-p", "4", "-n", "3", "-r", "2",
                            "--json"], capture_output=True, text=True, timeout=300)
        print(r.stdout, r.stderr)
        assert r.returncode == 0, r.returncode
        out = json.loads(r.stdout)
        assert set(out) == KEYS, set(out) ^ KEYS
        assert out["model"] == path and out["backend"] == "ref", out
        assert (out["p"], out["n"], out["r"]) == (4, 3, 2), out
        for k in ("pp_tps", "tg_tps", "load_s", "first_token_s", "weights_bytes", "n_params", "device_peak_bytes"):
            assert out[k] > 0, (k, out[k])
        for k in ("pp_tps_sd", "tg_tps_sd", "kv_bytes", "scratch_bytes"):
            assert out[k] >= 0, (k, out[k])
    print("OK")


if __name__ == "__main__":
    main()
