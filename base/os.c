/*
 * os.c - the operating-system helpers of base/os.h: programs run without a shell under a
 * timeout, private temporary folders, whole files, output files replaced atomically
 * (os_out: temporary file beside the path, fsync, rename), executables on PATH,
 * formatted strings.
 */
#define _GNU_SOURCE /* pipe2, getdents64 */
#include "base/os.h"
#include "base/interrupt.h"
#include "base/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT (64u << 20) /* program output beyond this is cut */

char *os_strdupf(const char *fmt, ...)
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

bool os_which(const char *name, char *out, size_t out_len)
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


/* Child side of os_run: async-signal-safe calls only. Dies with the thread that started
 * it (PR_SET_PDEATHSIG: that thread waits for it, so this is when the process dies).
 * Reports an exec failure's errno through `errfd` and exits 127. */
static void run_child(const char *exe, const char *const *argv, char *const *envp,
                      const char *cwd, pid_t parent, int outfd, int errfd)
{
  int devnull = open("/dev/null", O_RDONLY);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) /* the parent died before the line above */
    _exit(127);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0 ||
      (cwd && chdir(cwd) != 0)) {
    int e = errno;
    (void)!write(errfd, &e, sizeof e);
    _exit(127);
  }
  execve(exe, (char *const *)argv, envp);
  int e = errno;
  (void)!write(errfd, &e, sizeof e);
  _exit(127);
}

/* The environment with TMPDIR=`tmp` (malloc'd; the strings are environ's but *own). */
static char **env_with_tmpdir(const char *tmp, char **own)
{
  extern char **environ;
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = malloc((n + 2) * sizeof *env);
  *own = os_strdupf("TMPDIR=%s", tmp);
  if (!env || !*own) {
    free(env);
    free(*own);
    *own = NULL;
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TMPDIR=", 7) != 0)
      env[k++] = environ[i];
  env[k++] = *own;
  env[k] = NULL;
  return env;
}

int os_run(const char *const *argv, const char *cwd, int timeout_s, int *exit_code,
           char **output)
{
  int rc = AT_OK;
  int outp[2] = {-1, -1}, errp[2] = {-1, -1};
  char exe[4096];
  char *buf = NULL, **env = NULL, *env_tmp = NULL;
  size_t len = 0, cap = 0;
  pid_t pid = -1;
  int slot = -1;
  *exit_code = -1;
  *output = NULL;

  if (intr_requested()) {
    rc = at_error(AT_INTERRUPTED, "interrupted");
    goto out;
  }

  if (!os_which(argv[0], exe, sizeof exe)) {
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
  /* In a private folder the compiler's own temporary files go there too, and with it. */
  if (cwd && cwd[0] == '/' && !(env = env_with_tmpdir(cwd, &env_tmp))) {
    rc = at_error(AT_NOMEM, "out of memory running '%.200s'", argv[0]);
    goto out;
  }
  pid_t parent = getpid();
  pid = fork();
  if (pid < 0) {
    rc = at_error(AT_IO, "cannot start '%.200s': %s", exe, strerror(errno));
    goto out;
  }
  if (pid == 0) {
    extern char **environ;
    run_child(exe, argv, env ? env : environ, cwd, parent, outp[1], errp[1]);
  }
  setpgid(pid, pid); /* also here: no window where a kill misses the group */
  slot = intr_child_add(pid);
  if (intr_requested()) /* caught before the line above: the handler missed it */
    kill(-pid, SIGKILL);
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

  /* Wait for it to end without reaping it: its group id stays ours until the reap, so
   * killing the group then reaches whatever it left running and no one else. */
  siginfo_t si;
  while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
    ;
  kill(-pid, SIGKILL);
  intr_child_remove(slot);
  slot = -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  int child_errno = 0;
  ssize_t en = read(errp[0], &child_errno, sizeof child_errno);
  if (en == (ssize_t)sizeof child_errno) {
    rc = at_error(AT_NOT_FOUND, "cannot run '%.200s': %s", exe, strerror(child_errno));
    goto out;
  }
  if (intr_requested()) {
    rc = at_error(AT_INTERRUPTED, "interrupted");
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
  intr_child_remove(slot);
  free(buf);
  free(env);
  free(env_tmp);
  for (int i = 0; i < 2; i++) {
    if (outp[i] >= 0)
      close(outp[i]);
    if (errp[i] >= 0)
      close(errp[i]);
  }
  return rc;
}

int os_mkdtemp(const char *tag, char **path)
{
  const char *root;
  *path = NULL;
  int rc = intr_tmp_root(&root);
  if (rc)
    return rc;
  *path = os_strdupf("%s/%s-XXXXXX", root, tag);
  if (!*path)
    return at_error(AT_NOMEM, "out of memory");
  if (!mkdtemp(*path)) {
    rc = at_error(AT_IO, "cannot make a folder in '%.200s': %s", root, strerror(errno));
    free(*path);
    *path = NULL;
    return rc;
  }
  return AT_OK;
}

/* Empty the folder open as `fd` (closed here), depth levels deep at most. Only
 * async-signal-safe calls: the guardian runs this in a child of a threaded process. */
static void empty_dir(int fd, int depth)
{
  char buf[2048];
  for (bool again = true; again;) {
    again = false;
    lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = getdents64(fd, buf, sizeof buf)) > 0) {
      for (ssize_t off = 0; off < n;) {
        struct dirent64 *e = (struct dirent64 *)(void *)(buf + off);
        off += e->d_reclen;
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
          continue;
        if (unlinkat(fd, name, 0) == 0) {
          again = true;
          continue;
        }
        int sub = depth > 0 ? openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                   O_CLOEXEC)
                            : -1;
        if (sub >= 0) {
          empty_dir(sub, depth - 1);
          if (unlinkat(fd, name, AT_REMOVEDIR) == 0)
            again = true;
        }
      }
    }
  }
  close(fd);
}

