// at_host_wgmma.h - wgmma on the host device: the emulation of at_wgmma.h's instructions
// (at_wgmma.h's head comment has their layouts and sources). Asynchrony on the host, a
// design note (the invariants the emulation keeps):
//  1. at_wgmma_m64nNk16_*() computes nothing when called: it checks its arguments,
//     checks through the warp collective that every lane of the warp issues the same
//     instruction with the same descriptors and scale-d (".sync.aligned"), and appends
//     {kind, N, descriptors, scale-d, &d[0]} to the calling thread's pending queue.
//  2. at_wgmma_commit_group() closes the open entries into one group (an empty group
//     when none is open, as the PTX allows).
//  3. at_wgmma_wait_group<N>() performs, oldest first, every committed group beyond the
//     N newest; each entry then reads shared memory and writes its d. Entries not yet
//     committed stay pending, as on the GPU. So a kernel that overwrites shared memory,
//     or reads its accumulators, before the matching wait sees the effect on the host
//     (wrong products, stale accumulators) instead of a race that may pass on a GPU.
//  4. The queues are a slot per thread in at_host_emu.h's per-worker table (at_host_slot:
//     one block at a time, like __shared__; a block that ended with groups pending, which
//     the PTX leaves undefined, has them dropped). A queue holds at most
//     AT_WGMMA_HOST_QUEUE entries; the launch fails beyond.
//  5. A block must be whole warpgroups (a multiple of 128 threads) of warps of 32, else
//     the first wgmma call fails the launch; warpgroup w is threads 128w..128w+127 in
//     linear order, its warp i is that block warp 4w+i.
//
// Included by at_wgmma.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_wgmma.h is the host device's (AT_HOST): include at_wgmma.h"
#endif
#include <stdio.h> // snprintf: the message of a wait that fails

// ---- emulation: the documented layouts ----

// Fields of a descriptor (9.7.15.5.1.2.2), decoded to bytes.
AT_DEV unsigned int at_emu_wgmma_desc_addr(unsigned long long desc)
{
  return (unsigned int)(desc & 0x3FFFu) << 4;
}
AT_DEV unsigned int at_emu_wgmma_desc_lbo(unsigned long long desc)
{
  return (unsigned int)(desc >> 16 & 0x3FFFu) << 4;
}
AT_DEV unsigned int at_emu_wgmma_desc_sbo(unsigned long long desc)
{
  return (unsigned int)(desc >> 32 & 0x3FFFu) << 4;
}
AT_DEV int at_emu_wgmma_desc_swizzle(unsigned long long desc) { return (int)(desc >> 62); }
AT_DEV int at_emu_wgmma_desc_base_offset(unsigned long long desc)
{
  return (int)(desc >> 49 & 7u);
}

// The address an instruction reads for element (row, k), k < 16, of a K-major operand
// described by desc: the canonical layout from the start address, with the swizzle
// applied to the absolute address (which is why the descriptor's base offset exists).
AT_DEV unsigned int at_emu_wgmma_kmajor_addr(unsigned long long desc, int row, int k)
{
  unsigned int start = at_emu_wgmma_desc_addr(desc);
  int swizzle = at_emu_wgmma_desc_swizzle(desc);
  unsigned int sbo = at_emu_wgmma_desc_sbo(desc), lbo = at_emu_wgmma_desc_lbo(desc);
  if (swizzle == AT_WGMMA_SWIZZLE_NONE)
    return start + at_wgmma_kmajor_offset(row, k, swizzle, lbo, sbo);
  unsigned int bits = swizzle == AT_WGMMA_SWIZZLE_128B  ? 3u
                      : swizzle == AT_WGMMA_SWIZZLE_64B ? 2u
                                                        : 1u;
  unsigned int a = start + (unsigned int)(row % 8) * (16u << bits) +
                   (unsigned int)(row / 8) * sbo + (unsigned int)(k / 8) * 16u +
                   2u * (unsigned int)(k % 8);
  return a ^ (((a >> 7) & ((1u << bits) - 1u)) << 4);
}

