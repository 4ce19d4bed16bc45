/*
 * chat_template.c — chat templates: recognise a model's `tokenizer.chat_template` (a Jinja
 * program) by its text and render a conversation the way that program would, with our own
 * small code per template family instead of a Jinja interpreter. Each renderer follows the
 * published template line by line (the comments quote the parts that decide the output):
 * which messages are trimmed, where the system prompt goes, which roles must alternate.
 *
 * The rendered text leaves out the BOS token that some templates start with (the tokenizer
 * adds it: tokenize with add_bos = 1 and parse_special = 1), as llama.cpp does; every other
 * control token is written as text.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"
#include "quanta.h"

typedef struct chat_family {
    quanta_chat_template id;
    const char *name;
    const char *default_system; /* ChatML variants that add a system turn when none is given */
} chat_family;

static const chat_family families[] = {
    {QUANTA_CHAT_GEMMA, "gemma", NULL},
    {QUANTA_CHAT_LLAMA2, "llama2", NULL},
    {QUANTA_CHAT_LLAMA3, "llama3", NULL},
    {QUANTA_CHAT_MISTRAL, "mistral", NULL},
    {QUANTA_CHAT_CHATML, "chatml", NULL},
    {QUANTA_CHAT_QWEN2, "qwen2", "You are a helpful assistant."},
    {QUANTA_CHAT_QWEN25, "qwen2.5", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

static const chat_family *family(quanta_chat_template t) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (families[i].id == t) return &families[i];
    return NULL;
}

const char *quanta_chat_template_name(quanta_chat_template t) {
    const chat_family *f = family(t);
    return f ? f->name : NULL;
}

quanta_status quanta_chat_template_parse(const char *name, quanta_chat_template *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_chat_template_parse: out is NULL");
    if (!name) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_chat_template_parse: name is NULL");
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (!strcmp(name, families[i].name)) {
            *out = families[i].id;
            return QUANTA_OK;
        }
    return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                        "quanta_chat_template_parse: unknown template '%s' (gemma, llama2, llama3, mistral, "
                        "chatml, qwen2, qwen2.5)", name);
}

static int has(const char *text, const char *needle) { return strstr(text, needle) != NULL; }

/* The first line of a template, shortened, to name it in an error. */
static void template_head(const char *text, char *out, size_t cap) {
    size_t n = 0;
    while (text[n] && text[n] != '\n' && n + 1 < cap && n < 60) n++;
    memcpy(out, text, n);
    out[n] = 0;
}

