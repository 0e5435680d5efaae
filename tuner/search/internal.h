/*
 * internal.h - what the strategies in tuner/search/ share and no caller sees: the
 * coordinate index, the state of one search_run (costs seen, budget, the evaluator) and
 * the steps every strategy takes through it (visit a point, pick a fresh one, pick a
 * neighbour). search.c owns the state's lifecycle; each strategy file gets a live state
 * and returns when the search must end.
 */
#ifndef AT_TUNER_SEARCH_INTERNAL_H
#define AT_TUNER_SEARCH_INTERNAL_H

#include "tuner/search/search.h"

struct search_index {
  const struct search_space *sp;
  size_t *slots;     /* point + 1, 0 empty */
  size_t mask;
};

struct search_state {
  const struct search_space *sp;
  const struct search_opts *o;
  search_eval_fn eval;
  void *ctx;
  struct search_rng rng;
  struct search_index idx;
  size_t *nb;              /* npoints x 2 ndims (search_neighbours' table) */
  int32_t *max;            /* ndims: the largest coordinate of each dim */
  double *cost;            /* per point; NAN: not evaluated */
  size_t left;             /* points not evaluated */
  size_t limit;            /* evaluations allowed */
  double t0;
  int rc;                  /* first non-OK from eval, SEARCH_STOP included */
  bool unbuilt;            /* the last point search_visit evaluated was SEARCH_UNBUILT */
  struct search_result *res;
};

/* The point with coordinates c; SIZE_MAX when c is no valid point. */
size_t search_index_find(const struct search_index *x, const int32_t *c);
/* True when the search must end now (budget, time, exhausted, stopped); sets res->end. */
bool search_done(struct search_state *s);
/* The cost of p, evaluating it when new (invariants 1 and 5 of search.c; s->unbuilt says
 * whether a new one was unbuilt). False when the search must end before p could be
 * evaluated. */
bool search_visit(struct search_state *s, size_t p, double *cost);
/* A uniformly chosen point not yet evaluated; SIZE_MAX when none. */
size_t search_random_fresh(struct search_state *s);
/* A uniformly chosen neighbour of p (search_neighbours); SIZE_MAX when none. */
size_t search_random_neighbour(struct search_state *s, size_t p);

/* The strategies that live in their own files. */
void search_run_bo(struct search_state *s);     /* bo.c */

#endif
