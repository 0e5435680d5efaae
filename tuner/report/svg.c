/*
 * svg.c - the plot helper (svg.h): axis ranges and ticks, the frame, and marks in data
 * coordinates. Ticks: a linear axis steps by 1, 2 or 5 times a power of ten, aiming at
 * SVG_TICKS_LINEAR labels; a log axis labels each decade, and 2 and 5 within it when
 * the range spans fewer than SVG_LOG_FINE_DECADES decades.
 */
#include "tuner/report/svg.h"

#include <math.h>
#include <string.h>

#include "tuner/report/html.h"

#define SVG_MARGIN_LEFT 64   /* room for the y tick labels and the y label */
#define SVG_MARGIN_RIGHT 14
#define SVG_MARGIN_TOP 30    /* the title */
#define SVG_MARGIN_BOTTOM 46 /* x tick labels and the x label */
#define SVG_TICKS_LINEAR 6
#define SVG_LOG_FINE_DECADES 3
#define SVG_LEGEND_ROW 15    /* pixels between legend entries */

/* Okabe-Ito's colour-blind-safe palette, then two greys. */
static const char *const palette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                      "#d55e00", "#56b4e9", "#8c6d1f", "#000000",
                                      "#7f7f7f", "#b0b0b0"};
#define NPALETTE (sizeof palette / sizeof palette[0])

const char *svg_color(int i)
{
  return palette[(size_t)(i < 0 ? 0 : i) % NPALETTE];
}

void svg_axis_init(struct svg_axis *a, const char *label, enum svg_scale scale)
{
  memset(a, 0, sizeof *a);
  a->label = label;
  a->scale = scale;
  a->min = a->max = NAN;
}

void svg_axis_include(struct svg_axis *a, double v)
{
  if (!isfinite(v) || (a->scale == SVG_LOG && v <= 0))
    return;
  if (isnan(a->min) || v < a->min)
    a->min = v;
  if (isnan(a->max) || v > a->max)
    a->max = v;
}

static void axis_settle(struct svg_axis *a)
{
  if (a->scale == SVG_CATEGORY) {
    a->min = -0.5;
    a->max = a->ncats ? (double)a->ncats - 0.5 : 0.5;
    return;
  }
  if (a->scale == SVG_LOG) {
    if (isnan(a->min)) {
      a->min = 1;
      a->max = 10;
    }
    /* whole or half decades around the data, so every chart shows a labelled tick */
    double lo = floor(log10(a->min) * 2) / 2, hi = ceil(log10(a->max) * 2) / 2;
    if (hi <= lo)
      hi = lo + 0.5;
    a->min = pow(10, lo);
    a->max = pow(10, hi);
    return;
  }
  if (isnan(a->min)) {
    a->min = 0;
    a->max = 1;
  }
  if (a->max <= a->min) {
    double w = a->min != 0 ? fabs(a->min) * 0.1 : 1;
    a->min -= w;
    a->max += w;
  }
}

static double frac(const struct svg_axis *a, double v)
{
  double t;
  if (a->scale == SVG_LOG)
    t = v > 0 ? (log10(v) - log10(a->min)) / (log10(a->max) - log10(a->min)) : 0;
  else
    t = (v - a->min) / (a->max - a->min);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

double svg_px(const struct svg_plot *p, double x)
{
  return p->left + frac(&p->x, x) * (p->right - p->left);
}

double svg_py(const struct svg_plot *p, double y)
{
  return p->bottom - frac(&p->y, y) * (p->bottom - p->top);
}

/* The tick values of an axis into t[cap]; returns how many. */
static int ticks(const struct svg_axis *a, double *t, int cap)
{
  int n = 0;
  if (a->scale == SVG_CATEGORY) {
    for (size_t i = 0; i < a->ncats && n < cap; i++)
      t[n++] = (double)i;
    return n;
  }
  if (a->scale == SVG_LOG) {
    int lo = (int)floor(log10(a->min) + 1e-9), hi = (int)ceil(log10(a->max) - 1e-9);
    bool fine = hi - lo < SVG_LOG_FINE_DECADES;
    for (int d = lo; d <= hi && n < cap; d++)
      for (int m = 1; m <= 5 && n < cap; m += m == 1 ? 1 : 3) { /* 1, 2, 5 */
        if (m > 1 && !fine)
          break;
        double v = m * pow(10, d);
        if (v >= a->min * (1 - 1e-9) && v <= a->max * (1 + 1e-9))
          t[n++] = v;
      }
    return n;
  }
  double span = a->max - a->min, raw = span / SVG_TICKS_LINEAR;
  double mag = pow(10, floor(log10(raw))), step = mag;
  if (raw / mag > 5)
    step = 10 * mag;
  else if (raw / mag > 2)
    step = 5 * mag;
  else if (raw / mag > 1)
    step = 2 * mag;
  for (double v = ceil(a->min / step) * step; v <= a->max + step * 1e-9 && n < cap; v += step)
    t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
  return n;
}

static void tick_text(const struct svg_axis *a, double v, char *out, size_t len)
{
  if (a->scale == SVG_CATEGORY) {
    size_t i = (size_t)v;
    snprintf(out, len, "%s", i < a->ncats && a->cats[i] ? a->cats[i] : "");
  } else if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-3)) {
    snprintf(out, len, "%.0e", v);
  } else {
    snprintf(out, len, "%g", v);
  }
}

