"""test_kserve.py — NVIDIA's Triton client (`tritonclient[http]` from PyPI, a client nobody here wrote)
against `quanta serve`'s KServe v2 routes: health, server and model metadata, the model's config; a
batched infer of 4 prompts of different lengths (binary tensors, the client's default) whose rows must
equal, token for token, the same prompts sent alone (JSON tensors; where the backend does not promise
batch invariance, harness.Server.batch_invariant, they may part only at a near tie), alone must equal
/v1/completions' text, and the rows must have decoded together; token-id prompts of different lengths padded in one [batch, L] tensor with
input_lengths; Triton's generate and generate_stream (raw HTTP: tritonclient has no generate call),
whose text must equal infer's; seeded sampling repeatable; malformed tensors (wrong datatype, shape
mismatch, missing input, ...) answered 400 with {"error": "..."} while the server keeps serving; the
README's tritonclient snippet run as written; 413 for big bodies; 503 while draining on SIGTERM."""
import json
import os
import re
import subprocess
import sys

from harness import Server, default_model_or_skip, parse_args, seed, sse_events

try:
    import numpy as np
    import tritonclient.http as th
    from tritonclient.utils import InferenceServerException
except ImportError:
    print("SKIP: tritonclient[http] is not installed (.ci/install-deps installs it)")
    sys.exit(77)

WORDS = ["the", "hello", "a", "that", "he", "lot", "bead", "cheat"]
MODEL = "test-model"
MAX_BATCH = 4


def text_input(prompts, binary=True):
    t = th.InferInput("text_input", [len(prompts), 1], "BYTES")
    t.set_data_from_numpy(np.array([[p.encode()] for p in prompts], dtype=object), binary_data=binary)
    return t


def infer_text(c, prompts, n, binary=True):
    """(texts as str, ids per row trimmed to output_lengths, finish reasons) of one infer call."""
    outs = [th.InferRequestedOutput(name, binary_data=binary)
            for name in ("text_output", "output_ids", "output_lengths", "finish_reason")]
    r = c.infer(MODEL, [text_input(prompts, binary)], outputs=outs, parameters={"max_tokens": n, "temperature": 0})
    return rows(r, len(prompts))


def rows(r, batch):
    text, ids, lens, fin = (r.as_numpy(k) for k in ("text_output", "output_ids", "output_lengths", "finish_reason"))
    assert text.shape == (batch, 1) and lens.shape == (batch, 1) and fin.shape == (batch, 1), (text.shape, lens.shape)
    assert ids.dtype == np.int32 and ids.shape[0] == batch and ids.shape[1] == lens.max(), (ids.shape, lens)
    out = []
    for b in range(batch):
        n = int(lens[b, 0])
        assert (ids[b, n:] == -1).all(), ids[b]  # padding past the row's own length
        t = text[b, 0]
        out.append((t.decode("utf-8", "replace") if isinstance(t, bytes) else t, ids[b, :n].tolist(),
                    fin[b, 0].decode() if isinstance(fin[b, 0], bytes) else fin[b, 0]))
    return out


def expect_400(c, inputs, what, **kw):
    try:
        c.infer(MODEL, inputs, **kw)
    except InferenceServerException as e:
        assert e.status() == "400", (what, e.status(), e.message())
        print(f"400 for {what}: {e.message()}")
        return
    raise AssertionError(f"{what} was accepted")


def check_metadata(c, s, n_ctx):
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready(MODEL)
    assert not c.is_model_ready("no-such-model")
    meta = c.get_server_metadata()
    assert meta["name"] == "quanta" and set(meta["extensions"]) == {"binary_tensor_data", "generate"}, meta
    m = c.get_model_metadata(MODEL)
    assert m["name"] == MODEL and m["versions"] == ["1"], m
    shapes = {t["name"]: (t["datatype"], t["shape"]) for t in m["inputs"]}
    assert shapes == {"text_input": ("BYTES", [-1, 1]), "input_ids": ("INT32", [-1, -1]),
                      "input_lengths": ("INT32", [-1, 1])}, shapes
    shapes = {t["name"]: (t["datatype"], t["shape"]) for t in m["outputs"]}
    assert shapes == {"text_output": ("BYTES", [-1, 1]), "output_ids": ("INT32", [-1, -1]),
                      "output_lengths": ("INT32", [-1, 1]), "finish_reason": ("BYTES", [-1, 1])}, shapes
    cfg = c.get_model_config(MODEL)
    assert cfg["max_batch_size"] == MAX_BATCH, cfg
    assert cfg["parameters"]["context_length"]["string_value"] == str(n_ctx), cfg
    # The config and the metadata describe the same tensors (config dims leave out the batch).
    assert [(t["name"], t["dims"]) for t in cfg["input"]] == [(t["name"], t["shape"][1:]) for t in m["inputs"]]
    try:
        c.get_model_metadata("no-such-model")
        raise AssertionError("metadata of an unknown model")
    except InferenceServerException as e:
        assert e.status() == "404", e
    code, _, body = s.request("GET", "/v2/health/live")
    assert code == 200 and json.loads(body) == {"live": True}