// The same for an MN-major operand (imm-trans = 1): element (mn, k), k < 16.
AT_DEV unsigned int at_emu_wgmma_mnmajor_addr(unsigned long long desc, int mn, int k)
{
  int swizzle = at_emu_wgmma_desc_swizzle(desc);
  unsigned int a = at_emu_wgmma_desc_addr(desc) +
                   at_wgmma_mnmajor_linear(mn, k, swizzle, at_emu_wgmma_desc_lbo(desc),
                                           at_emu_wgmma_desc_sbo(desc));
  return at_wgmma_swizzle_offset(a, swizzle);
}

// What the emulation cannot or must not do with a descriptor: NULL when fine.
AT_DEV const char *at_emu_wgmma_desc_problem(unsigned long long desc)
{
  if (at_emu_wgmma_desc_base_offset(desc) != 0)
    return "wgmma descriptor: a non-zero base offset (bits 49-51) is not emulated";
  if ((desc >> 14 & 3u) || (desc >> 30 & 3u) || (desc >> 46 & 7u) || (desc >> 52 & 0x3FFu))
    return "wgmma descriptor: reserved bits are set";
  return 0;
}

// Whether every element (mn, k), mn0 <= mn < mn0 + count, k < 16, of an operand lies
// inside an image of `bytes` bytes. Eight elements in a row share a 16-byte chunk (K-major:
// k .. k + 7 of a row; MN-major: mn .. mn + 7 of a k, for mn a multiple of 8) that the
// swizzles move whole, so one address a chunk answers for its eight. Every thread of a
// warpgroup asks the same question of one instruction, so the last answers are kept per
// OS thread: a pure function of its arguments, memoized (a thread's wait may complete
// several stages' instructions at once: two descriptors each).
AT_DEV int at_emu_wgmma_inside(unsigned long long desc, int trans, int mn0, int count,
                               unsigned long bytes)
{
  enum { MEMO = 32 };
  static __thread struct {
    unsigned long long desc;
    unsigned long bytes;
    int trans, mn0, count, inside;
  } memo[MEMO];
  static __thread unsigned int next;
  for (int i = 0; i < MEMO; i++)
    if (memo[i].count == count && memo[i].desc == desc && memo[i].bytes == bytes &&
        memo[i].trans == trans && memo[i].mn0 == mn0)
      return memo[i].inside;
  int inside = 1;
  if (!trans)
    for (int mn = mn0; mn < mn0 + count && inside; mn++)
      for (int k = 0; k < 16 && inside; k += 8)
        inside = at_emu_wgmma_kmajor_addr(desc, mn, k) + 16u <= bytes;
  else if (mn0 % 8 == 0 && count % 8 == 0)
    for (int mn = mn0; mn < mn0 + count && inside; mn += 8)
      for (int k = 0; k < 16 && inside; k++)
        inside = at_emu_wgmma_mnmajor_addr(desc, mn, k) + 16u <= bytes;
  else
    for (int mn = mn0; mn < mn0 + count && inside; mn++)
      for (int k = 0; k < 16 && inside; k++)
        inside = at_emu_wgmma_mnmajor_addr(desc, mn, k) + 2u <= bytes;
  unsigned int at = next++ % MEMO;
  memo[at].desc = desc, memo[at].bytes = bytes, memo[at].trans = trans;
  memo[at].mn0 = mn0, memo[at].count = count, memo[at].inside = inside;
  return inside;
}

// One 16-bit operand at byte p + 2 idx (any alignment), exactly as at_emu_in.
AT_DEV float at_emu_wgmma_in(int kind, const unsigned char *p, int idx)
{
  unsigned short h;
  at_memcpy(&h, p + 2 * idx, 2);
  return at_emu_b16(kind, h);
}

