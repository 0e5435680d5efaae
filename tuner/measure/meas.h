/*
 * meas.h - measurement backends: load a code object, allocate, copy, launch and time
 * on one device. One small vtable per backend (`cuda` and `hip`, one source over the
 * vendor layer's dlopen'ed tables, tuner/device/vendor.h; `host` and `replay`), so one
 * autotune binary runs on a machine with either runtime, both or neither. Every GPU call
 * is checked in one macro that records the statement, file, line and the vendor's own
 * error string, and returns a status: a kernel that faults is data for the database, not
 * a crash of the tuner.
 */
#ifndef AT_TUNER_MEASURE_MEAS_H
#define AT_TUNER_MEASURE_MEAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meas_ctx;                  /* an open device (context, stream, events) */
typedef uint64_t meas_ptr;        /* a device address */
typedef void *meas_module;        /* a loaded code object */
typedef void *meas_kernel;        /* a kernel in a loaded code object */

struct meas_launch {
  meas_kernel kernel;
  unsigned grid[3], block[3];
  unsigned cluster[3];            /* CTAs per cluster (a `cluster` pragma; 0: 1): the host
                                     backend runs clusters (the grid a multiple of it);
                                     CUDA kernels carry it as __cluster_dims__ */
  unsigned shared_bytes;          /* dynamic shared memory */
  void **args;                    /* pointers to each argument, as cuLaunchKernel takes */
  const char *arg_kinds;          /* one letter per argument, its C type: 'p' pointer,
                                     'i' int, 'u' unsigned, 'l' int64, 'f' float,
                                     'd' double, 'm' a tensor map (at_tma.h: args[i]
                                     points to its 128 bytes, passed by value on a
                                     GPU) ("ppffi"); the host backend needs it to
                                     call the kernel, GPU backends ignore it; may be NULL
                                     there */
  const char *arg_names;          /* the arguments' names, comma-separated ("A,B,C,M"),
                                     for messages (the host's red zones); may be NULL */
};

/* A tensor map to build (templates/common/at_tma.h, a `tensormap` pragma): the matrix at
 * `base` of `rows` rows of `cols` contiguous elements of `elem_bytes`, rows `ld` elements
 * apart, read in boxes of box[0] (contiguous) x box[1] elements, swizzled by `swizzle`
 * bytes (0, 32, 64, 128); out-of-bounds elements read as 0. */
struct meas_tmap {
  meas_ptr base;
  unsigned elem_bytes;
  int64_t rows, cols, ld;
  unsigned box[2];
  unsigned swizzle;
};
#define MEAS_TMAP_BYTES 128   /* the map: CUtensorMap's size (at_tensormap) */

/* The arguments meas_cuda passes to cuTensorMapEncodeTiled for t (CUDA Driver API,
 * "Tensor Map Object Management"), as plain numbers: one function so that a test can
 * check them against cuda.h without a driver. */
struct meas_cu_tmap_args {
  int dtype;                      /* CUtensorMapDataType: UINT8/16/32, UINT64 by size */
  unsigned rank;                  /* 2 */
  unsigned long long dims[2];     /* cols, rows */
  unsigned long long strides[1];  /* ld * elem_bytes */
  unsigned box[2], elem_strides[2];
  int interleave, swizzle, l2_promotion, oob_fill; /* NONE, by bytes, L2_128B, NONE */
};
/* AT_OK, or AT_USAGE naming the first of cuTensorMapEncodeTiled's documented
 * requirements t breaks (at_tma.h's at_tmap_check). OUT: *a (zeroed on entry). */
int meas_cu_tmap_args(const struct meas_tmap *t, struct meas_cu_tmap_args *a);

