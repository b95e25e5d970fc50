/* qt_bars: OHLCV file loading; see qt_bars.h for formats and checks. */
#include "qt_bars.h"
#include "qt_klines.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)   /* 1 GiB: refuse anything larger */
#define MAX_TIME_MS 32503680000000LL       /* 3000-01-01 */
#define JSON_MAX_DEPTH 64

static const char *const REJECT_NAMES[QT_BARS_REJ__COUNT] = {
    "columns", "syntax", "time", "nonfinite", "range", "nonpositive", "ohlc", "order"};

const char *qt_bars_reject_str(qt_bars_reject_t r) {
    return (unsigned)r < QT_BARS_REJ__COUNT ? REJECT_NAMES[r] : "unknown";
}

void qt_bars_init(qt_bars_t *b) { memset(b, 0, sizeof *b); }

void qt_bars_free(qt_bars_t *b) {
    if (!b) return;
    free(b->bars);
    memset(b, 0, sizeof *b);
}

uint64_t qt_bars_rejected_total(const qt_bars_t *b) {
    uint64_t t = 0;
    for (int i = 0; i < QT_BARS_REJ__COUNT; i++) t += b->rejected[i];
    return t;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void reject(qt_bars_t *b, qt_bars_reject_t why, const char *detail) {
    b->rejected[why]++;
    if (b->first_reject_row == 0) {
        b->first_reject_row = b->rows;
        snprintf(b->first_reject, sizeof b->first_reject, "row %zu: %s: %s", b->rows,
                 qt_bars_reject_str(why), detail);
    }
}

static bool append(qt_bars_t *b, const qt_bar_t *bar) {
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 1024;
        qt_bar_t *nb = realloc(b->bars, ncap * sizeof *nb);
        if (!nb) return false;
        b->bars = nb;
        b->cap = ncap;
    }
    b->bars[b->n++] = *bar;
    return true;
}

typedef struct {
    const char *p;
    size_t len;
} span_t;

/* ---- time ------------------------------------------------------------------------ */

int64_t qt_days_from_civil(int64_t y, unsigned m, unsigned d) {
    /* H. Hinnant's algorithm: exact for the proleptic Gregorian calendar. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t mp = (int64_t)(m + 9) % 12;
    const int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse_uint_n(const char *s, size_t len, size_t ndig, int64_t *out) {
    if (len < ndig) return false;
    int64_t v = 0;
    for (size_t i = 0; i < ndig; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_int64(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 19) return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool days_in_month_ok(int64_t y, int64_t m, int64_t d) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    int max = dim[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
    return d <= max;
}

bool qt_bars_parse_time(const char *s, size_t len, int64_t *ms) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len == 0) return false;
    /* All digits: epoch ms (>= 1e11) or seconds. */
    bool digits = true;
    for (size_t i = 0; i < len; i++) digits = digits && isdigit((unsigned char)s[i]);
    if (digits) {
        int64_t v;
        if (!parse_int64(s, len, &v)) return false;
        if (v < 100000000000LL) {
            if (v > MAX_TIME_MS / 1000) return false;
            v *= 1000;
        }
        if (v > MAX_TIME_MS) return false;
        *ms = v;
        return true;
    }
    /* YYYY-MM-DD or YYYY.MM.DD */
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off_min = 0;
    if (len < 10 || !parse_uint_n(s, len, 4, &y)) return false;
    char sep = s[4];
    if ((sep != '-' && sep != '.') || s[7] != sep) return false;
    if (!parse_uint_n(s + 5, 2, 2, &mo) || !parse_uint_n(s + 8, 2, 2, &d)) return false;
    if (!days_in_month_ok(y, mo, d)) return false;
    size_t i = 10;
    if (i < len) {
        if (s[i] != ' ' && s[i] != 'T') return false;
        i++;
        if (i + 5 > len || s[i + 2] != ':') return false;
        if (!parse_uint_n(s + i, 2, 2, &h) || !parse_uint_n(s + i + 3, 2, 2, &mi)) return false;
        i += 5;
        if (i < len && s[i] == ':') {
            if (!parse_uint_n(s + i + 1, len - i - 1, 2, &sec)) return false;
            i += 3;
            if (i < len && s[i] == '.') {
                i++;
                size_t nd = 0;
                int64_t scale = 100;
                while (i < len && isdigit((unsigned char)s[i])) {
                    if (nd < 3) frac_ms += (s[i] - '0') * scale, scale /= 10;
                    nd++, i++;
                }
                if (nd == 0) return false;
            }
        }
        if (i < len) {
            if (s[i] == 'Z' && i + 1 == len) {
                i++;
            } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && s[i + 3] == ':') {
                int64_t oh, om;
                if (!parse_uint_n(s + i + 1, 2, 2, &oh) || !parse_uint_n(s + i + 4, 2, 2, &om))
                    return false;
                if (oh > 23 || om > 59) return false;
                off_min = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
                i = len;
            } else {
                return false;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return false;
    }
    if (i != len) return false;
    int64_t days = qt_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t v = ((days * 24 + h) * 60 + mi - off_min) * 60000 + sec * 1000 + frac_ms;
    if (v < 0 || v > MAX_TIME_MS) return false;
    *ms = v;
    return true;
}

/* ---- row validation ------------------------------------------------------------------ */

static bool is_nonfinite_word(const char *p, size_t n) {
    if (n && (*p == '-' || *p == '+')) p++, n--;
    return (n == 3 && strncasecmp(p, "nan", 3) == 0) ||
           (n == 3 && strncasecmp(p, "inf", 3) == 0) ||
           (n == 8 && strncasecmp(p, "infinity", 8) == 0);
}

void qt_rows_init(qt_rows_t *r) { memset(r, 0, sizeof *r); }

void qt_rows_free(qt_rows_t *r) {
    if (!r) return;
    free(r->rows);
    memset(r, 0, sizeof *r);
}

static qt_row_t *row_push(qt_rows_t *r) {
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        qt_row_t *nr = realloc(r->rows, ncap * sizeof *nr);
        if (!nr) return NULL;
        r->rows = nr;
        r->cap = ncap;
    }
    qt_row_t *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    row->row = (uint32_t)r->n;
    return row;
}

