/* openai_response.c — OpenAI-shaped response bodies (openai_response.h), built with jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openai_response.h"

/* text made valid UTF-8 (each invalid byte becomes U+FFFD), as a JSON string. */
json_t *qs_json_utf8(const char *s, size_t n) {
    char *o = malloc(3 * n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = need > 0 && i + need <= n && c != 0;
        for (size_t j = 1; ok && j < need; j++) ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
        if (ok && need == 2) ok = c >= 0xC2;
        if (ok && need == 3) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0); /* overlong, surrogates */
        }
        if (ok && need == 4) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90) && c <= 0xF4;
        }
        if (ok) {
            memcpy(o + k, s + i, need);
            k += need;
            i += need;
        } else {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    json_t *j = json_stringn(o, k);
    free(o);
    return j;
}

static char *dump(json_t *j) {
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *qs_json_error(const char *message, const char *type, const char *param, const char *code) {
    json_t *e = json_object();
    json_object_set_new(e, "message", qs_json_utf8(message, strlen(message)));
    json_object_set_new(e, "type", json_string(type));
    json_object_set_new(e, "param", param && *param ? qs_json_utf8(param, strlen(param)) : json_null());
    json_object_set_new(e, "code", code ? json_string(code) : json_null());
    json_t *o = json_object();
    json_object_set_new(o, "error", e);
    return dump(o);
}

static json_t *usage(int32_t p, int32_t c) {
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", (json_int_t)p, "completion_tokens", (json_int_t)c,
                     "total_tokens", (json_int_t)p + c);
}

static json_t *piece(const qs_resp_ctx *c, int32_t id) {
    char buf[256];
    size_t len = 0;
    if (quanta_model_token_to_piece(c->m, id, 1, buf, sizeof buf, &len)) len = 0;
    return qs_json_utf8(buf, len);
}

static json_t *piece_bytes(const qs_resp_ctx *c, int32_t id) {
    char buf[256];
    size_t len = 0;
    if (quanta_model_token_to_piece(c->m, id, 1, buf, sizeof buf, &len)) len = 0;
    json_t *a = json_array();
    for (size_t i = 0; i < len; i++) json_array_append_new(a, json_integer((unsigned char)buf[i]));
    return a;
}

/* The logprobs object of tokens toks[0..n), whose text starts at offset base. */
static json_t *logprobs(const qs_resp_ctx *c, const qs_token_out *t, int n, size_t base) {
    if (!c->logprobs) return json_null();
    if (c->chat) {
        json_t *content = json_array();
        for (int i = 0; i < n; i++) {
            json_t *top = json_array();
            for (int k = 0; k < c->top_logprobs; k++)
                json_array_append_new(top, json_pack("{s:o, s:f, s:o}", "token", piece(c, t[i].top_id[k]), "logprob",
                                                     (double)t[i].top_logprob[k], "bytes", piece_bytes(c, t[i].top_id[k])));
            json_array_append_new(content, json_pack("{s:o, s:f, s:o, s:o}", "token", piece(c, t[i].id), "logprob",
                                                     (double)t[i].logprob, "bytes", piece_bytes(c, t[i].id),
                                                     "top_logprobs", top));
        }
        return json_pack("{s:o}", "content", content);
    }
    json_t *tokens = json_array(), *lps = json_array(), *tops = c->top_logprobs ? json_array() : json_null(),
           *offs = json_array();
    size_t off = base;
    for (int i = 0; i < n; i++) {
        json_array_append_new(tokens, piece(c, t[i].id));
        json_array_append_new(lps, json_real(t[i].logprob));
        json_array_append_new(offs, json_integer((json_int_t)off));
        off = t[i].text_end;
        if (c->top_logprobs) {
            json_t *m = json_object();
            for (int k = 0; k < c->top_logprobs; k++) {
                json_t *key = piece(c, t[i].top_id[k]);
                if (key) json_object_set_new(m, json_string_value(key), json_real(t[i].top_logprob[k]));
                json_decref(key);
            }
            json_array_append_new(tops, m);
        }
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops,
                     "text_offset", offs);
}

static json_t *head(const qs_resp_ctx *c, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", c->id, "object", object, "created", (json_int_t)c->created, "model",
                     c->model);
}

char *qs_resp_full(const qs_resp_ctx *c, const char *text, size_t len, const qs_token_out *toks, int n,
                   const char *finish_reason, int32_t prompt_tokens, int32_t completion_tokens) {
    json_t *o = head(c, c->chat ? "chat.completion" : "text_completion");
    json_t *choice;
    if (c->chat)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:o, s:s}", "index", 0, "message", "role", "assistant", "content",
                           qs_json_utf8(text, len), "logprobs", logprobs(c, toks, n, 0), "finish_reason", finish_reason);
    else
        choice = json_pack("{s:o, s:i, s:o, s:s}", "text", qs_json_utf8(text, len), "index", 0, "logprobs",
                           logprobs(c, toks, n, 0), "finish_reason", finish_reason);
    if (!o || !choice) {
        json_decref(o);
        json_decref(choice);
        return NULL;
    }
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    json_object_set_new(o, "usage", usage(prompt_tokens, completion_tokens));
    return dump(o);
}

static char *sse(json_t *o) {
    char *j = dump(o);
    if (!j) return NULL;
    size_t n = strlen(j);
    char *s = malloc(n + 9);
    if (s) {
        memcpy(s, "data: ", 6);
        memcpy(s + 6, j, n);
        memcpy(s + 6 + n, "\n\n", 3);
    }
    free(j);
    return s;
}

char *qs_resp_chunk(const qs_resp_ctx *c, int first, const char *delta, size_t len, const qs_token_out *toks, int n,
                    size_t base, const char *finish_reason, int32_t usage_prompt, int32_t usage_completion) {
    json_t *o = head(c, c->chat ? "chat.completion.chunk" : "text_completion");
    json_t *fr = finish_reason ? json_string(finish_reason) : json_null();
    json_t *choice;
    if (c->chat) {
        json_t *d = json_object();
        if (first) json_object_set_new(d, "role", json_string("assistant"));
        if (len || first) json_object_set_new(d, "content", qs_json_utf8(delta, len));
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "delta", d, "logprobs", logprobs(c, toks, n, base),
                           "finish_reason", fr);
    } else {
        choice = json_pack("{s:o, s:i, s:o, s:o}", "text", qs_json_utf8(delta, len), "index", 0, "logprobs",
                           logprobs(c, toks, n, base), "finish_reason", fr);
    }
    if (!o || !choice) {
        json_decref(o);
        json_decref(choice);
        return NULL;
    }
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    if (usage_prompt >= 0) json_object_set_new(o, "usage", usage(usage_prompt, usage_completion));
    return sse(o);
}

char *qs_resp_usage_chunk(const qs_resp_ctx *c, int32_t prompt_tokens, int32_t completion_tokens) {
    json_t *o = head(c, c->chat ? "chat.completion.chunk" : "text_completion");
    if (!o) return NULL;
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", usage(prompt_tokens, completion_tokens));
    return sse(o);
}

char *qs_resp_models(const char *model_id, long long created) {
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id", model_id, "object", "model",
                          "created", (json_int_t)created, "owned_by", "quanta"));
}
