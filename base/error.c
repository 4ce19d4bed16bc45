#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char qn_error_message[1024];

quanta_status qn_error_set(quanta_status status, const char *fmt, ...) {
    /* Callers wrap the previous message ("loading 'x': %s", quanta_last_error()): format
     * aside first, since vsnprintf must not write the buffer it is reading. */
    char msg[sizeof qn_error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(qn_error_message, msg, sizeof msg);
    return status;
}

void qn_error_clear(void) { qn_error_message[0] = '\0'; }

const char *quanta_last_error(void) { return qn_error_message; }

const char *quanta_status_name(quanta_status status) {
    switch (status) {
    case QUANTA_OK: return "QUANTA_OK";
    case QUANTA_ERR_INVALID_ARGUMENT: return "QUANTA_ERR_INVALID_ARGUMENT";
    case QUANTA_ERR_UNSUPPORTED: return "QUANTA_ERR_UNSUPPORTED";
    case QUANTA_ERR_OUT_OF_MEMORY: return "QUANTA_ERR_OUT_OF_MEMORY";
    case QUANTA_ERR_OVERFLOW: return "QUANTA_ERR_OVERFLOW";
    case QUANTA_ERR_IO: return "QUANTA_ERR_IO";
    case QUANTA_ERR_CORRUPT: return "QUANTA_ERR_CORRUPT";
    case QUANTA_ERR_NO_DEVICE: return "QUANTA_ERR_NO_DEVICE";
    case QUANTA_ERR_BACKEND: return "QUANTA_ERR_BACKEND";
    case QUANTA_ERR_STATE: return "QUANTA_ERR_STATE";
    }
    return "QUANTA_ERR_UNKNOWN";
}

const char *quanta_version(void) { return QUANTA_VERSION_STRING; }
int quanta_version_number(void) { return QUANTA_VERSION_NUMBER; }
