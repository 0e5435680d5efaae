/*
 * html.c - escaping and the page frame of a report (html.h). The style sheet is inline
 * and small: system fonts, tables with right-aligned numbers, charts laid out in a grid
 * that wraps on a narrow window.
 */
#include "tuner/report/html.h"

#include <stdarg.h>

#define HTML_ESCAPEF_MAX 1024

void html_escape(FILE *f, const char *s)
{
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

void html_escapef(FILE *f, const char *fmt, ...)
{
  char buf[HTML_ESCAPEF_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  html_escape(f, buf);
}

static const char style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d232a;"
    "margin:0 auto;max-width:1240px;padding:18px 24px;background:#fff}"
    "h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:26px 0 6px;"
    "border-bottom:1px solid #d9dee4;padding-bottom:3px}h3{font-size:15px;margin:14px 0 4px}"
    ".sub{color:#5b6672;margin:0 0 10px}"
    ".win{background:#f3f8f1;border:1px solid #cfe3c8;border-radius:6px;padding:8px 12px;"
    "margin:8px 0}.win b.t{font-size:16px}.why{margin:4px 0 0 0;padding-left:18px}"
    "table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}"
    "th,td{border-bottom:1px solid #e4e8ec;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#f5f7f9;font-weight:600}td.n{text-align:right;"
    "white-space:nowrap;font-variant-numeric:tabular-nums}"
    "code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}"
    ".grid{display:flex;flex-wrap:wrap;gap:10px}.note{color:#5b6672;font-size:12px;"
    "margin:2px 0 8px}svg.plot{background:#fff;border:1px solid #e4e8ec;border-radius:4px}"
    "svg.plot text{font:11px system-ui,sans-serif;fill:#333}svg.plot .ttl{font-size:13px;"
    "font-weight:600}svg.plot .grid line{stroke:#eef1f4}"
    "svg.plot .axis{stroke:#8a949e}.bad{color:#a33}";

void html_begin(FILE *f, const char *title)
{
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        /* nothing may load from anywhere: the file is the whole report */
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">\n<title>", f);
  html_escape(f, title);
  fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
}

void html_end(FILE *f)
{
  fputs("</body>\n</html>\n", f);
}
