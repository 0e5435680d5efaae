/*
 * test_layering.c - who may include whom (docs/architecture.md). Reads every `#include
 * "..."` line of every .c and .h under base/, db/, generator/, tuner/ and include/, maps
 * the file and the included file to their folders, and holds the edges to the rules
 * table below: the table is the one the doc prints, so a new edge that breaks a layer
 * fails here with the file, line and include that did it. Folders, not files: a folder
 * is a concern, and concerns form layers.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/helpers.h"

/* The folders, each one concern. A file belongs to the folder it sits in directly;
 * templates/ and include/ are each one folder at any depth. tuner/main.c alone is
 * "tuner". A file anywhere else belongs to no folder, and fails the first test. */
static const char *const folders[] = {
  "base", "db", "generator", "templates", "include", "tuner",
  "tuner/cli", "tuner/engine", "tuner/compile", "tuner/measure", "tuner/emu",
  "tuner/search", "tuner/ops", "tuner/device", "tuner/api", "tuner/report", "tuner/model",
};
#define NFOLDERS (sizeof folders / sizeof folders[0])
static const char *const deep_folders[] = {"templates", "include"};
static const char *const scanned[] = {"base", "db", "generator", "tuner", "include"};

/* libautotune (installed, linked by programs alone) and the tool (the command, tests,
 * benchmarks): CMakeLists.txt's AT_LIB_FOLDERS and AT_TOOL_FOLDERS, checked below. */
#define LIB_FOLDERS "base", "db", "tuner/device", "tuner/emu", "tuner/api"
#define TOOL_FOLDERS "generator", "tuner/compile", "tuner/measure", "tuner/search", \
                     "tuner/ops", "tuner/model", "tuner/engine", "tuner/report", "tuner/cli"

/* The rules: docs/architecture.md prints this table; change both together. ONLY: the
 * `from` folders include nothing outside `to`. NEVER: they include nothing in `to`. */
enum kind { ONLY, NEVER };
struct rule {
  const char *why;
  const char *from[16];
  enum kind kind;
  const char *to[16];
};
enum {
  R_BASE, R_DB, R_GENERATOR, R_PUBLIC, R_LIB, R_CLI, R_MEASURE, R_SEARCH, R_COMPILE,
  R_REPORT,
};
static const struct rule rules[] = {
  [R_BASE] = {"base/ is the bottom layer: everyone uses it, it uses no one",
              {"base"}, ONLY, {"base", "include"}},
  [R_DB] = {"db/ knows SQL and records, not how kernels are made or run",
            {"db"}, ONLY, {"db", "base", "include"}},
  [R_GENERATOR] = {"generator/ reads templates and writes source; it never compiles, "
                   "times or stores",
                   {"generator"}, ONLY, {"generator", "base", "include", "templates"}},
  [R_PUBLIC] = {"the installed public headers include only each other",
                {"include"}, ONLY, {"include"}},
  [R_LIB] = {"libautotune is installed and must link alone, without the tool",
             {LIB_FOLDERS}, NEVER, {TOOL_FOLDERS}},
  [R_CLI] = {"only the command line and main.c use the command line; the engine returns "
             "results and never prints through cli",
             {"base", "db", "generator", "include", "tuner/engine", "tuner/compile",
              "tuner/measure", "tuner/emu", "tuner/search", "tuner/ops", "tuner/device",
              "tuner/api", "tuner/report"},
             NEVER, {"tuner/cli"}},
  [R_MEASURE] = {"measurement never calls back up into the engine that drives it",
                 {"tuner/measure"}, NEVER, {"tuner/engine", "tuner/cli"}},
  [R_SEARCH] = {"a search strategy only picks configs; it neither runs nor measures",
                {"tuner/search"}, NEVER, {"tuner/engine", "tuner/measure", "tuner/cli"}},
  [R_COMPILE] = {"compiling knows nothing of what is measured, searched or driven",
                 {"tuner/compile"}, NEVER,
                 {"tuner/engine", "tuner/measure", "tuner/search", "tuner/cli"}},
  [R_REPORT] = {"the report's HTML and SVG writer knows pages and plots, not tuning",
                {"tuner/report"}, ONLY, {"tuner/report", "base"}},
};

