/*
 * index.c - the in-memory lookup index of the C API: every winner read once, at open,
 * into arrays, so that a lookup runs no SQL and takes no lock. It answers exactly as
 * db_query_best (query.c) does: the same rungs (db_query_rungs) and the same
 * nearest-shape ranking (db_shape_d2, db_nearest_better); only where the winners
 * come from differs.
 *
 * Invariants:
 * 1. The index is a snapshot of one read transaction and is never written after
 *    db_index_load returns, so any number of threads may look up in it at once.
 * 2. problems[] is in problems.id order, and each problem's winners are best first
 *    (least median time, then the lower trial id: query.c's ORDER BY). A family finds
 *    an exact shape through a hash of its dims (open addressing, at most half full).
 * 3. Per family and device, a k-d tree over the log shapes (median split, axis by depth)
 *    holds each problem once with the least time of its winners on that device. A
 *    subtree is skipped only when the split's distance alone exceeds the best found
 *    (strictly), so equally near shapes are all seen and the tie-breaks decide.
 *    A tier of several devices takes the best of its devices' bests: the order is
 *    lexicographic on (distance, time, problem id), and a problem's time in the tier
 *    is its least over those devices, so the two agree.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"
#include "base/status.h"

#define KD_LEAF 8 /* shapes scanned flat at the bottom of the tree */

struct ix_device {
  char *name, *arch, *vendor;
};

/* A winner's strings live in db_index.text, in load order, so that a problem's winners
 * and their text are near one another: a lookup touches a few cache lines. */
struct ix_winner {
  uint32_t device;
  uint32_t kernel, kernel_len, config, config_len; /* offsets and lengths in text */
  double time, tflops;
  char uuid[DB_UUID_LEN + 1];
};

struct ix_problem {
  int64_t pid;
  int64_t dims[AT_MAX_DIMS];
  size_t w0, nw; /* winners[w0 .. w0 + nw), best first */
};

struct ix_tree {
  struct db_shape *e;
  double *logs;  /* e[i].log_dims packed (ndims a shape): what a search reads */
  double *split; /* split[mid] of each inner node [lo, hi) */
  size_t n;
};

struct ix_family {
  char *op, *dtype, *layout, *names; /* names "m,n,k" */
  int ndims;
  uint32_t *members; /* the family's problems, in id order */
  size_t n, cap;
  uint32_t *slots; /* exact lookups: open addressing on dims, problem + 1 (0 empty) */
  size_t mask;
  struct ix_tree *trees; /* one per device */
};

struct db_index {
  char *path;
  struct ix_device *dev;
  size_t ndev;
  struct ix_family *fam;
  size_t nfam;
  struct ix_problem *prob;
  size_t nprob;
  struct ix_winner *win;
  size_t nwin;
  char *text;
  size_t ntext, text_cap;
};

static const char load_sql[] =
    "SELECT p.id, p.op, p.dtype, p.layout, p.dim_names, p.d0, p.d1, p.d2, p.d3, p.d4, "
    "p.d5, p.d6, p.d7, d.name, d.arch, d.vendor, k.template, c.text, w.time_median_us, "
    "t.tflops, t.uuid FROM winners w JOIN problems p ON p.id = w.problem_id "
    "JOIN devices d ON d.id = w.device_id JOIN trials t ON t.id = w.trial_id "
    "JOIN kernels k ON k.id = w.kernel_id JOIN configs c ON c.id = t.config_id "
    "ORDER BY p.id, w.time_median_us, w.trial_id";

void db_index_free(struct db_index *ix)
{
  if (!ix)
    return;
  for (size_t i = 0; i < ix->ndev; i++) {
    free(ix->dev[i].name);
    free(ix->dev[i].arch);
    free(ix->dev[i].vendor);
  }
  for (size_t i = 0; i < ix->nfam; i++) {
    struct ix_family *f = &ix->fam[i];
    free(f->op), free(f->dtype), free(f->layout), free(f->names), free(f->members);
    free(f->slots);
    for (size_t d = 0; f->trees && d < ix->ndev; d++) {
      free(f->trees[d].e);
      free(f->trees[d].logs);
      free(f->trees[d].split);
    }
    free(f->trees);
  }
  free(ix->text);
  free(ix->dev), free(ix->fam), free(ix->prob), free(ix->win), free(ix->path);
  free(ix);
}

