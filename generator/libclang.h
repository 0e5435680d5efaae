/*
 * libclang.h - libclang opened at run time (dlopen), never linked: the autotune binary
 * runs where LLVM is absent (a GPU node with a driver and a CUDA runtime alone), and
 * needs libclang only when a template must be parsed and the parse cache
 * (generator/template.c) has no entry for it. The entry points are typed from the
 * clang-c headers the build saw; generator/template.c calls them through the table.
 *
 * Which library: $AUTOTUNE_LIBCLANG when set (a path or soname; set to an empty string,
 * libclang is treated as absent), else the one the build found (AT_LIBCLANG_PATH), then
 * the sonames of LLVM 19 and the unversioned ones.
 */
#ifndef AT_GENERATOR_LIBCLANG_H
#define AT_GENERATOR_LIBCLANG_H

#include <stddef.h>

#include <clang-c/Index.h>

/* Every entry point the template reader uses. */
#define LC_FUNCS(X)                                                                        \
  X(createIndex) X(disposeIndex) X(parseTranslationUnit2) X(disposeTranslationUnit)       \
  X(getNumDiagnostics) X(getDiagnostic) X(disposeDiagnostic) X(getDiagnosticSeverity)     \
  X(getDiagnosticLocation) X(getDiagnosticSpelling) X(getCString) X(disposeString)        \
  X(getFile) X(getFileName) X(getFileContents) X(getInclusions) X(getLocationForOffset)   \
  X(getRange) X(getRangeEnd) X(getSpellingLocation) X(tokenize) X(disposeTokens)          \
  X(getTokenKind) X(getTokenSpelling) X(getTokenLocation) X(getTokenExtent)               \
  X(getTranslationUnitCursor) X(visitChildren) X(getCursorKind) X(getCursorLocation)      \
  X(getCursorSpelling) X(getCursorType) X(getCursorResultType) X(getCursorSemanticParent) \
  X(getCanonicalCursor) X(getCanonicalType) X(getTypeSpelling) X(isCursorDefinition)      \
  X(equalCursors) X(Cursor_isNull) X(Location_isFromMainFile) X(Location_isInSystemHeader)

struct lc_api {
#define LC_FIELD(name) __typeof__(&clang_##name) name;
  LC_FUNCS(LC_FIELD)
#undef LC_FIELD
  const char *lib;     /* the library opened */
};

/* The table, loaded once per process (thread-safe); NULL when libclang cannot be opened
 * or lacks an entry point, with the reason in why[cap] ("AUTOTUNE_LIBCLANG is empty",
 * "no libclang-19.so.1, ... (<the loader's words>)"). */
const struct lc_api *lc_load(char *why, size_t cap);

#endif