// The 16 k-values of rows mn .. mn + nrows - 1 of an operand into out[0 .. nrows)
// (addresses checked by at_emu_wgmma_inside; nrows 1, or 2 with mn even). K-major: k and
// the next seven share one 16-byte chunk (the swizzles move whole chunks, and a
// descriptor's start is a multiple of 16), so two addresses give a row's 16. MN-major:
// at_emu_wgmma_mnmajor_addr with the descriptor decoded and the rows' part of the linear
// offset computed once, each k adding its own before the swizzle; rows mn and mn + 1 are
// neighbours in each k's chunk.
AT_DEV void at_emu_wgmma_rows(int kind, const unsigned char *base, unsigned long long desc,
                              int trans, int mn, int nrows, float (*out)[16])
{
  if (!trans) {
    for (int r = 0; r < nrows; r++)
      for (int h = 0; h < 2; h++) {
        const unsigned char *chunk = base + at_emu_wgmma_kmajor_addr(desc, mn + r, 8 * h);
        for (int k = 0; k < 8; k++)
          out[r][8 * h + k] = at_emu_wgmma_in(kind, chunk, k);
      }
    return;
  }
  const int swizzle = at_emu_wgmma_desc_swizzle(desc);
  const unsigned int start = at_emu_wgmma_desc_addr(desc), lbo = at_emu_wgmma_desc_lbo(desc),
                     sbo = at_emu_wgmma_desc_sbo(desc);
  const unsigned int row = start + at_wgmma_mnmajor_linear(mn, 0, swizzle, lbo, sbo);
  const unsigned int k0_step = at_wgmma_mnmajor_linear(0, 1, swizzle, lbo, sbo),
                     k1_step = at_wgmma_mnmajor_linear(0, 8, swizzle, lbo, sbo);
  for (int k = 0; k < 16; k++) {
    const unsigned int linear = row + (unsigned int)(k % 8) * k0_step + (k / 8) * k1_step;
    const unsigned char *at = base + at_wgmma_swizzle_offset(linear, swizzle);
    for (int r = 0; r < nrows; r++)
      out[r][k] = at_emu_wgmma_in(kind, at, r);
  }
}

// Registers 4j..4j+4c-1 of a thread (c = 1 or 2 column pairs): rows a[0], a[1] (its two
// rows of A) by columns b[0], b[1] (8j + 2 t and the next) and, for c = 2, b[2], b[3]
// (8 (j + 1) + 2 t and the next), each a chain of fmas in k order from d (or 0), the 4c
// chains side by side (unrolled whole when inlined: their latencies overlap).
__attribute__((always_inline)) AT_DEV void at_emu_wgmma_quads(int c, const float (*a)[16],
                                                              const float (*b)[16],
                                                              int scale_d, float *d)
{
  float acc[8] = {0};
#pragma GCC unroll 8
  for (int q = 0; q < 4 * c; q++)
    acc[q] = scale_d ? d[q] : 0.0f;
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++)
#pragma GCC unroll 8
    for (int q = 0; q < 4 * c; q++)
      acc[q] = __builtin_fmaf(a[(q % 4) / 2][k], b[2 * (q / 4) + q % 2][k], acc[q]);
#pragma GCC unroll 8
  for (int q = 0; q < 4 * c; q++)
    d[q] = acc[q];
}

// A thread's N/2 registers from its two rows of A (a) and B in shared memory: two
// column pairs at a time (b: room for four columns), the last alone where N/8 is odd.
AT_DEV void at_emu_wgmma_b_quads(int kind, int n, const unsigned char *base,
                                 unsigned long long desc_b, int trans_b, int thread,
                                 const float (*a)[16], float (*b)[16], int scale_d, float *d)
{
  int j = 0;
  for (; j + 2 <= n / 8; j += 2) {
    at_emu_wgmma_rows(kind, base, desc_b, trans_b, at_wgmma_d_col(thread, 4 * j), 2, b);
    at_emu_wgmma_rows(kind, base, desc_b, trans_b, at_wgmma_d_col(thread, 4 * j + 4), 2,
                      b + 2);
    at_emu_wgmma_quads(2, a, (const float(*)[16])b, scale_d, d + 4 * j);
  }
  if (j < n / 8) {
    at_emu_wgmma_rows(kind, base, desc_b, trans_b, at_wgmma_d_col(thread, 4 * j), 2, b);
    at_emu_wgmma_quads(1, a, (const float(*)[16])b, scale_d, d + 4 * j);
  }
}

