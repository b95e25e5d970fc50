/* qt-lab labels: supervised-learning labels of a bar file as CSV (libs/quant/qt_labels).
 *
 * Why: the models are trained on these labels; producing them from the command line
 * lets a researcher inspect exactly what a model will learn (barrier hits, holding
 * times, meta-labels) before training. Input: any file qt_bars loads (freqtrade .json /
 * .json.gz, CSV); rejected rows are reported on stderr with their count and skipped,
 * like qt-lab features. Output: CSV on stdout or --out. Exit 0 ok, 1 bad data / I/O,
 * 2 usage. Definitions: docs/quant/statistics.md. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_lab.h"
#include "qt_labels.h"

#define PROG "qt-lab labels"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab labels --input FILE [--kind triple|fixed] [--horizon 12]\n"
            "                     [--vol-window 20] [--pt 1] [--sl 1] [--min-target 0]\n"
            "                     [--intrabar] [--vertical-zero]\n"
            "                     [--side long|short | --side-file FILE] [--out F]\n"
            "  --kind triple (default): triple-barrier events, one CSV row per event:\n"
            "      t0_ms,t1_ms,t0,t1,close0,trgt,side,ret,label,barrier\n"
            "    barriers at +pt*trgt and -sl*trgt (0 disables one), trgt = rolling sample std\n"
            "    of one-bar simple returns over --vol-window bars ending at t0; vertical barrier\n"
            "    at t0 + --horizon bars; first touch wins. label -1/0/+1; with a side, a\n"
            "    meta-label 0/1 (1 = the side's trade was profitable).\n"
            "  --kind fixed: one row per bar: t_ms,close,fwd_ret,vol,vol_adj_ret\n"
            "    fwd_ret = close[t+h]/close[t]-1, vol_adj_ret = fwd_ret/(vol*sqrt(h)); empty\n"
            "    where undefined.\n"
            "  --intrabar       touches on bar high/low (ret = the barrier; both in one bar:\n"
            "                   the stop), instead of closes only\n"
            "  --vertical-zero  label 0 at the vertical barrier (default: sign of the return)\n"
            "  --min-target X   skip events whose trgt < X\n"
            "  --side long|short  one side for every bar (meta-labels)\n"
            "  --side-file FILE   one side per bar and line: 1, -1 or 0 (0 = no event)\n"
            "Exit 0 ok, 1 bad data or I/O, 2 usage.\n");
}

static int parse_mult(const char *s, double *out) {
    if (!s || !*s || strspn(s, "0123456789.eE+") != strlen(s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < 0) return -1;
    *out = v;
    return 0;
}

/* Reads n sides (1, -1, 0 per line). 0 ok, -1 with a message. */
static int read_sides(const char *path, size_t n, int8_t *side) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, k = 0, lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!len) continue;
        int v;
        if (strcmp(line, "1") == 0 || strcmp(line, "+1") == 0) v = 1;
        else if (strcmp(line, "-1") == 0) v = -1;
        else if (strcmp(line, "0") == 0) v = 0;
        else {
            for (char *q = line; *q; q++)
                if (*q < 0x20 || *q >= 0x7f) *q = '?';
            fprintf(stderr, PROG ": %s:%zu: '%.20s' is not 1, -1 or 0\n", path, lineno, line);
            rc = -1;
            break;
        }
        if (k == n) {
            fprintf(stderr, PROG ": %s:%zu: more sides than bars (%zu)\n", path, lineno, n);
            rc = -1;
            break;
        }
        side[k++] = (int8_t)v;
    }
    free(line);
    fclose(f);
    if (rc == 0 && k != n) {
        fprintf(stderr, PROG ": %s: %zu sides for %zu bars\n", path, k, n);
        rc = -1;
    }
    return rc;
}

static void put_num(FILE *o, double x) {
    if (isfinite(x)) fprintf(o, "%.17g", x);
}