/* Grow *v (of *cap elements of size sz) to hold n + 1. */
static bool grow(void **v, size_t *cap, size_t n, size_t sz)
{
  if (n < *cap)
    return true;
  size_t c = *cap ? 2 * *cap : 16;
  void *g = realloc(*v, c * sz);
  if (!g)
    return false;
  *v = g, *cap = c;
  return true;
}

static const char *col(sqlite3_stmt *st, int i)
{
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
}

static char *dup(const char *s, bool *ok)
{
  char *d = strdup(s);
  *ok = *ok && d;
  return d;
}

/* The device of this row, added when new. UINT32_MAX when out of memory. */
static uint32_t device_of(struct db_index *ix, size_t *cap, sqlite3_stmt *st)
{
  const char *name = col(st, 13);
  for (size_t i = ix->ndev; i-- > 0;)
    if (strcmp(ix->dev[i].name, name) == 0)
      return (uint32_t)i;
  if (!grow((void **)&ix->dev, cap, ix->ndev, sizeof *ix->dev))
    return UINT32_MAX;
  bool ok = true;
  struct ix_device *d = &ix->dev[ix->ndev++];
  *d = (struct ix_device){dup(name, &ok), dup(col(st, 14), &ok), dup(col(st, 15), &ok)};
  return ok ? (uint32_t)(ix->ndev - 1) : UINT32_MAX;
}

static uint32_t family_of(struct db_index *ix, size_t *cap, sqlite3_stmt *st)
{
  const char *op = col(st, 1), *dtype = col(st, 2), *layout = col(st, 3), *names = col(st, 4);
  for (size_t i = ix->nfam; i-- > 0;) {
    const struct ix_family *f = &ix->fam[i];
    if (!strcmp(f->op, op) && !strcmp(f->dtype, dtype) && !strcmp(f->layout, layout) &&
        !strcmp(f->names, names))
      return (uint32_t)i;
  }
  if (!grow((void **)&ix->fam, cap, ix->nfam, sizeof *ix->fam))
    return UINT32_MAX;
  bool ok = true;
  struct ix_family *f = &ix->fam[ix->nfam++];
  *f = (struct ix_family){.op = dup(op, &ok), .dtype = dup(dtype, &ok),
                          .layout = dup(layout, &ok), .names = dup(names, &ok), .ndims = 1};
  for (const char *c = names; *c; c++)
    f->ndims += *c == ',';
  if (f->ndims > AT_MAX_DIMS)
    f->ndims = AT_MAX_DIMS;
  return ok ? (uint32_t)(ix->nfam - 1) : UINT32_MAX;
}

static int cmp_dims(const int64_t *a, const int64_t *b, int ndims)
{
  for (int i = 0; i < ndims; i++)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  return 0;
}

static uint64_t hash_dims(const int64_t *dims, int ndims)
{
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < ndims; i++) {
    h ^= (uint64_t)dims[i];
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  return h;
}

/* The slot of dims in f: the problem's (slots[i] == problem + 1) or the empty one where
 * it would go (slots[i] == 0). */
static size_t slot_of(const struct db_index *ix, const struct ix_family *f,
                      const int64_t *dims)
{
  size_t i = (size_t)hash_dims(dims, f->ndims) & f->mask;
  while (f->slots[i] && cmp_dims(ix->prob[f->slots[i] - 1].dims, dims, f->ndims) != 0)
    i = (i + 1) & f->mask;
  return i;
}

static void swap_shape(struct db_shape *a, struct db_shape *b)
{
  struct db_shape t = *a;
  *a = *b, *b = t;
}

/* Put the k-th smallest of e[lo, hi) by log_dims[axis] at k, none greater before it and
 * none smaller after it. */
static void kd_select(struct db_shape *e, size_t lo, size_t hi, size_t k, int axis)
{
  while (hi - lo > 1) {
    swap_shape(&e[lo + (hi - lo) / 2], &e[hi - 1]);
    double pv = e[hi - 1].log_dims[axis];
    size_t store = lo;
    for (size_t i = lo; i < hi - 1; i++)
      if (e[i].log_dims[axis] < pv)
        swap_shape(&e[i], &e[store++]);
    swap_shape(&e[store], &e[hi - 1]);
    if (k == store)
      return;
    if (k < store)
      hi = store;
    else
      lo = store + 1;
  }
}

