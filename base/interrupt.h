/*
 * interrupt.h - what happens when the tuner is stopped early. It owns three things:
 * the SIGINT/SIGTERM handlers and the flag the tuning loops poll (intr_requested); the
 * registry of the process groups of running subprocesses (os_run's compilers), killed
 * on an interrupt and at exit; and the per-process temporary root under which every
 * os_mkdtemp folder is made, removed at exit.
 *
 * Invariants (docs/measure.md, "Interrupts"):
 *   1. A handled signal only sets the flag and SIGKILLs the registered groups
 *      (async-signal-safe); a second one exits at once with 130.
 *   2. SIGKILL runs none of our code, so the root has a guardian: a small process forked
 *      with the root, in its own process group, that waits on a socket only this process
 *      (and its forked children) holds. When the last holder dies it SIGKILLs every
 *      group still registered (a compiler's own children, which PR_SET_PDEATHSIG does
 *      not reach) and removes the root. Nothing named autotune-* outlives a run.
 *   3. Only the process that installed the handlers or made the root acts on them; a
 *      forked child (the measurement worker) inherits both and leaves them to its parent.
 */
#ifndef AT_BASE_INTERRUPT_H
#define AT_BASE_INTERRUPT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Catch SIGINT and SIGTERM in this process (idempotent). Called by the commands that
 * poll intr_requested; the others keep the default (die at once). */
void intr_install(void);
/* True once SIGINT or SIGTERM was caught. */
bool intr_requested(void);
/* Record the failure of an interrupted run: AT_INTERRUPTED with the message
 * "interrupted: N trials recorded; --resume continues". */
int intr_error(size_t trials);

/* Register the process group `pgid` of a running child: it is SIGKILLed on an interrupt,
 * at exit, and by the guardian if this process dies. Returns a slot for
 * intr_child_remove, -1 when the table is full (the child is then only killed by its
 * PR_SET_PDEATHSIG). Call before reaping the child, so that the group id is not reused. */
int intr_child_add(pid_t pgid);
void intr_child_remove(int slot);

/* This process's temporary root, "$TMPDIR/autotune-<pid>-XXXXXX", made with its guardian
 * on the first call (a forked child uses its parent's). OUT: *root, static. AT_IO. */
int intr_tmp_root(const char **root);

#endif
