/*
 * replay.h - a measurement stand-in that answers from trials already in a database
 * (meas_replay.c): the search benchmark replays recorded runs through it.
 */
#ifndef AT_TUNER_MEASURE_REPLAY_H
#define AT_TUNER_MEASURE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "tuner/measure/worker.h"

struct meas_replay;

/* Load the trials of (device, kernel, problem) from the database at db_path (read-only);
 * the latest trial per config answers for it. OUT: *out. AT_OK (possibly with no
 * trials), or db_open's status. */
int meas_replay_open(const char *db_path, const char *device, const char *kernel,
                     const struct db_problem *problem, struct meas_replay **out);
void meas_replay_close(struct meas_replay *r);
/* The configs it knows, in first-seen order. */
size_t meas_replay_count(const struct meas_replay *r);
const char *meas_replay_config(const struct meas_replay *r, size_t i);
/* The recorded outcome of `config` (canonical text). AT_OK with *m; AT_NOT_FOUND
 * ("replay: no trial of config '...' in the database") when there is no record: a
 * result is never invented. */
int meas_replay_lookup(const struct meas_replay *r, const char *config, struct meas_result *m);

/* Coordinates for search.h from canonical config texts: each key is a dim, each value
 * its rank among the values that key takes (numeric order). Keys must be the same in
 * every config. OUT: *coords (malloc'd, n * *ndims), *ndims. AT_OK, AT_PARSE, AT_NOMEM. */
int meas_coords_from_configs(const char *const *configs, size_t n, int32_t **coords,
                             size_t *ndims);

#endif
