/*
 * proc.h - what this machine and its processes say about themselves, read from /proc
 * and uname: a process's start time (which tells a live owner from a reused pid), the
 * boot id, the CPU model and the kernel release. Every reader fills a caller's buffer
 * and fails softly: on a system without /proc the answers are "not known".
 */
#ifndef AT_BASE_PROC_H
#define AT_BASE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of process `pid`: field 22 of /proc/PID/stat, in clock ticks since
 * boot. OUT: *ticks (cleared on entry). False when there is no such process, it is a
 * zombie (it has exited and waits to be reaped), or /proc cannot say. */
bool proc_start_ticks(pid_t pid, int64_t *ticks);

/* /proc/sys/kernel/random/boot_id into out[len] ("" when unknown). */
void proc_boot_id(char *out, size_t len);

/* The CPU's model ("AMD EPYC 9654 96-Core Processor"): /proc/cpuinfo's "model name",
 * else its "Hardware" or "cpu model" line, else uname's machine ("aarch64"). */
void proc_cpu_model(char *out, size_t len);

/* The kernel: uname's sysname and release, "Linux 6.8.0-45-generic" ("" if unknown). */
void proc_os_release(char *out, size_t len);

#endif