struct meas_backend {
  const char *name;               /* "cuda" */
  /* Open device `index`. AT_UNSUPPORTED (with the reason) when the runtime or device is
   * absent: normal on a machine without that GPU; AT_USAGE when the runtime has GPUs but
   * `index` is not one of them (a bad --gpu). OUT: *ctx. */
  int (*open)(int index, struct meas_ctx **ctx);
  void (*close)(struct meas_ctx *ctx);
  /* The device's name and arch ("NVIDIA H100 80GB HBM3", "sm_90"). */
  int (*describe)(struct meas_ctx *ctx, char *name, size_t name_len, char *arch,
                  size_t arch_len);
  int (*load)(struct meas_ctx *ctx, const void *code, size_t size, meas_module *out);
  int (*unload)(struct meas_ctx *ctx, meas_module m);
  int (*kernel)(struct meas_ctx *ctx, meas_module m, const char *name, meas_kernel *out);
  int (*alloc)(struct meas_ctx *ctx, size_t bytes, meas_ptr *out);
  int (*free)(struct meas_ctx *ctx, meas_ptr p);
  int (*upload)(struct meas_ctx *ctx, meas_ptr dst, const void *src, size_t bytes);
  int (*download)(struct meas_ctx *ctx, void *dst, meas_ptr src, size_t bytes);
  int (*fill)(struct meas_ctx *ctx, meas_ptr dst, unsigned char byte, size_t bytes);
  /* Launch asynchronously on the context's stream. */
  int (*launch)(struct meas_ctx *ctx, const struct meas_launch *l);
  /* Wait for the stream; a fault in an earlier launch surfaces here. */
  int (*sync)(struct meas_ctx *ctx);
  /* Time `reps` launches, one device-event pair around each, calling `between` (may be
   * NULL) outside the timed region before each one (the L2 flush). OUT: us[reps]. */
  int (*time)(struct meas_ctx *ctx, const struct meas_launch *l, int reps,
              int (*between)(struct meas_ctx *ctx, void *arg), void *arg, double *us);
  /* The device's PCI bus id ("0000:c1:00.0"), by which the management libraries (NVML,
   * ROCm SMI: tuner/device/smi.h) find the same GPU; NULL where there is none (host). */
  int (*pci_bus_id)(struct meas_ctx *ctx, char *out, size_t len);
  /* Build the tensor map t into map[MEAS_TMAP_BYTES] (128-byte aligned) for this
   * backend's kernels: cuTensorMapEncodeTiled on CUDA, at_tmap_host_encode on the host.
   * NULL where kernels take none (hip, replay): call meas_tmap_encode, which says so. */
  int (*tmap_encode)(struct meas_ctx *ctx, const struct meas_tmap *t, void *map);
};

/* mb's tmap_encode, or AT_UNSUPPORTED ("the hip backend has no tensor maps") where it has
 * none; AT_USAGE for a map that breaks cuTensorMapEncodeTiled's rules, naming which. */
int meas_tmap_encode(const struct meas_backend *mb, struct meas_ctx *ctx,
                     const struct meas_tmap *t, void *map);

/* The event-timed loop of the GPU backends' `time`: prepare (may be NULL) once, then each
 * repetition calls between (may be NULL), start, launch, stop_and_wait and elapsed_ms,
 * and stores the elapsed time in us[i]. Only the launch lies between the two events:
 * what a launch needs set up first (CUDA's opt-in to more dynamic shared memory, a driver
 * call) is prepare's, outside the timed region. The first failing call's status is
 * returned. */
struct meas_event_timer {
  int (*prepare)(struct meas_ctx *c, const struct meas_launch *l);
  int (*start)(struct meas_ctx *c);          /* record the start event on the stream */
  int (*launch)(struct meas_ctx *c, const struct meas_launch *l); /* the launch alone */
  int (*stop_and_wait)(struct meas_ctx *c);  /* record the stop event and wait for it */
  int (*elapsed_ms)(struct meas_ctx *c, float *ms);
};
int meas_time_events(struct meas_ctx *c, const struct meas_event_timer *t,
                     const struct meas_launch *l, int reps,
                     int (*between)(struct meas_ctx *, void *), void *arg, double *us);

/* `cuda` and `hip`: the CUDA driver and the HIP runtime through the vendor layer
 * (vnd_cuda, vnd_hip), one implementation (tuner/measure/meas_gpu.c). */
extern const struct meas_backend meas_cuda;
extern const struct meas_backend meas_hip;
/* `host`: the variant's shared object run by the SIMT emulator (tuner/measure/meas_host.c). */
extern const struct meas_backend meas_host;

/* Worker threads of host launches in contexts opened from now on; <= 0 (the default):
 * the online CPUs. */
void meas_host_set_jobs(int jobs);
/* Whether this process has the AddressSanitizer runtime, which host variants built with
 * --sanitize need to load. */
bool meas_host_has_asan(void);

#endif
