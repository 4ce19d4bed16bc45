"""test_soak.py — a bounded soak: 16 concurrent clients send 200 requests (streamed and not, random
prompt lengths, token counts, sampling settings and stop strings, some abandoned mid-stream); every
request must succeed, nothing may stay running or hold KV blocks afterwards, and the server's resident
memory after the run may not exceed what it was after a warm-up round by more than a small margin."""
import concurrent.futures as cf
import json
import socket

from harness import Server, parse_args, seed, sse_events

WORDS = ["the", "hello", "a", "that", "he", "lot", "bead", "cheat", "\u00e9t\u00e9", "\u4e16\u754c"]


def one(s, rng_seed, i):
    import random
    rng = random.Random(rng_seed * 1000 + i)
    body = {"prompt": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))),
            "max_tokens": rng.randint(1, 48), "temperature": rng.choice([0, 0.7, 1.3]), "seed": i}
    if rng.random() < 0.3:
        body["stop"] = [rng.choice(WORDS)]
    mode = rng.random()
    if mode < 0.1:  # abandoned mid-stream
        body["stream"] = True
        k = socket.create_connection(("127.0.0.1", s.port))
        data = json.dumps(body).encode()
        k.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(data)).encode() +
                  b"\r\n\r\n" + data)
        head = k.recv(64)
        k.close()
        assert head.startswith(b"HTTP/1.1 200"), head
        return "abandoned"
    if mode < 0.5:
        body["stream"] = True
        code, _, data = s.request("POST", "/v1/completions", json.dumps(body))
        assert code == 200, (code, data)
        events, done = sse_events(data)
        assert done and events[-1]["choices"][0]["finish_reason"] in ("stop", "length"), events[-1:]
        return "streamed"
    code, _, r = s.post("/v1/completions", body)
    assert code == 200, (code, r)
    assert r["choices"][0]["finish_reason"] in ("stop", "length")
    assert 1 <= r["usage"]["completion_tokens"] <= body["max_tokens"]
    return "whole"


def main():
    a = parse_args()
    rng = seed()
    base = rng.randint(0, 1 << 20)
    with Server(a.model, a.backend, ["--ctx", "128", "--max-batch", "16", "--max-queue", "64"]) as s:
        with cf.ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda i: one(s, base, i), range(32)))  # warm-up: plans built, pools sized
        rss0 = s.rss_kib()
        with cf.ThreadPoolExecutor(16) as ex:
            kinds = list(ex.map(lambda i: one(s, base, i), range(32, 232)))
        rss1 = s.rss_kib()
        print({k: kinds.count(k) for k in set(kinds)}, f"RSS {rss0} KiB -> {rss1} KiB")
        import time
        deadline = time.time() + 30
        while (s.metric("quanta_requests_running") or s.metric("quanta_requests_queued")) and time.time() < deadline:
            time.sleep(0.05)
        assert s.metric("quanta_requests_running") == 0 and s.metric("quanta_requests_queued") == 0
        assert s.metric("quanta_kv_blocks_used") == 0
        assert s.metric('quanta_requests_finished_total{reason="error"}') == 0
        if s.sanitized():
            print("AddressSanitizer build: the resident-memory bound is not checked (LeakSanitizer runs at exit)")
        else:
            assert rss1 - rss0 < 24 * 1024, f"memory grew by {rss1 - rss0} KiB over 200 requests"
    print("OK")


if __name__ == "__main__":
    main()
