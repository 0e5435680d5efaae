/*
 * status.h - internal side of the status type: setting the detail message that goes
 * with a failure. Library code returns `at_error(AT_X, "...")`; only the CLI exits.
 */
#ifndef AT_BASE_STATUS_H
#define AT_BASE_STATUS_H

#include "autotune/autotune.h"

/* Record a detail message for this thread and return `status`. Messages follow the
 * house style: lowercase, no full stop, the offending input quoted. An argument may be
 * at_last_error() itself (wrapping a callee's message). */
int at_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void at_error_clear(void);

#endif
