/*
 * op.c - the table of ops and the checks of a problem's dtype and layout against it.
 */
#include "tuner/ops/op.h"

#include <stdio.h>
#include <string.h>

#include "tuner/ops/op_attn.h"
#include "base/status.h"

static const struct op_desc ops[] = {
    {
        .name = "gemm",
        .ndims = 3,
        .dim_names = {"m", "n", "k"},
        .dtypes = {"f16", "bf16", "f32", NULL},
        .layouts = {"NN", "NT", "TN", "TT", NULL},
        .default_dtype = "f16",
        .default_layout = "NN",
    },
    {
        /* op_attn.h; the layout holds the head dim and the words of the problem's family,
         * "hd128_causal_decode_paged": no list (attn_parse_layout checks it), no default.
         * hkv, the last dim, is optional (default h): a key holds it only for GQA
         * (attn_problem_key builds the key from these) */
        .name = "attention",
        .ndims = 5,
        .dim_names = {"b", "h", "sq", "sk", "hkv"},
        .dtypes = {"f16", "bf16", "f32", NULL},
        .layouts = {NULL},
        .default_dtype = "f16",
        .default_layout = NULL,
    },
};

const struct op_desc *op_find(const char *name)
{
  for (size_t i = 0; name && i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(ops[i].name, name) == 0)
      return &ops[i];
  at_error(AT_USAGE, "unknown op '%.60s' (expected %s)", name ? name : "", op_names());
  return NULL;
}

const char *op_names(void)
{
  return "gemm, attention";
}

static int one_of(const char *what, const char *value, const char *const *list,
                  const char *op)
{
  char expected[128] = "";
  for (int i = 0; list[i]; i++) {
    if (strcmp(list[i], value) == 0)
      return AT_OK;
    size_t n = strlen(expected);
    snprintf(expected + n, sizeof expected - n, "%s%s", i ? ", " : "", list[i]);
  }
  return at_error(AT_USAGE, "unknown %s '%.40s' for %s (expected %s)", what, value, op,
                  expected);
}

int op_check(const struct op_desc *op, const char *dtype, const char *layout)
{
  int rc = one_of("dtype", dtype, op->dtypes, op->name);
  if (rc == AT_OK && strcmp(op->name, "attention") == 0)
    return layout ? attn_parse_layout(layout, NULL, NULL)
                  : at_error(AT_USAGE, "attention needs --layout hd<D>[_causal][_decode]"
                             "[_paged][_lse] (the head dim and the problem's family: hd128, "
                             "hd64_causal, hd128_causal_decode_paged)");
  if (rc == AT_OK)
    rc = one_of("layout", layout, op->layouts, op->name);
  return rc;
}