def check_batch(c, s, prompts, n):
    alone = [infer_text(c, [p], n, binary=False)[0] for p in prompts]
    steps0, rows0 = s.metric("quanta_scheduler_steps_total"), s.metric("quanta_scheduler_decode_rows_total")
    together = infer_text(c, prompts, n)
    steps = s.metric("quanta_scheduler_steps_total") - steps0
    drows = s.metric("quanta_scheduler_decode_rows_total") - rows0
    print(f"batched infer: {steps:.0f} steps, mean decode rows per step {drows / steps:.2f}")
    assert drows / steps > 1.5, "the batch's rows did not decode together"
    for i, (x, y) in enumerate(zip(alone, together)):
        print(f"row {i}: {prompts[i]!r} -> {y[1]} {y[2]}")
        s.agree_or_near_tie(prompts[i], x[1], y[1], f"row {i} alone vs batched")
        if x[1] == y[1]:
            assert x[2] == y[2], f"row {i}: alone {x} != batched {y}"
        # A random tiny model may end a row at once (end-of-generation first: "stop" with no ids).
        assert len(y[1]) <= n and y[2] in ("stop", "length"), y
        if y[2] == "length":
            assert len(y[1]) == n
    # The OpenAI route, code written apart from this one, gives the same greedy text.
    for p, (t, _, _) in zip(prompts, alone):  # JSON text: both routes write invalid UTF-8 the same way
        code, _, body = s.post("/v1/completions", {"prompt": p, "max_tokens": n, "temperature": 0})
        assert code == 200 and body["choices"][0]["text"] == t, (body, t)
    return alone


def check_seeded(c, rng, prompt):
    """Sampling with a seed is repeatable through infer's parameters; the request id comes back."""
    k = {"max_tokens": 8, "temperature": 0.9, "top_p": 0.9, "seed": rng.randrange(1 << 30)}
    r1 = c.infer(MODEL, [text_input([prompt])], request_id="req-1", parameters=k)
    r2 = c.infer(MODEL, [text_input([prompt])], request_id="req-2", parameters=k)
    assert r1.get_response()["id"] == "req-1" and r2.get_response()["id"] == "req-2"
    assert (r1.as_numpy("output_ids") == r2.as_numpy("output_ids")).all()


def check_ids(c, s, rng, n):
    """Token-id prompts of different lengths in one [4, L] tensor, input_lengths saying where each ends."""
    prompts = [[rng.randrange(3, 250) for _ in range(rng.randint(1, 12))] for _ in range(MAX_BATCH)]
    width = max(map(len, prompts))
    ids = np.full((len(prompts), width), 7, dtype=np.int32)  # the padding must be ignored: not -1 here
    for b, p in enumerate(prompts):
        ids[b, :len(p)] = p

    def run(mat, lens):
        t = th.InferInput("input_ids", list(mat.shape), "INT32")
        t.set_data_from_numpy(mat)
        inputs = [t]
        if lens is not None:
            ln = th.InferInput("input_lengths", [len(lens), 1], "INT32")
            ln.set_data_from_numpy(np.array([[x] for x in lens], dtype=np.int32), binary_data=False)
            inputs.append(ln)
        return rows(c.infer(MODEL, inputs, parameters={"max_tokens": n, "temperature": 0}), mat.shape[0])

    batched = run(ids, [len(p) for p in prompts])
    for b, p in enumerate(prompts):
        alone = run(np.array([p], dtype=np.int32), None)[0]
        s.agree_or_near_tie(p, alone[1], batched[b][1], f"input_ids row {b} alone vs batched")