/* One `#include "..."` line. from/to are NULL where the file or include is in no known
 * folder; to is NULL too where the include does not resolve. */
struct edge {
  char file[256];
  int line;
  char inc[256];
  const char *from, *to;
  bool resolved;
};

static struct edge *edges;
static size_t nedges, edges_cap;
static size_t nfiles;

/* snprintf that fails the test rather than cut a path short. */
static void __attribute__((format(printf, 3, 4)))
put(char *out, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < cap, "path too long: %s...", out);
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
  for (size_t i = 0; i < n && list[i]; i++)
    if (strcmp(list[i], s) == 0)
      return true;
  return false;
}

/* The folder of a path relative to the source root, or NULL. */
static const char *folder_of(const char *path)
{
  const char *best = NULL;
  for (size_t i = 0; i < NFOLDERS; i++) {
    size_t len = strlen(folders[i]);
    if (strncmp(path, folders[i], len) != 0 || path[len] != '/')
      continue;
    bool deep = in_list(deep_folders, sizeof deep_folders / sizeof deep_folders[0],
                        folders[i]);
    if ((deep || !strchr(path + len + 1, '/')) && (!best || len > strlen(best)))
      best = folders[i];
  }
  return best;
}

static int folder_index(const char *f)
{
  for (size_t i = 0; i < NFOLDERS; i++)
    if (strcmp(folders[i], f) == 0)
      return (int)i;
  return -1;
}

