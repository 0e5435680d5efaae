/*
 * helpers.h - shared test helpers: scratch folders and running the real `autotune`
 * binary with its output and exit code captured.
 */
#ifndef AT_TESTS_HELPERS_H
#define AT_TESTS_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* A fresh scratch folder under $TMPDIR (or /tmp); returns a static-lifetime copy.
 * Removed with th_rmtree. */
char *th_tmpdir(void);
void th_rmtree(const char *path);
/* path of `name` inside dir, malloc'd */
char *th_path(const char *dir, const char *name);

struct th_result {
  int code;      /* exit code, or 128+signal */
  char *out;     /* stdout, NUL-terminated, malloc'd */
  char *err;     /* stderr */
};

/* Run the autotune binary ($AT_TEST_BINARY when set: an older build, to see a test fail
 * before its fix) with a shell-quoted argument string, e.g.
 * th_run(&r, "db stats --db '%s'", path). Stdin is /dev/null. */
void th_run(struct th_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, running an arbitrary shell command line (for pipes). */
void th_sh(struct th_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void th_result_free(struct th_result *r);

/* The compile cache for a test's heavy compiles (bld_options.cache_dir): the folder
 * $AT_TEST_CACHE_DIR when set, else "" (no cache: every compile is real).
 * scripts/test.sh sets one, fresh, for its two passes: the normal pass compiles every
 * variant (each key once), and the Sanitize pass, the same templates, compilers and
 * flags, reads those compiles back (build.c's cache: a hit is the compile's own code
 * object, resources, log and status), so it spends its time on our code under ASan and
 * UBSan, not on clang, NVRTC and g++ a second time. The tests that are about the cache
 * or the CLI keep caches of their own. */
const char *th_cache_dir(void);

/* Read a whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char *th_read(const char *path, size_t *len);
/* The trials in the database at path (0 when it cannot be opened, as while a run is
 * still creating it). */
int64_t th_count_trials(const char *path);
int th_write(const char *path, const char *data, size_t len);

#endif
