/*
 * commands.h - entry points of the commands, one cmd_<name>.c each.
 */
#ifndef AT_TUNER_CLI_COMMANDS_H
#define AT_TUNER_CLI_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_emit_header(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_gemm(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_cache(int argc, char **argv);

#endif