static bool is_file(const char *rel)
{
  char path[1024];
  struct stat st;
  put(path, sizeof path, "%s/%s", AT_SOURCE_DIR, rel);
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Quoted includes resolve from the source root; "autotune/..." from include/ too (the
 * public headers' own spelling, as an installed program writes it). */
static bool resolve(const char *inc, char *out, size_t cap)
{
  put(out, cap, "%s", inc);
  if (is_file(out))
    return true;
  if (strncmp(inc, "autotune/", 9) == 0) {
    put(out, cap, "include/%s", inc);
    if (is_file(out))
      return true;
  }
  return false;
}

static void add_includes(const char *rel)
{
  char path[1024];
  put(path, sizeof path, "%s/%s", AT_SOURCE_DIR, rel);
  char *text = th_read(path, NULL);
  cr_assert_not_null(text, "cannot read %s", path);
  nfiles++;
  int lineno = 0;
  for (char *line = text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    lineno++;
    const char *p = line + strspn(line, " \t");
    if (*p != '#')
      continue;
    p += 1 + strspn(p + 1, " \t");
    if (strncmp(p, "include", 7) != 0)
      continue;
    p += 7 + strspn(p + 7, " \t");
    if (*p != '"')
      continue;
    size_t len = strcspn(p + 1, "\"");
    if (nedges == edges_cap) {
      edges_cap = edges_cap ? 2 * edges_cap : 256;
      edges = realloc(edges, edges_cap * sizeof *edges);
      cr_assert_not_null(edges);
    }
    struct edge *e = &edges[nedges++];
    put(e->file, sizeof e->file, "%s", rel);
    put(e->inc, sizeof e->inc, "%.*s", (int)len, p + 1);
    e->line = lineno;
    e->from = folder_of(rel);
    char target[512];
    e->resolved = resolve(e->inc, target, sizeof target);
    e->to = e->resolved ? folder_of(target) : NULL;
  }
  free(text);
}

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .c and .h under rel, in name order (so messages come in a stable order). */
static void walk(const char *rel)
{
  char path[1024];
  put(path, sizeof path, "%s/%s", AT_SOURCE_DIR, rel);
  DIR *d = opendir(path);
  cr_assert_not_null(d, "cannot open %s", path);
  char **names = NULL;
  size_t n = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.')
      continue;
    names = realloc(names, (n + 1) * sizeof *names);
    cr_assert_not_null(names);
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char sub[1024];
    put(sub, sizeof sub, "%s/%s", rel, names[i]);
    size_t len = strlen(sub);
    char full[1024];
    put(full, sizeof full, "%s/%s", AT_SOURCE_DIR, sub);
    struct stat st;
    if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
      walk(sub);
    else if (len > 2 && sub[len - 2] == '.' && (sub[len - 1] == 'c' || sub[len - 1] == 'h'))
      add_includes(sub);
    free(names[i]);
  }
  free(names);
}

/* Each Test runs in its own process: read the tree once there. */
static void load(void)
{
  if (nfiles)
    return;
  for (size_t i = 0; i < sizeof scanned / sizeof scanned[0]; i++)
    walk(scanned[i]);
  cr_assert_gt(nfiles, 50, "only %zu source files found under %s", nfiles, AT_SOURCE_DIR);
  cr_assert_gt(nedges, 100, "only %zu includes found", nedges);
}

static void join(char *out, size_t cap, const char *const *list)
{
  out[0] = '\0';
  for (size_t i = 0; list[i]; i++)
    snprintf(out + strlen(out), cap - strlen(out), "%s%s/", i ? ", " : "", list[i]);
}

/* Every edge out of the rule's folders against its list; one failure per edge. */
static void check_rule(const struct rule *r)
{
  load();
  char allowed[512];
  join(allowed, sizeof allowed, r->to);
  size_t checked = 0;
  for (size_t i = 0; i < nedges; i++) {
    const struct edge *e = &edges[i];
    if (!e->from || !e->to || !in_list(r->from, 16, e->from))
      continue;
    checked++;
    bool listed = in_list(r->to, 16, e->to);
    if (r->kind == ONLY)
      cr_expect(listed, "%s:%d: #include \"%s\": %s/ may include only %s, not %s/ (%s)",
                e->file, e->line, e->inc, e->from, allowed, e->to, r->why);
    else
      cr_expect(!listed, "%s:%d: #include \"%s\": %s/ never includes %s/ (%s)", e->file,
                e->line, e->inc, e->from, e->to, r->why);
  }
  cr_assert_gt(checked, 0, "the rule on %s/ saw no includes: is the folder gone?",
               r->from[0]);
}

Test(layering, every_include_resolves_to_a_file_in_a_known_folder)
{
  load();
  for (size_t i = 0; i < nedges; i++) {
    const struct edge *e = &edges[i];
    cr_expect(e->from, "%s is in no folder of tests/test_layering.c's list: add the "
              "folder there and to docs/architecture.md", e->file);
    cr_expect(e->resolved, "%s:%d: #include \"%s\" names no file (quoted includes are "
              "written from the source root, or autotune/... for include/)",
              e->file, e->line, e->inc);
    cr_expect(!e->resolved || e->to, "%s:%d: #include \"%s\" is in no known folder",
              e->file, e->line, e->inc);
  }
}

Test(layering, base_includes_only_base_and_public_headers) { check_rule(&rules[R_BASE]); }
Test(layering, db_includes_only_db_base_and_public_headers) { check_rule(&rules[R_DB]); }
Test(layering, generator_includes_only_generator_base_public_and_templates)
{
  check_rule(&rules[R_GENERATOR]);
}
Test(layering, public_headers_include_only_public_headers) { check_rule(&rules[R_PUBLIC]); }
Test(layering, libautotune_never_includes_the_tool) { check_rule(&rules[R_LIB]); }
Test(layering, only_cli_and_main_include_cli) { check_rule(&rules[R_CLI]); }
Test(layering, measure_never_includes_the_engine) { check_rule(&rules[R_MEASURE]); }
Test(layering, search_includes_neither_engine_measure_nor_cli)
{
  check_rule(&rules[R_SEARCH]);
}
Test(layering, compile_includes_neither_engine_measure_search_nor_cli)
{
  check_rule(&rules[R_COMPILE]);
}

/* The folder graph, one witness include per folder edge. Each folder's shortest cycle
 * (breadth-first from it back to itself) is reported once, however many folders it
 * passes: one bad include shows as the short loop it closes, not as every long path
 * through it. */
static const struct edge *step[NFOLDERS][NFOLDERS];

/* The shortest cycle through u into cyc (u first); its length, or 0 if none. */
static int shortest_cycle(int u, int *cyc)
{
  int parent[NFOLDERS], queue[NFOLDERS], head = 0, tail = 0;
  for (int i = 0; i < (int)NFOLDERS; i++)
    parent[i] = -1;
  queue[tail++] = u;
  parent[u] = u;
  while (head < tail) {
    int x = queue[head++];
    if (step[x][u]) {
      int n = 0;
      for (int y = x; y != u; y = parent[y])
        cyc[n++] = y;
      cyc[n++] = u;
      for (int i = 0; i < n / 2; i++) {
        int t = cyc[i];
        cyc[i] = cyc[n - 1 - i];
        cyc[n - 1 - i] = t;
      }
      return n;
    }
    for (int v = 0; v < (int)NFOLDERS; v++)
      if (step[x][v] && parent[v] < 0) {
        parent[v] = x;
        queue[tail++] = v;
      }
  }
  return 0;
}

Test(layering, no_include_cycle_between_folders)
{
  load();
  for (size_t i = 0; i < nedges; i++) {
    const struct edge *e = &edges[i];
    if (!e->from || !e->to || strcmp(e->from, e->to) == 0)
      continue;
    int a = folder_index(e->from), b = folder_index(e->to);
    if (!step[a][b])
      step[a][b] = e;
  }
  _Static_assert(NFOLDERS <= 32, "a folder set is one 32-bit mask");
  uint32_t seen[NFOLDERS];  /* the cycles reported, each as its set of folders */
  int nseen = 0;
  for (int u = 0; u < (int)NFOLDERS; u++) {
    int cyc[NFOLDERS];
    int n = shortest_cycle(u, cyc);
    uint32_t set = 0;
    for (int i = 0; i < n; i++)
      set |= UINT32_C(1) << cyc[i];
    bool again = false;
    for (int i = 0; i < nseen; i++)
      again |= seen[i] == set;
    if (!n || again)
      continue;
    seen[nseen++] = set;
    char path[512] = "", msg[4096] = "";
    for (int i = 0; i < n; i++) {
      const struct edge *e = step[cyc[i]][cyc[(i + 1) % n]];
      snprintf(path + strlen(path), sizeof path - strlen(path), "%s/ -> ", folders[cyc[i]]);
      snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "\n  %s:%d: #include \"%s\"",
               e->file, e->line, e->inc);
    }
    cr_expect(false, "include cycle between folders: %s%s/%s", path, folders[u], msg);
  }
}

