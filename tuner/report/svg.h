/*
 * svg.h - the one plot helper behind every chart of `autotune report`: a frame with
 * axes (linear, logarithmic or categorical), grid lines and tick labels, and the marks
 * drawn in data coordinates (lines, step lines, points with a hover title, segments,
 * labels), with a legend. It writes inline SVG 1.1 into an HTML page; no script, no
 * network. It knows nothing of tuning: the report (tuner/cli/cmd_report.c) decides what
 * to plot. html.h escapes its text.
 */
#ifndef AT_TUNER_REPORT_SVG_H
#define AT_TUNER_REPORT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum svg_scale { SVG_LINEAR, SVG_LOG, SVG_CATEGORY };

/* An axis: its label, scale and range. A category axis has ncats named slots at 0, 1,
 * ... ncats - 1 (min and max are set by svg_plot_begin). */
struct svg_axis {
  const char *label;
  enum svg_scale scale;
  double min, max;          /* NAN until svg_axis_include sees a value */
  const char *const *cats;  /* SVG_CATEGORY: the slots' names */
  size_t ncats;
};

/* Start an axis with no range yet. */
void svg_axis_init(struct svg_axis *a, const char *label, enum svg_scale scale);
/* Widen the axis's range to hold v (NAN, infinities and, on a log axis, v <= 0 are
 * ignored). */
void svg_axis_include(struct svg_axis *a, double v);

/* One chart. Fill id, title, x, y, width and height, then svg_plot_begin. */
struct svg_plot {
  FILE *f;
  const char *id;        /* the <svg> element's id: how a test finds the chart */
  const char *title;     /* drawn above the frame */
  struct svg_axis x, y;
  int width, height;     /* pixels */
  bool legend_low_left;  /* legend in the frame's bottom left corner (stacked upwards)
                            instead of its top right: where descending curves are not */
  /* set by svg_plot_begin: the frame's corners in pixels */
  double left, right, top, bottom;
  int nlegend;           /* legend entries drawn so far */
};

/* Open the <svg class="plot"> element and draw the frame, grid, ticks and labels. An
 * axis with no range gets [0, 1] (linear) or [1, 10] (log); a range of one value is
 * widened around it; log ranges are widened to whole or half decades. */
void svg_plot_begin(struct svg_plot *p, FILE *f);
/* Close the element. */
void svg_plot_end(struct svg_plot *p);

/* A data coordinate in pixels (values outside the range are clamped to the frame). */
double svg_px(const struct svg_plot *p, double x);
double svg_py(const struct svg_plot *p, double y);

/* The categorical palette: colour i (any i >= 0; it cycles). */
const char *svg_color(int i);

/* A line through the n points (xs[i], ys[i]) skipping non-finite ones; step: hold each
 * y until the next x (a best-so-far curve). Drawn as <polyline class="series">; a
 * legend entry is added when label is not NULL. */
void svg_line(struct svg_plot *p, size_t n, const double *xs, const double *ys, int color,
              bool step, const char *label);
/* One point (<circle class="pt">) with a hover title (may be NULL); r in pixels. */
void svg_point(struct svg_plot *p, double x, double y, int color, double r, const char *title);
/* A segment between two data points; dash: dashed; cls: the element's class. */
void svg_segment(struct svg_plot *p, double x0, double y0, double x1, double y1,
                 const char *color, bool dash, const char *cls);
/* Text at a data point, anchored "start", "middle" or "end", dy pixels below it. */
void svg_label(struct svg_plot *p, double x, double y, const char *anchor, double dy,
               const char *color, const char *text);
/* A legend entry (a swatch and its text, haloed in white so that a line under it does
 * not hide it) in the frame's top right corner, or bottom left (legend_low_left). */
void svg_legend(struct svg_plot *p, const char *color, const char *text);

#endif
