/*
 * template_loader.h - INTERNAL to generator/template*.c: the state of one template load
 * (template.c reads the file and its pragmas; template_kernel.c the kernel in libclang's
 * AST and the content hash), and libclang's function table they both call through.
 * Nothing outside generator/ includes it; template.h is the interface.
 */
#ifndef AT_GENERATOR_TEMPLATE_LOADER_H
#define AT_GENERATOR_TEMPLATE_LOADER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "generator/libclang.h"
#include "generator/template.h"
#include "generator/template_cache.h"

/* libclang, opened at run time (libclang.h) by the first parse that needs it (template.c);
 * every clang_* call goes through its table. */
extern const struct lc_api *tmpl_lc;
#define clang_createIndex (tmpl_lc->createIndex)
#define clang_disposeIndex (tmpl_lc->disposeIndex)
#define clang_parseTranslationUnit2 (tmpl_lc->parseTranslationUnit2)
#define clang_disposeTranslationUnit (tmpl_lc->disposeTranslationUnit)
#define clang_getNumDiagnostics (tmpl_lc->getNumDiagnostics)
#define clang_getDiagnostic (tmpl_lc->getDiagnostic)
#define clang_disposeDiagnostic (tmpl_lc->disposeDiagnostic)
#define clang_getDiagnosticSeverity (tmpl_lc->getDiagnosticSeverity)
#define clang_getDiagnosticLocation (tmpl_lc->getDiagnosticLocation)
#define clang_getDiagnosticSpelling (tmpl_lc->getDiagnosticSpelling)
#define clang_getCString (tmpl_lc->getCString)
#define clang_disposeString (tmpl_lc->disposeString)
#define clang_getFile (tmpl_lc->getFile)
#define clang_getFileName (tmpl_lc->getFileName)
#define clang_getFileContents (tmpl_lc->getFileContents)
#define clang_getInclusions (tmpl_lc->getInclusions)
#define clang_getLocationForOffset (tmpl_lc->getLocationForOffset)
#define clang_getRange (tmpl_lc->getRange)
#define clang_getRangeEnd (tmpl_lc->getRangeEnd)
#define clang_getSpellingLocation (tmpl_lc->getSpellingLocation)
#define clang_tokenize (tmpl_lc->tokenize)
#define clang_disposeTokens (tmpl_lc->disposeTokens)
#define clang_getTokenKind (tmpl_lc->getTokenKind)
#define clang_getTokenSpelling (tmpl_lc->getTokenSpelling)
#define clang_getTokenLocation (tmpl_lc->getTokenLocation)
#define clang_getTokenExtent (tmpl_lc->getTokenExtent)
#define clang_getTranslationUnitCursor (tmpl_lc->getTranslationUnitCursor)
#define clang_visitChildren (tmpl_lc->visitChildren)
#define clang_getCursorKind (tmpl_lc->getCursorKind)
#define clang_getCursorLocation (tmpl_lc->getCursorLocation)
#define clang_getCursorSpelling (tmpl_lc->getCursorSpelling)
#define clang_getCursorType (tmpl_lc->getCursorType)
#define clang_getCursorResultType (tmpl_lc->getCursorResultType)
#define clang_getCursorSemanticParent (tmpl_lc->getCursorSemanticParent)
#define clang_getCanonicalCursor (tmpl_lc->getCanonicalCursor)
#define clang_getCanonicalType (tmpl_lc->getCanonicalType)
#define clang_getTypeSpelling (tmpl_lc->getTypeSpelling)
#define clang_isCursorDefinition (tmpl_lc->isCursorDefinition)
#define clang_equalCursors (tmpl_lc->equalCursors)
#define clang_Cursor_isNull (tmpl_lc->Cursor_isNull)
#define clang_Location_isFromMainFile (tmpl_lc->Location_isFromMainFile)
#define clang_Location_isInSystemHeader (tmpl_lc->Location_isInSystemHeader)

struct ptok {
  CXTokenKind kind;
  char *spell;
  unsigned line, col, off, end;
};

struct pragma {
  int line;
  size_t a, b;     /* tokens after `autotune`: [a, b) */
};

struct loader {
  struct tmpl *t;
  const char *path;
  CXTranslationUnit tu;
  struct ptok *toks;
  size_t ntoks;
  struct pragma *pragmas;
  size_t npragmas;
  /* token ranges of expressions read in pass 1, checked in pass 2 */
  size_t *derive_a, *derive_b; /* per params entry (derive only) */
  size_t *req_a, *req_b;
  size_t thr_part[3][2], grid_part[3][2], shared_part[2], ws_part[2];
  size_t tmap_part[TMPL_MAX_TMAPS][3][2]; /* box inner, box outer, swizzle */
  int line_problem, line_threads, line_grid, line_shared, line_ws, line_dtype, line_arch_specific;
  size_t cl_part[3][2]; /* `cluster` (template_cluster.c) */
  int line_cluster;
  size_t mb_part[2]; /* `min_blocks` (template_cluster.c) */
  int line_min_blocks;
  char (*include_real)[PATH_MAX];
  size_t ninclude;
  struct tcache_deps deps;  /* every file the parse read besides the template */
  struct hash_sha256 sha;
  uint64_t fnv;
  int rc;           /* first failure of a libclang visitor */
};

/* An AT_PARSE error "path:line: message". */
int tl_perr(const struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* AT_NOMEM "out of memory reading a template". */
int tl_nomem(void);
/* A malloc'ed copy of s, or NULL. */
char *tl_dupstr(const char *s);
/* The index of param `name` in t->params, or -1. */
int tl_param_index(const struct tmpl *t, const char *name);

/* template_kernel.c: clang's first error in the parse as AT_PARSE "path:line: ...", or AT_OK. */
int tmpl_first_clang_error(struct loader *L);
/* template_kernel.c: find the kernel's function template in the AST, read its template
 * and function parameters and cross-check them with the pragmas (AT_PARSE naming the line
 * on a mismatch). */
int tmpl_read_kernel(struct loader *L);
/* template_kernel.c: the content hash of the text and the headers it includes from under
 * include_dirs (t->hash, t->legacy_hash; L->deps gains every file the parse read). */
int tmpl_content_hash(struct loader *L, const char *const *include_dirs);

#endif