// One thread's D of wgmma.mma_async m64nNk16 .f32 with A and B in the shared-memory
// image smem[0..smem_bytes) (addresses are offsets into it), A M-major when trans_a is 1
// (imm-trans-a) and K-major when 0, B N-major when trans_b is 1 and K-major when 0: for
// each of its N/2 registers, d[i] = (scale_d ? d[i] : 0) + sum over k of A[row][k] *
// B[col][k], one fma at a time in k order. kind: AT_EMU_F16 or AT_EMU_BF16; n: 8..256, a
// multiple of 8; thread: 0..127 in the warpgroup. Returns NULL, or (d untouched) what is
// wrong: a descriptor problem, or an element of the instruction (the warp's 16 rows of A,
// all of B) outside the image. The rows and columns a thread's registers share are read
// once (registers 4j..4j+3 use two rows and two columns).
AT_DEV const char *
at_emu_wgmma_m64nNk16_thread_t(int kind, int n, int trans_a, int trans_b, const void *smem,
                               unsigned long smem_bytes, unsigned long long desc_a,
                               unsigned long long desc_b, int scale_d, int thread, float *d)
{
  const char *why = at_emu_wgmma_desc_problem(desc_a);
  if (!why)
    why = at_emu_wgmma_desc_problem(desc_b);
  if (why)
    return why;
  if (n < 8 || n > 256 || n % 8 != 0 || thread < 0 || thread >= 128)
    return "wgmma: bad shape or thread";
  if (!at_emu_wgmma_inside(desc_a, trans_a, 16 * (thread / 32), 16, smem_bytes))
    return "wgmma: matrix A reaches outside dynamic shared memory";
  if (!at_emu_wgmma_inside(desc_b, trans_b, 0, n, smem_bytes))
    return "wgmma: matrix B reaches outside dynamic shared memory";
  const unsigned char *base = (const unsigned char *)smem;
  float a[2][16], b[4][16];
  const int row = at_wgmma_d_row(thread, 0); // register i's row: row + 8 ((i / 2) % 2)
  at_emu_wgmma_rows(kind, base, desc_a, trans_a, row, 1, a);
  at_emu_wgmma_rows(kind, base, desc_a, trans_a, row + 8, 1, a + 1);
  at_emu_wgmma_b_quads(kind, n, base, desc_b, trans_b, thread, (const float(*)[16])a, b,
                       scale_d, d);
  return 0;
}

// Both operands K-major.
AT_DEV const char *at_emu_wgmma_m64nNk16_thread(int kind, int n, const void *smem,
                                                unsigned long smem_bytes,
                                                unsigned long long desc_a,
                                                unsigned long long desc_b, int scale_d,
                                                int thread, float *d)
{
  return at_emu_wgmma_m64nNk16_thread_t(kind, n, 0, 0, smem, smem_bytes, desc_a, desc_b,
                                        scale_d, thread, d);
}

// The pure function over a whole warpgroup: d[t * n / 2 + i] is thread t's register i.
AT_DEV const char *at_emu_wgmma_m64nNk16_t(int kind, int n, int trans_a, int trans_b,
                                           const void *smem, unsigned long smem_bytes,
                                           unsigned long long desc_a,
                                           unsigned long long desc_b, int scale_d, float *d)
{
  for (int t = 0; t < 128; t++) {
    const char *why = at_emu_wgmma_m64nNk16_thread_t(kind, n, trans_a, trans_b, smem,
                                                     smem_bytes, desc_a, desc_b, scale_d, t,
                                                     d + t * (n / 2));
    if (why)
      return why;
  }
  return 0;
}
AT_DEV const char *at_emu_wgmma_m64nNk16(int kind, int n, const void *smem,
                                         unsigned long smem_bytes,
                                         unsigned long long desc_a,
                                         unsigned long long desc_b, int scale_d, float *d)
{
  return at_emu_wgmma_m64nNk16_t(kind, n, 0, 0, smem, smem_bytes, desc_a, desc_b, scale_d,
                                 d);
}

