/*
 * emu_fiber.c - fibers for the SIMT emulator: mmap'd stacks with a guard page, and two
 * context switches behind emu_fiber_switch. On x86-64 the switch is ten instructions of
 * assembly (emu__switch_asm below): push the callee-saved registers the SysV ABI makes a
 * function keep (rbx, rbp, r12-r15) and the two floating-point control words it makes a
 * function keep (mxcsr and the x87 control word), store rsp, load the other rsp, pop,
 * return. Everything caller-saved is already spilled by the compiler around the call.
 * Elsewhere swapcontext does the job; it also saves and restores the signal mask, which
 * costs a system call per switch.
 *
 * Which switch is kept: bench/bench_fiber.c measures both in one run. On the 2-core
 * development machine (x86-64, glibc 2.36, gcc 12 -O2) the assembly switch did 66 million
 * switches/s (15 ns) against swapcontext's 4.3 million (232 ns), 15x: swapcontext's
 * rt_sigprocmask system call dominates. A GPU thread switches at every barrier and every
 * warp collective (a shuffle reduction is 5 or 6 of them), so the assembly switch is
 * the default on x86-64; the ucontext one remains for other machines and as the
 * benchmark's reference.
 *
 * AddressSanitizer: every switch is bracketed by __sanitizer_start_switch_fiber (before,
 * naming the stack being entered) and __sanitizer_finish_switch_fiber (after resuming,
 * which also tells us the bounds of the stack we came from: that is how the thread's own
 * stack is learnt). A fiber that ends passes NULL as its fake-stack slot so that ASan
 * frees it. Frames still live on a stack that is abandoned keep their redzones poisoned,
 * so a stack is unpoisoned (from just below its last stack pointer up) before reuse and
 * before unmapping.
 */
#include "tuner/emu/emu_fiber.h"
#include "base/status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if EMU_HAVE_SWITCH_ASM
/* emu__switch_asm(&from->sp, to->sp): the frame it leaves on the suspended stack, from
 * the saved rsp up: [mxcsr:4][x87 cw:2][pad:2] r15 r14 r13 r12 rbx rbp <return address>.
 * emu__start_asm is where a fresh fiber's first switch "returns" to: it calls
 * r13(r12) = fiber_entry(fiber) with rsp 16-byte aligned before the call. */
void emu__switch_asm(void **save_sp, void *new_sp);
void emu__start_asm(void);
__asm__(".text\n"
        ".globl emu__switch_asm\n"
        ".hidden emu__switch_asm\n"
        ".type emu__switch_asm,@function\n"
        ".p2align 4\n"
        "emu__switch_asm:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size emu__switch_asm, .-emu__switch_asm\n"
        ".globl emu__start_asm\n"
        ".hidden emu__start_asm\n"
        ".type emu__start_asm,@function\n"
        ".p2align 4\n"
        "emu__start_asm:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined rip\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        "  .cfi_endproc\n"
        ".size emu__start_asm, .-emu__start_asm\n");
#endif

#if EMU_ASAN
/* The context being left, for the resumed side to record its stack bounds into. */
static _Thread_local struct emu_fiber *tl_from;

static void asan_start(void **fake, struct emu_fiber *from, const struct emu_fiber *to)
{
  tl_from = from;
  __sanitizer_start_switch_fiber(fake, to->stack_lo, to->stack_size);
}

static void asan_finish(void *fake)
{
  const void *lo = NULL;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake, &lo, &size);
  if (tl_from && !tl_from->map) { /* a thread's own stack: learn its bounds */
    tl_from->stack_lo = (unsigned char *)(uintptr_t)lo;
    tl_from->stack_size = size;
  }
}

/* Clear the poison that frames abandoned on f's stack left behind. */
static void asan_unpoison(const struct emu_fiber *f)
{
  unsigned char *lo = f->stack_lo, *top = f->stack_lo + f->stack_size;
  if (f->kind == EMU_SWITCH_ASM && f->sp) {
    unsigned char *sp = f->sp;
    if (sp > lo + 1024 && sp <= top)
      lo = sp - 1024;
  }
  __asan_unpoison_memory_region(lo, (size_t)(top - lo));
}
#endif

/* Every fiber starts here, on its own stack. */
static void fiber_entry(struct emu_fiber *f)
{
#if EMU_ASAN
  asan_finish(NULL);
#endif
  f->fn(f->arg);
  abort(); /* fn must end with emu_fiber_exit */
}

