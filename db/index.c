/*
 * index.c - the in-memory lookup index of the C API: every winner read once, at open,
 * into one arena, so that a lookup runs no SQL, takes no lock and touches few cache
 * lines. It answers exactly as db_query_best (query.c) does: the same rungs
 * (db_query_rungs) and the same nearest-shape ranking (db_shape_d2, db_nearest_better);
 * only where the winners come from differs.
 *
 * Invariants:
 * 1. The index is a snapshot of one read transaction and is never written after
 *    db_index_load returns, so any number of threads may look up in it at once.
 * 2. The arena holds one entry a problem, in problems.id order: its dims, then its
 *    winners best first (least median time, then the lower trial id: query.c's ORDER
 *    BY), each followed by its kernel and config text. An exact hit reads one hash slot
 *    and then one entry whose first winner and text lie next to it.
 * 3. A lookup by profile (db_index_lookup) finds the asked name, case-insensitively,
 *    in a table of every profile's name and arch, hashed at load and holding what it
 *    resolves to in this snapshot: the device, arch and vendor ids of the tiers (a
 *    device id is its place in dev[]; an arch or vendor id, that of its first device).
 *    The tier of a winner is then two integer compares. Families are few (one an op,
 *    dtype and layout): a linear scan whose string compares end at the first differing
 *    byte costs less than hashing the asked strings would.
 * 4. Per family and device, a k-d tree over the log shapes (median split, axis by depth)
 *    holds each problem once with the least time of its winners on that device. A
 *    subtree is skipped only when the split's distance alone exceeds the best found
 *    (strictly), so equally near shapes are all seen and the tie-breaks decide.
 *    A tier of several devices takes the best of its devices' bests: the order is
 *    lexicographic on (distance, time, problem id), and a problem's time in the tier
 *    is its least over those devices, so the two agree.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"
#include "base/device.h"
#include "base/os.h"
#include "base/status.h"

#define KD_LEAF 8        /* shapes scanned flat at the bottom of the tree */
#define NO_ID UINT32_MAX  /* an asked device, arch or vendor the index does not hold */
#define ARENA_MAX ((size_t)UINT32_MAX - 1) /* entries are addressed by 32-bit offsets */

struct ix_device {
  char *name, *arch, *vendor;
  uint32_t arch_id, vendor_id; /* the first device of the same arch, of the same vendor */
};

/* An asked device name (invariant 3): a profile's name, or its arch. */
struct ix_key {
  uint64_t hash; /* nocase_hash(key); 0: an empty slot */
  const char *key;
  const char *device, *arch, *vendor; /* the query it stands for (profile strings) */
  uint32_t dev, arch_id, vendor_id;   /* resolved in this snapshot; NO_ID if none */
};

/* A problem in the arena (invariant 2): ndims dims, then nw winners. */
struct ix_entry {
  uint32_t nw;
  int64_t pid;
  int64_t dims[];
};

/* A winner in the arena, followed by text: kernel, NUL, config, NUL. */
struct ix_win {
  uint32_t device;
  uint32_t size; /* bytes from this winner to the next, a multiple of 8 */
  uint32_t kernel_len, config_len, nparams;
  uint32_t ordinal; /* the winner's place in load order: its trial uuid in uuids[] */
  double time, tflops;
  char text[]; /* kernel, NUL, config, NUL, config split at its commas (nparams), NUL */
};

struct ix_slot {
  uint32_t tag; /* high half of the dims' hash, | 1; 0: empty */
  uint32_t off; /* the entry's arena offset */
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
  uint32_t *members; /* the family's entries (arena offsets), in id order */
  size_t n, cap;
  struct ix_slot *slots; /* exact lookups: open addressing on dims, at most half full */
  size_t mask;
  struct ix_tree *trees; /* one per device */
};