void svg_plot_begin(struct svg_plot *p, FILE *f)
{
  p->f = f;
  p->nlegend = 0;
  axis_settle(&p->x);
  axis_settle(&p->y);
  p->left = SVG_MARGIN_LEFT;
  p->right = p->width - SVG_MARGIN_RIGHT;
  p->top = SVG_MARGIN_TOP;
  p->bottom = p->height - SVG_MARGIN_BOTTOM;
  fprintf(f, "<svg class=\"plot\" id=\"");
  html_escape(f, p->id);
  fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", p->width, p->height,
          p->width, p->height);
  html_escape(f, p->title);
  fprintf(f, "\">\n<text class=\"ttl\" x=\"%.1f\" y=\"18\">", p->left);
  html_escape(f, p->title);
  fputs("</text>\n<g class=\"grid\">", f);
  double t[64];
  int nx = ticks(&p->x, t, 64);
  for (int i = 0; i < nx; i++)
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", svg_px(p, t[i]),
            p->top, svg_px(p, t[i]), p->bottom);
  double u[64];
  int ny = ticks(&p->y, u, 64);
  for (int i = 0; i < ny; i++)
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", p->left,
            svg_py(p, u[i]), p->right, svg_py(p, u[i]));
  fprintf(f, "</g>\n<rect class=\"axis\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
             "height=\"%.1f\" fill=\"none\"/>\n",
          p->left, p->top, p->right - p->left, p->bottom - p->top);
  /* category labels are rotated when there are many of them */
  bool tilt = p->x.scale == SVG_CATEGORY && nx > 6;
  for (int i = 0; i < nx; i++) {
    char s[64];
    tick_text(&p->x, t[i], s, sizeof s);
    double x = svg_px(p, t[i]), y = p->bottom + 14;
    if (tilt)
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                 "transform=\"rotate(-30 %.1f %.1f)\">", x, y, x, y);
    else
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y);
    html_escape(f, s);
    fputs("</text>", f);
  }
  for (int i = 0; i < ny; i++) {
    char s[64];
    tick_text(&p->y, u[i], s, sizeof s);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", p->left - 5,
            svg_py(p, u[i]) + 4);
    html_escape(f, s);
    fputs("</text>", f);
  }
  fprintf(f, "\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
          (p->left + p->right) / 2, p->height - 6);
  html_escape(f, p->x.label);
  fprintf(f, "</text>\n<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
             "transform=\"rotate(-90 14 %.1f)\">",
          (p->top + p->bottom) / 2, (p->top + p->bottom) / 2);
  html_escape(f, p->y.label);
  fputs("</text>\n", f);
}

void svg_plot_end(struct svg_plot *p)
{
  fputs("</svg>\n", p->f);
}

void svg_line(struct svg_plot *p, size_t n, const double *xs, const double *ys, int color,
              bool step, const char *label)
{
  FILE *f = p->f;
  fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
             "points=\"", svg_color(color));
  bool any = false;
  double prev_y = NAN;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(xs[i]) || !isfinite(ys[i]))
      continue;
    if (step && any)
      fprintf(f, " %.1f,%.1f", svg_px(p, xs[i]), svg_py(p, prev_y));
    fprintf(f, "%s%.1f,%.1f", any ? " " : "", svg_px(p, xs[i]), svg_py(p, ys[i]));
    prev_y = ys[i];
    any = true;
  }
  fputs("\"/>\n", f);
  if (label)
    svg_legend(p, svg_color(color), label);
}

void svg_point(struct svg_plot *p, double x, double y, int color, double r, const char *title)
{
  if (!isfinite(x) || !isfinite(y))
    return;
  fprintf(p->f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.75\">",
          svg_px(p, x), svg_py(p, y), r, svg_color(color));
  if (title) {
    fputs("<title>", p->f);
    html_escape(p->f, title);
    fputs("</title>", p->f);
  }
  fputs("</circle>\n", p->f);
}

void svg_segment(struct svg_plot *p, double x0, double y0, double x1, double y1,
                 const char *color, bool dash, const char *cls)
{
  fprintf(p->f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"2\"%s/>\n",
          cls ? cls : "seg", svg_px(p, x0), svg_py(p, y0), svg_px(p, x1), svg_py(p, y1),
          color, dash ? " stroke-dasharray=\"6 4\"" : "");
}

void svg_label(struct svg_plot *p, double x, double y, const char *anchor, double dy,
               const char *color, const char *text)
{
  fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" style=\"fill:%s\">",
          svg_px(p, x), svg_py(p, y) + dy, anchor, color);
  html_escape(p->f, text);
  fputs("</text>\n", p->f);
}

void svg_legend(struct svg_plot *p, const char *color, const char *text)
{
  bool low = p->legend_low_left;
  double y = low ? p->bottom - 8 - SVG_LEGEND_ROW * p->nlegend
                 : p->top + 10 + SVG_LEGEND_ROW * p->nlegend;
  double sw = low ? p->left + 8 : p->right - 18, tx = low ? sw + 14 : sw - 4;
  p->nlegend++;
  fprintf(p->f, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
                "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                "stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">",
          sw, y - 8, color, tx, y + 1, low ? "start" : "end");
  html_escape(p->f, text);
  fputs("</text></g>\n", p->f);
}
