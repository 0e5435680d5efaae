/*
 * commands.h - entry points of the commands, one cmd_<name>.c each.
 */
#ifndef AT_TUNER_CLI_COMMANDS_H
#define AT_TUNER_CLI_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_emit_header(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_gemm(int argc, char **argv);
int cmd_attention(int argc, char **argv);

/* The template tuner behind `tune` (cmd_tune.c); with an attention problem, the run
 * `attention` makes of it: the op's data and reference, its record (cmd_attention.c). */
struct attn_problem;
int tune_any_run(int argc, char **argv, const struct attn_problem *ap);

#endif