static void kd_build(struct ix_tree *t, size_t lo, size_t hi, int depth, int ndims)
{
  if (hi - lo <= KD_LEAF)
    return;
  int axis = depth % ndims;
  size_t mid = lo + (hi - lo) / 2;
  kd_select(t->e, lo, hi, mid, axis);
  t->split[mid] = t->e[mid].log_dims[axis];
  kd_build(t, lo, mid, depth + 1, ndims);
  kd_build(t, mid, hi, depth + 1, ndims);
}

/* Invariant 3: the far side is searched unless its split alone is farther than the
 * best. For a shape beyond the split, |logs[a] - its log| >= |logs[a] - split| also
 * after rounding (subtraction and squaring round monotonically), and db_shape_d2 adds
 * non-negative terms, so the bound never exceeds its distance. */
static void kd_search(const struct ix_tree *t, size_t lo, size_t hi, int depth, int ndims,
                      const double *logs, struct db_nearest *best)
{
  if (hi - lo <= KD_LEAF) {
    /* db_nearest_scan over the packed logs: a 152-byte db_shape is read only for a
     * shape at least as near as the best, where the tie-breaks need it. */
    for (size_t i = lo; i < hi; i++) {
      double d2 = db_shape_d2(ndims, logs, t->logs + i * (size_t)ndims);
      if ((!best->e || d2 <= best->d2) && db_nearest_better(d2, &t->e[i], best))
        *best = (struct db_nearest){.d2 = d2, .e = &t->e[i]};
    }
    return;
  }
  int axis = depth % ndims;
  size_t mid = lo + (hi - lo) / 2;
  double diff = logs[axis] - t->split[mid];
  bool left_first = diff < 0;
  kd_search(t, left_first ? lo : mid, left_first ? mid : hi, depth + 1, ndims, logs, best);
  if (!best->e || diff * diff <= best->d2)
    kd_search(t, left_first ? mid : lo, left_first ? hi : mid, depth + 1, ndims, logs, best);
}

/* The trees of every family and device, and the families' dims order. */
static bool build_trees(struct db_index *ix)
{
  for (size_t fi = 0; fi < ix->nfam; fi++) {
    struct ix_family *f = &ix->fam[fi];
    size_t nslots = 16;
    while (nslots < 2 * f->n)
      nslots *= 2;
    f->mask = nslots - 1;
    f->slots = calloc(nslots, sizeof *f->slots);
    f->trees = calloc(ix->ndev ? ix->ndev : 1, sizeof *f->trees);
    if (!f->slots || !f->trees)
      return false;
    for (size_t i = 0; i < f->n; i++)
      f->slots[slot_of(ix, f, ix->prob[f->members[i]].dims)] = f->members[i] + 1;
    for (size_t d = 0; d < ix->ndev; d++) {
      struct ix_tree *t = &f->trees[d];
      for (size_t i = 0; i < f->n; i++) {
        const struct ix_problem *p = &ix->prob[f->members[i]];
        const struct ix_winner *w = ix->win + p->w0, *end = w + p->nw;
        while (w < end && w->device != d)
          w++;
        if (w == end)
          continue;
        if (!t->e && !(t->e = malloc(f->n * sizeof *t->e)))
          return false;
        struct db_shape *s = &t->e[t->n++];
        s->pid = p->pid, s->time = w->time, s->ref = f->members[i];
        memcpy(s->dims, p->dims, sizeof s->dims);
        db_shape_logs(f->ndims, s->dims, s->log_dims);
      }
      if (t->n && (!(t->split = calloc(t->n, sizeof *t->split)) ||
                   !(t->logs = malloc(t->n * (size_t)f->ndims * sizeof *t->logs))))
        return false;
      kd_build(t, 0, t->n, 0, f->ndims);
      for (size_t i = 0; i < t->n; i++)
        memcpy(t->logs + i * (size_t)f->ndims, t->e[i].log_dims,
               (size_t)f->ndims * sizeof *t->logs);
    }
  }
  return true;
}

/* Append s (with its NUL) to ix->text. OUT: its offset and length. */
static bool add_text(struct db_index *ix, const char *s, uint32_t *off, uint32_t *len)
{
  size_t n = strlen(s);
  if (n >= UINT32_MAX / 2 || ix->ntext + n + 1 >= UINT32_MAX)
    return false;
  while (ix->ntext + n + 1 > ix->text_cap) {
    size_t cap = ix->text_cap ? 2 * ix->text_cap : 4096;
    char *g = realloc(ix->text, cap);
    if (!g)
      return false;
    ix->text = g, ix->text_cap = cap;
  }
  memcpy(ix->text + ix->ntext, s, n + 1);
  *off = (uint32_t)ix->ntext, *len = (uint32_t)n;
  ix->ntext += n + 1;
  return true;
}

