/*
 * os.h - two operating-system questions the tuner asks in many places: the monotonic
 * clock in seconds (progress, ETA, deadlines, timing of compiles) and whether a path is
 * a regular file. Inline: no file of its own to link.
 */
#ifndef AT_TUNER_OS_H
#define AT_TUNER_OS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double at_now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* True when `path` names a regular file (after links). */
static inline bool at_is_file(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

#endif
