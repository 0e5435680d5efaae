/*
 * template_dirs.h - where templates are looked for, in order: $AUTOTUNE_TEMPLATES, the
 * installed <prefix>/share/autotune/templates next to the running binary, then the
 * source tree the binary was built from. Shared by `generate` and `gemm`.
 */
#ifndef AT_TUNER_TEMPLATE_DIRS_H
#define AT_TUNER_TEMPLATE_DIRS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define TEMPLATE_DIRS_MAX 3

/* Fill dirs with the folders to search, in order; returns how many (1 to 3). */
size_t template_dirs(char dirs[TEMPLATE_DIRS_MAX][PATH_MAX]);

/* The `common` include folder (at_common.h) for the template at `path`: <dir>/../common,
 * <dir>/common, <dir>/../../templates/common, else the first template folder's. */
void template_common_dir(const char *path, char out[PATH_MAX]);

/* <dir>/<op>/<name>.h in the first template folder that has it ("gemm", "gemm_simt").
 * OUT: out; common[PATH_MAX] (may be NULL) its folder's common/; searched[PATH_MAX] (may
 * be NULL) the last folder searched, for a message when there is none. */
bool template_find(const char *op, const char *name, char out[PATH_MAX], char *common,
                   char *searched);

#endif