quanta_status quanta_chat_template_detect(const char *text, quanta_chat_template *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_chat_template_detect: out is NULL");
    if (!text) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_chat_template_detect: template is NULL");
    const char *why = NULL;
    if (has(text, "<start_of_turn>")) *out = QUANTA_CHAT_GEMMA;
    else if (has(text, "<|start_header_id|>") && has(text, "<|eot_id|>")) {
        /* LLaMA 3.1+ always writes a system turn with knowledge and today's dates, and tools. */
        if (has(text, "Cutting Knowledge Date")) why = "LLaMA 3.1+ (date and tools header)";
        else *out = QUANTA_CHAT_LLAMA3;
    } else if (has(text, "<|im_start|>")) {
        if (has(text, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")) *out = QUANTA_CHAT_QWEN25;
        else if (has(text, "You are a helpful assistant.")) *out = QUANTA_CHAT_QWEN2;
        else *out = QUANTA_CHAT_CHATML;
    } else if (has(text, "[INST]")) {
        if (has(text, "<<SYS>>")) *out = QUANTA_CHAT_LLAMA2;
        /* Mistral v0.3 / v7 templates put "[/INST]" without the space and add tools or a system block. */
        else if (has(text, "[AVAILABLE_TOOLS]") || has(text, "[SYSTEM_PROMPT]")) why = "Mistral v0.3+ (tools / system block)";
        else *out = QUANTA_CHAT_MISTRAL;
    } else why = "unknown";
    if (!why) return QUANTA_OK;
    char head[64];
    template_head(text, head, sizeof head);
    return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                        "quanta_chat_template_detect: template not recognised (%s; it begins \"%s\"); choose one "
                        "by name: gemma, llama2, llama3, mistral, chatml, qwen2, qwen2.5", why, head);
}

/* ------------------------------------------------------------- rendering */

/* Appends while there is room and counts everything, so one pass gives both the text and
 * the length a too small buffer needs. */
typedef struct sink {
    char *buf;
    size_t cap, len;
} sink;

static void put_n(sink *s, const char *p, size_t n) {
    if (s->buf && s->len < s->cap) {
        size_t room = s->cap - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}
static void put(sink *s, const char *p) { put_n(s, p, strlen(p)); }

/* Jinja's `trim` and Python's str.strip() on ASCII whitespace. */
static void put_trimmed(sink *s, const char *p) {
    size_t n = strlen(p);
    while (n && strchr(" \t\n\r\v\f", p[n - 1])) n--;
    while (n && strchr(" \t\n\r\v\f", *p)) p++, n--;
    put_n(s, p, n);
}

static int is_role(const quanta_chat_message *m, const char *r) { return !strcmp(m->role, r); }

/* "Conversation roles must alternate user/assistant/user/assistant/..." (Gemma, LLaMA 2 and
 * Mistral raise this); `first` is the first message after a leading system message. */
static quanta_status check_alternation(const quanta_chat_message *m, size_t n, size_t first, const char *tmpl) {
    for (size_t i = first; i < n; i++) {
        int want_user = (i - first) % 2 == 0;
        if (is_role(&m[i], "user") != want_user || (!want_user && !is_role(&m[i], "assistant")))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_chat_render: messages[%zu] has role '%s': the %s template needs roles "
                                "alternating user/assistant (after an optional system message)", i, m[i].role, tmpl);
    }
    return QUANTA_OK;
}

/* Gemma 3: a leading system message becomes a prefix of the first user turn
 *   first_user_prefix = messages[0]['content'] + '\n\n'
 *   '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") + content | trim + '<end_of_turn>\n'
 * with role "model" for the assistant; the generation prompt is '<start_of_turn>model\n'. */
static quanta_status render_gemma(sink *s, const quanta_chat_message *m, size_t n, int gen) {
    size_t first = n && is_role(&m[0], "system");
    quanta_status st = check_alternation(m, n, first, "gemma");
    if (st) return st;
    for (size_t i = first; i < n; i++) {
        put(s, "<start_of_turn>");
        put(s, is_role(&m[i], "assistant") ? "model" : m[i].role);
        put(s, "\n");
        if (i == first && first) {
            put(s, m[0].content);
            put(s, "\n\n");
        }
        put_trimmed(s, m[i].content);
        put(s, "<end_of_turn>\n");
    }
    if (gen) put(s, "<start_of_turn>model\n");
    return QUANTA_OK;
}

/* LLaMA 2 (Meta's template; it has no generation prompt):
 *   first user turn with a system message: '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + content
 *   user:      bos_token + '[INST] ' + content.strip() + ' [/INST]'
 *   assistant: ' ' + content.strip() + ' ' + eos_token */
static quanta_status render_llama2(sink *s, const quanta_chat_message *m, size_t n) {
    size_t first = n && is_role(&m[0], "system");
    quanta_status st = check_alternation(m, n, first, "llama2");
    if (st) return st;
    for (size_t i = first; i < n; i++) {
        if (is_role(&m[i], "user")) {
            if (i != first) put(s, "<s>"); /* the first BOS comes from the tokenizer */
            put(s, "[INST] ");
            if (i == first && first) {
                /* strip() applies to the joined text, which starts with "<<SYS>>": only the end
                 * of the user text (and the blank line before it, if it is all whitespace) goes. */
                const char *c = m[i].content;
                size_t clen = strlen(c);
                while (clen && strchr(" \t\n\r\v\f", c[clen - 1])) clen--;
                put(s, "<<SYS>>\n");
                put(s, m[0].content);
                put(s, clen ? "\n<</SYS>>\n\n" : "\n<</SYS>>");
                put_n(s, c, clen);
            } else {
                put_trimmed(s, m[i].content);
            }
            put(s, " [/INST]");
        } else {
            put(s, " ");
            put_trimmed(s, m[i].content);
            put(s, " </s>");
        }
    }
    return QUANTA_OK;
}

/* LLaMA 3:
 *   '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content | trim + '<|eot_id|>'
 *   generation prompt '<|start_header_id|>assistant<|end_header_id|>\n\n' */
static quanta_status render_llama3(sink *s, const quanta_chat_message *m, size_t n, int gen) {
    for (size_t i = 0; i < n; i++) {
        put(s, "<|start_header_id|>");
        put(s, m[i].role);
        put(s, "<|end_header_id|>\n\n");
        put_trimmed(s, m[i].content);
        put(s, "<|eot_id|>");
    }
    if (gen) put(s, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return QUANTA_OK;
}

/* Mistral Instruct v0.1/v0.2 (user and assistant only, alternating; no generation prompt):
 *   user '[INST] ' + content + ' [/INST]', assistant content + eos_token */
static quanta_status render_mistral(sink *s, const quanta_chat_message *m, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_role(&m[i], "user") && !is_role(&m[i], "assistant"))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_chat_render: messages[%zu] has role '%s': the mistral template supports only "
                                "user and assistant roles", i, m[i].role);
    quanta_status st = check_alternation(m, n, 0, "mistral");
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "user")) {
            put(s, "[INST] ");
            put(s, m[i].content);
            put(s, " [/INST]");
        } else {
            put(s, m[i].content);
            put(s, "</s>");
        }
    }
    return QUANTA_OK;
}

