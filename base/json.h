/*
 * json.h - a small, strict JSON reader for one line of text and the few writers that
 * import/export and the command line need. The reader builds a tree (objects keep their
 * keys in text order, duplicate keys are refused), decodes every escape including
 * \uXXXX surrogate pairs to UTF-8, and gives numbers both as a double and, when written
 * as an integer that fits, as an exact int64. Errors name the 1-based column. The
 * writers print doubles so that they read back bit for bit, and print null for a
 * missing value (a NULL string, a NaN or infinite double): NaN never reaches the text.
 */
#ifndef AT_BASE_JSON_H
#define AT_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
  enum json_type type;
  bool boolean;        /* JSON_BOOL */
  double number;       /* JSON_NUMBER, always set */
  bool is_int;         /* JSON_NUMBER written without fraction or exponent, fits int64 */
  int64_t integer;     /* JSON_NUMBER: the exact value when is_int */
  char *string;        /* JSON_STRING: UTF-8, NUL-terminated, no NUL inside */
  size_t len;          /* JSON_STRING: bytes; JSON_ARRAY, JSON_OBJECT: members */
  struct json *items;  /* JSON_ARRAY, JSON_OBJECT: the members in text order */
  char **keys;         /* JSON_OBJECT: keys[i] names items[i] */
};

/*
 * Parse exactly one JSON value from text[0..len) (whitespace around it is allowed; any
 * other trailing text is an error). Bytes >= 0x80 inside strings are passed through as
 * they are, so that any string the database holds reads back unchanged; \u0000 is
 * refused because strings are C strings. Nesting deeper than JSON_MAX_DEPTH is refused.
 * OUT: *out, free with json_free (NULL on failure). On AT_PARSE, err[err_len] holds
 * "column N: what is wrong" (N counts bytes from 1). Returns AT_OK, AT_PARSE, AT_NOMEM.
 */
int json_parse(const char *text, size_t len, struct json **out, char *err, size_t err_len);

/* Free a tree from json_parse; NULL is accepted. */
void json_free(struct json *v);

/* The member `key` of an object; NULL when v is not an object or has no such key. */
const struct json *json_get(const struct json *v, const char *key);

/* A JSON string literal of s with quotes and escapes; null when s is NULL. */
void json_write_str(FILE *out, const char *s);
/* The shortest of %.15g, %.16g, %.17g that reads back as exactly v; null when v is NaN
 * or infinite. */
void json_write_double(FILE *out, double v);
void json_write_int(FILE *out, int64_t v);

#endif