// The A operand from registers ("RS"; PTX ISA 9.7.15.5.1.1.1, "Register Fragments and
// Shared Memory Matrix Layouts": the A fragment of .m64nNk16 with .f16/.bf16): warp w of
// the warpgroup holds rows 16w..16w+15 of the 64x16 A, each warp as mma.m16n8k16's A
// (at_mma.h): four 32-bit registers a thread, register j holding A[16w + g + 8 (j % 2)]
// [2 t + 8 (j / 2)] and the next k in its low and high halves (g = lane / 4, t = lane %
// 4): a thread's two rows are at_emu_mma_a_rows's (at_host_mma.h).
// One thread's D with A given as the two rows it needs, rows[0..15] its row
// at_wgmma_d_row(thread, 0) and rows[16..31] that row + 8 (16-bit storage), B from shared
// memory as for at_emu_wgmma_m64nNk16_thread_t. NULL, or (d untouched) what is wrong.
AT_DEV const char *at_emu_wgmma_m64nNk16_rs_thread(int kind, int n, int trans_b,
                                                   const unsigned short *rows,
                                                   const void *smem, unsigned long smem_bytes,
                                                   unsigned long long desc_b, int scale_d,
                                                   int thread, float *d)
{
  const char *why = at_emu_wgmma_desc_problem(desc_b);
  if (why)
    return why;
  if (n < 8 || n > 256 || n % 8 != 0 || thread < 0 || thread >= 128)
    return "wgmma: bad shape or thread";
  if (!at_emu_wgmma_inside(desc_b, trans_b, 0, n, smem_bytes))
    return "wgmma: matrix B reaches outside dynamic shared memory";
  const unsigned char *base = (const unsigned char *)smem;
  float a[2][16], b[4][16];
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 16; k++)
      a[r][k] = at_emu_b16(kind, rows[r * 16 + k]);
  at_emu_wgmma_b_quads(kind, n, base, desc_b, trans_b, thread, (const float(*)[16])a, b,
                       scale_d, d);
  return 0;
}

