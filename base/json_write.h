/* json_write.h — the writing side of JSON (json.h reads): a C string as a JSON string literal,
 * for the reports of `quanta bench` and `quanta conform` and for test fixtures. Header-only so
 * each of those writes it without linking the parser. */
#ifndef QUANTA_BASE_JSON_WRITE_H
#define QUANTA_BASE_JSON_WRITE_H

#include <stdio.h>

/* Writes s quoted, with '"' and '\' escaped and control characters as \u00XX; other bytes
 * (UTF-8 included) pass through. */
static inline void qn_json_write_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

#endif
