"""test_kv_dtype.py — `quanta serve --kv-dtype`: the paged KV cache in f16, fp8 (e4m3) and int8 (q8)
serves greedy completions, whole and streamed, whose texts agree per request (the stream's pieces
joined equal the whole answer, and a repeat after the pool's blocks were freed equals the first);
the pool's block counts in /metrics are those of --kv-blocks, none held once every request has
answered. A dtype the pool cannot hold, or the option without a value, is a usage error (exit 2,
one line naming --kv-dtype) before anything is loaded. (The pool's dtype is not reported by the
server: that each dtype really quantizes is tested in tests/model/test_model_paged.c.)"""
import os
import subprocess

from harness import Server, parse_args, seed, sse_events

BLOCKS = 24


def main():
    a = parse_args()
    rng = seed()
    exe = os.environ["QUANTA_EXE"]
    for bad in (["--kv-dtype", "q4"], ["--kv-dtype", "fp8_e5m2"], ["--kv-dtype", "i32"], ["--kv-dtype", "bogus"],
                ["--kv-dtype"]):
        r = subprocess.run([exe, "serve", "-m", a.model, "--port", "0", *bad], capture_output=True, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2, (bad, r.returncode, err)
        assert "--kv-dtype" in err and len(err.strip().splitlines()) == 1, (bad, err)
    prompt = "the " * rng.randint(1, 6)
    body = {"prompt": prompt, "max_tokens": 12, "temperature": 0}
    for dt in ("f16", "fp8", "int8"):
        with Server(a.model, a.backend, ["--ctx", "128", "--kv-blocks", str(BLOCKS), "--kv-dtype", dt]) as s:
            assert s.metric("quanta_kv_blocks_total") == BLOCKS, dt
            code, _, whole = s.post("/v1/completions", body)
            assert code == 200, (dt, code, whole)
            text = whole["choices"][0]["text"]
            assert whole["usage"]["completion_tokens"] >= 1, (dt, whole)
            # streamed: the pieces joined are the whole answer's text, then [DONE]
            code, _, data = s.request("POST", "/v1/completions", dict(body, stream=True))
            assert code == 200, (dt, code, data)
            events, done = sse_events(data)
            assert done and events, (dt, data)
            streamed = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
            assert streamed == text, (dt, streamed, text)
            # the same request again: the pool's blocks were freed and reused, same greedy text
            code, _, again = s.post("/v1/completions", body)
            assert code == 200 and again["choices"][0]["text"] == text, (dt, again)
            assert s.metric("quanta_kv_blocks_used") == 0, dt
            assert s.metric("quanta_kv_blocks_total") == BLOCKS, dt
            print(f"{dt}: {text!r}")


if __name__ == "__main__":
    main()
