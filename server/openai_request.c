/* openai_request.c — parsing and checking OpenAI request bodies (openai_request.h). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openai_request.h"

#define MAX_STOP_LEN 256
#define MAX_TOKENS_LIMIT (1 << 30)

typedef struct parse {
    char *msg, *param;
    size_t msg_cap, param_cap;
} parse;

static int bad(parse *p, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(parse *p, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->msg_cap, fmt, ap);
    va_end(ap);
    snprintf(p->param, p->param_cap, "%s", param);
    return -1;
}

/* Fields both endpoints take, then each endpoint's own; anything else is refused. */
static const char *const common_fields[] = {"model", "max_tokens", "temperature", "top_p", "seed", "stop", "n",
                                            "stream", "stream_options", "logprobs", "user", "frequency_penalty",
                                            "presence_penalty", "logit_bias", NULL};
static const char *const completion_fields[] = {"prompt", "echo", "best_of", "suffix", NULL};
static const char *const chat_fields[] = {"messages", "max_completion_tokens", "top_logprobs", "response_format", NULL};

static int known(const char *k, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(k, *list)) return 1;
    return 0;
}

/* An integer field in [lo, hi]; absent or null leaves *v. */
static int get_int(parse *p, json_t *o, const char *k, long long lo, long long hi, long long *v) {
    json_t *x = json_object_get(o, k);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_integer(x)) return bad(p, k, "'%s' must be an integer", k);
    long long n = json_integer_value(x);
    if (n < lo || n > hi) return bad(p, k, "'%s' = %lld is outside [%lld, %lld]", k, n, lo, hi);
    *v = n;
    return 0;
}

static int get_num(parse *p, json_t *o, const char *k, double lo, double hi, double *v) {
    json_t *x = json_object_get(o, k);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_number(x)) return bad(p, k, "'%s' must be a number", k);
    double d = json_number_value(x);
    if (!isfinite(d) || d < lo || d > hi) return bad(p, k, "'%s' = %g is outside [%g, %g]", k, d, lo, hi);
    *v = d;
    return 0;
}

static int get_bool(parse *p, json_t *o, const char *k, int *v) {
    json_t *x = json_object_get(o, k);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_boolean(x)) return bad(p, k, "'%s' must be true or false", k);
    *v = json_is_true(x);
    return 0;
}

/* Options we accept only at their default (the request is refused otherwise, not silently changed). */
static int default_only(parse *p, json_t *o) {
    long long n = 1;
    double d = 0;
    int b = 0;
    if (get_int(p, o, "n", 1, 1, &n)) return bad(p, "n", "only n = 1 is supported");
    if (get_int(p, o, "best_of", 1, 1, &n)) return bad(p, "best_of", "only best_of = 1 is supported");
    if (get_num(p, o, "frequency_penalty", 0, 0, &d)) return bad(p, "frequency_penalty", "only frequency_penalty = 0 is supported");
    if (get_num(p, o, "presence_penalty", 0, 0, &d)) return bad(p, "presence_penalty", "only presence_penalty = 0 is supported");
    if (get_bool(p, o, "echo", &b)) return -1;
    if (b) return bad(p, "echo", "echo is not supported");
    json_t *x = json_object_get(o, "logit_bias");
    if (x && !json_is_null(x) && !(json_is_object(x) && json_object_size(x) == 0))
        return bad(p, "logit_bias", "logit_bias is not supported");
    x = json_object_get(o, "suffix");
    if (x && !json_is_null(x)) return bad(p, "suffix", "suffix is not supported");
    x = json_object_get(o, "user");
    if (x && !json_is_null(x) && !json_is_string(x)) return bad(p, "user", "'user' must be a string");
    x = json_object_get(o, "response_format");
    if (x && !json_is_null(x)) {
        json_t *t = json_is_object(x) ? json_object_get(x, "type") : NULL;
        if (!t || !json_is_string(t) || strcmp(json_string_value(t), "text"))
            return bad(p, "response_format", "only response_format {\"type\": \"text\"} is supported");
    }
    return 0;
}

static int get_stop(parse *p, json_t *o, qs_gen_params *g) {
    json_t *x = json_object_get(o, "stop");
    if (!x || json_is_null(x)) return 0;
    json_t *one[1] = {x};
    size_t n = 1;
    if (json_is_array(x)) {
        n = json_array_size(x);
        if (n > QS_MAX_STOP) return bad(p, "stop", "'stop' takes at most %d strings", QS_MAX_STOP);
    } else if (!json_is_string(x)) {
        return bad(p, "stop", "'stop' must be a string or an array of strings");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(x) ? json_array_get(x, i) : one[0];
        if (!json_is_string(s)) return bad(p, "stop", "'stop' must be a string or an array of strings");
        size_t len = json_string_length(s);
        if (len == 0 || len > MAX_STOP_LEN) return bad(p, "stop", "each stop string needs 1 to %d bytes", MAX_STOP_LEN);
        if (memchr(json_string_value(s), 0, len)) return bad(p, "stop", "a stop string holds a NUL byte");
        if (!(g->stop[g->n_stop] = strdup(json_string_value(s)))) return bad(p, "stop", "out of memory");
        g->n_stop++;
    }
    return 0;
}