/* The words of `set(NAME a b c)` in CMakeLists.txt, or 0. */
static size_t cmake_list(const char *cmake, const char *name, char words[][32], size_t cap)
{
  char key[64];
  snprintf(key, sizeof key, "set(%s ", name);
  const char *p = strstr(cmake, key);
  if (!p)
    return 0;
  p += strlen(key);
  size_t n = 0;
  while (n < cap) {
    p += strspn(p, " \t\n");
    size_t len = strcspn(p, " \t\n)");
    if (!len)
      break;
    snprintf(words[n++], 32, "%.*s", (int)len, p);
    p += len;
  }
  return n;
}

static void expect_same(const char *name, char words[][32], size_t n,
                        const char *const *want, size_t nwant)
{
  cr_expect_eq(n, nwant, "CMakeLists.txt's %s has %zu folders, tests/test_layering.c %zu",
               name, n, nwant);
  for (size_t i = 0; i < n; i++)
    cr_expect(in_list(want, nwant, words[i]),
              "CMakeLists.txt's %s has %s/, which tests/test_layering.c does not put there",
              name, words[i]);
}

Test(layering, library_and_tool_folders_are_cmakes)
{
  char *cmake = th_read(AT_SOURCE_DIR "/CMakeLists.txt", NULL);
  cr_assert_not_null(cmake);
  static const char *const lib[] = {LIB_FOLDERS}, *const tool[] = {TOOL_FOLDERS};
  char words[32][32];
  size_t n = cmake_list(cmake, "AT_LIB_FOLDERS", words, 32);
  expect_same("AT_LIB_FOLDERS", words, n, lib, sizeof lib / sizeof lib[0]);
  n = cmake_list(cmake, "AT_TOOL_FOLDERS", words, 32);
  expect_same("AT_TOOL_FOLDERS", words, n, tool, sizeof tool / sizeof tool[0]);
  free(cmake);
}