/* Appends an unparseable row. -1 only on OOM. */
static int row_bad(qt_rows_t *r, qt_bars_reject_t why, int64_t t, const char *detail) {
    qt_row_t *row = row_push(r);
    if (!row) return -1;
    row->parsed = false;
    row->why = (uint8_t)why;
    row->t_ms = t;
    if (r->first_bad_row == 0) {
        r->first_bad_row = row->row;
        snprintf(r->first_bad, sizeof r->first_bad, "%s", detail);
    }
    return 0;
}

/* Parses one row's time and five numbers and appends it (parsed or not). -1 on OOM. */
static int row_take(qt_rows_t *r, bool have_time, int64_t t, const span_t f[5]) {
    static const char *const names[5] = {"open", "high", "low", "close", "volume"};
    char detail[96];
    if (!have_time || t < 0 || t > MAX_TIME_MS) return row_bad(r, QT_BARS_REJ_TIME, 0, "bad open time");
    qt_fixed_t v[5];
    for (int i = 0; i < 5; i++) {
        if (is_nonfinite_word(f[i].p, f[i].len)) {
            snprintf(detail, sizeof detail, "%s is not finite", names[i]);
            return row_bad(r, QT_BARS_REJ_NONFINITE, t, detail);
        }
        qt_money_status_t st = qt_fixed_parse_n(f[i].p, f[i].len, &v[i]);
        if (st != QT_MONEY_OK) {
            snprintf(detail, sizeof detail, "%s: %s", names[i], qt_money_status_str(st));
            return row_bad(r,
                           st == QT_MONEY_ERANGE       ? QT_BARS_REJ_RANGE
                           : st == QT_MONEY_ENONFINITE ? QT_BARS_REJ_NONFINITE
                                                       : QT_BARS_REJ_SYNTAX,
                           t, detail);
        }
    }
    qt_row_t *row = row_push(r);
    if (!row) return -1;
    row->parsed = true;
    row->t_ms = t;
    row->open = v[0];
    row->high = v[1];
    row->low = v[2];
    row->close = v[3];
    row->volume = v[4];
    return 0;
}

int qt_bars_check_row(const qt_row_t *row, const char **detail) {
    const char *d = NULL;
    int why = -1;
    if (row->open <= 0) d = "open <= 0", why = QT_BARS_REJ_NONPOSITIVE;
    else if (row->high <= 0) d = "high <= 0", why = QT_BARS_REJ_NONPOSITIVE;
    else if (row->low <= 0) d = "low <= 0", why = QT_BARS_REJ_NONPOSITIVE;
    else if (row->close <= 0) d = "close <= 0", why = QT_BARS_REJ_NONPOSITIVE;
    else if (row->volume < 0) d = "volume < 0", why = QT_BARS_REJ_NONPOSITIVE;
    else if (row->high < row->open || row->high < row->close || row->high < row->low ||
             row->low > row->open || row->low > row->close)
        d = "high/low inconsistent with open/close", why = QT_BARS_REJ_OHLC;
    if (detail) *detail = d;
    return why;
}

