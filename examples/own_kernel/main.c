/* main.c - a program that consumes tuned parameters of its own kernel (transpose.h)
 * through a params-mode header: plain C, no GPU headers, no autotune library.
 *
 * The build (CMakeLists.txt) runs `autotune emit-header transpose --mode params` on the
 * tuning database, giving tuned_transpose.h: a table of the winners per tuned shape and
 * at_tuned_transpose_f32_select(R, C), which returns the winner for that shape, or for
 * the nearest tuned one (the distance of `autotune query`). This program asks it for a
 * few shapes, prints the choice, and uses the tile size for its own blocked transpose
 * on the CPU, checked element by element. A GPU program would pass the same numbers to
 * its own kernel's template arguments or launch configuration.
 *
 * Exit 0 when every transpose is right, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "tuned_transpose.h"

/* The user's own code: a CPU transpose blocked by the tuned tile. */
static void transpose_blocked(float *out, const float *in, int R, int C, int tile)
{
  for (int r0 = 0; r0 < R; r0 += tile)
    for (int c0 = 0; c0 < C; c0 += tile)
      for (int r = r0; r < R && r < r0 + tile; r++)
        for (int c = c0; c < C && c < c0 + tile; c++)
          out[(long)c * R + r] = in[(long)r * C + c];
}

int main(void)
{
  static const int shapes[][2] = {{300, 500}, {300, 501}, {1024, 1024}, {17, 4096}};
  int bad = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    const int R = shapes[s][0], C = shapes[s][1];
    at_tuned_transpose_params p = at_tuned_transpose_f32_select(R, C);
    printf("%d x %d: %s %s (%s %lld x %lld) TILE=%lld ROWS=%lld PAD=%lld\n", R, C, p.kernel,
           p.config, p.exact ? "tuned at" : "nearest tuned", p.dims[0], p.dims[1], p.TILE,
           p.ROWS, p.PAD);
    float *in = malloc(sizeof(float) * (size_t)R * (size_t)C);
    float *out = malloc(sizeof(float) * (size_t)R * (size_t)C);
    if (!in || !out)
      return 1;
    for (long i = 0; i < (long)R * C; i++)
      in[i] = (float)(i % 1000);
    transpose_blocked(out, in, R, C, (int)p.TILE);
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++)
        bad += out[(long)c * R + r] != in[(long)r * C + c];
    free(in);
    free(out);
  }
#ifdef AT_TUNED_TRANSPOSE_F32_TILE
  /* One tuned shape: its winner is also there as constants, for a single-shape build. */
  printf("single-shape build: TILE=%d ROWS=%d PAD=%d\n", AT_TUNED_TRANSPOSE_F32_TILE,
         AT_TUNED_TRANSPOSE_F32_ROWS, AT_TUNED_TRANSPOSE_F32_PAD);
#endif
  printf("%s\n", bad ? "WRONG" : "ok");
  return bad != 0;
}
