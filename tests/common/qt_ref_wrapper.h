/* qt_ref_wrapper.h — test backends that are the reference in disguise. A test starts from the
 * reference backend's vtable under another name and overrides only what it changes (which ops
 * it supports, how it runs them, prepare_weight, ...), so nothing forwards by hand. */
#ifndef QUANTA_QT_REF_WRAPPER_H
#define QUANTA_QT_REF_WRAPPER_H

#include <check.h>

#include "backend.h"
#include "registry.h"

/* The reference backend's operations, named `name`. */
static inline qn_backend_ops qt_ref_wrapper(const char *name) {
    qn_backend_ops ops = qn_ref_backend;
    ops.name = name;
    return ops;
}

/* Opens the test backend *slot, first filling it with make() and registering it. The registry
 * keeps the pointer, so slot must be static; an empty slot (no name) means not registered yet. */
static inline quanta_backend *qt_ref_wrapper_open(qn_backend_ops *slot, qn_backend_ops (*make)(void)) {
    if (!slot->name) {
        *slot = make();
        ck_assert_int_eq(qn_registry_add_test_backend(slot), QUANTA_OK);
    }
    quanta_backend *be = NULL;
    ck_assert_msg(quanta_backend_open(slot->name, &be) == QUANTA_OK, "open %s: %s", slot->name, quanta_last_error());
    return be;
}

#endif
