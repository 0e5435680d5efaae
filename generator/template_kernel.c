/*
 * template_kernel.c - the kernel of a loaded template in libclang's AST: found by name,
 * its template and function parameters read and cross-checked with the pragmas that
 * template.c read (template_loader.h); and the template's content hash over its text and
 * the headers it includes.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"
#include "generator/template_loader.h"

struct finder {
  struct loader *L;
  CXCursor found;
  int nfound;
  int found_line;
  int other_line;     /* a non-template declaration of that name */
};

static int cursor_line(CXCursor c)
{
  unsigned line = 0;
  clang_getSpellingLocation(clang_getCursorLocation(c), NULL, &line, NULL, NULL);
  return (int)line;
}

static int cursor_is(CXCursor c, const char *name)
{
  CXString s = clang_getCursorSpelling(c);
  int same = strcmp(clang_getCString(s), name) == 0;
  clang_disposeString(s);
  return same;
}

static enum CXChildVisitResult find_kernel(CXCursor c, CXCursor parent, CXClientData data)
{
  (void)parent;
  struct finder *f = data;
  enum CXCursorKind kind = clang_getCursorKind(c);
  if (!clang_Location_isFromMainFile(clang_getCursorLocation(c)))
    return CXChildVisit_Continue;
  if (kind == CXCursor_Namespace)
    return CXChildVisit_Recurse;
  if (!cursor_is(c, f->L->t->kernel))
    return CXChildVisit_Continue;
  if (kind != CXCursor_FunctionTemplate) {
    if (!f->other_line)
      f->other_line = cursor_line(c);
    return CXChildVisit_Continue;
  }
  if (f->nfound && clang_equalCursors(clang_getCanonicalCursor(c),
                                      clang_getCanonicalCursor(f->found))) {
    if (clang_isCursorDefinition(c))
      f->found = c;
    return CXChildVisit_Continue;
  }
  if (f->nfound) {
    f->other_line = cursor_line(c);
    f->nfound++;
    return CXChildVisit_Continue;
  }
  f->found = c;
  f->found_line = cursor_line(c);
  f->nfound = 1;
  return CXChildVisit_Continue;
}

/* Values of a non-type template parameter's type; 0 if not an integer type. */
static int type_range(CXType type, struct tmpl_tparam *p)
{
  p->is_bool = p->is_unsigned = 0;
  switch (clang_getCanonicalType(type).kind) {
  case CXType_Bool: p->lo = 0; p->hi = 1; p->is_bool = 1; return 1;
  case CXType_Char_S:
  case CXType_SChar: p->lo = SCHAR_MIN; p->hi = SCHAR_MAX; return 1;
  case CXType_Char_U:
  case CXType_UChar: p->lo = 0; p->hi = UCHAR_MAX; p->is_unsigned = 1; return 1;
  case CXType_Short: p->lo = SHRT_MIN; p->hi = SHRT_MAX; return 1;
  case CXType_UShort: p->lo = 0; p->hi = USHRT_MAX; p->is_unsigned = 1; return 1;
  case CXType_Int: p->lo = INT32_MIN; p->hi = INT32_MAX; return 1;
  case CXType_UInt: p->lo = 0; p->hi = UINT32_MAX; p->is_unsigned = 1; return 1;
  case CXType_Long:
  case CXType_LongLong: p->lo = INT64_MIN; p->hi = INT64_MAX; return 1;
  case CXType_ULong:
  case CXType_ULongLong: p->lo = 0; p->hi = INT64_MAX; p->is_unsigned = 1; return 1;
  default: return 0;
  }
}

struct collect {
  struct loader *L;
  int rc;
};