def check_generate(s, prompt, n, want):
    code, _, body = s.post(f"/v2/models/{MODEL}/generate",
                           {"text_input": prompt, "parameters": {"max_tokens": n, "temperature": 0}})
    assert code == 200, body
    assert body["model_name"] == MODEL and body["text_output"] == want[0] and body["output_ids"] == want[1], (body, want)
    assert body["finish_reason"] == want[2]
    code, hdrs, data = s.request("POST", f"/v2/models/{MODEL}/generate_stream",
                                 {"text_input": prompt, "max_tokens": n, "temperature": 0})
    assert code == 200 and hdrs["content-type"].startswith("text/event-stream"), (code, hdrs)
    events, done = sse_events(data)
    assert not done and len(events) >= 1, events  # Triton's streams end without [DONE]
    print("generate_stream:", [e["text_output"] for e in events])
    assert "".join(e["text_output"] for e in events) == want[0]
    assert events[-1]["finish_reason"] == want[2] and all("finish_reason" not in e for e in events[:-1])


def check_errors(c, s, prompt):
    good = text_input([prompt])
    wrong_type = th.InferInput("text_input", [1, 1], "INT32")
    wrong_type.set_data_from_numpy(np.array([[5]], dtype=np.int32))
    expect_400(c, [wrong_type], "text_input as INT32")
    for binary in (True, False):
        short = text_input([prompt, prompt], binary)
        short.set_shape([3, 1])  # the data holds 2 elements
        expect_400(c, [short], f"shape [3, 1] with 2 elements ({'binary' if binary else 'JSON'})")
    flat = text_input([prompt])
    flat.set_shape([1])
    expect_400(c, [flat], "shape [1] (no batch dimension)")
    ln = th.InferInput("input_lengths", [1, 1], "INT32")
    ln.set_data_from_numpy(np.array([[1]], dtype=np.int32))
    expect_400(c, [ln], "no prompt input")
    other = th.InferInput("image", [1, 1], "BYTES")
    other.set_data_from_numpy(np.array([[b"x"]], dtype=object))
    expect_400(c, [other], "an unknown input")
    ids = th.InferInput("input_ids", [1, 2], "INT32")
    ids.set_data_from_numpy(np.array([[1, 2]], dtype=np.int32))
    expect_400(c, [good, ids], "text_input and input_ids together")
    ids.set_data_from_numpy(np.array([[1, -4]], dtype=np.int32))
    expect_400(c, [ids], "a negative token id")
    expect_400(c, [good], "temperature 5", parameters={"temperature": 5})
    expect_400(c, [good], "an unknown parameter", parameters={"beam_width": 2})
    expect_400(c, [text_input([prompt] * (MAX_BATCH + 1))], "a batch over max_batch_size")
    expect_400(c, [good], "an unknown output", outputs=[th.InferRequestedOutput("logits")])
    # Raw bodies: the error's shape, a binary size past the body, broken JSON, a generate without text.
    bad = [(f"/v2/models/{MODEL}/infer", b'{"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [1, 1], '
            b'"parameters": {"binary_data_size": 99}}]}', {"Inference-Header-Content-Length": "0"}),
           (f"/v2/models/{MODEL}/infer", b'{"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [1, 1], '
            b'"parameters": {"binary_data_size": 99}}]}', None),
           (f"/v2/models/{MODEL}/infer", b'{"inputs": [', None),
           (f"/v2/models/{MODEL}/generate", b'{"parameters": {"max_tokens": 3}}', None),
           # 3 x 6148914691236517207 elements wrap 64 bits to 5: five ids were accepted for three rows of 6e18
           # columns and read far outside them (a crash, before review8's fix)
           (f"/v2/models/{MODEL}/infer", b'{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": '
            b'[3, 6148914691236517207], "data": [1, 2, 3, 4, 5]}, {"name": "input_lengths", "datatype": "INT32", '
            b'"shape": [3, 1], "data": [50, 50, 50]}]}', None),
           (f"/v2/models/{MODEL}/generate_stream", b'{"text_input": 3}', None)]
    for path, body, hdrs in bad:
        code, h, data = s.request("POST", path, body, headers=hdrs)
        err = json.loads(data)
        assert code == 400 and list(err) == ["error"] and isinstance(err["error"], str), (path, body, code, data)
        print(f"400 for {body[:40]!r}: {err['error']}")
    code, _, data = s.request("POST", "/v2/models/other/infer", b"{}")
    assert code == 404 and "other" in json.loads(data)["error"], data
    # Still serving.
    r = c.infer(MODEL, [good], parameters={"max_tokens": 2, "temperature": 0})
    assert r.as_numpy("output_lengths")[0, 0] >= 1