void os_rmdir(const char *path)
{
  if (!path || !*path)
    return;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    empty_dir(fd, 32);
  rmdir(path);
}

int os_read_file(const char *path, unsigned char **data, size_t *size)
{
  int rc = AT_OK, e;
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
  e = errno;
  free(buf);
  if (fd >= 0)
    close(fd);
  errno = e;
  return rc;
}

int os_write_file(const char *path, const void *data, size_t size)
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

const char *os_cache_dir(char *out, size_t len)
{
  const char *env = getenv("AUTOTUNE_CACHE_DIR");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  if (env && *env)
    snprintf(out, len, "%s", env);
  else if (xdg && xdg[0] == '/')
    snprintf(out, len, "%s/autotune", xdg);
  else if (home && *home)
    snprintf(out, len, "%s/.cache/autotune", home);
  else if (len)
    out[0] = '\0';
  return out;
}

bool os_installed_share(const char *sub, char *out)
{
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return false;
  exe[n] = '\0';
  for (int up = 0; up < 2; up++) { /* <prefix>/bin/autotune -> <prefix> */
    char *slash = strrchr(exe, '/');
    if (slash)
      *slash = '\0';
  }
  struct stat st;
  return snprintf(out, PATH_MAX, "%.3000s/share/autotune/%.200s", exe, sub) < PATH_MAX &&
         stat(out, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A write into our own, open temporary file failed: the disk's fault (full, I/O
 * error, a size limit), never the path's, which opened fine. */
static int write_error(const char *path, int e)
{
  return at_error(AT_DISK, "cannot write '%.200s': %s", path, strerror(e ? e : EIO));
}

int os_out_open(struct os_out *o, const char *path)
{
  memset(o, 0, sizeof *o);
  struct stat st;
  int rc = AT_OK, fd = -1;
  mode_t mode = 0644;
  if (!path || !path[0])
    return at_error(AT_USAGE, "empty output path");
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    /* Write through the link: its target is the file replaced. */
    if (!(o->path = realpath(path, NULL)))
      return at_error(AT_IO, "cannot write '%.200s': a link to a missing file (%s)", path,
                      strerror(errno));
  } else if (!(o->path = strdup(path))) {
    return at_error(AT_NOMEM, "out of memory");
  }
  if (stat(o->path, &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      rc = at_error(AT_USAGE, "refusing to write '%.200s': it is not a regular file (a %s)",
                    path, S_ISDIR(st.st_mode) ? "folder" : S_ISFIFO(st.st_mode) ? "FIFO"
                    : S_ISSOCK(st.st_mode) ? "socket" : "device node");
      goto fail;
    }
    mode = st.st_mode & 07777;
  }
  const char *slash = strrchr(o->path, '/');
  const char *base = slash ? slash + 1 : o->path;
  int dirlen = slash ? (int)(slash - o->path) : 0;
  if (!(o->tmp = os_strdupf("%.*s%s.%s.tmp-XXXXXX", dirlen, o->path, slash ? "/" : "",
                            base))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto fail;
  }
  if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
    rc = at_error(AT_IO, "cannot write '%.200s': %s", path, strerror(errno));
    free(o->tmp);
    o->tmp = NULL;
    goto fail;
  }
  if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
    rc = at_error(AT_IO, "cannot write '%.200s': %s", path, strerror(errno));
    close(fd);
    goto fail;
  }
  return AT_OK;
