/* load_checks.h — what a model file must satisfy beyond parsing (load_checks.c): plausible
 * hyper-parameters and finite, in-range norm and bias vectors. Called from the loaders so a bad
 * file fails at load with QUANTA_ERR_CORRUPT naming the key or tensor, not at the first eval
 * or, worse, as silent garbage text. */
#ifndef QUANTA_MODEL_LOAD_CHECKS_H
#define QUANTA_MODEL_LOAD_CHECKS_H

#include <stddef.h>

#include "model_internal.h"

/* Largest |w| accepted in a norm weight: far above any trained model's, far below where a
 * product with an activation overflows f32. */
#define QN_NORM_WEIGHT_MAX 1.0e4f

/* The configuration (whichever file it came from). */
quanta_status qn_check_config(const qn_model_config *cfg);
/* A 1-D weight (norm, bias) as f32: every value finite; norms also |w| <= QN_NORM_WEIGHT_MAX. */
quanta_status qn_check_vector(const char *name, const float *x, size_t n);

#endif
