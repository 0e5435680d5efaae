/*
 * cc.c - the compile layer's common ground: the backend table (picking one per target,
 * finding one by name), releasing a result, and the helpers every subprocess backend
 * shares: running a compiler without a shell under a timeout with its output captured,
 * private temporary folders, and whole-file reads and writes. Subprocesses are started
 * with fork/execv from any thread: every descriptor is opened close-on-exec so that a
 * compiler started by one thread never holds another's pipe open, and only
 * async-signal-safe calls run between fork and exec.
 */
#define _GNU_SOURCE /* pipe2 */
#include "tuner/compile.h"
#include "tuner/os.h"
#include "tuner/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT (64u << 20) /* a compiler log beyond this is cut */

static const struct cc_backend *const backends[] = {&cc_nvrtc, &cc_nvcc, &cc_clang_hip,
                                                    &cc_hiprtc, &cc_host};
#define NBACKENDS (sizeof backends / sizeof backends[0])

void cc_result_release(struct cc_result *r)
{
  if (!r)
    return;
  free(r->code);
  free(r->kernels);
  free(r->log);
  free(r->toolchain);
  memset(r, 0, sizeof *r);
}

const struct cc_backend *cc_pick(enum cc_target target)
{
  char why[1024] = "", one[256];
  size_t used = 0;
  for (size_t i = 0; i < NBACKENDS; i++) {
    if (backends[i]->target != target)
      continue;
    one[0] = '\0';
    if (backends[i]->available(one, sizeof one))
      return backends[i];
    int n = snprintf(why + used, sizeof why - used, "%s%s: %s", used ? "; " : "",
                     backends[i]->name, one);
    if (n > 0)
      used = (size_t)n < sizeof why - used ? used + (size_t)n : sizeof why - 1;
  }
  at_error(AT_UNSUPPORTED, "no %s compiler available (%s)",
           target == CC_CUDA ? "cuda" : target == CC_HIP ? "hip" : "host c++", why);
  return NULL;
}

const struct cc_backend *cc_find(const char *name)
{
  for (size_t i = 0; name && i < NBACKENDS; i++)
    if (strcmp(backends[i]->name, name) == 0)
      return backends[i];
  return NULL;
}

const struct cc_kernel_res *cc_result_kernel(const struct cc_result *r, const char *name)
{
  for (size_t i = 0; r && name && i < r->nkernels; i++)
    if (strcmp(r->kernels[i].name, name) == 0)
      return &r->kernels[i];
  return NULL;
}

int cc_timeout_s(void)
{
  const char *s = getenv("AUTOTUNE_COMPILE_TIMEOUT");
  long v = s ? strtol(s, NULL, 10) : 0;
  return v > 0 && v < 86400 ? (int)v : 300;
}

char *cc_strdupf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

bool cc_which(const char *name, char *out, size_t out_len)
{
  if (!name || !*name)
    return false;
  if (strchr(name, '/')) {
    if (access(name, X_OK) != 0 || strlen(name) >= out_len)
      return false;
    memcpy(out, name, strlen(name) + 1);
    return true;
  }
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    size_t len = strcspn(path, ":");
    int n = snprintf(out, out_len, "%.*s/%s", (int)len, len ? path : ".", name);
    struct stat st;
    if (n > 0 && (size_t)n < out_len && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
        access(out, X_OK) == 0)
      return true;
    path += len;
    if (*path == ':')
      path++;
  }
  return false;
}


/* Child side of cc_run: async-signal-safe calls only. Reports an exec failure's errno
 * through `errfd` and exits 127. */
static void run_child(const char *exe, const char *const *argv, const char *cwd,
                      int outfd, int errfd)
{
  int devnull = open("/dev/null", O_RDONLY);
  setpgid(0, 0);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0 ||
      (cwd && chdir(cwd) != 0)) {
    int e = errno;
    (void)!write(errfd, &e, sizeof e);
    _exit(127);
  }
  execv(exe, (char *const *)argv);
  int e = errno;
  (void)!write(errfd, &e, sizeof e);
  _exit(127);
}

