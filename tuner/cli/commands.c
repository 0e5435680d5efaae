/*
 * commands.c - the command table of `autotune`. Only commands that work are listed; a
 * test checks that this table, `autotune --help` and README.md agree.
 */
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"

const struct cli_cmd cli_commands[] = {
    {"devices", cmd_devices, "list device profiles and the GPUs present on this machine"},
    {"db", cmd_db, "create, inspect, check, merge, export and import tuning databases"},
    {"generate", cmd_generate, "span a template's space; write, count or compile its variants"},
    {"gemm", cmd_gemm, "tune a GEMM: compile, verify, time and record every variant"},
    {"attention", cmd_attention, "tune attention's forward pass: compile, check, time and record"},
    {"tune", cmd_tune, "tune any annotated template: compile, check, time and record its variants"},
    {"model", cmd_model, "tune every GEMM and attention problem of a model; header and summary"},
    {"bundle", cmd_bundle, "write what a GPU node without compilers needs to tune an op"},
    {"emit-header", cmd_emit_header, "write the tuned winners as a header for a program's build"},
    {"simulate", cmd_simulate, "replay fully measured spaces through the search strategies"},
    {"query", cmd_query, "best tuned configuration for a problem (exact or nearest shape)"},
    {"report", cmd_report, "write an HTML report of tuning runs: curves, winners, roofline"},
    {"cache", cmd_cache, "what the compile cache holds; prune it by last use"},
    {"completion", cmd_completion, "print a bash or zsh completion script for autotune"},
    {NULL, NULL, NULL},
};
