/*
 * status.c - the project's one status type: names and messages from AT_STATUS_MAP, and
 * the per-thread detail message that library code sets when it returns a failure and
 * the command line prints.
 */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

static const char *const names[] = {
#define AT_STATUS_NAME(name, msg) "AT_" #name,
    AT_STATUS_MAP(AT_STATUS_NAME)
#undef AT_STATUS_NAME
};

static const char *const messages[] = {
#define AT_STATUS_MSG(name, msg) msg,
    AT_STATUS_MAP(AT_STATUS_MSG)
#undef AT_STATUS_MSG
};

const char *at_status_name(int status)
{
  if (status < 0 || status >= AT_STATUS_COUNT)
    return "AT_UNKNOWN";
  return names[status];
}

const char *at_status_message(int status)
{
  if (status < 0 || status >= AT_STATUS_COUNT)
    return "unknown status";
  return messages[status];
}

const char *at_last_error(void)
{
  return last_error;
}

int at_error(int status, const char *fmt, ...)
{
  /* Built apart, then copied: an argument may be at_last_error() itself (a caller
   * wrapping its callee's message), which vsnprintf would overwrite as it reads. */
  char buf[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memcpy(last_error, buf, sizeof buf);
  return status;
}

void at_error_clear(void)
{
  last_error[0] = '\0';
}

const char *at_version(void)
{
  return AT_VERSION;
}