int qt_lab_labels(int argc, char **argv, int i) {
    const char *input = NULL, *out_path = NULL, *side_file = NULL, *kind = "triple";
    uint64_t horizon = 12, window = 20;
    qt_tb_params_t p = {.pt_mult = 1, .sl_mult = 1, .vertical_sign = true};
    bool intrabar = false;
    int const_side = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--intrabar") == 0) {
            intrabar = true;
            continue;
        }
        if (strcmp(a, "--vertical-zero") == 0) {
            p.vertical_sign = false;
            continue;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        if (strcmp(a, "--input") == 0) input = v;
        else if (strcmp(a, "--out") == 0) out_path = v;
        else if (strcmp(a, "--side-file") == 0) side_file = v;
        else if (strcmp(a, "--kind") == 0) {
            if (strcmp(v, "triple") && strcmp(v, "fixed"))
                return qt_cli_usage_error(qt_lab_prog, "--kind '%s': expected triple or fixed", v);
            kind = v;
        } else if (strcmp(a, "--side") == 0) {
            if (strcmp(v, "long") == 0) const_side = 1;
            else if (strcmp(v, "short") == 0) const_side = -1;
            else return qt_cli_usage_error(qt_lab_prog, "--side '%s': expected long or short", v);
        } else if (strcmp(a, "--horizon") == 0) {
            if (qt_cli_parse_u64(v, &horizon) != 0 || horizon < 1 || horizon > 1000000)
                return qt_cli_usage_error(qt_lab_prog, "--horizon '%s': expected an integer 1..1000000", v);
        } else if (strcmp(a, "--vol-window") == 0) {
            if (qt_cli_parse_u64(v, &window) != 0 || window < 2 || window > 1000000)
                return qt_cli_usage_error(qt_lab_prog, "--vol-window '%s': expected an integer 2..1000000", v);
        } else if (strcmp(a, "--pt") == 0) {
            if (parse_mult(v, &p.pt_mult) != 0)
                return qt_cli_usage_error(qt_lab_prog, "--pt '%s': expected a number >= 0", v);
        } else if (strcmp(a, "--sl") == 0) {
            if (parse_mult(v, &p.sl_mult) != 0)
                return qt_cli_usage_error(qt_lab_prog, "--sl '%s': expected a number >= 0", v);
        } else if (strcmp(a, "--min-target") == 0) {
            if (parse_mult(v, &p.min_target) != 0)
                return qt_cli_usage_error(qt_lab_prog, "--min-target '%s': expected a number >= 0", v);
        } else
            return qt_cli_usage_error(qt_lab_prog, "labels: unknown option '%s'", a);
    }
    if (!input) return qt_cli_usage_error(qt_lab_prog, "labels needs --input FILE%s", "");
    if (const_side && side_file)
        return qt_cli_usage_error(qt_lab_prog, "--side and --side-file exclude each other%s", "");
    p.horizon = (size_t)horizon;

    qt_bars_t bars;
    qt_bars_init(&bars);
    char err[256];
    if (qt_bars_load_file(&bars, input, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        qt_bars_free(&bars);
        return QT_LAB_EXIT_FAIL;
    }
    if (qt_bars_rejected_total(&bars) > 0)
        fprintf(stderr, PROG ": %s: %" PRIu64 " row(s) rejected and skipped (first: row %zu: %s)\n",
                input, qt_bars_rejected_total(&bars), bars.first_reject_row, bars.first_reject);
    size_t n = bars.n;
    if (n < 2) {
        fprintf(stderr, PROG ": %s: need at least 2 valid bars (got %zu)\n", input, n);
        qt_bars_free(&bars);
        return QT_LAB_EXIT_FAIL;
    }
    double *c = malloc(n * sizeof *c), *h = malloc(n * sizeof *h), *l = malloc(n * sizeof *l);
    double *vol = malloc(n * sizeof *vol), *aux = malloc(n * sizeof *aux);
    int8_t *side = (const_side || side_file) ? malloc(n) : NULL;
    qt_tb_event_t *ev = strcmp(kind, "triple") == 0 ? malloc(n * sizeof *ev) : NULL;
    int rc = 0;
    FILE *o = NULL;
    if (!c || !h || !l || !vol || !aux || ((const_side || side_file) && !side) ||
        (strcmp(kind, "triple") == 0 && !ev)) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = QT_LAB_EXIT_FAIL;
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        c[k] = qt_fixed_to_double(bars.bars[k].close);
        h[k] = qt_fixed_to_double(bars.bars[k].high);
        l[k] = qt_fixed_to_double(bars.bars[k].low);
        if (side && const_side) side[k] = (int8_t)const_side;
    }
    if (side_file && read_sides(side_file, n, side) != 0) {
        rc = QT_LAB_EXIT_FAIL;
        goto done;
    }
    qt_label_rolling_vol(c, n, (size_t)window, vol);
    o = out_path ? fopen(out_path, "w") : stdout;
    if (!o) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", out_path, strerror(errno));
        rc = QT_LAB_EXIT_FAIL;
        goto done;
    }
    if (strcmp(kind, "fixed") == 0) {
        qt_label_fwd_return(c, n, (size_t)horizon, aux);
        fprintf(o, "t_ms,close,fwd_ret,vol,vol_adj_ret\n");
        double sh = sqrt((double)horizon);
        for (size_t k = 0; k < n; k++) {
            fprintf(o, "%" PRId64 ",", bars.bars[k].t_ms);
            put_num(o, c[k]);
            fputc(',', o);
            put_num(o, aux[k]);
            fputc(',', o);
            put_num(o, vol[k]);
            fputc(',', o);
            if (isfinite(aux[k]) && isfinite(vol[k]) && vol[k] > 0) put_num(o, aux[k] / (vol[k] * sh));
            fputc('\n', o);
        }
    } else {
        size_t ne;
        if (qt_label_triple_barrier(c, intrabar ? h : NULL, intrabar ? l : NULL, n, vol, side,
                                    NULL, 0, &p, ev, &ne) != 0) {
            fprintf(stderr, PROG ": invalid barrier parameters\n");
            rc = QT_LAB_EXIT_USAGE;
            goto done;
        }
        fprintf(o, "t0_ms,t1_ms,t0,t1,close0,trgt,side,ret,label,barrier\n");
        for (size_t k = 0; k < ne; k++) {
            const qt_tb_event_t *e = &ev[k];
            fprintf(o, "%" PRId64 ",%" PRId64 ",%zu,%zu,", bars.bars[e->t0].t_ms,
                    bars.bars[e->t1].t_ms, e->t0, e->t1);
            put_num(o, c[e->t0]);
            fputc(',', o);
            put_num(o, e->trgt);
            fprintf(o, ",%d,", e->side);
            put_num(o, e->ret);
            fprintf(o, ",%d,%s\n", e->label, qt_tb_barrier_str(e->barrier));
        }
    }
    if (fflush(o) != 0 || ferror(o)) {
        fprintf(stderr, PROG ": write error%s%s\n", out_path ? " on " : "", out_path ? out_path : "");
        rc = QT_LAB_EXIT_FAIL;
    }
done:
    if (o && o != stdout && fclose(o) != 0 && rc == 0) rc = QT_LAB_EXIT_FAIL;
    free(c);
    free(h);
    free(l);
    free(vol);
    free(aux);
    free(side);
    free(ev);
    qt_bars_free(&bars);
    return rc;
}