static int get_prompt(parse *p, json_t *o, qs_api_req *r) {
    json_t *x = json_object_get(o, "prompt");
    if (!x) return bad(p, "prompt", "'prompt' is required");
    if (json_is_array(x) && json_array_size(x) == 1 && json_is_string(json_array_get(x, 0))) x = json_array_get(x, 0);
    if (json_is_string(x)) {
        size_t len = json_string_length(x);
        if (memchr(json_string_value(x), 0, len)) return bad(p, "prompt", "the prompt holds a NUL byte");
        if (!(r->prompt = strdup(json_string_value(x)))) return bad(p, "prompt", "out of memory");
        return 0;
    }
    if (json_is_array(x) && json_array_size(x) > 0 && json_is_integer(json_array_get(x, 0))) {
        size_t n = json_array_size(x);
        r->prompt_ids = malloc(n * sizeof *r->prompt_ids);
        if (!r->prompt_ids) return bad(p, "prompt", "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(x, i);
            if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX)
                return bad(p, "prompt", "prompt[%zu] is not a token id", i);
            r->prompt_ids[i] = (int32_t)json_integer_value(t);
        }
        r->n_prompt_ids = n;
        return 0;
    }
    if (json_is_array(x) && json_array_size(x) > 1)
        return bad(p, "prompt", "one prompt per request (a list of several prompts is not supported)");
    return bad(p, "prompt", "'prompt' must be a string, a list of one string, or a list of token ids");
}

static int get_messages(parse *p, json_t *o, qs_api_req *r) {
    json_t *x = json_object_get(o, "messages");
    if (!x) return bad(p, "messages", "'messages' is required");
    if (!json_is_array(x) || json_array_size(x) == 0) return bad(p, "messages", "'messages' must be a non-empty array");
    size_t n = json_array_size(x);
    r->messages = calloc(n, sizeof *r->messages);
    if (!r->messages) return bad(p, "messages", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(x, i), *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        char name[32];
        snprintf(name, sizeof name, "messages[%zu]", i);
        if (!json_is_object(m)) return bad(p, name, "%s must be an object", name);
        if (!json_is_string(role)) return bad(p, name, "%s.role must be a string", name);
        const char *rs = json_string_value(role);
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant") && strcmp(rs, "developer"))
            return bad(p, name, "%s.role '%.32s' is not system, developer, user or assistant", name, rs);
        /* Text content: a string, or an array of {"type": "text", "text": ...} parts joined. */
        size_t len = 0;
        char *text = NULL;
        if (json_is_string(content)) {
            len = json_string_length(content);
            text = malloc(len + 1);
            if (text) memcpy(text, json_string_value(content), len + 1);
        } else if (json_is_array(content)) {
            for (size_t k = 0; k < json_array_size(content); k++) {
                json_t *part = json_array_get(content, k), *t = json_object_get(part, "type"), *s = json_object_get(part, "text");
                /* Name the wrong field of the part, its path also the error's param: the part itself (not
                   an object), its type (missing, or not "text": image and audio parts are not supported),
                   or a text part's text. */
                const char *sub = "";
                char why[80] = "";
                if (!json_is_object(part)) {
                    snprintf(why, sizeof why, "must be an object");
                } else if (!json_is_string(t)) {
                    sub = ".type";
                    snprintf(why, sizeof why, "must be a string");
                } else if (strcmp(json_string_value(t), "text")) {
                    sub = ".type";
                    snprintf(why, sizeof why, "'%.32s' is not supported (only 'text' parts are)", json_string_value(t));
                } else if (!json_is_string(s)) {
                    sub = ".text";
                    snprintf(why, sizeof why, "must be a string");
                }
                if (why[0]) {
                    char field[96];
                    snprintf(field, sizeof field, "%s.content[%zu]%s", name, k, sub);
                    free(text);
                    return bad(p, field, "%s %s", field, why);
                }
                size_t l = json_string_length(s);
                char *q = realloc(text, len + l + 1);
                if (!q) {
                    free(text);
                    return bad(p, name, "out of memory");
                }
                text = q;
                memcpy(text + len, json_string_value(s), l + 1);
                len += l;
            }
            if (!text) text = calloc(1, 1);
        } else {
            return bad(p, name, "%s.content must be a string or an array of text parts", name);
        }
        if (!text) return bad(p, name, "out of memory");
        if (strlen(text) != len) {
            free(text);
            return bad(p, name, "%s.content holds a NUL byte", name);
        }
        r->messages[i].content = text;
        r->messages[i].role = strdup(!strcmp(rs, "developer") ? "system" : rs);
        r->n_messages = i + 1;
        if (!r->messages[i].role) return bad(p, name, "out of memory");
    }
    return 0;
}