static int load_rows(struct db *db, struct db_index *ix)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, load_sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "preparing the winners index");
  size_t dev_cap = 0, fam_cap = 0, prob_cap = 0, win_cap = 0;
  int status = AT_OK;
  while (status == AT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t pid = sqlite3_column_int64(st, 0);
    uint32_t dev = device_of(ix, &dev_cap, st);
    uint32_t fam = dev == UINT32_MAX ? UINT32_MAX : family_of(ix, &fam_cap, st);
    if (fam == UINT32_MAX ||
        !grow((void **)&ix->win, &win_cap, ix->nwin, sizeof *ix->win)) {
      status = at_error(AT_NOMEM, "out of memory");
      break;
    }
    if (!ix->nprob || ix->prob[ix->nprob - 1].pid != pid) {
      struct ix_family *f = &ix->fam[fam];
      if (!grow((void **)&ix->prob, &prob_cap, ix->nprob, sizeof *ix->prob) ||
          !grow((void **)&f->members, &f->cap, f->n, sizeof *f->members)) {
        status = at_error(AT_NOMEM, "out of memory");
        break;
      }
      struct ix_problem *p = &ix->prob[ix->nprob];
      *p = (struct ix_problem){.pid = pid, .w0 = ix->nwin};
      for (int i = 0; i < f->ndims; i++)
        p->dims[i] = sqlite3_column_int64(st, 5 + i);
      f->members[f->n++] = (uint32_t)ix->nprob++;
    }
    struct ix_winner *w = &ix->win[ix->nwin++];
    *w = (struct ix_winner){
        .device = dev,
        .time = sqlite3_column_double(st, 18),
        .tflops = sqlite3_column_type(st, 19) == SQLITE_NULL ? NAN
                                                             : sqlite3_column_double(st, 19)};
    bool ok = add_text(ix, col(st, 16), &w->kernel, &w->kernel_len) &&
              add_text(ix, col(st, 17), &w->config, &w->config_len);
    snprintf(w->uuid, sizeof w->uuid, "%s", col(st, 20));
    ix->prob[ix->nprob - 1].nw++;
    if (!ok)
      status = at_error(AT_NOMEM, "out of memory");
  }
  if (status == AT_OK && rc != SQLITE_DONE)
    status = db_sql_error(db, rc, "reading the winners index");
  sqlite3_finalize(st);
  if (status == AT_OK)
    status = db_verify_count(db, "winners", (int64_t)ix->nwin);
  return status;
}

int db_index_load(struct db *db, struct db_index **out)
{
  *out = NULL;
  struct db_index *ix = calloc(1, sizeof *ix);
  if (!ix || !(ix->path = strdup(db->path))) {
    free(ix);
    return at_error(AT_NOMEM, "out of memory");
  }
  bool own = false;
  int rc = db_read_begin(db, &own);
  if (rc == AT_OK) {
    rc = load_rows(db, ix);
    db_read_end(db, own);
  }
  if (rc == AT_OK && !build_trees(ix))
    rc = at_error(AT_NOMEM, "out of memory");
  if (rc != AT_OK) {
    db_index_free(ix);
    return rc;
  }
  *out = ix;
  return AT_OK;
}

size_t db_index_winners(const struct db_index *ix)
{
  return ix->nwin;
}

/* One lookup's state: the family of the asked problem, found by exact_pid. */
struct ix_lookup {
  const struct db_index *ix;
  const struct ix_family *f;
};

static bool same_names(const char *joined, const struct db_problem *p)
{
  for (int i = 0; i < p->ndims; i++) {
    size_t n = strlen(p->dim_names[i]);
    if (strncmp(joined, p->dim_names[i], n) != 0)
      return false;
    joined += n;
    if (*joined != (i + 1 < p->ndims ? ',' : '\0'))
      return false;
    joined += *joined == ',';
  }
  return true;
}