fail:
  os_out_abort(o);
  return rc;
}

void os_out_abort(struct os_out *o)
{
  if (o->f)
    fclose(o->f);
  if (o->tmp)
    unlink(o->tmp);
  free(o->tmp);
  free(o->path);
  memset(o, 0, sizeof *o);
}

int os_out_commit(struct os_out *o)
{
  int rc = AT_OK, e = 0;
  errno = 0;
  if (fflush(o->f) != 0 || ferror(o->f))
    e = errno ? errno : EIO;
  else if (fsync(fileno(o->f)) != 0)
    e = errno;
  if (fclose(o->f) != 0 && !e)
    e = errno;
  o->f = NULL;
  if (e)
    rc = write_error(o->path, e);
  else if (rename(o->tmp, o->path) != 0)
    rc = at_error(AT_IO, "cannot write '%.200s': %s", o->path, strerror(errno));
  else {
    free(o->tmp); /* renamed: no longer ours to remove */
    o->tmp = NULL;
  }
  os_out_abort(o);
  return rc;
}

int os_write_atomic(const char *path, const void *data, size_t size)
{
  struct os_out o;
  int rc = os_out_open(&o, path);
  if (rc != AT_OK)
    return rc;
  errno = 0;
  if (size && fwrite(data, 1, size, o.f) != size) {
    rc = write_error(path, errno);
    os_out_abort(&o);
    return rc;
  }
  return os_out_commit(&o);
}

int os_grow(void *arrayp, size_t *cap, size_t need, size_t elem, size_t first)
{
  if (need <= *cap)
    return AT_OK;
  size_t ncap = *cap ? *cap : first ? first : 1;
  while (ncap < need && ncap <= SIZE_MAX / 2)
    ncap *= 2;
  if (ncap < need || elem == 0 || ncap > SIZE_MAX / elem)
    return at_error(AT_NOMEM, "out of memory (an array of %zu elements)", need);
  void *old, *grown;
  memcpy(&old, arrayp, sizeof old);
  if (!(grown = realloc(old, ncap * elem)))
    return at_error(AT_NOMEM, "out of memory");
  memcpy(arrayp, &grown, sizeof grown);
  *cap = ncap;
  return AT_OK;
}

char *os_abspath(const char *path)
{
  if (path[0] == '/')
    return os_strdupf("%s", path);
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd))
    return os_strdupf("%s", path);
  return os_strdupf("%s/%s", cwd, path);
}


int os_mkdir_p(const char *path)
{
  char buf[4096];
  int n = snprintf(buf, sizeof buf, "%s", path);
  if (n <= 0 || n >= (int)sizeof buf) {
    errno = n <= 0 ? ENOENT : ENAMETOOLONG;
    return at_error(AT_IO, "cannot create '%.200s': %s", path, strerror(errno));
  }
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      int e = errno;
      int rc = at_error(AT_IO, "cannot create '%.200s': %s", buf, strerror(e));
      errno = e;
      return rc;
    }
    if (!(*p = c))
      return AT_OK;
  }
}
