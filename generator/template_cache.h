/*
 * template_cache.h - the parse cache of templates (generator/ only; the callers use
 * tmpl_open, template.h). What libclang gave for a template that loaded (its pragmas
 * read, its kernel's signature, the content hash) is kept in
 * <cache>/parse/<key>.tmpl, so that a later load of the same bytes with the same
 * includes needs no libclang: a GPU node with a driver and NVRTC alone tunes from a warm
 * cache or a bundle. The format and the invariants are at the top of template_cache.c.
 */
#ifndef AT_GENERATOR_TEMPLATE_CACHE_H
#define AT_GENERATOR_TEMPLATE_CACHE_H

#include <stddef.h>

struct tmpl;

/* One file the parse read besides the template itself: as libclang named it (its real
 * path). */
struct tcache_deps {
  char **paths;
  size_t n;
};

/* Fill t (path, text and text_len already set; everything else zero) from the entry for
 * t's bytes and `include_dirs` in `cache_dir` (the cache root: the entry is under
 * <cache_dir>/parse/). The expressions (threads, grid, shared) are left unbound: the
 * caller binds them from their texts. AT_OK: hit; AT_NOT_FOUND: no entry, or one that a
 * changed include, a bad checksum or another format makes stale (t left zero but for
 * path and text); AT_NOMEM. */
int tcache_read(const char *cache_dir, const char *const *include_dirs, struct tmpl *t);

/* Store loaded template t with the files its parse read (`deps`) in `cache_dir`, created
 * as needed. A failure to write is no error for the load (the cache is an optimisation):
 * AT_OK or AT_IO/AT_NOMEM, which callers may ignore. */
int tcache_write(const char *cache_dir, const char *const *include_dirs,
                 const struct tmpl *t, const struct tcache_deps *deps);

void tcache_deps_free(struct tcache_deps *d);
/* Append a copy of `path`. AT_OK, AT_NOMEM. */
int tcache_deps_add(struct tcache_deps *d, const char *path);

#endif
