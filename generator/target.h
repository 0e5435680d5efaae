/*
 * target.h - the source dialects a variant is emitted in and compiled as: CUDA, HIP, or
 * C++ for the host device's SIMT emulator. The generator emits for one; the compile
 * backends (tuner/compile/compile.h) each serve one.
 */
#ifndef AT_GENERATOR_TARGET_H
#define AT_GENERATOR_TARGET_H

enum cc_target { CC_CUDA = 0, CC_HIP = 1, CC_HOST = 2 };

#endif
