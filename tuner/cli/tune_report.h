/*
 * tune_report.h - the commands' printer of a tuning run: fills struct tune_opts's report
 * callbacks (tune.h) with the progress line, warnings, each problem's table (or JSON)
 * and the run's last line.
 */
#ifndef AT_TUNER_CLI_TUNE_REPORT_H
#define AT_TUNER_CLI_TUNE_REPORT_H

#include <stdbool.h>

#include "tuner/engine/bundle.h"
#include "tuner/engine/tune.h"

struct tune_printer {
  bool json;          /* one JSON object on stdout instead of text */
  bool progress;      /* the \r progress line (a terminal, not --json) */
  bool shown;         /* a progress line is on the screen */
  bool json_open;     /* the JSON object was opened and not closed */
  size_t lines_at;    /* -v: measurements ended when the last line was printed */
};

/* Point o's report at pr; bundle: making a bundle (progress and warnings only). */
void tune_printer_init(struct tune_printer *pr, struct tune_opts *o, bool json,
                       bool bundle);
/* The last word of `autotune bundle`: where, what, how big (or one JSON object). */
void tune_report_bundle(const struct bundle *b, bool json);
/* After tune_run, whatever it returned: clear the progress line, close an open JSON
 * object. */
void tune_printer_finish(struct tune_printer *pr);

#endif
