/*
 * env_vars.c - the table of environment variables autotune reads (cli.h), each with
 * what it changes: the one list that `autotune --help` prints and README.md repeats
 * (tests/test_report.c holds the README, the help and the code's getenv calls to it).
 */
#include "tuner/cli/cli.h"

const struct cli_env cli_env_vars[] = {
    {"AUTOTUNE_DB", "the default tuning database (else $XDG_DATA_HOME/autotune/tuning.db)"},
    {"AUTOTUNE_CACHE_DIR", "compiled variants' cache (else $XDG_CACHE_HOME/autotune)"},
    {"AUTOTUNE_TEMPLATES", "a folder searched first for templates/<op>/*.h"},
    {"AUTOTUNE_COMPILE_TIMEOUT", "seconds one compile may take (default 300)"},
    {"AUTOTUNE_HOST_CXX", "the C++ compiler of host variants (else g++, c++, clang++)"},
    {"AUTOTUNE_EMU_STACK_KB", "stack of each emulated GPU thread, KiB (1..65536)"},
    {"AUTOTUNE_LIBCLANG", "the libclang to load (else libclang-19)"},
    {"AUTOTUNE_MAX_CONFIGS", "most valid configs a space may hold (default 1000000)"},
    {"AUTOTUNE_NO_DETECT", "1: do not look for GPUs on this machine"},
    {"AUTOTUNE_MODELS", "the folder of model presets (else the installed models/)"},
    {"SLURM_ARRAY_TASK_ID", "with _COUNT, _MIN and _STEP: the shard, without --shard"},
    {"CUDA_PATH", "CUDA Toolkit root, for nvcc (else /usr/local/cuda)"},
    {"ROCM_PATH", "ROCm root, for clang and hipRTC (else /opt/rocm)"},
    {"XDG_DATA_HOME", "where the default database lives (else ~/.local/share)"},
    {"XDG_CACHE_HOME", "where the compile cache lives (else ~/.cache)"},
    {NULL, NULL},
};
