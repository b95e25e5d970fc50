/* bt_report: the human-readable views of one backtest run.
 *
 * Why two forms: report.html is self-contained (inline SVG, no scripts, no external
 * files) so it can be archived next to the run and opened anywhere; the PNG
 * (portfolio_snapshot.png, drawn with cairo) is for places that show images only
 * (tickets, chat). Both are derived from the same numbers as equity.csv/metrics.json and
 * are not part of the artifact hash (a font or cairo version must not change it). */
#include <cairo.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bt.h"

#define PROG "qt-backtest"

/* Drawdown of equity[i] from its running peak (<= 0). */
static double dd_at(const double *eq, size_t i, double *peak) {
    if (eq[i] > *peak) *peak = eq[i];
    return *peak > 0 ? eq[i] / *peak - 1.0 : 0.0;
}

static void minmax(const double *v, size_t n, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
    if (!(*hi > *lo)) *hi = *lo + 1.0;
}

static void day(int64_t ms, char *out, size_t len) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, len, "%Y-%m-%d", &tm) == 0) snprintf(out, len, "?");
}

static void html_escape(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') fputs("&lt;", f);
        else if (s[i] == '>') fputs("&gt;", f);
        else if (s[i] == '&') fputs("&amp;", f);
        else fputc(s[i], f);
    }
}

int bt_report_html(const char *path, const int64_t *t_ms, const double *equity, size_t n,
                   const char *metrics, size_t mlen) {
    if (n < 2) return -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, PROG ": cannot write %s\n", path);
        return -1;
    }
    const double W = 900, H = 260, H2 = 140;
    double lo, hi;
    minmax(equity, n, &lo, &hi);
    char d0[16], d1[16];
    day(t_ms[0], d0, sizeof d0);
    day(t_ms[n - 1], d1, sizeof d1);
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qt-backtest report"
               "</title>\n<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;"
               "padding:1em}</style></head><body>\n<h1>Backtest %s &rarr; %s</h1>\n", d0, d1);
    fprintf(f, "<h2>Equity (USDT): %.2f &rarr; %.2f, low %.2f, high %.2f</h2>\n", equity[0],
            equity[n - 1], lo, hi);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\" stroke=\"#ccc\"/>"
               "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\" points=\"",
            W, H);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", 5 + (W - 10) * (double)i / (double)(n - 1),
                5 + (H - 10) * (1.0 - (equity[i] - lo) / (hi - lo)));
    fputs("\"/></svg>\n", f);
    double peak = -INFINITY, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = dd_at(equity, i, &peak);
        if (d < worst) worst = d;
    }
    if (!(worst < 0)) worst = -1e-9;
    fprintf(f, "<h2>Drawdown (worst %.2f%%)</h2>\n", 100 * worst);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\" stroke=\"#ccc\"/>"
               "<polygon fill=\"#e3a5a5\" stroke=\"#b03030\" points=\"5,5 ",
            W, H2);
    peak = -INFINITY;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", 5 + (W - 10) * (double)i / (double)(n - 1),
                5 + (H2 - 10) * dd_at(equity, i, &peak) / worst);
    fprintf(f, "%.1f,5\"/></svg>\n<h2>Metrics</h2>\n<pre>", W - 5);
    html_escape(f, metrics, mlen);
    fputs("</pre>\n</body></html>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, PROG ": cannot write %s\n", path);
        return -1;
    }
    return 0;
}

int bt_report_png(const char *path, const double *equity, size_t n, const char *const *names,
                  const double *weights, size_t nw) {
    if (n < 2) return -1;
    const int W = 900, H = 600;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double lo, hi;
    minmax(equity, n, &lo, &hi);
    /* panel 1: equity, y 30..300 */
    cairo_set_source_rgb(cr, 0.12, 0.37, 0.66);
    cairo_set_line_width(cr, 1.5);
    for (size_t i = 0; i < n; i++) {
        double x = 10 + (W - 20) * (double)i / (double)(n - 1);
        double y = 30 + 270 * (1.0 - (equity[i] - lo) / (hi - lo));
        if (i == 0) cairo_move_to(cr, x, y);
        else cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
    /* panel 2: drawdown, y 320..420 */
    double peak = -INFINITY, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = dd_at(equity, i, &peak);
        if (d < worst) worst = d;
    }
    if (!(worst < 0)) worst = -1e-9;
    peak = -INFINITY;
    cairo_set_source_rgb(cr, 0.69, 0.19, 0.19);
    cairo_move_to(cr, 10, 320);
    for (size_t i = 0; i < n; i++)
        cairo_line_to(cr, 10 + (W - 20) * (double)i / (double)(n - 1),
                      320 + 100 * dd_at(equity, i, &peak) / worst);
    cairo_line_to(cr, W - 10, 320);
    cairo_close_path(cr);
    cairo_fill(cr);
    /* panel 3: final position weights, y 440..590 */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    char label[96];
    snprintf(label, sizeof label, "equity %.2f -> %.2f  (low %.2f, high %.2f)", equity[0],
             equity[n - 1], lo, hi);
    cairo_move_to(cr, 10, 20);
    cairo_show_text(cr, label);
    snprintf(label, sizeof label, "drawdown (worst %.2f%%)", 100 * worst);
    cairo_move_to(cr, 10, 315);
    cairo_show_text(cr, label);
    cairo_move_to(cr, 10, 438);
    cairo_show_text(cr, nw ? "final positions (weight of equity)" : "final positions: none");
    double bw = nw ? (double)(W - 20) / (double)nw : 0;
    for (size_t i = 0; i < nw; i++) {
        double h = 120 * fmin(1.0, fabs(weights[i]));
        cairo_set_source_rgb(cr, 0.2, 0.55, 0.3);
        cairo_rectangle(cr, 10 + bw * (double)i + 2, 570 - h, bw - 4, h);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, 10 + bw * (double)i + 2, 586);
        cairo_show_text(cr, names[i]);
    }
    cairo_destroy(cr);
    cairo_status_t st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    /* Drop cairo's and fontconfig's process-wide caches (the toy text API fills them):
     * nothing else draws in this process, and the ASan leak check must stay clean.
     * FcFini is looked up at run time because -lfontconfig is not on the link line
     * (cairo loads it); absent, nothing is done. */
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
    if (st != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, cairo_status_to_string(st));
        return -1;
    }
    return 0;
}