int qt_bars_from_rows(qt_bars_t *b, const qt_rows_t *r) {
    for (size_t i = 0; i < r->n; i++) {
        const qt_row_t *row = &r->rows[i];
        b->rows++;
        if (!row->parsed) {
            reject(b, (qt_bars_reject_t)row->why,
                   row->row == r->first_bad_row ? r->first_bad : "not parseable");
            continue;
        }
        const char *d = NULL;
        int why = qt_bars_check_row(row, &d);
        if (why >= 0) {
            reject(b, (qt_bars_reject_t)why, d);
            continue;
        }
        if (b->n && row->t_ms <= b->bars[b->n - 1].t_ms) {
            reject(b, QT_BARS_REJ_ORDER, "open time not after the previous row");
            continue;
        }
        qt_bar_t bar = {.t_ms = row->t_ms, .open = row->open, .high = row->high,
                        .low = row->low, .close = row->close, .volume = row->volume};
        if (!append(b, &bar)) return -1;
    }
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, pos;
} cur_t;

static void skip_ws(cur_t *c) {
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                               c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

/* Skips a string starting at '"'; *has_escape set if it contains a backslash. */
static bool skip_string(cur_t *c, bool *has_escape) {
    c->pos++;
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch == '\\') {
            if (has_escape) *has_escape = true;
            c->pos += 2;
            continue;
        }
        c->pos++;
        if (ch == '"') return true;
    }
    return false;
}

static bool is_delim(char ch) {
    return ch == ',' || ch == ']' || ch == '}' || ch == ':' || ch == ' ' || ch == '\t' ||
           ch == '\n' || ch == '\r' || ch == '[' || ch == '{' || ch == '"';
}

/* Skips any JSON value (structure only). */
static bool skip_value(cur_t *c, int depth) {
    if (depth > JSON_MAX_DEPTH) return false;
    skip_ws(c);
    if (c->pos >= c->len) return false;
    char ch = c->s[c->pos];
    if (ch == '"') return skip_string(c, NULL);
    if (ch == '[' || ch == '{') {
        char close = ch == '[' ? ']' : '}';
        c->pos++;
        skip_ws(c);
        if (c->pos < c->len && c->s[c->pos] == close) {
            c->pos++;
            return true;
        }
        for (;;) {
            if (close == '}') {
                skip_ws(c);
                if (c->pos >= c->len || c->s[c->pos] != '"' || !skip_string(c, NULL)) return false;
                skip_ws(c);
                if (c->pos >= c->len || c->s[c->pos] != ':') return false;
                c->pos++;
            }
            if (!skip_value(c, depth + 1)) return false;
            skip_ws(c);
            if (c->pos >= c->len) return false;
            if (c->s[c->pos] == ',') {
                c->pos++;
                continue;
            }
            if (c->s[c->pos] == close) {
                c->pos++;
                return true;
            }
            return false;
        }
    }
    size_t start = c->pos;
    while (c->pos < c->len && !is_delim(c->s[c->pos])) c->pos++;
    return c->pos > start;
}

#define ROW_MAX_FIELDS 12

/* Parses one row array at c (which points at '['). Returns -1 on structural error,
 * -2 on OOM, 0 otherwise (row accepted or counted as rejected). */