static enum CXChildVisitResult collect_params(CXCursor c, CXCursor parent, CXClientData d)
{
  (void)parent;
  struct collect *k = d;
  struct loader *L = k->L;
  struct tmpl *t = L->t;
  enum CXCursorKind kind = clang_getCursorKind(c);
  CXString name = clang_getCursorSpelling(c);
  CXString type = clang_getTypeSpelling(clang_getCursorType(c));
  const char *nm = clang_getCString(name), *ty = clang_getCString(type);
  if (kind == CXCursor_TemplateTemplateParameter) {
    k->rc = tl_perr(L, cursor_line(c), "template template parameter '%.64s' of kernel '%s' is "
                 "not supported (only integer, bool and dtype type parameters)", nm,
                 t->kernel);
  } else if (kind == CXCursor_NonTypeTemplateParameter ||
             kind == CXCursor_TemplateTypeParameter) {
    struct tmpl_tparam *p = realloc(t->tparams, (t->ntparams + 1) * sizeof *p);
    if (!p) {
      k->rc = tl_nomem();
    } else {
      t->tparams = p;
      p = &t->tparams[t->ntparams];
      memset(p, 0, sizeof *p);
      p->line = cursor_line(c);
      p->kind = kind == CXCursor_TemplateTypeParameter ? TMPL_TYPE : TMPL_NONTYPE;
      p->name = tl_dupstr(nm);
      p->type = tl_dupstr(p->kind == TMPL_TYPE ? "" : ty);
      if (p->name && p->type)
        t->ntparams++;
      else {
        free(p->name);
        free(p->type);
        k->rc = tl_nomem();
      }
      if (!k->rc && p->kind == TMPL_NONTYPE && !type_range(clang_getCursorType(c), p))
        k->rc = tl_perr(L, p->line, "template parameter '%.64s' of kernel '%s' has type "
                     "'%.64s'; autotune binds integer and bool non-type parameters only",
                     nm, t->kernel, ty);
    }
  } else if (kind == CXCursor_ParmDecl) {
    struct tmpl_fparam *p = realloc(t->fparams, (t->nfparams + 1) * sizeof *p);
    if (!p) {
      k->rc = tl_nomem();
    } else {
      t->fparams = p;
      p = &t->fparams[t->nfparams];
      p->name = nm[0] ? tl_dupstr(nm) : os_strdupf("at_arg%zu", t->nfparams);
      p->type = tl_dupstr(ty);
      if (p->name && p->type)
        t->nfparams++;
      else {
        free(p->name);
        free(p->type);
        k->rc = tl_nomem();
      }
    }
  }
  clang_disposeString(name);
  clang_disposeString(type);
  return k->rc ? CXChildVisit_Break : CXChildVisit_Continue;
}

static int qualify(struct loader *L, CXCursor c)
{
  char buf[1024] = "";
  size_t len = 0;
  for (CXCursor p = c; !clang_Cursor_isNull(p) &&
                       clang_getCursorKind(p) != CXCursor_TranslationUnit;
       p = clang_getCursorSemanticParent(p)) {
    CXString s = clang_getCursorSpelling(p);
    const char *nm = clang_getCString(s);
    size_t n = strlen(nm);
    if (n && len + n + 2 < sizeof buf) {
      memmove(buf + n + (len ? 2 : 0), buf, len + 1);
      memcpy(buf, nm, n);
      if (len)
        memcpy(buf + n, "::", 2);
      len += n + (len ? 2 : 0);
    }
    clang_disposeString(s);
  }
  return (L->t->kernel_qualified = tl_dupstr(buf)) ? AT_OK : tl_nomem();
}

/* The first error clang reports, at its own file:line. */
int tmpl_first_clang_error(struct loader *L)
{
  unsigned n = clang_getNumDiagnostics(L->tu);
  int rc = AT_OK;
  for (unsigned i = 0; i < n && !rc; i++) {
    CXDiagnostic d = clang_getDiagnostic(L->tu, i);
    if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      CXFile file = NULL;
      unsigned line = 0;
      clang_getSpellingLocation(clang_getDiagnosticLocation(d), &file, &line, NULL, NULL);
      CXString fname = clang_getFileName(file);
      CXString msg = clang_getDiagnosticSpelling(d);
      const char *f = file ? clang_getCString(fname) : L->path;
      rc = at_error(AT_PARSE, "%s:%u: %s", f ? f : L->path, line ? line : 1,
                    clang_getCString(msg));
      clang_disposeString(fname);
      clang_disposeString(msg);
    }
    clang_disposeDiagnostic(d);
  }
  return rc;
}

static int find_tparam(const struct tmpl *t, const char *name)
{
  for (size_t i = 0; i < t->ntparams; i++)
    if (strcmp(t->tparams[i].name, name) == 0)
      return (int)i;
  return -1;
}

static void list_tparams(const struct tmpl *t, char *buf, size_t cap)
{
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < t->ntparams && o + 1 < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", t->tparams[i].name);
  if (!t->ntparams)
    snprintf(buf, cap, "none");
}