def check_readme_snippet(s, default_model):
    """The README's tritonclient snippet, run as written but for the address and model name."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "tritonclient" in b]
    assert len(blocks) == 1, "the README has no (or more than one) tritonclient snippet"
    code = blocks[0]
    assert '"127.0.0.1:8080"' in code and '"gemma"' in code, code
    code = code.replace('"127.0.0.1:8080"', f'"127.0.0.1:{s.port}"').replace('"gemma"', f'"{MODEL}"')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    print("README snippet:", out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) >= 2, lines
    if default_model:
        assert any(ch.isalpha() for ch in out.stdout), out.stdout


def check_too_big(s):
    """A body over --max-body (16384): 413 in the protocol's shape, declared or sent chunked."""
    code, _, data = s.request("POST", f"/v2/models/{MODEL}/generate", {"text_input": "x" * 20000})
    assert code == 413 and "larger than" in json.loads(data)["error"], (code, data)
    code, data = s.post_chunked(f"/v2/models/{MODEL}/infer", 20)
    assert code == 413 and "larger than" in json.loads(data)["error"], (code, data)


def check_drain(s, prompt):
    """SIGTERM while a stream runs: readiness and new requests get 503 {"error"}, the stream finishes."""
    def probe():
        code, _, data = s.request("GET", "/v2/health/ready")
        assert code == 503, (code, data)
        code, hdrs, data = s.request("POST", f"/v2/models/{MODEL}/generate", {"text_input": prompt})
        assert code == 503 and int(hdrs["retry-after"]) >= 1 and "error" in json.loads(data), (code, data)
        print("draining: 503", json.loads(data))
    code, events, done = s.sigterm_while_streaming(f"/v2/models/{MODEL}/generate_stream",
                                                   {"text_input": prompt, "max_tokens": 48, "temperature": 0}, probe)
    assert code == 200 and not done and events[-1]["finish_reason"] in ("stop", "length"), (code, events)


def main():
    a = parse_args()
    rng = seed()
    model = default_model_or_skip() if a.default_model else a.model
    n_ctx = 512 if a.default_model else 256
    n = 8 if a.default_model else 12
    if a.default_model:
        prompts = ["The capital of France is", "Water boils at a temperature of", "One, two, three,",
                   "The largest planet in our solar system is called"]
    else:
        prompts = [" ".join(rng.choice(WORDS) for _ in range(k)) for k in (1, 5, 11, 23)]
        rng.shuffle(prompts)
    # Batched rows must give the tokens they give alone where the backend promises it
    # (Server.batch_invariant), else part only at a near tie. The tiny model keeps its stored f32
    # weights; the real model takes the default q8, which on OpenCL rounds x to int8 above 8 rows
    # only (tests/opencl/test_opencl_batch.c), so it runs with QUANTA_OPENCL_GEMM=int8, the int8
    # kernel at every row count, under which a q8 model is batch-invariant on the CPU class.
    quant = "q8" if a.default_model else "keep"
    env = {"QUANTA_OPENCL_GEMM": "int8"} if a.default_model else None
    with Server(model, a.backend, ["--ctx", str(n_ctx), "--max-batch", str(MAX_BATCH),
                                   "--max-body", "16384"], quant=quant, env=env) as s:
        print(f"batch invariance promised on {s.backend} ({s.device}): {s.batch_invariant()}")
        with th.InferenceServerClient(f"127.0.0.1:{s.port}", network_timeout=600, connection_timeout=60) as c:
            check_metadata(c, s, n_ctx)
            alone = check_batch(c, s, prompts, n)
            check_seeded(c, rng, prompts[2])
            if a.default_model:
                assert any(ch.isalpha() for ch in alone[0][0]), alone[0]
            else:
                check_ids(c, s, rng, n)
            check_generate(s, prompts[1], n, alone[1])
            check_errors(c, s, prompts[0])
        check_readme_snippet(s, a.default_model)
        check_too_big(s)
        check_drain(s, prompts[0])
    print("OK")


if __name__ == "__main__":
    main()
