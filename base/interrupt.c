/*
 * interrupt.c - the interrupt flag, the registry of child process groups and the
 * per-process temporary root with its guardian (interrupt.h has the invariants).
 */
#define _GNU_SOURCE /* close_range */
#include "base/interrupt.h"
#include "base/os.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CHILDREN 512   /* running subprocess groups one process tracks */
#define MAX_GUARDED 1024   /* groups the guardian remembers */

static volatile sig_atomic_t requested;
static atomic_int handler_pid;               /* who installed the handlers */
static atomic_int groups[MAX_CHILDREN];      /* pgids; 0 is a free slot */
static atomic_int group_owner[MAX_CHILDREN]; /* the pid that registered each */

static pthread_mutex_t root_mu = PTHREAD_MUTEX_INITIALIZER;
static char root[4096];
static pid_t root_pid;       /* the process that made the root and removes it */
static int guard_fd = -1;    /* our end of the guardian's socket (close-on-exec) */

/* Async-signal-safe: kill the groups this process registered. */
static void kill_children(void)
{
  pid_t me = getpid();
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int g = atomic_load(&groups[i]);
    if (g > 0 && atomic_load(&group_owner[i]) == me)
      kill(-g, SIGKILL);
  }
}

static void on_signal(int sig)
{
  int saved = errno;
  (void)sig;
  if (getpid() == atomic_load(&handler_pid)) {
    if (requested)
      _exit(130); /* asked twice: go now; the guardian cleans up */
    requested = 1;
    kill_children();
  }
  errno = saved;
}

void intr_install(void)
{
  atomic_store(&handler_pid, getpid());
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART; /* code that does not poll the flag keeps working */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

bool intr_requested(void)
{
  return requested != 0;
}

int intr_error(size_t trials)
{
  return at_error(AT_INTERRUPTED, "interrupted: %zu trials recorded; --resume continues",
                  trials);
}

static void guard_send(int32_t msg)
{
  pthread_mutex_lock(&root_mu);
  if (guard_fd >= 0)
    (void)!send(guard_fd, &msg, sizeof msg, MSG_NOSIGNAL);
  pthread_mutex_unlock(&root_mu);
}

int intr_child_add(pid_t pgid)
{
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int free_slot = 0;
    if (atomic_compare_exchange_strong(&groups[i], &free_slot, -1)) {
      atomic_store(&group_owner[i], getpid());
      atomic_store(&groups[i], pgid);
      guard_send(pgid);
      return i;
    }
  }
  return -1;
}

void intr_child_remove(int slot)
{
  if (slot < 0 || slot >= MAX_CHILDREN)
    return;
  int g = atomic_exchange(&groups[slot], 0);
  if (g > 0)
    guard_send(-g);
}

/* The guardian, in the child of fork: async-signal-safe calls only (the parent may have
 * other threads). Waits until every holder of the other end is gone, then kills the
 * groups still registered and removes the root. */
static void guardian(int fd)
{
  static pid_t alive[MAX_GUARDED];
  size_t n = 0;
  setpgid(0, 0); /* a group kill aimed at the tuner (Ctrl-\, kill -9 -PGID) spares it */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  prctl(PR_SET_NAME, "autotune-guard");
  if (fd != 3 && dup2(fd, 3) == 3)
    fd = 3;
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  close_range((unsigned)fd + 1, ~0u, 0); /* no pipe of another thread stays open here */
  for (;;) {
    int32_t msg;
    ssize_t r = recv(fd, &msg, sizeof msg, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != (ssize_t)sizeof msg)
      break;
    if (msg > 0 && n < MAX_GUARDED) {
      alive[n++] = msg;
    } else if (msg < 0) {
      for (size_t i = 0; i < n; i++)
        if (alive[i] == -msg) {
          alive[i] = alive[--n];
          break;
        }
    }
  }
  for (size_t i = 0; i < n; i++)
    kill(-alive[i], SIGKILL);
  os_rmdir(root);
  _exit(0);
}

static void at_exit_cleanup(void)
{
  if (getpid() != root_pid)
    return; /* a forked child that called exit(): the root is its parent's */
  kill_children();
  os_rmdir(root);
}

int intr_tmp_root(const char **out)
{
  int rc = AT_OK;
  *out = NULL;
  pthread_mutex_lock(&root_mu);
  if (root[0]) {
    *out = root;
    goto out;
  }
  const char *base = getenv("TMPDIR");
  if (!base || !*base)
    base = "/tmp";
  int n = snprintf(root, sizeof root, "%s/autotune-%ld-XXXXXX", base, (long)getpid());
  int sv[2] = {-1, -1};
  if (n < 0 || (size_t)n >= sizeof root) {
    root[0] = '\0';
    rc = at_error(AT_IO, "TMPDIR is too long: '%.200s'", base);
    goto out;
  }
  if (!mkdtemp(root)) {
    rc = at_error(AT_IO, "cannot make a folder in '%.200s': %s", base, strerror(errno));
    root[0] = '\0';
    goto out;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    rc = at_error(AT_IO, "cannot make a socket pair: %s", strerror(errno));
    rmdir(root);
    root[0] = '\0';
    goto out;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    guardian(sv[1]);
  }
  close(sv[1]);
  if (pid < 0) {
    rc = at_error(AT_IO, "cannot start the temporary folder's guardian: %s", strerror(errno));
    close(sv[0]);
    rmdir(root);
    root[0] = '\0';
    goto out;
  }
  guard_fd = sv[0];
  root_pid = getpid();
  atexit(at_exit_cleanup);
  /* groups registered before the root existed */
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int32_t g = atomic_load(&groups[i]);
    if (g > 0)
      (void)!send(guard_fd, &g, sizeof g, MSG_NOSIGNAL);
  }
  *out = root;
out:
  pthread_mutex_unlock(&root_mu);
  return rc;
}
