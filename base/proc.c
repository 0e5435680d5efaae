/*
 * proc.c - what this machine and its processes say about themselves (proc.h).
 */
#include "base/proc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

bool proc_start_ticks(pid_t pid, int64_t *ticks)
{
  *ticks = 0;
  if (pid <= 0)
    return false;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[got] = '\0';
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count the
   * fields after its last ')' (field 3, the state, comes first) */
  const char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ')
    return false;
  p += 2;
  if (*p == 'Z' || *p == 'X')
    return false; /* exited: only its exit status is left */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p)
      return false;
    p++;
  }
  char *end;
  long long v = strtoll(p, &end, 10);
  if (end == p || v < 0)
    return false;
  *ticks = v;
  return true;
}

/* The first line of `path` into out[len], without its newline; "" when unreadable. */
static void first_line(const char *path, char *out, size_t len)
{
  out[0] = '\0';
  FILE *f = fopen(path, "re");
  if (!f)
    return;
  if (!fgets(out, (int)len, f))
    out[0] = '\0';
  fclose(f);
  out[strcspn(out, "\n")] = '\0';
}

void proc_boot_id(char *out, size_t len)
{
  first_line("/proc/sys/kernel/random/boot_id", out, len);
}

void proc_cpu_model(char *out, size_t len)
{
  static const char *const keys[] = {"model name", "Hardware", "cpu model"};
  char line[512], best[sizeof line] = "";
  int rank = (int)(sizeof keys / sizeof keys[0]);
  FILE *f = fopen("/proc/cpuinfo", "re");
  while (f && fgets(line, sizeof line, f)) {
    for (int i = 0; i < rank; i++) {
      size_t n = strlen(keys[i]);
      if (strncmp(line, keys[i], n) != 0 || !strchr(line + n, ':'))
        continue;
      const char *v = strchr(line + n, ':') + 1;
      while (isspace((unsigned char)*v))
        v++;
      snprintf(best, sizeof best, "%s", v);
      best[strcspn(best, "\n")] = '\0';
      rank = i; /* a better key only from now on */
      break;
    }
  }
  if (f)
    fclose(f);
  struct utsname u;
  if (!best[0] && uname(&u) == 0)
    snprintf(best, sizeof best, "%s", u.machine);
  snprintf(out, len, "%s", best);
}

void proc_os_release(char *out, size_t len)
{
  struct utsname u;
  if (uname(&u) == 0)
    snprintf(out, len, "%s %s", u.sysname, u.release);
  else if (len)
    out[0] = '\0';
}