static void uc_entry(unsigned hi, unsigned lo)
{
  fiber_entry((struct emu_fiber *)(uintptr_t)(((uint64_t)hi << 32) | lo));
}

int emu_fiber_init_thread(struct emu_fiber *f, enum emu_switch kind)
{
  memset(f, 0, sizeof *f);
  f->kind = kind;
  if (kind == EMU_SWITCH_ASM && !EMU_HAVE_SWITCH_ASM)
    return at_error(AT_UNSUPPORTED, "the assembly context switch needs x86-64");
  if (kind == EMU_SWITCH_UCONTEXT && !(f->uc = calloc(1, sizeof *f->uc)))
    return at_error(AT_NOMEM, "out of memory");
  return AT_OK;
}

int emu_fiber_init(struct emu_fiber *f, enum emu_switch kind, size_t stack_size)
{
  int rc = emu_fiber_init_thread(f, kind);
  if (rc)
    return rc;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (!stack_size)
    stack_size = EMU_STACK_DEFAULT;
  if (stack_size < 16 * 1024)
    stack_size = 16 * 1024;
  stack_size = (stack_size + page - 1) / page * page;
  void *map = mmap(NULL, stack_size + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    free(f->uc);
    memset(f, 0, sizeof *f);
    return at_error(AT_NOMEM, "cannot map a fiber stack of %zu bytes", stack_size);
  }
  if (mprotect(map, page, PROT_NONE) != 0) {
    munmap(map, stack_size + page);
    free(f->uc);
    memset(f, 0, sizeof *f);
    return at_error(AT_NOMEM, "cannot protect a fiber stack's guard page");
  }
  f->map = map;
  f->map_size = stack_size + page;
  f->stack_lo = (unsigned char *)map + page;
  f->stack_size = stack_size;
  return AT_OK;
}

void emu_fiber_release(struct emu_fiber *f)
{
  if (!f)
    return;
  if (f->map) {
#if EMU_ASAN
    asan_unpoison(f);
#endif
    munmap(f->map, f->map_size);
  }
  free(f->uc);
  memset(f, 0, sizeof *f);
}

void emu_fiber_prepare(struct emu_fiber *f, void (*fn)(void *arg), void *arg)
{
#if EMU_ASAN
  asan_unpoison(f);
#endif
  f->fn = fn;
  f->arg = arg;
#if EMU_HAVE_SWITCH_ASM
  if (f->kind == EMU_SWITCH_ASM) {
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    uintptr_t top = ((uintptr_t)(f->stack_lo + f->stack_size)) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64 - 16);
    sp[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
    sp[1] = 0;                                     /* r15 */
    sp[2] = 0;                                     /* r14 */
    sp[3] = (uint64_t)(uintptr_t)fiber_entry;      /* r13 */
    sp[4] = (uint64_t)(uintptr_t)f;                /* r12 */
    sp[5] = 0;                                     /* rbx */
    sp[6] = 0;                                     /* rbp: the end of the frame chain */
    sp[7] = (uint64_t)(uintptr_t)emu__start_asm;   /* return address */
    f->sp = sp;
    return;
  }
#endif
  getcontext(f->uc);
  f->uc->uc_stack.ss_sp = f->stack_lo;
  f->uc->uc_stack.ss_size = f->stack_size;
  f->uc->uc_link = NULL;
  uint64_t p = (uint64_t)(uintptr_t)f;
  makecontext(f->uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
}

void emu_fiber_switch(struct emu_fiber *from, struct emu_fiber *to)
{
#if EMU_ASAN
  void *fake = NULL;
  asan_start(&fake, from, to);
#endif
#if EMU_HAVE_SWITCH_ASM
  if (to->kind == EMU_SWITCH_ASM)
    emu__switch_asm(&from->sp, to->sp);
  else
#endif
    swapcontext(from->uc, to->uc);
#if EMU_ASAN
  asan_finish(fake);
#endif
}

void emu_fiber_exit(struct emu_fiber *from, struct emu_fiber *to)
{
#if EMU_ASAN
  tl_from = from;
  __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
#if EMU_HAVE_SWITCH_ASM
  if (to->kind == EMU_SWITCH_ASM)
    emu__switch_asm(&from->sp, to->sp);
  else
#endif
    swapcontext(from->uc, to->uc);
  abort(); /* nothing switches back to an ended fiber */
}
