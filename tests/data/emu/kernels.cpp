// kernels.cpp - micro-kernels for tests/test_emu.c: a warp reduction by shuffles, a warp
// gather's lane order, a shared-memory transpose with a barrier, a block-wide
// Hillis-Steele scan in dynamic shared memory, the ids of every thread, and two argument
// lists that test the emulator's call of a kernel (scale's and a long mixed one).
#include "emu_rt.h"

// Every lane ends with the sum over its warp (butterfly: xor shuffles).
extern "C" void warp_reduce(const int *x, int *out)
{
  const at_host_thread *t = self();
  unsigned g = t->bid[0] * t->bdim[0] + t->linear;
  int v = x[g];
  for (unsigned m = t->warp_size / 2; m; m >>= 1)
    v += shfl(v, t->lane ^ m);
  out[g] = v;
}

// Lane i contributes 1000 * block + 10 * lane + 1 and stores what lane i+1 gave.
extern "C" void gather_order(int *out)
{
  const at_host_thread *t = self();
  int all[64], mine = (int)(1000 * t->bid[0] + 10 * t->lane + 1);
  rt->warp_gather(&mine, sizeof mine, all);
  out[t->bid[0] * t->bdim[0] + t->linear] = all[(t->lane + 1) % t->warp_size];
}

// out = in^T for an n x n matrix, n a multiple of 32; blocks of 32 x 32 threads.
extern "C" void transpose(const float *in, float *out, int n)
{
  static thread_local float tile[32][33];
  const at_host_thread *t = self();
  unsigned tx = t->tid[0], ty = t->tid[1];
  tile[ty][tx] = in[(t->bid[1] * 32 + ty) * n + t->bid[0] * 32 + tx];
  rt->barrier();
  out[(t->bid[0] * 32 + ty) * n + t->bid[1] * 32 + tx] = tile[tx][ty];
}

// Inclusive prefix sums of each block's segment of x (Hillis-Steele, double-buffered in
// 2 * blockDim ints of dynamic shared memory).
extern "C" void block_scan(const int *x, int *out)
{
  const at_host_thread *t = self();
  size_t bytes = 0;
  int *a = (int *)rt->dyn_shared(&bytes);
  unsigned n = t->bdim[0], i = t->linear, g = t->bid[0] * n + i;
  if (bytes < 2 * n * sizeof(int))
    rt->fail("block_scan: too little dynamic shared memory");
  int *b = a + n;
  a[i] = x[g];
  rt->barrier();
  for (unsigned off = 1; off < n; off <<= 1) {
    b[i] = a[i] + (i >= off ? a[i - off] : 0);
    rt->barrier();
    int *tmp = a;
    a = b;
    b = tmp;
  }
  out[g] = a[i];
}

// Every id of every thread: 10 words per thread at its global linear index.
extern "C" void ids(unsigned *out)
{
  const at_host_thread *t = self();
  unsigned nt = t->bdim[0] * t->bdim[1] * t->bdim[2];
  unsigned b = t->bid[0] + t->gdim[0] * (t->bid[1] + t->gdim[1] * t->bid[2]);
  unsigned *o = out + 10 * (b * nt + t->linear);
  o[0] = t->tid[0], o[1] = t->tid[1], o[2] = t->tid[2];
  o[3] = t->bid[0], o[4] = t->bid[1], o[5] = t->bid[2];
  o[6] = t->linear, o[7] = t->lane, o[8] = t->warp, o[9] = t->warp_size;
}

// The example template's kernel: y = alpha * x + beta * y.
extern "C" void scale(float *y, const float *x, float alpha, float beta, int n)
{
  const at_host_thread *t = self();
  long i = (long)t->bid[0] * t->bdim[0] + t->linear;
  if (i < n)
    y[i] = alpha * x[i] + beta * y[i];
}

// 18 parameters: 7 of integer class and 11 of float class, so that both register
// sequences overflow onto the stack (m, n, p and q). Thread 0 echoes them all.
extern "C" void mix(double *out, int a, double b, float c, long d, unsigned e, float f,
                    double g, int h, float i, float j, float k, float l, float m, float n,
                    int o, long p, float q)
{
  if (self()->linear || self()->bid[0])
    return;
  double v[] = {(double)a, b, c, (double)d, (double)e, f, g, (double)h, i,
                j, k, l, m, n, (double)o, (double)p, q};
  for (int x = 0; x < 17; x++)
    out[x] = v[x];
}
