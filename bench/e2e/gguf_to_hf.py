# Writes a Hugging Face directory (model.safetensors in BF16 or F32, config.json, tokenizer.json)
# from the Gemma 3 270M GGUF: every tensor dequantized (gguf-py), norms stored as w (GGUF: 1 + w).
# The tokenizer.json is the GGUF vocabulary as a BPE with byte fallback and no merges: enough to
# load and time the model, not to tokenize like Gemma. Usage: gguf_to_hf.py IN.gguf OUTDIR BF16|F32
import json, os, struct, sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

src, out, dt = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
r = GGUFReader(src)
def field(k):
    f = r.fields[k]
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types[0].name == 'STRING' else v[0].item()
names = {'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight'}
layer = {'attn_norm': 'input_layernorm', 'attn_q': 'self_attn.q_proj', 'attn_k': 'self_attn.k_proj',
         'attn_v': 'self_attn.v_proj', 'attn_output': 'self_attn.o_proj', 'attn_q_norm': 'self_attn.q_norm',
         'attn_k_norm': 'self_attn.k_norm', 'post_attention_norm': 'post_attention_layernorm',
         'ffn_norm': 'pre_feedforward_layernorm', 'post_ffw_norm': 'post_feedforward_layernorm',
         'ffn_gate': 'mlp.gate_proj', 'ffn_up': 'mlp.up_proj', 'ffn_down': 'mlp.down_proj'}
tensors = []
for t in r.tensors:
    if t.name in names: hf = names[t.name]
    else:
        _, l, rest = t.name.split('.', 2)
        hf = 'model.layers.%s.%s.weight' % (l, layer[rest[:-len('.weight')]])
    shape = [int(x) for x in reversed(t.shape)]
    a = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
    if 'norm' in t.name: a = a - 1.0
    if dt == 'BF16':
        u = a.view(np.uint32).astype(np.uint64)
        a = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    tensors.append((hf, shape, np.ascontiguousarray(a)))
hdr, off = {'__metadata__': {'format': 'pt'}}, 0
for hf, shape, a in tensors:
    hdr[hf] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + a.nbytes]}
    off += a.nbytes
h = json.dumps(hdr).encode()
h += b' ' * (-len(h) % 8)
with open(os.path.join(out, 'model.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(h))); f.write(h)
    for _, _, a in tensors: f.write(a.tobytes())
cfg = {'architectures': ['Gemma3ForCausalLM'], 'model_type': 'gemma3_text',
       'hidden_size': field('gemma3.embedding_length'), 'intermediate_size': field('gemma3.feed_forward_length'),
       'num_hidden_layers': field('gemma3.block_count'), 'num_attention_heads': field('gemma3.attention.head_count'),
       'num_key_value_heads': field('gemma3.attention.head_count_kv'), 'head_dim': field('gemma3.attention.key_length'),
       'vocab_size': 262144, 'max_position_embeddings': field('gemma3.context_length'), 'rms_norm_eps': 1e-6,
       'rope_theta': field('gemma3.rope.freq_base'), 'rope_local_base_freq': 10000.0,
       'sliding_window': field('gemma3.attention.sliding_window'), 'sliding_window_pattern': 6,
       'query_pre_attn_scalar': 256, 'hidden_activation': 'gelu_pytorch_tanh', 'bos_token_id': 2,
       'eos_token_id': 1, 'tie_word_embeddings': True}
json.dump(cfg, open(os.path.join(out, 'config.json'), 'w'))
tf = r.fields['tokenizer.ggml.tokens']
toks = [bytes(tf.parts[i]).decode('utf-8', 'replace') for i in tf.data]
vocab, seen = {}, set()
for i, s in enumerate(toks):
    if s in seen: s = '<dup%d>' % i
    seen.add(s); vocab[s] = i
tok = {'version': '1.0', 'added_tokens': [{'id': i, 'content': toks[i], 'special': True} for i in range(4)],
       'normalizer': {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}, 'pre_tokenizer': None,
       'decoder': {'type': 'Sequence', 'decoders': [{'type': 'ByteFallback'}]},
       'model': {'type': 'BPE', 'byte_fallback': True, 'unk_token': toks[3], 'vocab': vocab, 'merges': []}}
json.dump(tok, open(os.path.join(out, 'tokenizer.json'), 'w'))
