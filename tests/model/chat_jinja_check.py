#!/usr/bin/env python3
"""Renders every case of data/chat/cases.json with jinja2 (the engine Hugging Face uses for
chat templates) over the template files next to it, and compares with the hand-written
expected text (after the template's leading BOS, which quanta_chat_render leaves to the
tokenizer). Exit 77 (skip) without jinja2, 1 on any difference."""
import json, os, sys

try:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    sys.exit(77)

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "chat")
spec = json.load(open(os.path.join(here, "cases.json"), encoding="utf-8"))


def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception
bad = 0
for c in spec["cases"]:
    text = open(os.path.join(here, c["template"]), encoding="utf-8").read()
    msgs = [{"role": r, "content": t} for r, t in spec["conversations"][c["conversation"]]]
    out = env.from_string(text).render(messages=msgs, add_generation_prompt=c["add_generation_prompt"],
                                       bos_token=c["bos"], eos_token=c["eos"])
    if c["bos"] and out.startswith(c["bos"]):
        out = out[len(c["bos"]):]
    ok = out == c["expected"]
    bad += not ok
    print(("ok  " if ok else "DIFF") + f" {c['template']} {c['conversation']}" + ("" if ok else f"\n  jinja2:   {out!r}\n  expected: {c['expected']!r}"))
sys.exit(1 if bad else 0)
