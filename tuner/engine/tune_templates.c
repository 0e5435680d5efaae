/*
 * tune_templates.c - the templates of a tuning run (tune.c): which ones (the --template
 * arguments, the op's folder, a bundle's copies), the baseline, staging them into a
 * bundle being made, loading them through the parse cache, and the cache folder a run
 * uses.
 */
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"
#include "generator/template.h"
#include "tuner/engine/bundle.h"
#include "tuner/engine/template_dirs.h"
#include "tuner/engine/tune.h"
#include "tuner/engine/tune_internal.h"

/* A --template argument to a path: a path as given, else <tree>/<op folder>/NAME.h. */
static int resolve_template(const struct tuner *tu, const char *arg, char *out)
{
  size_t len = strlen(arg);
  if (tu->o->bundle)
    return bundle_template(tu->o->bundle, tu->op->template_folder, arg, out);
  if (strchr(arg, '/') || (len > 2 && strcmp(arg + len - 2, ".h") == 0)) {
    if (!at_is_file(arg))
      return at_error(AT_USAGE, "no template file '%.200s'", arg);
    if (!realpath(arg, out))
      snprintf(out, PATH_MAX, "%s", arg);
    return AT_OK;
  }
  char searched[PATH_MAX];
  const char *folder = tu->op->template_folder;
  if (folder && template_find(folder, arg, out, NULL, searched))
    return AT_OK;
  if (!folder)
    return at_error(AT_USAGE, "no template file '%.200s'", arg);
  return at_error(AT_USAGE, "unknown %s template '%.60s' (no %.60s.h under %.200s/%s); try "
                  "'autotune %s --help'", tu->op->name, arg, arg, searched, folder,
                  tu->op->name);
}

static int add_tpl(struct tuner *tu, const char *path, bool baseline)
{
  for (size_t i = 0; i < tu->ntpls; i++)
    if (strcmp(tu->tpls[i].path, path) == 0)
      return AT_OK;
  if (tu->ntpls >= TUNE_MAX_TEMPLATES + 1)
    return at_error(AT_USAGE, "more than %d templates", TUNE_MAX_TEMPLATES);
  struct tpl *p = &tu->tpls[tu->ntpls++];
  memset(p, 0, sizeof *p);
  snprintf(p->path, sizeof p->path, "%s", path);
  p->baseline = baseline;
  p->def = p->best = SIZE_MAX;
  return AT_OK;
}

const char *tune_base_name(const char *path, char *out, size_t len)
{
  const char *s = strrchr(path, '/');
  snprintf(out, len, "%s", s ? s + 1 : path);
  char *dot = strrchr(out, '.');
  if (dot)
    *dot = '\0';
  return out;
}

/* The templates to tune and the baseline. */
int tune_collect_templates(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  char path[PATH_MAX], name[PATH_MAX];
  int rc;
  if (o->ntemplates) {
    for (size_t i = 0; i < o->ntemplates; i++) {
      if ((rc = resolve_template(tu, o->templates[i], path)) != AT_OK ||
          (rc = add_tpl(tu, path, false)) != AT_OK)
        return rc;
    }
  } else if (tu->op->template_folder) {
    const char *folder = tu->op->template_folder, *base = tu->op->baseline;
    char dirs[TEMPLATE_DIRS_MAX][PATH_MAX], pat[PATH_MAX + 16];
    size_t nd = template_dirs(dirs);
    if (o->bundle) {
      snprintf(dirs[0], sizeof dirs[0], "%.4000s/templates", o->bundle->dir);
      nd = 1;
    }
    glob_t g;
    for (size_t i = 0; i < nd; i++) {
      snprintf(pat, sizeof pat, "%.4000s/%s/*.h", dirs[i], folder);
      if (glob(pat, 0, NULL, &g) != 0)
        continue;
      for (size_t j = 0; j < g.gl_pathc; j++)
        if ((!base || strcmp(tune_base_name(g.gl_pathv[j], name, sizeof name), base) != 0) &&
            (rc = add_tpl(tu, g.gl_pathv[j], false)) != AT_OK) {
          globfree(&g);
          return rc;
        }
      globfree(&g);
      break; /* the first tree that has the op's templates */
    }
    if (tu->ntpls == 0)
      return at_error(AT_UNSUPPORTED, "no %s templates found (templates/%s/*.h under "
                      "%s)", tu->op->name, folder, dirs[nd - 1]);
  }
  if (tu->op->baseline && resolve_template(tu, tu->op->baseline, path) == AT_OK) {
    bool there = false;
    for (size_t i = 0; i < tu->ntpls; i++)
      if (strcmp(tu->tpls[i].path, path) == 0)
        there = tu->tpls[i].baseline = true;
    if (!there)
      add_tpl(tu, path, true);
  }
  at_error_clear();
  return AT_OK;
}

const char *tune_cache_root(const struct tune_opts *o, char *buf)
{
  if (o->bundle || o->bundle_out) {
    snprintf(buf, PATH_MAX, "%.4000s/cache", o->bundle ? o->bundle->dir : o->bundle_out);
    return buf;
  }
  return o->no_cache ? "" : NULL;
}

/* Making a bundle: the templates are the staging folder's copies from here on. */
int tune_stage_templates(struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
    char common[PATH_MAX], copy[PATH_MAX];
    template_common_dir(p->path, common);
    int rc = bundle_stage_template(tu->o->bundle_out, tu->op->template_folder, p->path,
                                   common, copy);
    if (rc != AT_OK)
      return rc;
    snprintf(p->path, sizeof p->path, "%s", copy);
  }
  return AT_OK;
}

/* Load every template; a failure is one line on stderr and the template is skipped. */
void tune_load_templates(struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
    char nm[PATH_MAX];
    const char *why = tu->o->ntemplates || !tu->op->not_for
                          ? "" : tu->op->not_for(tu->op, tune_base_name(p->path, nm, sizeof nm),
                                                 tu->space_dev);
    if (why[0]) {
      snprintf(p->skip, sizeof p->skip, "%s", why);
      p->load_failed = true; /* silently: not this device's template */
      continue;
    }
    template_common_dir(p->path, p->common);
    const char *incs[] = {p->common, NULL};
    char cache[PATH_MAX];
    int rc = tmpl_open(p->path, incs, tune_cache_root(tu->o, cache), &p->t);
    if (rc != AT_OK) {
      const char *e = at_last_error();
      snprintf(p->skip, sizeof p->skip, "%.*s", (int)strcspn(e, "\n"), e);
    } else if (tu->op->fits) {
      tu->op->fits(tu->op, p->t, p->skip, sizeof p->skip);
    }
    if (p->skip[0]) {
      char name[PATH_MAX];
      p->load_failed = true;
      tune_warn(tu, "skipping template %s: %s", tune_base_name(p->path, name, sizeof name), p->skip);
    }
  }
}