int qs_api_parse(const char *body, size_t len, int chat, qs_api_req *r, char *msg, size_t msg_cap, char *param,
                 size_t param_cap) {
    parse p = {msg, param, msg_cap, param_cap};
    memset(r, 0, sizeof *r);
    r->chat = chat;
    r->gen.max_tokens = chat ? -1 : 16; /* the OpenAI defaults: chat until the end, completions 16 */
    r->gen.temperature = 1.0f;
    r->gen.top_p = 1.0f;
    param[0] = 0;
    json_error_t err;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!o) return bad(&p, "", "malformed JSON at line %d column %d: %s", err.line, err.column, err.text);
    int rc = -1;
    if (!json_is_object(o)) {
        bad(&p, "", "the body must be a JSON object");
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!known(k, common_fields) && !known(k, chat ? chat_fields : completion_fields)) {
            bad(&p, k, "unknown field '%.64s'", k);
            goto done;
        }
    }
    json_t *m = json_object_get(o, "model");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) {
            bad(&p, "model", "'model' must be a string");
            goto done;
        }
        if (!(r->model = strdup(json_string_value(m)))) {
            bad(&p, "model", "out of memory");
            goto done;
        }
    }
    long long n = r->gen.max_tokens, lp = -1, top = 0, seed = 0;
    double d;
    if (get_int(&p, o, "max_tokens", 1, MAX_TOKENS_LIMIT, &n)) goto done;
    if (chat && get_int(&p, o, "max_completion_tokens", 1, MAX_TOKENS_LIMIT, &n)) goto done;
    r->gen.max_tokens = (int32_t)n;
    d = r->gen.temperature;
    if (get_num(&p, o, "temperature", 0, 2, &d)) goto done;
    r->gen.temperature = (float)d;
    d = r->gen.top_p;
    if (get_num(&p, o, "top_p", 1e-9, 1, &d)) goto done;
    r->gen.top_p = (float)d;
    json_t *s = json_object_get(o, "seed");
    if (s && !json_is_null(s)) {
        if (get_int(&p, o, "seed", INT64_MIN, INT64_MAX, &seed)) goto done;
        r->gen.seed = (uint64_t)seed;
        r->gen.has_seed = 1;
    }
    if (get_bool(&p, o, "stream", &r->stream)) goto done;
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            bad(&p, "stream_options", "'stream_options' must be an object");
            goto done;
        }
        json_object_foreach(so, k, v) {
            if (strcmp(k, "include_usage")) {
                bad(&p, "stream_options", "unknown field 'stream_options.%.64s'", k);
                goto done;
            }
        }
        if (get_bool(&p, so, "include_usage", &r->include_usage)) goto done;
    }
    if (chat) {
        int want = 0;
        if (get_bool(&p, o, "logprobs", &want)) goto done;
        if (get_int(&p, o, "top_logprobs", 0, QS_MAX_TOP_LOGPROBS, &top)) goto done;
        if (top && !want) {
            bad(&p, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            goto done;
        }
        r->gen.logprobs = want;
        r->gen.top_logprobs = (int)top;
    } else {
        if (get_int(&p, o, "logprobs", 0, QS_MAX_TOP_LOGPROBS, &lp)) goto done;
        r->gen.logprobs = lp >= 0;
        r->gen.top_logprobs = lp > 0 ? (int)lp : 0;
    }
    if (default_only(&p, o) || get_stop(&p, o, &r->gen)) goto done;
    if (chat ? get_messages(&p, o, r) : get_prompt(&p, o, r)) goto done;
    rc = 0;
done:
    json_decref(o);
    if (rc) qs_api_req_free(r);
    return rc;
}

void qs_api_req_free(qs_api_req *r) {
    free(r->model);
    free(r->prompt);
    free(r->prompt_ids);
    for (size_t i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].content);
    }
    free(r->messages);
    for (int i = 0; i < r->gen.n_stop; i++) free(r->gen.stop[i]);
    memset(r, 0, sizeof *r);
}