int cc_run(const char *const *argv, const char *cwd, int timeout_s, int *exit_code,
           char **output)
{
  int rc = AT_OK;
  int outp[2] = {-1, -1}, errp[2] = {-1, -1};
  char exe[4096];
  char *buf = NULL;
  size_t len = 0, cap = 0;
  pid_t pid = -1;
  *exit_code = -1;
  *output = NULL;

  if (!cc_which(argv[0], exe, sizeof exe)) {
    rc = at_error(AT_NOT_FOUND, "cannot find '%.200s'", argv[0]);
    goto out;
  }
  if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
    rc = at_error(AT_IO, "cannot make a pipe for '%.200s': %s", argv[0], strerror(errno));
    goto out;
  }
  cap = 4096;
  buf = malloc(cap);
  if (!buf) {
    rc = at_error(AT_NOMEM, "out of memory running '%.200s'", argv[0]);
    goto out;
  }
  pid = fork();
  if (pid < 0) {
    rc = at_error(AT_IO, "cannot start '%.200s': %s", exe, strerror(errno));
    goto out;
  }
  if (pid == 0)
    run_child(exe, argv, cwd, outp[1], errp[1]);
  setpgid(pid, pid); /* also here: no window where a kill misses the group */
  close(outp[1]);
  close(errp[1]);
  outp[1] = errp[1] = -1;

  double deadline = at_now_s() + timeout_s;
  bool timed_out = false;
  for (;;) {
    double left = deadline - at_now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pfd = {.fd = outp[0], .events = POLLIN};
    int pr = poll(&pfd, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    if (len + 4096 + 1 > cap) {
      size_t ncap = cap * 2;
      char *nb = ncap <= MAX_OUTPUT + 8192 ? realloc(buf, ncap) : NULL;
      if (!nb) { /* keep draining so the child never blocks on a full pipe */
        char sink[4096];
        ssize_t n = read(outp[0], sink, sizeof sink);
        if (n == 0 || (n < 0 && errno != EINTR))
          break;
        continue;
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t n = read(outp[0], buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  if (timed_out)
    kill(-pid, SIGKILL);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  int child_errno = 0;
  ssize_t en = read(errp[0], &child_errno, sizeof child_errno);
  if (en == (ssize_t)sizeof child_errno) {
    rc = at_error(AT_NOT_FOUND, "cannot run '%.200s': %s", exe, strerror(child_errno));
    goto out;
  }
  if (timed_out)
    *exit_code = 124;
  else if (WIFEXITED(status))
    *exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    *exit_code = 128 + WTERMSIG(status);
  *output = buf;
  buf = NULL;
out:
  free(buf);
  for (int i = 0; i < 2; i++) {
    if (outp[i] >= 0)
      close(outp[i]);
    if (errp[i] >= 0)
      close(errp[i]);
  }
  return rc;
}

int cc_mkdtemp(const char *tag, char **path)
{
  const char *base = getenv("TMPDIR");
  if (!base || !*base)
    base = "/tmp";
  *path = cc_strdupf("%s/autotune-%s-XXXXXX", base, tag);
  if (!*path)
    return at_error(AT_NOMEM, "out of memory");
  if (!mkdtemp(*path)) {
    int rc = at_error(AT_IO, "cannot make a folder in '%.200s': %s", base, strerror(errno));
    free(*path);
    *path = NULL;
    return rc;
  }
  return AT_OK;
}

void cc_rmdir(const char *path)
{
  if (!path)
    return;
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char *f = cc_strdupf("%s/%s", path, e->d_name);
      if (f)
        unlink(f);
      free(f);
    }
    closedir(d);
  }
  rmdir(path);
}

int cc_read_file(const char *path, unsigned char **data, size_t *size)
{
  int rc = AT_OK;
  unsigned char *buf = NULL;
  *data = NULL;
  *size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    rc = at_error(AT_IO, "cannot read '%.200s': %s", path, strerror(errno));
    goto out;
  }
  size_t n = (size_t)st.st_size, got = 0;
  buf = malloc(n + 1);
  if (!buf) {
    rc = at_error(AT_NOMEM, "out of memory reading '%.200s'", path);
    goto out;
  }
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      rc = at_error(AT_IO, "cannot read '%.200s': %s", path,
                    r < 0 ? strerror(errno) : "file shrank");
      goto out;
    }
    got += (size_t)r;
  }
  buf[n] = '\0';
  *data = buf;
  *size = n;
  buf = NULL;
