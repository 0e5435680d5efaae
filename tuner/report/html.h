/*
 * html.h - the HTML side of `autotune report`: escaping text for an element or an
 * attribute, and the page's frame (doctype, inline style sheet, closing tags). A report
 * is one self-contained file: no script, no font, no image or style loaded from
 * anywhere. The charts inside it come from svg.h.
 */
#ifndef AT_TUNER_REPORT_HTML_H
#define AT_TUNER_REPORT_HTML_H

#include <stdio.h>

/* Write s with &, <, >, " and ' escaped (safe in text and in quoted attributes); NULL
 * writes nothing. */
void html_escape(FILE *f, const char *s);
/* Format as printf, then write the whole text escaped (short mixed text: "12 ok, 3
 * fault"; longer than 1 KB is cut). */
void html_escapef(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The page up to <body>'s first child, with `title` escaped. */
void html_begin(FILE *f, const char *title);
/* Close the page. */
void html_end(FILE *f);

#endif
