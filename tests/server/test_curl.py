"""test_curl.py — curl (a client nobody here wrote) against `quanta serve`: the README's commands,
a streamed completion read as raw server-sent events ending with data: [DONE], /health, /v1/models
and /metrics in Prometheus text format (checked line by line against the exposition grammar)."""
import json
import re
import shutil
import subprocess
import sys

from harness import Server, parse_args, seed, sse_events


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "300", "-w", "\n%{http_code}", *args], capture_output=True,
                       check=True)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? '
                       r'(-?[0-9.eE+-]+|\+Inf|NaN)$')


def main():
    if not shutil.which("curl"):
        print("SKIP: curl is not installed")
        sys.exit(77)
    a = parse_args()
    rng = seed()
    with Server(a.model, a.backend, ["--ctx", "256"]) as s:
        code, body = curl(s.base + "/health")
        assert code == 200 and json.loads(body) == {"status": "ok"}, (code, body)
        code, body = curl(s.base + "/v1/models")
        assert code == 200 and json.loads(body)["data"][0]["id"] == "test-model"

        prompt = "the " * rng.randint(1, 6)
        req = json.dumps({"model": "test-model", "prompt": prompt, "max_tokens": 8, "temperature": 0})
        code, body = curl(s.base + "/v1/completions", "-H", "Content-Type: application/json", "-d", req)
        assert code == 200, (code, body)
        whole = json.loads(body)
        assert whole["object"] == "text_completion" and whole["usage"]["total_tokens"] > 0

        streq = json.dumps({"model": "test-model", "prompt": prompt, "max_tokens": 8, "temperature": 0, "stream": True})
        code, body = curl("-N", s.base + "/v1/completions", "-H", "Content-Type: application/json", "-d", streq)
        assert code == 200, code
        events, done = sse_events(body)
        assert done, "stream did not end with data: [DONE]"
        assert "".join(e["choices"][0]["text"] for e in events) == whole["choices"][0]["text"]
        assert events[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
        assert events[-1]["usage"] == whole["usage"]

        chat = json.dumps({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})
        code, body = curl(s.base + "/v1/chat/completions", "-d", chat)
        assert code == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant", (code, body)
        chat_tokens = json.loads(body)["usage"]["completion_tokens"]

        code, body = curl(s.base + "/metrics")
        assert code == 200
        text = body.decode()
        names = set()
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                continue
            assert PROM_LINE.match(line), f"not Prometheus text: {line!r}"
            names.add(re.split(r"[ {]", line)[0])
        for n in ["quanta_requests_running", "quanta_requests_queued", "quanta_generation_tokens_per_second",
                  "quanta_kv_blocks_used", "quanta_time_to_first_token_seconds_bucket",
                  "quanta_inter_token_latency_seconds_bucket"]:
            assert n in names, n
        # what the three responses said they generated (a random tiny model may end a row early)
        generated = 2 * whole["usage"]["completion_tokens"] + chat_tokens
        assert s.metric("quanta_generation_tokens_total") >= generated, (s.metric("quanta_generation_tokens_total"), generated)
        assert s.metric("quanta_time_to_first_token_seconds_count") == 3
    print("OK")


if __name__ == "__main__":
    main()
