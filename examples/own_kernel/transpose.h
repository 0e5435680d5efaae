// transpose.h - a user's own kernel template (not a GEMM): out = in^T for an R x C
// row-major matrix, staged through a TILE x TILE shared-memory tile so that both the
// read and the write are row-contiguous. Tunable: the tile, how many rows a block's
// threads cover per step (block = TILE x ROWS threads, each moving TILE/ROWS elements),
// and a padding column against shared-memory bank conflicts on the transposed read.
//
// Tune it (docs/tune.md):
//   autotune tune transpose.h --device host --dim R=300 --dim C=500 \
//       --arg out=R*C --arg in=R*C --db tuning.db
// and consume the winners in params mode (docs/headers.md):
//   autotune emit-header transpose --device host --db tuning.db --mode params --out tuned.h
#include "at_common.h"

#pragma autotune kernel transpose
#pragma autotune problem R, C
#pragma autotune param TILE = 8, 16, 32, 64
#pragma autotune param ROWS = 1, 2, 4, 8, 16
#pragma autotune param PAD = 0, 1
#pragma autotune require rows_divide_tile: TILE % ROWS == 0
#pragma autotune require block_size: TILE * ROWS >= 32 && TILE * ROWS <= 1024
#pragma autotune require tile_fits: 4 * TILE * (TILE + PAD) <= device.lds_bytes
#pragma autotune threads TILE, ROWS
#pragma autotune grid cdiv(C, TILE), cdiv(R, TILE)

template <int TILE, int ROWS, int PAD>
__device__ void transpose(float *out, const float *in, int R, int C)
{
  __shared__ float tile[TILE][TILE + PAD];
  const int c0 = (int)at_block_idx_x() * TILE, r0 = (int)at_block_idx_y() * TILE;
  const int tx = (int)at_thread_idx_x(), ty = (int)at_thread_idx_y();
  for (int j = ty; j < TILE; j += ROWS) {
    const int r = r0 + j, c = c0 + tx;
    if (r < R && c < C)
      tile[j][tx] = in[(long)r * C + c];
  }
  at_syncthreads();
  // out is C x R: its row c0 + j holds column c0 + j of `in`.
  for (int j = ty; j < TILE; j += ROWS) {
    const int r = c0 + j, c = r0 + tx;
    if (r < C && c < R)
      out[(long)r * R + c] = tile[tx][j];
  }
}