/* The kernel in the AST, its parameters, and the cross-checks with the pragmas. */
int tmpl_read_kernel(struct loader *L)
{
  struct tmpl *t = L->t;
  struct finder f = {.L = L};
  clang_visitChildren(clang_getTranslationUnitCursor(L->tu), find_kernel, &f);
  if (!f.nfound) {
    if (f.other_line)
      return tl_perr(L, f.other_line, "'%s' is not a function template; the kernel pragma (line "
                  "%d) names a __device__ function template", t->kernel, t->kernel_line);
    return tl_perr(L, t->kernel_line, "kernel function template '%s' not found in %s",
                t->kernel, L->path);
  }
  if (f.nfound > 1)
    return tl_perr(L, f.other_line, "kernel '%s' is overloaded (also at line %d); a template "
                "defines one function template of that name", t->kernel, f.found_line);
  CXType result = clang_getCursorResultType(f.found);
  if (result.kind != CXType_Void && result.kind != CXType_Invalid) {
    CXString s = clang_getTypeSpelling(result);
    int rc = tl_perr(L, f.found_line, "kernel '%s' must return void (it returns '%s')",
                  t->kernel, clang_getCString(s));
    clang_disposeString(s);
    return rc;
  }
  int rc = qualify(L, f.found);
  if (rc)
    return rc;
  struct collect k = {L, AT_OK};
  clang_visitChildren(f.found, collect_params, &k);
  if (k.rc)
    return k.rc;

  /* the workspace is the last parameter, or the last before the tensor maps */
  if (L->line_ws && (t->nfparams <= t->ntmaps ||
                     !strchr(t->fparams[t->nfparams - t->ntmaps - 1].type, '*')))
    return tl_perr(L, L->line_ws, "workspace: kernel '%s' must take the workspace as its last "
                "parameter ('void *WS'%s)", t->kernel, t->ntmaps ? ", before its tensor maps" : "");

  char names[512];
  list_tparams(t, names, sizeof names);
  for (size_t i = 0; i < t->nparams; i++) {
    struct tmpl_param *p = &t->params[i];
    int ti = find_tparam(t, p->name);
    if (ti < 0) {
      if (p->expr)
        continue; /* a derived helper value such as ITEMS */
      return tl_perr(L, p->line, "param '%s' is not a template parameter of kernel '%s' (its "
                  "template parameters: %s)", p->name, t->kernel, names);
    }
    const struct tmpl_tparam *tp = &t->tparams[ti];
    if (tp->kind == TMPL_TYPE)
      return tl_perr(L, p->line, "'%s' is a type template parameter of kernel '%s'; bind it "
                  "with '#pragma autotune dtype %s'", p->name, t->kernel, p->name);
    p->tparam = ti;
    for (size_t v = 0; v < p->nvalues; v++)
      if (p->values[v] < tp->lo || p->values[v] > tp->hi)
        return tl_perr(L, p->line, "param '%s': value %" PRId64 " does not fit template "
                    "parameter '%s' of type '%s' (%" PRId64 " to %" PRId64 ")", p->name,
                    p->values[v], tp->name, tp->type, tp->lo, tp->hi);
  }
  if (t->dtype) {
    int ti = find_tparam(t, t->dtype);
    if (ti < 0)
      return tl_perr(L, L->line_dtype, "dtype '%s' is not a template parameter of kernel '%s' "
                  "(its template parameters: %s)", t->dtype, t->kernel, names);
    if (t->tparams[ti].kind != TMPL_TYPE)
      return tl_perr(L, L->line_dtype, "dtype '%s' names a non-type template parameter; dtype "
                  "binds a type parameter (typename %s)", t->dtype, t->dtype);
  }
  char why[512];
  int why_line = 0;
  if (tmpl_tmaps_check(t, &why_line, why, sizeof why))
    return tl_perr(L, why_line, "%s", why);
  for (size_t i = 0; i < t->ntparams; i++) {
    const struct tmpl_tparam *tp = &t->tparams[i];
    if (tp->kind == TMPL_TYPE && (!t->dtype || strcmp(t->dtype, tp->name) != 0))
      return tl_perr(L, tp->line, "type template parameter '%s' of kernel '%s' is not bound "
                  "(add '#pragma autotune dtype %s')", tp->name, t->kernel, tp->name);
    if (tp->kind == TMPL_NONTYPE && tl_param_index(t, tp->name) < 0)
      return tl_perr(L, tp->line, "template parameter '%s' of kernel '%s' has no '#pragma "
                  "autotune param %s = ...' or 'derive %s = ...'", tp->name, t->kernel,
                  tp->name, tp->name);
  }
  return AT_OK;
}

/* ---- the content hash ----------------------------------------------------------------- */

