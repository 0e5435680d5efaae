// at_lds.h - what the register-staged tile copies of the CDNA matrix-core templates
// (gemm_mfma.h; at_attn_mfma.h for attn_mfma.h and attn_decode_mfma.h) share: a type
// test, a global-read vector of 4, 8 or 16 bytes, and the byte offset of an element in
// an LDS tile that is plain, padded or swizzled. One copy: both once had their own.
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_LDS_H
#define AT_LDS_H

// Member functions: AT_DEV says `static`, which a member cannot be.
#define AT_LDS_FN __device__ __forceinline__

template <typename A, typename B> struct at_same {
  static constexpr bool value = false;
};
template <typename A> struct at_same<A, A> {
  static constexpr bool value = true;
};

// One global-read vector of 4, 8 or 16 bytes: load and store at an address aligned to
// its size. at_copy.h has the 8- and 16-byte forms; the 4-byte one is a plain word.
template <int BYTES> struct at_vec;
template <> struct at_vec<16> {
  typedef at_uint4 type;
  static AT_LDS_FN type load(const void *p) { return at_load_b128(p); }
  static AT_LDS_FN void store(void *p, type v) { at_store_b128(p, v); }
};
template <> struct at_vec<8> {
  typedef at_uint2 type;
  static AT_LDS_FN type load(const void *p) { return at_load_b64(p); }
  static AT_LDS_FN void store(void *p, type v) { at_store_b64(p, v); }
};
template <> struct at_vec<4> {
  typedef unsigned int type;
  static AT_LDS_FN type load(const void *p) { return *(const unsigned int *)p; }
  static AT_LDS_FN void store(void *p, type v) { *(unsigned int *)p = v; }
};

// Byte offset of (row, byte column) in an LDS tile of rows of ROW_BYTES (a multiple of
// 16): LAYOUT 0 plain, 1 rows padded by 16 bytes, 2 the 16-byte granule index XORed with
// the row (ROW_BYTES / 16 a power of two). Accesses of up to 16 bytes at their own
// alignment stay contiguous in all three.
template <int ROW_BYTES, int LAYOUT> AT_DEV int at_lds_off(int row, int col_bytes)
{
  if constexpr (LAYOUT == 1)
    return row * (ROW_BYTES + 16) + col_bytes;
  else if constexpr (LAYOUT == 2)
    return row * ROW_BYTES + (((col_bytes >> 4) ^ (row % (ROW_BYTES / 16))) << 4) +
           (col_bytes & 15);
  else
    return row * ROW_BYTES + col_bytes;
}

#endif