static int json_row(qt_rows_t *b, cur_t *c) {
    span_t f[ROW_MAX_FIELDS];
    bool bad[ROW_MAX_FIELDS] = {false};
    size_t nf = 0;
    c->pos++;  /* '[' */
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == ']') {
        c->pos++;
    } else {
        for (;;) {
            skip_ws(c);
            if (c->pos >= c->len) return -1;
            size_t start = c->pos;
            char ch = c->s[c->pos];
            span_t sp = {c->s + start, 0};
            bool is_bad = false;
            if (ch == '"') {
                bool esc = false;
                if (!skip_string(c, &esc)) return -1;
                sp.p = c->s + start + 1;
                sp.len = c->pos - start - 2;
                is_bad = esc;
            } else if (ch == '[' || ch == '{') {
                if (!skip_value(c, 1)) return -1;
                is_bad = true;
            } else {
                while (c->pos < c->len && !is_delim(c->s[c->pos])) c->pos++;
                sp.len = c->pos - start;
                if (sp.len == 0) return -1;
            }
            if (nf < ROW_MAX_FIELDS) {
                f[nf] = sp;
                bad[nf] = is_bad;
            }
            nf++;
            skip_ws(c);
            if (c->pos >= c->len) return -1;
            if (c->s[c->pos] == ',') {
                c->pos++;
                continue;
            }
            if (c->s[c->pos] == ']') {
                c->pos++;
                break;
            }
            return -1;
        }
    }
    if (nf != 6 && nf != 12) {
        char d[64];
        snprintf(d, sizeof d, "%zu fields (expected 6 or 12)", nf);
        return row_bad(b, QT_BARS_REJ_COLUMNS, 0, d) == 0 ? 0 : -2;
    }
    int64_t t = 0;
    bool have_t = !bad[0] && parse_int64(f[0].p, f[0].len, &t);
    for (size_t i = 0; i < 6; i++) {
        if (bad[i]) {
            return row_bad(b, i == 0 ? QT_BARS_REJ_TIME : QT_BARS_REJ_SYNTAX, have_t ? t : 0,
                           "field is not a number") == 0 ? 0 : -2;
        }
    }
    return row_take(b, have_t, t, f + 1) == 0 ? 0 : -2;
}

int qt_rows_parse_json(qt_rows_t *b, const char *text, size_t len, char *err, size_t errlen) {
    cur_t c = {text, len, 0};
    skip_ws(&c);
    if (c.pos >= c.len || text[c.pos] != '[') {
        set_err(err, errlen, "JSON: expected '[' at offset %zu", c.pos);
        return -1;
    }
    c.pos++;
    skip_ws(&c);
    if (c.pos < c.len && text[c.pos] == ']') {
        c.pos++;
    } else {
        for (;;) {
            skip_ws(&c);
            if (c.pos >= c.len) {
                set_err(err, errlen, "JSON: unterminated array");
                return -1;
            }
            if (text[c.pos] == '[') {
                int rc = json_row(b, &c);
                if (rc == -2) {
                    set_err(err, errlen, "out of memory");
                    return -1;
                }
                if (rc < 0) {
                    set_err(err, errlen, "JSON: malformed row near offset %zu", c.pos);
                    return -1;
                }
            } else {
                /* Not an array: a rejected row, skipped structurally. */
                if (!skip_value(&c, 1)) {
                    set_err(err, errlen, "JSON: malformed value near offset %zu", c.pos);
                    return -1;
                }
                if (row_bad(b, QT_BARS_REJ_COLUMNS, 0, "row is not an array") != 0) {
                    set_err(err, errlen, "out of memory");
                    return -1;
                }
            }
            skip_ws(&c);
            if (c.pos < c.len && text[c.pos] == ',') {
                c.pos++;
                continue;
            }
            if (c.pos < c.len && text[c.pos] == ']') {
                c.pos++;
                break;
            }
            set_err(err, errlen, "JSON: expected ',' or ']' at offset %zu", c.pos);
            return -1;
        }
    }
    skip_ws(&c);
    if (c.pos != c.len) {
        set_err(err, errlen, "JSON: trailing data at offset %zu", c.pos);
        return -1;
    }
    return 0;
}

/* ---- CSV ----------------------------------------------------------------------------- */

#define CSV_MAX_COLS 64

static size_t split_fields(const char *line, size_t len, char delim, span_t *out, size_t max) {
    size_t n = 0, i = 0;
    for (;;) {
        size_t start = i;
        while (i < len && line[i] != delim) i++;
        span_t sp = {line + start, i - start};
        while (sp.len && isspace((unsigned char)sp.p[0])) sp.p++, sp.len--;
        while (sp.len && isspace((unsigned char)sp.p[sp.len - 1])) sp.len--;
        if (sp.len >= 2 && sp.p[0] == '"' && sp.p[sp.len - 1] == '"') sp.p++, sp.len -= 2;
        if (n < max) out[n] = sp;
        n++;
        if (i >= len) break;
        i++;  /* delimiter */
    }
    return n;
}

static bool span_ieq(span_t s, const char *w) {
    size_t n = strlen(w);
    return s.len == n && strncasecmp(s.p, w, n) == 0;
}