bool tmpl_host_header(const char *name)
{
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  size_t n = strlen(base);
  return n >= 9 && strncmp(base, "at_host", 7) == 0 && strcmp(base + n - 2, ".h") == 0;
}

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int tmpl_host_digest(const char *const *include_dirs, char out[TMPL_HOST_DIGEST_LEN])
{
  struct hash_sha256 h;
  hash_sha256_init(&h);
  bool any = false;
  int rc = AT_OK;
  for (size_t d = 0; include_dirs && include_dirs[d] && rc == AT_OK; d++) {
    DIR *dir = opendir(include_dirs[d]);
    if (!dir)
      continue; /* a folder that is not there holds no header */
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; rc == AT_OK && (e = readdir(dir));) {
      if (!tmpl_host_header(e->d_name))
        continue;
      if ((rc = os_grow(&names, &cap, n + 1, sizeof *names, 8)) == AT_OK &&
          !(names[n++] = strdup(e->d_name)))
        rc = tl_nomem();
    }
    closedir(dir);
    if (n && rc == AT_OK) /* (a name strdup could not copy is NULL) */
      qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
      char *path = rc == AT_OK ? os_strdupf("%s/%s", include_dirs[d], names[i]) : NULL;
      unsigned char *bytes = NULL;
      size_t size = 0;
      if (rc == AT_OK && !path)
        rc = tl_nomem();
      else if (rc == AT_OK && (rc = os_read_file(path, &bytes, &size)) == AT_OK) {
        hash_sha256_add(&h, names[i], strlen(names[i]) + 1);
        hash_sha256_add(&h, bytes, size);
        any = true;
      }
      free(bytes);
      free(path);
      free(names[i]);
    }
    free(names);
  }
  char hex[HASH_SHA256_HEX];
  hash_sha256_hex(&h, hex);
  snprintf(out, TMPL_HOST_DIGEST_LEN, "%.12s", any ? hex : "none");
  return rc;
}

/* One stream feeds both hashes: the text, then each header under an include folder as its
 * path below that folder with a NUL, then its bytes, except the host device's own
 * (tmpl_host_header). The SHA-256 is the content hash; the FNV-1a is the one schema-1
 * databases stored, kept to check their rows (db/open.c). */
static void hash_bytes(struct loader *L, const void *data, size_t n)
{
  hash_sha256_add(&L->sha, data, n);
  L->fnv = hash_fnv1a64(L->fnv, data, n);
}

static void hash_inclusion(CXFile file, CXSourceLocation *stack, unsigned depth,
                           CXClientData data)
{
  (void)stack;
  struct loader *L = data;
  if (depth == 0 || L->rc)
    return;
  CXString name = clang_getFileName(file);
  char real[PATH_MAX];
  const char *fname = clang_getCString(name);
  if (fname && realpath(fname, real)) {
    /* The toolchain's own headers (clang's builtin stddef.h, the C library's) are no
     * dependency of the parse cache's entry: a bundle's entry must hold on a GPU node
     * that has no LLVM, where they do not exist (and they cannot change a template's
     * parameters or pragmas). The include folders are -I, never system. */
    if (!clang_Location_isInSystemHeader(clang_getLocationForOffset(L->tu, file, 0)) &&
        tcache_deps_add(&L->deps, real) != AT_OK)
      L->rc = tl_nomem();
    for (size_t i = 0; i < L->ninclude; i++) {
      size_t n = strlen(L->include_real[i]);
      if (strncmp(real, L->include_real[i], n) == 0 && real[n] == '/') {
        if (tmpl_host_header(real + n + 1))
          break; /* a dependency of the parse cache's entry, not of the GPU variants */
        size_t size = 0;
        const char *bytes = clang_getFileContents(L->tu, file, &size);
        hash_bytes(L, real + n + 1, strlen(real + n + 1) + 1);
        hash_bytes(L, bytes ? bytes : "", bytes ? size : 0);
        break;
      }
    }
  }
  clang_disposeString(name);
}

int tmpl_content_hash(struct loader *L, const char *const *include_dirs)
{
  size_t n = 0;
  while (include_dirs && include_dirs[n])
    n++;
  L->include_real = calloc(n ? n : 1, sizeof *L->include_real);
  if (!L->include_real)
    return tl_nomem();
  for (size_t i = 0; i < n; i++)
    if (realpath(include_dirs[i], L->include_real[L->ninclude]))
      L->ninclude++;
  hash_sha256_init(&L->sha);
  L->fnv = HASH_FNV1A64_SEED;
  hash_bytes(L, L->t->text, L->t->text_len);
  clang_getInclusions(L->tu, hash_inclusion, L);
  if (L->rc)
    return L->rc;
  char hex[HASH_SHA256_HEX];
  hash_sha256_hex(&L->sha, hex);
  snprintf(L->t->hash, sizeof L->t->hash, "%.16s", hex);
  snprintf(L->t->legacy_hash, sizeof L->t->legacy_hash, HASH_FNV1A64_TAG "%016" PRIx64, L->fnv);
  return AT_OK;
}

