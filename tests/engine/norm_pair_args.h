/* norm_pair_args.h — the argument checks that the two ops of an rms_norm and its residual add
 * share (quanta_add_rms_norm, rms_norm(a + b); quanta_rms_norm_add, r + rms_norm(x)): both take
 * (graph, first, second, weight, eps, weight_plus_one, out) and reject the same bad input. */
#ifndef QUANTA_TESTS_NORM_PAIR_ARGS_H
#define QUANTA_TESTS_NORM_PAIR_ARGS_H

#include "quanta.h"

typedef quanta_status (*qt_norm_pair_op)(quanta_graph *g, quanta_tensor *first, quanta_tensor *second,
                                         quanta_tensor *weight, float eps, int32_t weight_plus_one,
                                         quanta_tensor **out);

/* Asserts each bad argument's status and the words of its message, first and second being the
 * operands' names in the op's messages ("a", "b" / "x", "r"), and that good arguments (with
 * weight_plus_one 0 and 1) build. */
void qt_check_norm_pair_args(qt_norm_pair_op op, const char *first, const char *second);

#endif
