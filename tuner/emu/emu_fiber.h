/*
 * emu_fiber.h - the SIMT emulator's execution contexts: fibers with their own mmap'd
 * stacks (a guard page below each) and a user-space context switch. Two switch
 * implementations sit behind one interface: EMU_SWITCH_ASM (x86-64 only: saves rsp, the
 * callee-saved rbx, rbp, r12-r15, mxcsr and the x87 control word) and EMU_SWITCH_UCONTEXT
 * (swapcontext, every POSIX system). The emulator uses EMU_SWITCH_DEFAULT; the benchmark
 * runs both. Under AddressSanitizer every switch is announced with
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, and a stack is
 * unpoisoned before it is reused or unmapped. Nothing here knows of GPU threads.
 */
#ifndef AT_TUNER_EMU_EMU_FIBER_H
#define AT_TUNER_EMU_EMU_FIBER_H

#include <stddef.h>
#include <ucontext.h>

enum emu_switch { EMU_SWITCH_ASM = 0, EMU_SWITCH_UCONTEXT = 1 };

#if defined(__x86_64__) && !defined(_WIN32)
#define EMU_HAVE_SWITCH_ASM 1
#define EMU_SWITCH_DEFAULT EMU_SWITCH_ASM
#else
#define EMU_HAVE_SWITCH_ASM 0
#define EMU_SWITCH_DEFAULT EMU_SWITCH_UCONTEXT
#endif

/* Whether this build runs under AddressSanitizer (its fibers need bigger stacks). */
#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifndef EMU_ASAN
#define EMU_ASAN 0
#endif

/* Default usable stack per fiber: ASan's redzones need more. */
#if EMU_ASAN
#define EMU_STACK_DEFAULT (256u << 10)
#else
#define EMU_STACK_DEFAULT (64u << 10)
#endif

/* One execution context. A fiber made by emu_fiber_init owns a stack; the context of a
 * thread's own stack (the scheduler) is made by emu_fiber_init_thread. */
struct emu_fiber {
  void *sp;                  /* ASM: the saved stack pointer while suspended */
  ucontext_t *uc;            /* UCONTEXT: the saved context (malloc'd) */
  enum emu_switch kind;
  unsigned char *stack_lo;   /* the usable stack's lowest byte (the guard page is below) */
  size_t stack_size;         /* usable bytes; for a thread's own stack: what ASan says */
  void *map;                 /* the mapping: guard page + stack; NULL for a thread stack */
  size_t map_size;
  void (*fn)(void *arg);     /* what the fiber runs on its next start */
  void *arg;
};

/* Give `f` (zeroed first) a stack of at least `stack_size` usable bytes (0: the default)
 * with a PROT_NONE guard page below it, for switches of kind `kind`. Returns AT_OK,
 * AT_NOMEM (mmap or malloc failed), AT_UNSUPPORTED (EMU_SWITCH_ASM on a machine without
 * it). On failure `f` holds nothing. */
int emu_fiber_init(struct emu_fiber *f, enum emu_switch kind, size_t stack_size);
/* Make `f` (zeroed first) the context of the calling thread's own stack, for switches of
 * kind `kind`: the scheduler side. AT_OK, AT_NOMEM, AT_UNSUPPORTED as emu_fiber_init. */
int emu_fiber_init_thread(struct emu_fiber *f, enum emu_switch kind);
/* Unmap the stack and free what `f` holds; NULL and a zeroed struct are accepted. The
 * fiber must not be running. */
void emu_fiber_release(struct emu_fiber *f);
/* Make `f` start fn(arg) on the next switch to it, forgetting whatever it was doing
 * (an abandoned fiber's stack is unpoisoned for ASan). fn must never return: it ends by
 * emu_fiber_exit. */
void emu_fiber_prepare(struct emu_fiber *f, void (*fn)(void *arg), void *arg);
/* Suspend the running context into `from` and resume `to` (both of the same kind).
 * Returns when something switches back to `from`. */
void emu_fiber_switch(struct emu_fiber *from, struct emu_fiber *to);
/* Leave the running fiber `from` for good and resume `to`; never returns. */
void emu_fiber_exit(struct emu_fiber *from, struct emu_fiber *to) __attribute__((noreturn));

#endif