#if !defined(AT_EMU_ONLY) && AT_HAS_WGMMA
#ifndef AT_WGMMA_HOST_QUEUE
#define AT_WGMMA_HOST_QUEUE 64
#endif
struct at_wgmma_entry {
  unsigned long long desc_a, desc_b;
  float *d;
  int kind, n, trans_a, trans_b, scale_d, group; // group: -1 while not committed
  int rs;                                        // A from registers: its rows below
  unsigned short a_rows[32];                     // this thread's two rows of A (RS)
  // What must not change before the wait that completes it (PTX ISA, wgmma.mma_async:
  // accessing the accumulators or A's registers before then is undefined): d's bits as a
  // sum (refreshed where an earlier entry's completion writes the same d), and A's four
  // registers where they are (RS).
  unsigned long long d_sum;
  const unsigned int *a_src;
  unsigned int a_seen[4];
};
// A sum of the bits of a thread's n / 2 accumulators (n a multiple of 8), FNV-1a's step
// on 8 bytes at a time: n / 4 multiplies, small beside the wgmma's n / 2 x 16 FMAs.
AT_DEV unsigned long long at_host_wgmma_d_sum(const float *d, int n)
{
  unsigned long long h = 1469598103934665603ull;
  for (int i = 0; i < n / 2; i += 2) {
    unsigned long long w;
    __builtin_memcpy(&w, d + i, sizeof w);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}
typedef at_host_queue<struct at_wgmma_entry, AT_WGMMA_HOST_QUEUE> at_wgmma_slot;
// This thread's queue (design note, 4; at_host_emu.h's at_host_slot).
AT_DEV at_wgmma_slot *at_host_wgmma_slot(void)
{
  static thread_local at_host_slots<at_wgmma_slot> table;
  const struct at_host_thread *t = at_host_warp_self();
  unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (AT_WAVE_SIZE != 32 || threads % 128 != 0) {
    at_host_fail("wgmma: the block is not whole warpgroups (a multiple of 128 threads in "
                 "warps of 32)");
    return 0;
  }
  return at_host_slot(table, t, "wgmma: out of memory for the pending queues");
}
// Queue one issued instruction, the part both forms share: a descriptor problem (why) or
// a full queue fails the launch. The entry, or NULL where the launch failed.
AT_DEV struct at_wgmma_entry *at_host_wgmma_enqueue(at_wgmma_slot *s, const char *why,
                                                    int kind, int n, unsigned long long desc_a,
                                                    unsigned long long desc_b, int trans_a,
                                                    int trans_b, float *d, int scale_d, int rs)
{
  if (!why && s->count == AT_WGMMA_HOST_QUEUE)
    why = "wgmma: more than AT_WGMMA_HOST_QUEUE wgmma.mma_async pending in one thread";
  if (why) {
    at_host_fail(why);
    return 0;
  }
  struct at_wgmma_entry *e = &s->q[s->count++];
  e->desc_a = desc_a, e->desc_b = desc_b, e->d = d;
  e->kind = kind, e->n = n, e->trans_a = trans_a, e->trans_b = trans_b;
  e->scale_d = scale_d != 0, e->group = -1, e->rs = rs;
  e->d_sum = at_host_wgmma_d_sum(d, n);
  e->a_src = 0;
  return e;
}
AT_DEV void at_host_wgmma_issue(int kind, int n, int trans_a, int trans_b, float *d,
                                unsigned long long desc_a, unsigned long long desc_b,
                                int scale_d)
{
  at_wgmma_slot *s = at_host_wgmma_slot();
  if (!s)
    return;
  struct mine {
    unsigned long long a, b;
    int kind, n, trans, scale_d;
  } m = {desc_a, desc_b, kind, n, trans_a * 2 + trans_b, scale_d != 0};
  const struct mine *all =
      static_cast<const struct mine *>(at_host_rt_get()->warp_share(&m, sizeof m, 0));
  for (int l = 0; l < AT_WAVE_SIZE; l++)
    if (all[l].a != m.a || all[l].b != m.b || all[l].kind != m.kind || all[l].n != m.n ||
        all[l].trans != m.trans || all[l].scale_d != m.scale_d) {
      at_host_fail("wgmma.mma_async: the lanes of a warp disagree on the instruction, its "
                   "descriptors or scale-d (.sync.aligned)");
      return;
    }
  const char *why = at_emu_wgmma_desc_problem(desc_a);
  at_host_wgmma_enqueue(s, why ? why : at_emu_wgmma_desc_problem(desc_b), kind, n, desc_a,
                        desc_b, trans_a, trans_b, d, scale_d, 0);
}
// The RS form: the warp's A fragments gathered at issue (the registers are read then, as
// the instruction's operands), this thread's two rows kept in its entry.
AT_DEV void at_host_wgmma_issue_rs(int kind, int n, int trans_b, float *d, const unsigned int *a,
                                   unsigned long long desc_b, int scale_d)
{
  at_wgmma_slot *s = at_host_wgmma_slot();
  if (!s)
    return;
  // A's four words, then what every lane must agree on: the instruction and B's descriptor
  const unsigned int m[10] = {a[0], a[1], a[2], a[3], (unsigned int)kind, (unsigned int)n,
                              (unsigned int)trans_b, scale_d != 0, (unsigned int)desc_b,
                              (unsigned int)(desc_b >> 32)};
  const unsigned int(*all)[10] = static_cast<const unsigned int(*)[10]>(
      at_host_rt_get()->warp_share(m, sizeof m, 0)); // read in place
  for (int l = 0; l < AT_WAVE_SIZE; l++)
    if (__builtin_memcmp(&all[l][4], &m[4], 6 * sizeof m[0]) != 0) {
      at_host_fail("wgmma.mma_async: the lanes of a warp disagree on the instruction, its "
                   "descriptor or scale-d (.sync.aligned)");
      return;
    }
  struct at_wgmma_entry *e = at_host_wgmma_enqueue(s, at_emu_wgmma_desc_problem(desc_b), kind,
                                                    n, 0, desc_b, 0, trans_b, d, scale_d, 1);
  if (!e)
    return;
  unsigned short rows[2][16];
  at_emu_mma_a_rows(&all[0][0], 10, (int)(at_host_self()->linear % 32), rows);
  __builtin_memcpy(e->a_rows, rows, sizeof rows);
  e->a_src = a; // (the caller's registers: they stay where they are until the wait)
  __builtin_memcpy(e->a_seen, a, sizeof e->a_seen);
}
AT_DEV void at_wgmma_fence(void) { (void)at_host_wgmma_slot(); }
AT_DEV void at_wgmma_commit_group(void)
{
  if (at_wgmma_slot *s = at_host_wgmma_slot())
    s->commit();
}
// The first granule an operand of a wgmma (desc, trans; rows mn0 .. mn0 + count, as
// at_emu_wgmma_inside walks them) reads that a thread wrote (cp.async, st.shared) with no
// fence.proxy.async of that thread since (at_host_emu.h): that thread's linear id + 1,
// or 0.
AT_DEV unsigned int at_host_wgmma_unfenced(const struct at_host_proxy *p,
                                           unsigned long long desc, int trans, int mn0,
                                           int count)
{
  unsigned int who = 0;
  if (!trans)
    for (int mn = mn0; mn < mn0 + count && !who; mn++)
      for (int k = 0; k < 16 && !who; k += 8)
        who = at_host_proxy_unfenced(p, at_emu_wgmma_kmajor_addr(desc, mn, k));
  else // (8 rows of one k: one 16-byte chunk)
    for (int mn = mn0; mn < mn0 + count && !who; mn += mn0 % 8 == 0 && count % 8 == 0 ? 8 : 1)
      for (int k = 0; k < 16 && !who; k++)
        who = at_host_proxy_unfenced(p, at_emu_wgmma_mnmajor_addr(desc, mn, k));
  return who;
}
AT_DEV void at_host_wgmma_wait(int keep)
{
  at_wgmma_slot *s = at_host_wgmma_slot();
  if (!s)
    return;
  int upto = s->next_group - keep; // groups < upto complete now
  const struct at_host_thread *t = at_host_self();
  size_t bytes = 0;
  void *smem = at_host_rt_get()->dyn_shared(&bytes);
  const struct at_host_proxy *proxy = at_host_proxy_here();
  if (!proxy)
    return;
  int w = 0;
  for (int i = 0; i < s->count; i++) {
    struct at_wgmma_entry *e = &s->q[i];
    if (e->group >= 0 && e->group < upto) {
      // the operands as the async proxy sees them: no unfenced generic write in them
      // (A: this warp's 16 rows; B: all N)
      unsigned int who = 0;
      if (proxy->dirty) {
        who = e->rs ? 0 : at_host_wgmma_unfenced(proxy, e->desc_a, e->trans_a,
                                                 16 * (int)(t->linear % 128 / 32), 16);
        who = who ? who : at_host_wgmma_unfenced(proxy, e->desc_b, e->trans_b, 0, e->n);
      }
      if (who) {
        static thread_local char msg[200];
        snprintf(msg, sizeof msg, "wgmma: an operand in shared memory holds what thread %u "
                 "wrote (cp.async or st.shared), with no fence.proxy.async of that thread "
                 "since (the async proxy need not see it: PTX ISA, proxies)", who - 1);
        at_host_fail(msg);
        return;
      }
      const char *why =
          at_host_wgmma_d_sum(e->d, e->n) != e->d_sum
              ? "wgmma: the accumulators of a wgmma.mma_async were written before the "
                "wgmma.wait_group that completes it (PTX ISA: undefined)"
          : e->a_src && __builtin_memcmp(e->a_src, e->a_seen, sizeof e->a_seen) != 0
              ? "wgmma: the A registers of a wgmma.mma_async (A from registers) were written "
                "before the wgmma.wait_group that completes it (PTX ISA: undefined)"
          : e->rs ? at_emu_wgmma_m64nNk16_rs_thread(e->kind, e->n, e->trans_b, e->a_rows, smem,
                                                    bytes, e->desc_b, e->scale_d,
                                                    (int)(t->linear % 128), e->d)
                  : at_emu_wgmma_m64nNk16_thread_t(e->kind, e->n, e->trans_a, e->trans_b, smem,
                                                   bytes, e->desc_a, e->desc_b, e->scale_d,
                                                   (int)(t->linear % 128), e->d);
      if (why) {
        at_host_fail(why);
        return;
      }
      // the later entries on the same accumulators see them as this one left them
      for (int j = i + 1; j < s->count; j++)
        if (s->q[j].d == e->d)
          s->q[j].d_sum = at_host_wgmma_d_sum(s->q[j].d, s->q[j].n);
    } else {
      s->q[w++] = *e;
    }
  }
  s->count = w;
}
template <int N> AT_DEV void at_wgmma_wait_group(void)
{
  static_assert(N >= 0 && N <= 7, "wgmma.wait_group takes 0..7");
  at_host_wgmma_wait(N);
}
// The emulated wait_group writes d itself: nothing for a compiler to be kept from.
template <int n> AT_DEV void at_wgmma_fence_acc(float *) {}
// Ordinary stores and emulated wgmma reads are the same memory on the host; what a
// fence.proxy.async changes is what at_host_wgmma_wait checks (cp.async's writes and
// at_st_shared_async's).
AT_DEV void at_fence_proxy_async_shared(void) { at_host_proxy_fence(); }
AT_DEV unsigned long long at_wgmma_desc(const void *p, unsigned int lbo, unsigned int sbo,
                                        int swizzle)
{
  size_t bytes = 0;
  const unsigned char *base =
      static_cast<const unsigned char *>(at_host_rt_get()->dyn_shared(&bytes));
  const unsigned char *q = static_cast<const unsigned char *>(p);
  if (!base || q < base || q >= base + bytes) {
    at_host_fail(
        "wgmma descriptor: on the host the matrix must be in dynamic shared memory "
        "(AT_DYNAMIC_SHARED)");
    return 0;
  }
  unsigned long off = (unsigned long)(q - base);
  if (off % 16 != 0 || lbo % 16 != 0 || sbo % 16 != 0 || off > 0x3FFFFul ||
      lbo > 0x3FFFFu || sbo > 0x3FFFFu) {
    at_host_fail("wgmma descriptor: address, LBO and SBO must be multiples of 16 below "
                 "256 KiB");
    return 0;
  }
  return at_wgmma_desc_encode((unsigned int)off, lbo, sbo, swizzle);
}
template <int N> struct at_wgmma_impl {
  static_assert(N == 64 || N == 128 || N == 256, "at_wgmma_m64nNk16: N is 64, 128 or 256");
  template <int TA, int TB>
  AT_DEV void f16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                  int scale_d)
  {
    at_host_wgmma_issue(AT_EMU_F16, N, TA, TB, d, desc_a, desc_b, scale_d);
  }
  template <int TA, int TB>
  AT_DEV void bf16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                   int scale_d)
  {
    at_host_wgmma_issue(AT_EMU_BF16, N, TA, TB, d, desc_a, desc_b, scale_d);
  }
};
template <int N> struct at_wgmma_rs_impl {
  static_assert(N == 64 || N == 128 || N == 256, "at_wgmma_m64nNk16_rs: N is 64, 128 or 256");
  template <int TB>
  AT_DEV void f16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    at_host_wgmma_issue_rs(AT_EMU_F16, N, TB, d, a, desc_b, scale_d);
  }
  template <int TB>
  AT_DEV void bf16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    at_host_wgmma_issue_rs(AT_EMU_BF16, N, TB, d, a, desc_b, scale_d);
  }
};
#endif