out:
  free(buf);
  if (fd >= 0)
    close(fd);
  return rc;
}

int cc_write_file(const char *path, const void *data, size_t size)
{
  int rc = AT_OK;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const unsigned char *p = data;
  if (fd < 0) {
    rc = at_error(AT_IO, "cannot write '%.200s': %s", path, strerror(errno));
    goto out;
  }
  while (size > 0) {
    ssize_t w = write(fd, p, size);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = at_error(AT_IO, "cannot write '%.200s': %s", path, strerror(errno));
      goto out;
    }
    p += w;
    size -= (size_t)w;
  }
  if (close(fd) != 0) {
    fd = -1;
    rc = at_error(AT_IO, "cannot write '%.200s': %s", path, strerror(errno));
    goto out;
  }
  fd = -1;
out:
  if (fd >= 0)
    close(fd);
  return rc;
}

char *cc_abspath(const char *path)
{
  if (path[0] == '/')
    return cc_strdupf("%s", path);
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd))
    return cc_strdupf("%s", path);
  return cc_strdupf("%s/%s", cwd, path);
}

int cc_compile_in_tmp(const char *tag, const char *src_file, const char *source,
                      const char *const *argv, const char *out_file, struct cc_result *result)
{
  int rc = AT_OK, code = -1;
  char *dir = NULL, *src = NULL, *out = NULL, *log = NULL;
  result->status = CC_TOOL_ERROR;

  rc = cc_mkdtemp(tag, &dir);
  if (rc)
    goto out;
  src = cc_strdupf("%s/%s", dir, src_file);
  out = cc_strdupf("%s/%s", dir, out_file);
  if (!src || !out) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  rc = cc_write_file(src, source, strlen(source));
  if (rc)
    goto out;
  rc = cc_run(argv, dir, cc_timeout_s(), &code, &log);
  if (rc)
    goto out;
  if (code != 0) {
    const char *why = code == 124 ? "timed out" : code > 128 ? "was killed by a signal" : "";
    char *full = cc_strdupf("%s%sautotune: %s %s (exit status %d)\n", log,
                            *log && log[strlen(log) - 1] != '\n' ? "\n" : "", argv[0],
                            *why ? why : "failed", code);
    if (!full) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    free(log);
    log = full;
    result->status = CC_COMPILE_ERROR;
    goto out;
  }
  rc = cc_read_file(out, &result->code, &result->code_size);
  if (rc)
    goto out;
  result->status = CC_OK;
out:
  free(result->log);
  result->log = log;
  if (dir)
    cc_rmdir(dir);
  free(dir);
  free(src);
  free(out);
  return rc;
}

int cc_argv_add_request(const char *tool, const struct cc_request *req, const char **argv,
                        int *argc, int cap, char **owned, int *nowned)
{
  for (size_t i = 0; req->include_dirs && req->include_dirs[i]; i++) {
    char *abs = *argc < cap - 8 ? cc_abspath(req->include_dirs[i]) : NULL;
    char *opt = abs ? cc_strdupf("-I%s", abs) : NULL;
    free(abs);
    if (!opt)
      return at_error(AT_NOMEM, "%s: too many or too long include folders", tool);
    owned[(*nowned)++] = opt;
    argv[(*argc)++] = opt;
  }
  for (size_t i = 0; req->flags && req->flags[i]; i++) {
    if (*argc >= cap - 8)
      return at_error(AT_USAGE, "%s: too many flags", tool);
    argv[(*argc)++] = req->flags[i];
  }
  return AT_OK;
}