struct db_index {
  char *path;
  struct ix_device *dev;
  size_t ndev;
  struct ix_family *fam;
  size_t nfam;
  char *arena;
  size_t narena, arena_cap;
  size_t nwin;
  char (*uuids)[DB_UUID_LEN + 1]; /* apart from the arena: no lookup of the API reads it */
  size_t uuid_cap;
  struct ix_key *keys; /* open addressing, at most a quarter full */
  size_t key_mask;
};

/* FNV-1a, 64-bit, over the bytes of s with bit 5 set (so that 'A' and 'a' hash alike;
 * a few other bytes fold together too, which the compare after the hash sorts out),
 * | 1: 0 marks an empty slot. */
static uint64_t nocase_hash(const char *s)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++)
    h = (h ^ ((unsigned char)*s | 0x20u)) * 0x100000001b3ull;
  return h | 1;
}

static inline bool same(const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

static inline bool same_nocase(const char *a, const char *b)
{
  for (;; a++, b++) {
    unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
    x = x >= 'A' && x <= 'Z' ? x + 32u : x;
    y = y >= 'A' && y <= 'Z' ? y + 32u : y;
    if (x != y)
      return false;
    if (!x)
      return true;
  }
}

static inline struct ix_entry *entry_at(const struct db_index *ix, uint32_t off)
{
  return (struct ix_entry *)(void *)(ix->arena + off);
}

static inline struct ix_win *first_win(const struct ix_entry *e, int ndims)
{
  return (struct ix_win *)(void *)(e->dims + ndims);
}

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
  free(ix->dev), free(ix->fam), free(ix->arena), free(ix->keys), free(ix->uuids);
  free(ix->path);
  free(ix);
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

/* The device of this row, added when new. NO_ID when out of memory. */
static uint32_t device_of(struct db_index *ix, size_t *cap, sqlite3_stmt *st)
{
  const char *name = col(st, 13);
  for (size_t i = ix->ndev; i-- > 0;)
    if (strcmp(ix->dev[i].name, name) == 0)
      return (uint32_t)i;
  if (os_grow(&ix->dev, cap, ix->ndev + 1, sizeof *ix->dev, 16) != AT_OK)
    return NO_ID;
  bool ok = true;
  struct ix_device *d = &ix->dev[ix->ndev++];
  *d = (struct ix_device){.name = dup(name, &ok), .arch = dup(col(st, 14), &ok),
                          .vendor = dup(col(st, 15), &ok)};
  if (!ok)
    return NO_ID;
  d->arch_id = d->vendor_id = (uint32_t)(ix->ndev - 1);
  for (size_t i = 0; i + 1 < ix->ndev; i++) {
    if (d->arch_id == ix->ndev - 1 && strcmp(ix->dev[i].arch, d->arch) == 0)
      d->arch_id = ix->dev[i].arch_id;
    if (d->vendor_id == ix->ndev - 1 && strcmp(ix->dev[i].vendor, d->vendor) == 0)
      d->vendor_id = ix->dev[i].vendor_id;
  }
  return (uint32_t)(ix->ndev - 1);
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
  if (os_grow(&ix->fam, cap, ix->nfam + 1, sizeof *ix->fam, 16) != AT_OK)
    return NO_ID;
  bool ok = true;
  struct ix_family *f = &ix->fam[ix->nfam++];
  *f = (struct ix_family){.op = dup(op, &ok), .dtype = dup(dtype, &ok),
                          .layout = dup(layout, &ok), .names = dup(names, &ok), .ndims = 1};
  for (const char *c = names; *c; c++)
    f->ndims += *c == ',';
  if (f->ndims > AT_MAX_DIMS)
    f->ndims = AT_MAX_DIMS;
  return ok ? (uint32_t)(ix->nfam - 1) : NO_ID;
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

/* The slot of dims in f: the entry's (slots[i].tag != 0) or the empty one where it would
 * go (tag 0). */
static size_t slot_of(const struct db_index *ix, const struct ix_family *f,
                      const int64_t *dims)
{
  uint64_t h = hash_dims(dims, f->ndims);
  uint32_t tag = (uint32_t)(h >> 32) | 1;
  size_t i = (size_t)h & f->mask;
  for (; f->slots[i].tag; i = (i + 1) & f->mask)
    if (f->slots[i].tag == tag &&
        memcmp(entry_at(ix, f->slots[i].off)->dims, dims, sizeof *dims * (size_t)f->ndims) == 0)
      break;
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

/* Invariant 4: the far side is searched unless its split alone is farther than the
 * best. For a shape beyond the split, |logs[a] - its log| >= |logs[a] - split| also
 * after rounding (subtraction and squaring round monotonically), and db_shape_d2 adds
 * non-negative terms, so the bound never exceeds its distance. (Bounding by the whole
 * box, Arya and Mount's incremental distance, pruned no more on gemm shapes and cost
 * 14% more instructions a lookup.) */
static void kd_search(const struct ix_tree *t, size_t lo, size_t hi, int axis, int ndims,
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
  /* the axis cycles with depth, as kd_build splits (no division on this path) */
  size_t mid = lo + (hi - lo) / 2;
  int next = axis + 1 == ndims ? 0 : axis + 1;
  double diff = logs[axis] - t->split[mid];
  bool left_first = diff < 0;
  kd_search(t, left_first ? lo : mid, left_first ? mid : hi, next, ndims, logs, best);
  if (!best->e || diff * diff <= best->d2)
    kd_search(t, left_first ? mid : lo, left_first ? hi : mid, next, ndims, logs, best);
}

/* The slot tables and trees of every family and device. */
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
    for (size_t i = 0; i < f->n; i++) {
      const int64_t *dims = entry_at(ix, f->members[i])->dims;
      size_t at = slot_of(ix, f, dims);
      f->slots[at] = (struct ix_slot){(uint32_t)(hash_dims(dims, f->ndims) >> 32) | 1,
                                      f->members[i]};
    }
    for (size_t d = 0; d < ix->ndev; d++) {
      struct ix_tree *t = &f->trees[d];
      for (size_t i = 0; i < f->n; i++) {
        const struct ix_entry *p = entry_at(ix, f->members[i]);
        const struct ix_win *w = first_win(p, f->ndims);
        uint32_t k = 0;
        for (; k < p->nw && w->device != d; k++)
          w = (const struct ix_win *)(const void *)((const char *)w + w->size);
        if (k == p->nw)
          continue;
        if (!t->e && !(t->e = malloc(f->n * sizeof *t->e)))
          return false;
        struct db_shape *s = &t->e[t->n++];
        s->pid = p->pid, s->time = w->time, s->ref = f->members[i];
        memset(s->dims, 0, sizeof s->dims);
        memcpy(s->dims, p->dims, sizeof *s->dims * (size_t)f->ndims);
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

/* Room for n more bytes at the end of the arena (8-aligned records). */
static bool arena_reserve(struct db_index *ix, size_t n)
{
  if (n > ARENA_MAX - ix->narena)
    return false;
  return os_grow(&ix->arena, &ix->arena_cap, ix->narena + n, 1, 1 << 16) == AT_OK;
}

#define ROUND8(n) (((n) + 7) & ~(size_t)7)

/* Append this row's winner to the arena (after its entry, opened when new). */
static bool add_row(struct db_index *ix, sqlite3_stmt *st, uint32_t dev, uint32_t fam,
                    size_t *fam_caps, uint32_t *cur)
{
  struct ix_family *f = &ix->fam[fam];
  int64_t pid = sqlite3_column_int64(st, 0);
  if (*cur == NO_ID || entry_at(ix, *cur)->pid != pid) {
    size_t size = sizeof(struct ix_entry) + sizeof(int64_t) * (size_t)f->ndims;
    if (!arena_reserve(ix, size) ||
        os_grow(&f->members, &fam_caps[fam], f->n + 1, sizeof *f->members, 16) != AT_OK)
      return false;
    *cur = (uint32_t)ix->narena;
    struct ix_entry *e = entry_at(ix, *cur);
    e->nw = 0, e->pid = pid;
    for (int i = 0; i < f->ndims; i++)
      e->dims[i] = sqlite3_column_int64(st, 5 + i);
    ix->narena += size;
    f->members[f->n++] = *cur;
  }
  const char *kernel = col(st, 16), *config = col(st, 17);
  size_t klen = strlen(kernel), clen = strlen(config);
  if (klen >= UINT32_MAX / 4 || clen >= UINT32_MAX / 4)
    return false;
  size_t size = ROUND8(offsetof(struct ix_win, text) + klen + 2 * clen + 3);
  if (!arena_reserve(ix, size) ||
      os_grow(&ix->uuids, &ix->uuid_cap, ix->nwin + 1, sizeof *ix->uuids, 16) != AT_OK)
    return false;
  snprintf(ix->uuids[ix->nwin], sizeof *ix->uuids, "%s", col(st, 20));
  struct ix_win *w = (struct ix_win *)(void *)(ix->arena + ix->narena);
  w->device = dev, w->size = (uint32_t)size;
  w->kernel_len = (uint32_t)klen, w->config_len = (uint32_t)clen;
  w->time = sqlite3_column_double(st, 18);
  w->tflops = sqlite3_column_type(st, 19) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 19);
  w->ordinal = (uint32_t)ix->nwin;
  memcpy(w->text, kernel, klen + 1);
  memcpy(w->text + klen + 1, config, clen + 1);
  char *split = w->text + klen + 1 + clen + 1;
  memcpy(split, config, clen + 1);
  w->nparams = 1;
  for (char *c = split; *c; c++)
    if (*c == ',')
      *c = '\0', w->nparams++;
  ix->narena += size;
  entry_at(ix, *cur)->nw++;
  ix->nwin++;
  return true;
}

static int load_rows(struct db *db, struct db_index *ix)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, load_sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "preparing the winners index");
  size_t dev_cap = 0, fam_cap = 0, *fam_caps = NULL;
  uint32_t cur = NO_ID;
  int status = AT_OK;
  while (status == AT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    uint32_t dev = device_of(ix, &dev_cap, st);
    size_t had = ix->nfam;
    uint32_t fam = dev == NO_ID ? NO_ID : family_of(ix, &fam_cap, st);
    if (fam != NO_ID && ix->nfam > had) {
      size_t *g = realloc(fam_caps, ix->nfam * sizeof *g);
      fam = g ? fam : NO_ID;
      fam_caps = g ? g : fam_caps;
      if (g)
        g[fam] = 0;
    }
    if (fam == NO_ID || !add_row(ix, st, dev, fam, fam_caps, &cur))
      status = at_error(AT_NOMEM, "out of memory reading the winners index of '%.200s'",
                        db->path);
  }
  free(fam_caps);
  if (status == AT_OK && rc != SQLITE_DONE)
    status = db_sql_error(db, rc, "reading the winners index");
  sqlite3_finalize(st);
  if (status == AT_OK)
    status = db_verify_count(db, "winners", (int64_t)ix->nwin);
  return status;
}

/* One lookup's state: the asked device, arch and vendor as ids (invariant 3), and the
 * family of the asked problem, found by ix_exact_pid. */
struct ix_lookup {
  const struct db_index *ix;
  const struct ix_family *f;
  uint32_t dev, arch, vendor;
};

static bool same_names(const char *joined, const struct db_problem *p)
{
  for (int i = 0; i < p->ndims; i++) {
    const char *n = p->dim_names[i];
    while (*n && *n == *joined)
      n++, joined++;
    if (*n || *joined != (i + 1 < p->ndims ? ',' : '\0'))
      return false;
    joined += *joined == ',';
  }
  return true;
}

/* The ids of q's device, arch and vendor (NO_ID where asked for none or none held). */
static void resolve(const struct db_index *ix, const struct db_query *q, uint32_t *dev,
                    uint32_t *arch, uint32_t *vendor)
{
  *dev = *arch = *vendor = NO_ID;
  for (size_t i = 0; i < ix->ndev; i++) {
    const struct ix_device *d = &ix->dev[i];
    if (q->device && *dev == NO_ID && same(d->name, q->device))
      *dev = (uint32_t)i;
    if (q->arch && *arch == NO_ID && same(d->arch, q->arch))
      *arch = d->arch_id;
    if (q->vendor && *vendor == NO_ID && same(d->vendor, q->vendor))
      *vendor = d->vendor_id;
  }
}

static const struct ix_key *key_find(const struct db_index *ix, const char *key)
{
  uint64_t hash = nocase_hash(key);
  for (size_t i = hash & ix->key_mask; ix->keys[i].hash; i = (i + 1) & ix->key_mask)
    if (ix->keys[i].hash == hash && same_nocase(ix->keys[i].key, key))
      return &ix->keys[i];
  return NULL;
}

/* The key table: every profile's name, then each arch not already a key (dev_find's
 * order: the first profile of an arch stands for it), resolved in this snapshot. */
static bool build_keys(struct db_index *ix)
{
  const struct dev_profile *prof = dev_profiles();
  size_t n = dev_profile_count(), nslots = 16;
  while (nslots < 8 * n)
    nslots *= 2;
  if (!(ix->keys = calloc(nslots, sizeof *ix->keys)))
    return false;
  ix->key_mask = nslots - 1;
  for (int by_arch = 0; by_arch < 2; by_arch++)
    for (size_t i = 0; i < n; i++) {
      const char *key = by_arch ? prof[i].arch : prof[i].name;
      if (key_find(ix, key))
        continue;
      struct ix_key k = {.hash = nocase_hash(key), .key = key,
                         .device = by_arch ? NULL : prof[i].name, .arch = prof[i].arch,
                         .vendor = dev_vendor_name(prof[i].vendor)};
      struct db_query q = {.device = k.device, .arch = k.arch, .vendor = k.vendor};
      resolve(ix, &q, &k.dev, &k.arch_id, &k.vendor_id);
      size_t at = k.hash & ix->key_mask;
      while (ix->keys[at].hash)
        at = (at + 1) & ix->key_mask;
      ix->keys[at] = k;
    }
  return true;
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
  if (rc == AT_OK && (!build_trees(ix) || !build_keys(ix)))
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

/* Whether device d is in the tier, as query.c's SQL filters it. */
static inline bool in_tier(const struct ix_lookup *l, uint32_t d, int tier)
{
  const struct ix_device *dev = &l->ix->dev[d];
  switch (tier) {
  case 0: return d == l->dev;
  case 1: return dev->arch_id == l->arch && d != l->dev;
  default: return dev->vendor_id == l->vendor && dev->arch_id != l->arch;
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
    if (f->ndims == p->ndims && same(f->op, p->op) && same(f->dtype, p->dtype) &&
        same(f->layout, layout) && same_names(f->names, p))
      l->f = f;
  }
  if (!l->f)
    return AT_NOT_FOUND;
  const struct ix_slot *s = &l->f->slots[slot_of(ix, l->f, p->dims)];
  if (!s->tag)
    return AT_NOT_FOUND;
  *pid = s->off;
  return AT_OK;
}

static int ix_best_of(void *ctx, int tier, const struct db_query *q, int64_t pid, void *out)
{
  (void)q;
  const struct ix_lookup *l = ctx;
  const struct ix_entry *e = entry_at(l->ix, (uint32_t)pid);
  const struct ix_win *w = first_win(e, l->f->ndims);
  for (uint32_t k = 0; k < e->nw;
       k++, w = (const struct ix_win *)(const void *)((const char *)w + w->size)) {
    if (!in_tier(l, w->device, tier))
      continue;
    struct db_hit *hit = out;
    hit->device = l->ix->dev[w->device].name;
    hit->kernel = w->text, hit->kernel_len = w->kernel_len;
    hit->config = w->text + w->kernel_len + 1, hit->config_len = w->config_len;
    hit->params = hit->config + w->config_len + 1, hit->nparams = (int)w->nparams;
    hit->trial_uuid = l->ix->uuids[w->ordinal];
    hit->time_median_us = w->time, hit->tflops = w->tflops;
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
    if (t->n && in_tier(l, (uint32_t)d, tier))
      kd_search(t, 0, t->n, 0, p->ndims, logs, &best);
  }
  if (!best.e)
    return AT_NOT_FOUND;
  *pid = best.e->ref;
  memcpy(dims, best.e->dims, sizeof(int64_t) * (size_t)p->ndims);
  *dist = sqrt(best.d2);
  return AT_OK;
}

/* The rungs over the index for q, whose device, arch and vendor l holds as ids. */
static int find(struct ix_lookup *l, const struct db_query *q, struct db_hit *out)
{
  int rc = db_query_check(q->problem);
  if (rc != AT_OK)
    return rc;
  const struct db_rungs mem = {.ctx = l, .exact_pid = ix_exact_pid, .best_of = ix_best_of,
                               .nearest = ix_nearest};
  struct db_rung rung;
  rc = db_query_rungs(&mem, q, NULL, out, &rung);
  if (rc == AT_OK) {
    out->match = rung.match;
    out->distance = rung.distance;
    out->ndims = q->problem->ndims;
    memcpy(out->dims, rung.dims, sizeof(int64_t) * (size_t)out->ndims);
  } else if (rc == AT_NOT_FOUND) {
    char *dims = db_problem_dims_text(q->problem);
    rc = dims ? db_query_not_found(q, dims, l->ix->path, rung.refused)
              : at_error(AT_NOMEM, "out of memory");
    free(dims);
  }
  return rc;
}

int db_index_find(const struct db_index *ix, const struct db_query *q, struct db_hit *out)
{
  struct ix_lookup l = {.ix = ix};
  resolve(ix, q, &l.dev, &l.arch, &l.vendor);
  return find(&l, q, out);
}

int db_index_lookup(const struct db_index *ix, const char *device, const struct db_problem *p,
                    struct db_hit *out)
{
  const struct ix_key *k = key_find(ix, device);
  if (!k) /* not a profile: a device of the file by its own name, or nothing */
    return db_index_find(ix, &(struct db_query){.device = device, .problem = p}, out);
  struct ix_lookup l = {.ix = ix, .dev = k->dev, .arch = k->arch_id, .vendor = k->vendor_id};
  struct db_query q = {.device = k->device, .arch = k->arch, .vendor = k->vendor, .problem = p};
  return find(&l, &q, out);
}

/* snprintf's "%s" truncation without its cost. */
static void copy(char *dst, size_t size, const char *src, size_t n)
{
  n = n < size ? n : size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int db_index_best(const struct db_index *ix, const struct db_query *q, struct db_match *out)
{
  memset(out, 0, sizeof *out);
  struct db_hit hit;
  int rc = db_index_find(ix, q, &hit);
  if (rc != AT_OK)
    return rc;
  out->match = hit.match;
  out->distance = hit.distance;
  out->ndims = hit.ndims;
  memcpy(out->dims, hit.dims, sizeof(int64_t) * (size_t)hit.ndims);
  copy(out->device, sizeof out->device, hit.device, strlen(hit.device));
  copy(out->kernel, sizeof out->kernel, hit.kernel, hit.kernel_len);
  copy(out->trial_uuid, sizeof out->trial_uuid, hit.trial_uuid, strlen(hit.trial_uuid));
  out->time_median_us = hit.time_median_us;
  out->tflops = hit.tflops;
  if (!(out->config = strdup(hit.config)))
    return at_error(AT_NOMEM, "out of memory");
  return AT_OK;
}