/* ChatML (Qwen): '<|im_start|>' + role + '\n' + content + '<|im_end|>\n'; Qwen's templates first
 * add a system turn with their default prompt when the conversation has none; the
 * generation prompt is '<|im_start|>assistant\n'. */
static quanta_status render_chatml(sink *s, const chat_family *f, const quanta_chat_message *m, size_t n, int gen) {
    if (f->default_system && n && !is_role(&m[0], "system")) {
        put(s, "<|im_start|>system\n");
        put(s, f->default_system);
        put(s, "<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
        put(s, "<|im_start|>");
        put(s, m[i].role);
        put(s, "\n");
        put(s, m[i].content);
        put(s, "<|im_end|>\n");
    }
    if (gen) put(s, "<|im_start|>assistant\n");
    return QUANTA_OK;
}

quanta_status quanta_chat_render(quanta_chat_template t, const quanta_chat_message *messages, size_t n,
                                 int32_t add_generation_prompt, char *buf, size_t cap, size_t *len) {
    const char *fn = "quanta_chat_render";
    if (!len) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: len is NULL", fn);
    *len = 0;
    const chat_family *f = family(t);
    if (!f) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: template %d is not a quanta_chat_template", fn, (int)t);
    if (n && !messages) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: messages is NULL with n = %zu", fn, n);
    if (!buf && cap) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: buf is NULL with cap = %zu", fn, cap);
    for (size_t i = 0; i < n; i++) {
        if (!messages[i].role || !messages[i].role[0])
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: messages[%zu].role is NULL or empty", fn, i);
        if (!messages[i].content)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: messages[%zu].content is NULL", fn, i);
    }
    sink s = {buf, cap, 0};
    quanta_status st;
    switch (t) {
    case QUANTA_CHAT_GEMMA: st = render_gemma(&s, messages, n, add_generation_prompt); break;
    case QUANTA_CHAT_LLAMA2: st = render_llama2(&s, messages, n); break;
    case QUANTA_CHAT_LLAMA3: st = render_llama3(&s, messages, n, add_generation_prompt); break;
    case QUANTA_CHAT_MISTRAL: st = render_mistral(&s, messages, n); break;
    default: st = render_chatml(&s, f, messages, n, add_generation_prompt); break;
    }
    if (st) return st;
    *len = s.len;
    if (!buf && !cap) return QUANTA_OK;
    if (cap < s.len + 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: cap %zu too small (needs %zu with the NUL)", fn, cap,
                            s.len + 1);
    buf[s.len] = 0;
    return QUANTA_OK;
}

/* ------------------------------------------------------- the model's template */

quanta_status quanta_model_chat_template_text(const quanta_model *model, const char **text) {
    if (!text) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_chat_template_text: text is NULL");
    *text = "";
    if (!model) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_chat_template_text: model is NULL");
    if (model->chat_template) *text = model->chat_template;
    return QUANTA_OK;
}

quanta_status quanta_model_chat_template(const quanta_model *model, quanta_chat_template *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_chat_template: out is NULL");
    if (!model) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_chat_template: model is NULL");
    if (model->chat_template && model->chat_template[0]) return quanta_chat_template_detect(model->chat_template, out);
    /* No template in the file: the architectures whose chat format is fixed by their vendor. */
    switch (model->full_cfg.arch) {
    case QN_ARCH_GEMMA3: *out = QUANTA_CHAT_GEMMA; return QUANTA_OK;
    case QN_ARCH_QWEN2: *out = QUANTA_CHAT_QWEN2; return QUANTA_OK;
    default:
        return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                            "quanta_model_chat_template: the model (%s) has no tokenizer.chat_template; choose a "
                            "template by name", model->full_cfg.arch_name);
    }
}