/* The tier's devices, as query.c's SQL filters them. */
static bool in_tier(const struct ix_device *d, int tier, const struct db_query *q)
{
  switch (tier) {
  case 0: return strcmp(d->name, q->device) == 0;
  case 1: return strcmp(d->arch, q->arch) == 0 && (!q->device || strcmp(d->name, q->device));
  default: return strcmp(d->vendor, q->vendor) == 0 && (!q->arch || strcmp(d->arch, q->arch));
  }
}

static int ix_exact_pid(void *ctx, const struct db_problem *p, const char *dims, int64_t *pid)
{
  (void)dims;
  struct ix_lookup *l = ctx;
  const struct db_index *ix = l->ix;
  const char *layout = p->layout ? p->layout : "";
  for (size_t i = 0; i < ix->nfam && !l->f; i++) {
    const struct ix_family *f = &ix->fam[i];
    if (f->ndims == p->ndims && !strcmp(f->op, p->op) && !strcmp(f->dtype, p->dtype) &&
        !strcmp(f->layout, layout) && same_names(f->names, p))
      l->f = f;
  }
  if (!l->f)
    return AT_NOT_FOUND;
  uint32_t found = l->f->slots[slot_of(ix, l->f, p->dims)];
  if (!found)
    return AT_NOT_FOUND;
  *pid = found - 1;
  return AT_OK;
}

/* snprintf's "%s" truncation without its cost, which a lookup would notice. */
static void copy(char *dst, size_t size, const char *src, size_t n)
{
  n = n < size ? n : size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static int ix_best_of(void *ctx, int tier, const struct db_query *q, int64_t pid,
                      struct db_match *out)
{
  const struct db_index *ix = ((struct ix_lookup *)ctx)->ix;
  const struct ix_problem *p = &ix->prob[pid];
  for (const struct ix_winner *w = ix->win + p->w0; w < ix->win + p->w0 + p->nw; w++) {
    if (!in_tier(&ix->dev[w->device], tier, q))
      continue;
    const char *name = ix->dev[w->device].name;
    copy(out->device, sizeof out->device, name, strlen(name));
    copy(out->kernel, sizeof out->kernel, ix->text + w->kernel, w->kernel_len);
    memcpy(out->trial_uuid, w->uuid, sizeof out->trial_uuid);
    out->time_median_us = w->time;
    out->tflops = w->tflops;
    out->config = malloc(w->config_len + 1);
    if (!out->config)
      return at_error(AT_NOMEM, "out of memory");
    memcpy(out->config, ix->text + w->config, w->config_len + 1);
    return AT_OK;
  }
  return AT_NOT_FOUND;
}

static int ix_nearest(void *ctx, int tier, const struct db_query *q, int64_t *pid,
                      int64_t *dims, double *dist)
{
  const struct ix_lookup *l = ctx;
  if (!l->f)
    return AT_NOT_FOUND;
  const struct db_problem *p = q->problem;
  double logs[AT_MAX_DIMS];
  db_shape_logs(p->ndims, p->dims, logs);
  struct db_nearest best = DB_NEAREST_NONE;
  for (size_t d = 0; d < l->ix->ndev; d++) {
    const struct ix_tree *t = &l->f->trees[d];
    if (t->n && in_tier(&l->ix->dev[d], tier, q))
      kd_search(t, 0, t->n, 0, p->ndims, logs, &best);
  }
  if (!best.e)
    return AT_NOT_FOUND;
  *pid = best.e->ref;
  memcpy(dims, best.e->dims, sizeof(int64_t) * (size_t)p->ndims);
  *dist = db_shape_distance(p->ndims, p->dims, best.e->dims);
  return AT_OK;
}

int db_index_best(const struct db_index *ix, const struct db_query *q, struct db_match *out)
{
  memset(out, 0, sizeof *out);
  int rc = db_query_check(q->problem);
  if (rc != AT_OK)
    return rc;
  struct ix_lookup l = {.ix = ix};
  const struct db_rungs mem = {.ctx = &l, .exact_pid = ix_exact_pid, .best_of = ix_best_of,
                               .nearest = ix_nearest};
  rc = db_query_rungs(&mem, q, NULL, out);
  if (rc == AT_NOT_FOUND) {
    char *dims = db_problem_dims_text(q->problem);
    rc = dims ? db_query_not_found(q, dims, ix->path) : at_error(AT_NOMEM, "out of memory");
    free(dims);
  }
  if (rc != AT_OK)
    db_match_release(out);
  return rc;
}
