"""test_schedule.py — length-bucketed admission (`--schedule bucketed`) against arrival order
(`--schedule fifo`, the default). One batch slot; a stream holds it while a long request and then a short one
queue behind it; when the stream leaves, bucketed admission lets the short request in first (it is
done before the long one has produced anything), arrival order runs the long one first. Every request
succeeds either way and nothing is left holding blocks."""
import threading
import time

from harness import Server, parse_args, seed

WORDS = ["the", "hello", "a", "that", "he", "lot", "bead", "cheat"]


def order_of(s, long_prompt, short_prompt):
    done, errors = [], []

    def send(name, prompt, n):
        code, _, body = s.post("/v1/completions", {"prompt": prompt, "max_tokens": n, "temperature": 0})
        if code != 200:
            errors.append((name, code, body))
        done.append(name)
    sock = s.open_stream()  # holds the only slot until closed
    threads = [threading.Thread(target=send, args=("long", long_prompt, 150))]
    threads[0].start()
    deadline = time.time() + 30
    while s.metric("quanta_requests_queued") < 1 and time.time() < deadline:
        time.sleep(0.005)
    # 24 tokens, not 2: under arrival order the short request runs only after the long one has answered,
    # and it must not finish before the long one's client thread has woken up to record that answer.
    threads.append(threading.Thread(target=send, args=("short", short_prompt, 24)))
    threads[1].start()
    while s.metric("quanta_requests_queued") < 2 and time.time() < deadline:
        time.sleep(0.005)
    assert s.metric("quanta_requests_queued") == 2, "the two requests did not queue"
    sock.close()  # the slot frees: admission picks one of the two
    for t in threads:
        t.join()
    assert not errors, errors
    assert s.metric("quanta_kv_blocks_used") == 0 and s.metric("quanta_requests_running") == 0
    return done


def main():
    a = parse_args()
    rng = seed()
    long_prompt = " ".join(rng.choice(WORDS) for _ in range(120))
    short_prompt = " ".join(rng.choice(WORDS) for _ in range(3))
    common = ["--ctx", "4096", "--max-batch", "1"]
    with Server(a.model, a.backend, common + ["--schedule", "bucketed"]) as s:
        got = order_of(s, long_prompt, short_prompt)
        print("bucketed: finished", got)
        assert got == ["short", "long"], got
    with Server(a.model, a.backend, common) as s:  # fifo is the default
        got = order_of(s, long_prompt, short_prompt)
        print("fifo: finished", got)
        assert got == ["long", "short"], got
    print("OK")


if __name__ == "__main__":
    main()
