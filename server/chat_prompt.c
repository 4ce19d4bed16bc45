/* chat_prompt.c — a chat request's prompt: its messages rendered with the model's chat template
 * (the library's template module, include/quanta.h "chat templates"). */
#include <stdio.h>
#include <stdlib.h>

#include "openai_request.h"
#include "server_internal.h"

int qs_chat_prompt(const qs_server *s, const qs_chat_msg *msgs, size_t n, char **out, char *msg, size_t cap) {
    *out = NULL;
    quanta_chat_template t;
    if (quanta_model_chat_template(s->model, &t)) {
        snprintf(msg, cap, "this model's chat template cannot be rendered: %s", quanta_last_error());
        return -1;
    }
    quanta_chat_message *m = malloc((n ? n : 1) * sizeof *m);
    if (!m) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        m[i].role = msgs[i].role;
        m[i].content = msgs[i].content;
    }
    size_t len = 0;
    char *buf = NULL;
    quanta_status st = quanta_chat_render(t, m, n, 1, NULL, 0, &len);
    if (!st && !(buf = malloc(len + 1))) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_chat_render(t, m, n, 1, buf, len + 1, &len);
    free(m);
    if (st) {
        free(buf);
        snprintf(msg, cap, "the conversation cannot be rendered with the %s chat template: %s",
                 quanta_chat_template_name(t), quanta_last_error());
        return -1;
    }
    *out = buf;
    return 0;
}
