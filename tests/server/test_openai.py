"""test_openai.py — the `openai` Python package (PyPI), a client nobody here wrote, against `quanta
serve`: completions and chat completions, streamed and not, with usage counts; the streamed text must
equal the whole response's text for the same greedy request; models list."""
import sys

from harness import Server, default_model_or_skip, parse_args, seed

try:
    import openai
except ImportError:
    print("SKIP: the openai package is not installed (.ci/install-deps installs it)")
    sys.exit(77)


def main():
    a = parse_args()
    rng = seed()
    model = default_model_or_skip() if a.default_model else a.model
    n = 12 if a.default_model else 24
    with Server(model, a.backend, ["--ctx", "512" if a.default_model else "256", "--max-batch", "4"]) as s:
        client = openai.OpenAI(base_url=s.base + "/v1", api_key="unused", max_retries=0, timeout=600)
        models = client.models.list()
        assert [m.id for m in models.data] == ["test-model"], models

        prompt = "The capital of France is" if a.default_model else "hello the " * rng.randint(1, 4)
        r = client.completions.create(model="test-model", prompt=prompt, max_tokens=n, temperature=0)
        c = r.choices[0]
        print("completion:", repr(c.text), c.finish_reason, r.usage)
        assert c.finish_reason in ("stop", "length")
        assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens >= 1
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        if c.finish_reason == "length":
            assert r.usage.completion_tokens == n
        if a.default_model:
            assert any(ch.isalpha() for ch in c.text), c.text

        # Streamed: the same greedy request gives the same text, piece by piece.
        pieces, finish, usage = [], None, None
        for ev in client.completions.create(model="test-model", prompt=prompt, max_tokens=n, temperature=0,
                                            stream=True, stream_options={"include_usage": True}):
            if ev.choices:
                pieces.append(ev.choices[0].text)
                finish = ev.choices[0].finish_reason or finish
            if ev.usage:
                usage = ev.usage
        print("streamed:", pieces, finish, usage)
        assert "".join(pieces) == c.text
        assert finish == c.finish_reason
        assert usage.completion_tokens == r.usage.completion_tokens and usage.prompt_tokens == r.usage.prompt_tokens

        # Logprobs: log-probabilities <= 0, the greedy token is the top alternative.
        r = client.completions.create(model="test-model", prompt=prompt, max_tokens=4, temperature=0, logprobs=2)
        lp = r.choices[0].logprobs
        assert len(lp.token_logprobs) == len(lp.tokens) >= 1
        for t, l, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
            # (byte tokens of a random model may share the text U+FFFD, so keys can collide)
            assert l <= 1e-6 and 1 <= len(top) <= 2
            assert l >= max(top.values()) - 1e-4, (t, l, top)
            if len(top) == 2:
                assert abs(max(top.values()) - l) < 1e-4, (t, l, top)

        # Chat, whole and streamed.
        msgs = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is the capital of France?" if a.default_model else "hello"}]
        r = client.chat.completions.create(model="test-model", messages=msgs, max_tokens=n, temperature=0, seed=7)
        m = r.choices[0].message
        print("chat:", repr(m.content), r.choices[0].finish_reason, r.usage)
        assert m.role == "assistant" and isinstance(m.content, str)
        assert r.usage.prompt_tokens > 5 and r.usage.completion_tokens >= 1
        pieces, roles = [], []
        for ev in client.chat.completions.create(model="test-model", messages=msgs, max_tokens=n, temperature=0,
                                                 stream=True):
            if ev.choices:
                d = ev.choices[0].delta
                roles += [d.role] if d.role else []
                pieces.append(d.content or "")
        assert roles == ["assistant"], roles
        assert "".join(pieces) == m.content, (pieces, m.content)

        # Sampling with a seed is repeatable.
        k = dict(model="test-model", prompt=prompt, max_tokens=8, temperature=0.9, top_p=0.9, seed=rng.randint(0, 1 << 30))
        assert client.completions.create(**k).choices[0].text == client.completions.create(**k).choices[0].text

        # The client sees our errors as OpenAI errors.
        try:
            client.completions.create(model="test-model", prompt=prompt, max_tokens=-3)
            raise AssertionError("max_tokens = -3 was accepted")
        except openai.BadRequestError as e:
            assert "max_tokens" in str(e), e
    print("OK")


if __name__ == "__main__":
    main()
