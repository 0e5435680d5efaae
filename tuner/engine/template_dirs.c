/*
 * template_dirs.c - the template search path (template_dirs.h).
 */
#include "tuner/engine/template_dirs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/os.h"

size_t template_dirs(char dirs[TEMPLATE_DIRS_MAX][PATH_MAX])
{
  size_t n = 0;
  const char *env = getenv("AUTOTUNE_TEMPLATES");
  if (env && *env)
    snprintf(dirs[n++], PATH_MAX, "%s", env);
  if (os_installed_share("templates", dirs[n]))
    n++;
  snprintf(dirs[n++], PATH_MAX, "%s", AT_TEMPLATES_DIR);
  return n;
}


void template_common_dir(const char *path, char out[PATH_MAX])
{
  char dir[PATH_MAX], cand[PATH_MAX + 32], dirs[TEMPLATE_DIRS_MAX][PATH_MAX];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
  const char *tries[] = {"%s/../common/at_common.h", "%s/common/at_common.h",
                         "%s/../../templates/common/at_common.h"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(cand, sizeof cand, tries[i], dir);
    if (at_is_file(cand)) {
      cand[strlen(cand) - strlen("/at_common.h")] = '\0';
      snprintf(out, PATH_MAX, "%.4000s", cand);
      return;
    }
  }
  size_t nd = template_dirs(dirs);
  snprintf(out, PATH_MAX, "%.4000s/common", dirs[nd - 1]);
  for (size_t i = 0; i < nd; i++) {
    snprintf(cand, sizeof cand, "%.4000s/common/at_common.h", dirs[i]);
    if (at_is_file(cand)) {
      snprintf(out, PATH_MAX, "%.4000s/common", dirs[i]);
      return;
    }
  }
}

bool template_find(const char *op, const char *name, char out[PATH_MAX], char *common,
                   char *searched)
{
  char dirs[TEMPLATE_DIRS_MAX][PATH_MAX];
  size_t nd = template_dirs(dirs);
  if (searched)
    snprintf(searched, PATH_MAX, "%s", dirs[nd - 1]);
  for (size_t i = 0; i < nd; i++)
    if (snprintf(out, PATH_MAX, "%.4000s/%.40s/%.60s.h", dirs[i], op, name) < PATH_MAX &&
        at_is_file(out)) {
      if (common)
        snprintf(common, PATH_MAX, "%.4000s/common", dirs[i]);
      return true;
    }
  return false;
}
