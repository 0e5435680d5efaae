/*
 * fuzz_jsonl.c - libFuzzer target for the database's JSON-lines import (db/jsonl.c):
 * the input is a file given to `autotune db import`, imported into a fresh temp
 * database (SQLite's ":memory:", the same schema and statements as a file). Checks: a
 * failed import carries a message and adds nothing (import is atomic); an import that
 * succeeds exports, and that export imports into another fresh database and exports
 * the same bytes again (the documented round trip).
 * Built outside CMake; fuzz/README.md has the command.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "db/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond, const char *what)
{
  if (!cond) {
    fprintf(stderr, "fuzz_jsonl: broken invariant: %s\n", what);
    abort();
  }
}

static struct db *fresh(void)
{
  struct db *db = NULL;
  if (db_open(":memory:", DB_CREATE, &db) != AT_OK) {
    fprintf(stderr, "fuzz_jsonl: cannot open a temp database: %s\n", at_last_error());
    abort();
  }
  return db;
}

/* The database's export, malloc'd; *len its bytes. */
static char *export_of(struct db *db, size_t *len)
{
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  must(f != NULL, "memstream");
  must(db_export_jsonl(db, f) == AT_OK, "export of an imported database");
  fclose(f);
  return buf;
}

/* The size of the database's export: what a failed import must leave as it was. */
static int64_t count(struct db *db)
{
  size_t len = 0;
  char *text = export_of(db, &len);
  free(text);
  return (int64_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0; /* fmemopen refuses an empty buffer */
  struct db *a = fresh();
  int64_t empty = count(a);
  FILE *in = fmemopen((void *)data, size, "r");
  must(in != NULL, "fmemopen");
  struct db_merge_stats st = {0};
  at_error_clear();
  int rc = db_import_jsonl(a, in, "fuzz.jsonl", &st);
  fclose(in);
  if (rc != AT_OK) {
    must(at_last_error()[0] != '\0', "import failure message");
    must(count(a) == empty, "a failed import adds nothing");
    db_close(a);
    return 0;
  }
  size_t len1 = 0, len2 = 0;
  char *one = export_of(a, &len1);
  db_close(a);
  struct db *b = fresh();
  if (len1) {
    in = fmemopen(one, len1, "r");
    must(in != NULL, "fmemopen");
    rc = db_import_jsonl(b, in, "export.jsonl", NULL);
    fclose(in);
    if (rc != AT_OK)
      fprintf(stderr, "fuzz_jsonl: re-import failed: %s\n", at_last_error());
    must(rc == AT_OK, "an export imports");
  }
  char *two = export_of(b, &len2);
  db_close(b);
  must(len1 == len2 && memcmp(one, two, len1) == 0, "export, import, export: the same bytes");
  free(one);
  free(two);
  return 0;
}
