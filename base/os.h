/*
 * os.h - the operating-system helpers every layer uses: the monotonic clock in seconds
 * and whether a path is a regular file (inline), and in os.c: running a program without
 * a shell under a timeout, private temporary folders, whole-file reads and writes,
 * looking up an executable, formatted strings, making a folder with its parents. Subprocesses are started with fork/execv
 * from any thread: every descriptor is opened close-on-exec so that a program started
 * by one thread never holds another's pipe open, and only async-signal-safe calls run
 * between fork and exec.
 */
#ifndef AT_BASE_OS_H
#define AT_BASE_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

/* Run argv[0] (a path, or a name looked up in PATH) with argv, no shell, stdin from
 * /dev/null, stdout and stderr together captured into *output (malloc'd, NUL-terminated),
 * in folder `cwd` (NULL: this one; an absolute one is also its TMPDIR, so that the
 * program's own temporary files stay in it), killed (with its process group) after
 * timeout_s. The program runs in a process group of its own, registered with
 * base/interrupt.h (killed on SIGINT/SIGTERM and by the guardian), dies with this
 * process (PR_SET_PDEATHSIG), and whatever it left running in its group is killed when
 * it ends. OUT: *exit_code: its exit status, 128+signal if killed by one, 124 on
 * timeout; *output. Returns AT_OK when it ran (whatever its exit status), AT_NOT_FOUND
 * when it could not be started (at_error names it), AT_INTERRUPTED when an interrupt
 * was caught before or while it ran (no output then), AT_NOMEM, AT_IO. */
int os_run(const char *const *argv, const char *cwd, int timeout_s, int *exit_code,
           char **output);
/* A fresh private folder named after `tag` in this process's temporary root
 * ($TMPDIR/autotune-<pid>-XXXXXX, base/interrupt.h: removed at exit, or by its guardian
 * if the process is killed). OUT: *path, malloc'd. AT_IO, AT_NOMEM. Remove with
 * os_rmdir. */
int os_mkdtemp(const char *tag, char **path);
/* Remove a folder and everything in it (links are removed, never followed); NULL is
 * accepted. Async-signal-safe. */
void os_rmdir(const char *path);
/* Read a whole file. OUT: *data (malloc'd, with a NUL after the last byte), *size.
 * AT_IO (at_error names the file; errno kept from the failed call), AT_NOMEM. */
int os_read_file(const char *path, unsigned char **data, size_t *size);
/* Write a whole file. AT_IO. */
int os_write_file(const char *path, const void *data, size_t size);
/* The cache folder (compiled variants in compile/, parsed templates in parse/):
 * $AUTOTUNE_CACHE_DIR, else $XDG_CACHE_HOME/autotune, else $HOME/.cache/autotune.
 * OUT: out[len] ("" when there is none: no HOME). Returns out. Nothing is created. */
const char *os_cache_dir(char *out, size_t len);
/* The installed data folder <prefix>/share/autotune/<sub> of the running executable
 * (<prefix>/bin/autotune), when it exists. OUT: out[PATH_MAX]. false: none. */
bool os_installed_share(const char *sub, char *out);
/*
 * An output file replaced atomically: written to a temporary file beside its final
 * path, flushed to disk, then renamed over it. Until os_out_commit succeeds the path
 * keeps what it held (or stays missing); nothing but our own temporary file is ever
 * removed. A symbolic link is written through: its target is replaced atomically and
 * the link stays. A path that exists and is not a regular file (a device node, a FIFO,
 * a folder) is refused, never replaced.
 */
struct os_out {
  FILE *f;    /* write here between open and commit */
  char *path; /* the file that commit replaces (a link's target, resolved) */
  char *tmp;  /* our temporary file, removed by abort */
};
/* Start writing `path`. OUT: *o (cleared on entry). AT_USAGE for a path that is not a
 * regular file, AT_IO when the temporary file cannot be created (at_error names the
 * path), AT_NOMEM. On failure nothing is left to release. */
int os_out_open(struct os_out *o, const char *path);
/* Flush, fsync and rename over the final path. AT_DISK when a write failed (disk full,
 * I/O error, a file size limit), AT_IO when the rename failed; on failure the temporary file is removed
 * and the final path is untouched. Releases `o` either way. */
int os_out_commit(struct os_out *o);
/* Drop what was written: close and remove the temporary file. Accepts a cleared or
 * released `o`. */
void os_out_abort(struct os_out *o);
/* A whole file through os_out: AT_USAGE, AT_IO, AT_DISK as above. */
int os_write_atomic(const char *path, const void *data, size_t size);
/* Look up an executable: `name` as is when it has a '/', else in $PATH. Writes its path
 * into out[out_len]; false when there is none. */
bool os_which(const char *name, char *out, size_t out_len);
/* The printf-formatted text, malloc'd; NULL when out of memory. */
char *os_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `path` made absolute against the current folder (malloc'd); NULL when out of memory. */
char *os_abspath(const char *path);
/* Room for at least `need` elements of `elem` bytes in the malloc'd array whose pointer is
 * at `arrayp` (a T **), with capacity *cap: the capacity doubles from `first` until it
 * holds them, and the array is realloc'd. AT_OK (nothing done when it already fits), or
 * AT_NOMEM with the array and *cap unchanged (a size that would overflow included). */
int os_grow(void *arrayp, size_t *cap, size_t need, size_t elem, size_t first);
/* Create folder `path` and any missing parents (mode 0755); one that exists already is
 * fine. AT_OK; AT_IO naming the part that failed, with errno kept from the failed
 * mkdir (for a caller that words its own message). */
int os_mkdir_p(const char *path);

#endif