int qt_rows_parse_csv(qt_rows_t *b, const char *text, size_t len, char *err, size_t errlen) {
    size_t pos = 0;
    /* skip a UTF-8 BOM */
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3;
    bool have_header = false;
    char delim = ',';
    int col[6] = {-1, -1, -1, -1, -1, -1};  /* date open high low close volume */
    size_t need = 0;
    while (pos < len) {
        size_t start = pos;
        while (pos < len && text[pos] != '\n') pos++;
        size_t llen = pos - start;
        if (pos < len) pos++;
        if (llen && text[start + llen - 1] == '\r') llen--;
        const char *line = text + start;
        bool blank = true;
        for (size_t i = 0; i < llen; i++) blank = blank && isspace((unsigned char)line[i]);
        if (blank) continue;
        span_t f[CSV_MAX_COLS];
        if (!have_header) {
            size_t nsemi = 0, ncomma = 0;
            for (size_t i = 0; i < llen; i++) nsemi += line[i] == ';', ncomma += line[i] == ',';
            delim = nsemi > ncomma ? ';' : ',';
            size_t nf = split_fields(line, llen, delim, f, CSV_MAX_COLS);
            if (nf > CSV_MAX_COLS) {
                set_err(err, errlen, "CSV: more than %d header columns", CSV_MAX_COLS);
                return -1;
            }
            static const char *const want[6][6] = {
                {"date", "datetime", "time", "timestamp", "open_time", "date_time"},
                {"open", NULL}, {"high", NULL}, {"low", NULL}, {"close", NULL},
                {"volume", NULL}};
            for (size_t i = 0; i < nf; i++) {
                for (int k = 0; k < 6; k++) {
                    for (int w = 0; w < 6 && want[k][w]; w++) {
                        if (col[k] < 0 && span_ieq(f[i], want[k][w])) col[k] = (int)i;
                    }
                }
            }
            if (col[0] < 0 && nf > 0 && f[0].len == 0) col[0] = 0;  /* pandas index */
            static const char *const cname[6] = {"date", "open", "high", "low", "close",
                                                 "volume"};
            for (int k = 0; k < 6; k++) {
                if (col[k] < 0) {
                    set_err(err, errlen, "CSV: header has no '%s' column", cname[k]);
                    return -1;
                }
                if ((size_t)col[k] + 1 > need) need = (size_t)col[k] + 1;
            }
            have_header = true;
            continue;
        }
        size_t nf = split_fields(line, llen, delim, f, CSV_MAX_COLS);
        if (nf < need || nf > CSV_MAX_COLS) {
            char d[64];
            snprintf(d, sizeof d, "%zu fields (need at least %zu)", nf, need);
            if (row_bad(b, QT_BARS_REJ_COLUMNS, 0, d) != 0) {
                set_err(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        int64_t t = 0;
        bool have_t = qt_bars_parse_time(f[col[0]].p, f[col[0]].len, &t);
        span_t px[5];
        for (int k = 0; k < 5; k++) px[k] = f[col[k + 1]];
        if (row_take(b, have_t, t, px) < 0) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
    }
    if (!have_header) {
        set_err(err, errlen, "CSV: no header line");
        return -1;
    }
    return 0;
}

/* ---- Binance klines bodies (qt_klines) ------------------------------------------------ */

int qt_rows_parse_klines(qt_rows_t *b, const char *text, size_t len, char *err, size_t errlen) {
    qt_klines_t k;
    qt_klines_init(&k);
    if (qt_klines_parse(&k, text, len, err, errlen) != 0) {
        qt_klines_free(&k);
        return -1;
    }
    for (size_t i = 0; i < k.n; i++) {
        qt_row_t *row = row_push(b);
        if (!row) {
            qt_klines_free(&k);
            set_err(err, errlen, "out of memory");
            return -1;
        }
        const qt_kline_t *q = &k.rows[i];
        row->parsed = q->open_ms <= MAX_TIME_MS;
        row->why = row->parsed ? 0 : QT_BARS_REJ_TIME;
        row->t_ms = q->open_ms;
        row->open = q->open, row->high = q->high, row->low = q->low, row->close = q->close;
        row->volume = q->volume;
        if (!row->parsed && b->first_bad_row == 0) {
            b->first_bad_row = row->row;
            snprintf(b->first_bad, sizeof b->first_bad, "bad open time");
        }
    }
    qt_klines_free(&k);
    return 0;
}

/* ---- files --------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int qt_rows_load_file(qt_rows_t *b, const char *path, char *err, size_t errlen) {
    return qt_rows_load_file_fmt(b, path, QT_BARS_FMT_AUTO, err, errlen);
}

int qt_rows_load_file_fmt(qt_rows_t *b, const char *path, qt_bars_fmt_t fmt, char *err,
                          size_t errlen) {
    /* gzread reads plain files transparently, so one reader serves both. */
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
        return -1;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        gzclose(gz);
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (cap - len < (1 << 16)) {
            if (cap >= MAX_FILE_BYTES) {
                free(buf);
                gzclose(gz);
                set_err(err, errlen, "%s: larger than %zu bytes", path, MAX_FILE_BYTES);
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(gz);
                set_err(err, errlen, "%s: out of memory", path);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(gz, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(gz, &zerr);
            set_err(err, errlen, "%s: read error: %s", path, msg ? msg : "?");
            free(buf);
            gzclose(gz);
            return -1;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    gzclose(gz);
    char sub[512];
    int rc;
    if (fmt == QT_BARS_FMT_BINANCE) {
        rc = qt_rows_parse_klines(b, buf, len, sub, sizeof sub);
        free(buf);
        if (rc != 0) set_err(err, errlen, "%s: %s", path, sub);
        return rc;
    }
    bool json = fmt == QT_BARS_FMT_JSON ||
                (fmt == QT_BARS_FMT_AUTO && (ends_with(path, ".json") || ends_with(path, ".json.gz")));
    rc = json ? qt_rows_parse_json(b, buf, len, sub, sizeof sub)
              : qt_rows_parse_csv(b, buf, len, sub, sizeof sub);
    free(buf);
    if (rc != 0) set_err(err, errlen, "%s: %s", path, sub);
    return rc;
}

/* ---- bars = rows + checks ----------------------------------------------------------- */

typedef int (*rows_parser_t)(qt_rows_t *, const char *, size_t, char *, size_t);

static int bars_via_rows(qt_bars_t *b, rows_parser_t fn, const char *text, size_t len,
                         char *err, size_t errlen) {
    qt_rows_t r;
    qt_rows_init(&r);
    int rc = fn(&r, text, len, err, errlen);
    if (rc == 0 && qt_bars_from_rows(b, &r) != 0) {
        set_err(err, errlen, "out of memory");
        rc = -1;
    }
    qt_rows_free(&r);
    return rc;
}

int qt_bars_parse_json(qt_bars_t *b, const char *text, size_t len, char *err, size_t errlen) {
    return bars_via_rows(b, qt_rows_parse_json, text, len, err, errlen);
}

int qt_bars_parse_csv(qt_bars_t *b, const char *text, size_t len, char *err, size_t errlen) {
    return bars_via_rows(b, qt_rows_parse_csv, text, len, err, errlen);
}

int qt_bars_load_file(qt_bars_t *b, const char *path, char *err, size_t errlen) {
    qt_rows_t r;
    qt_rows_init(&r);
    int rc = qt_rows_load_file(&r, path, err, errlen);
    if (rc == 0 && qt_bars_from_rows(b, &r) != 0) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = -1;
    }
    qt_rows_free(&r);
    return rc;
}

/* ---- selftest ------------------------------------------------------------------------ */

int qt_bars_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                     \
    do {                                                             \
        if (!(c)) {                                                  \
            fails++;                                                 \
            if (verbose) fprintf(stderr, "qt_bars: FAIL %s\n", #c); \
        }                                                            \
    } while (0)
    int64_t ms = 0;
    CHECK(qt_bars_parse_time("2022-03-17T00:00:00Z", 20, &ms) && ms == 1647475200000LL);
    CHECK(qt_bars_parse_time("2004.06.11 00:00", 16, &ms) && ms == 1086912000000LL);
    CHECK(!qt_bars_parse_time("2022-02-30", 10, &ms));
    qt_bars_t b;
    qt_bars_init(&b);
    const char *j = "[[1502942400000,4261.48,4349.99,4261.32,4349.99,82.088865],"
                    "[1502942400000,1,1,1,1,1],[1502956800000,1,0.5,1,1,1]]";
    char e[128];
    CHECK(qt_bars_parse_json(&b, j, strlen(j), e, sizeof e) == 0);
    CHECK(b.n == 1 && b.bars[0].close == 434999000000LL && b.bars[0].volume == 8208886500LL);
    CHECK(b.rejected[QT_BARS_REJ_ORDER] == 1 && b.rejected[QT_BARS_REJ_OHLC] == 1);
    qt_bars_free(&b);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_bars selftest: %s\n", fails ? "FAIL" : "ok");
    return fails ? -1 : 0;
}
