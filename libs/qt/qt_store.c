/* qt_store: curated, append-only, checksummed bar store; see qt_store.h for the layout and
 * the append rules. Commit protocol of an append: records are written after the committed
 * length (a torn tail from an earlier crash is truncated first), fsync'd, then index.json
 * is written to a temp file, fsync'd and renamed over the old one. A crash before the
 * rename leaves the old index, which still describes a valid prefix of bars.qtb. */
#include "qt_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "QTBARS01"
#define HEADER_LEN 16
#define MAX_RECORD 4096
#define MAX_DATA_BYTES ((size_t)1 << 31)

struct qt_store_t {
    char root[1024];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool qt_store_name_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > QT_STORE_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

static int mkdir_p(const char *path) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

qt_store_t *qt_store_open(const char *root, char *err, size_t errlen) {
    if (!root || !*root || strlen(root) > 900) {
        set_err(err, errlen, "store: bad root path");
        return NULL;
    }
    if (mkdir_p(root) != 0) {
        set_err(err, errlen, "store: cannot create %s: %s", root, strerror(errno));
        return NULL;
    }
    qt_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "store: out of memory");
        return NULL;
    }
    snprintf(self->root, sizeof self->root, "%s", root);
    return self;
}

void qt_store_destroy(qt_store_t **self_p) {
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

/* ---- one dataset in memory ---------------------------------------------------------- */

typedef struct {
    char dir[1200], data[1300], index[1300];
    qt_store_row_t *rows;     /* in file order */
    size_t n;
    size_t bytes;             /* committed length of bars.qtb (0 = no data yet) */
    size_t file_bytes;        /* actual length */
    bool have_index;
} ds_t;

static void ds_free(ds_t *d) {
    free(d->rows);
    d->rows = NULL;
    d->n = 0;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65]) {
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static bool row_valid(const qt_bar_t *b) {
    return b->t_ms >= 0 && b->open > 0 && b->high > 0 && b->low > 0 && b->close > 0 &&
           b->volume >= 0 && b->high >= b->open && b->high >= b->close && b->low <= b->open &&
           b->low <= b->close && b->high >= b->low;
}

static int read_whole(const char *path, uint8_t **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 1 : -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (n == cap) {
            if (cap >= MAX_DATA_BYTES) {
                free(b);
                b = NULL;
                break;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool ioerr = ferror(f);
    fclose(f);
    if (!b || ioerr) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Loads and checks a dataset (records up to the committed length). full: also rejects
 * trailing uncommitted bytes. 0 ok, -1 error (err set). */
static int ds_load(const qt_store_t *s, const char *venue, const char *symbol,
                   const char *interval, ds_t *d, bool full, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    if (!qt_store_name_valid(venue) || !qt_store_name_valid(symbol) ||
        !qt_store_name_valid(interval)) {
        set_err(err, errlen, "store: invalid dataset name %s/%s/%s", venue ? venue : "(null)",
                symbol ? symbol : "(null)", interval ? interval : "(null)");
        return -1;
    }
    snprintf(d->dir, sizeof d->dir, "%s/%s/%s/%s", s->root, venue, symbol, interval);
    snprintf(d->data, sizeof d->data, "%s/bars.qtb", d->dir);
    snprintf(d->index, sizeof d->index, "%s/index.json", d->dir);
    char sha[65] = "";
    uint64_t irows = 0;
    int64_t ifirst = -1, ilast = -1;
    json_error_t je;
    json_t *idx = json_load_file(d->index, 0, &je);
    if (idx) {
        json_t *jb = json_object_get(idx, "bytes"), *jr = json_object_get(idx, "rows"),
               *jh = json_object_get(idx, "sha256"), *js = json_object_get(idx, "schema");
        if (!json_is_integer(jb) || !json_is_integer(jr) || !json_is_string(jh) ||
            !json_is_integer(js) || json_integer_value(jb) < 0 || json_integer_value(jr) < 0 ||
            strlen(json_string_value(jh)) != 64) {
            json_decref(idx);
            set_err(err, errlen, "store: %s: malformed index", d->index);
            return -1;
        }
        if (json_integer_value(js) != (json_int_t)QT_STORE_SCHEMA_VERSION) {
            json_decref(idx);
            set_err(err, errlen, "store: %s: schema version %lld, expected %u", d->index,
                    (long long)json_integer_value(js), QT_STORE_SCHEMA_VERSION);
            return -1;
        }
        d->bytes = (size_t)json_integer_value(jb);
        irows = (uint64_t)json_integer_value(jr);
        json_t *jf = json_object_get(idx, "first_ms"), *jl = json_object_get(idx, "last_ms");
        ifirst = json_is_integer(jf) ? json_integer_value(jf) : -2;
        ilast = json_is_integer(jl) ? json_integer_value(jl) : -2;
        snprintf(sha, sizeof sha, "%s", json_string_value(jh));
        d->have_index = true;
        json_decref(idx);
    } else if (access(d->index, F_OK) == 0) {
        set_err(err, errlen, "store: %s: unreadable index: %s", d->index, je.text);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_whole(d->data, &buf, &len);
    if (rc < 0) {
        set_err(err, errlen, "store: %s: read error", d->data);
        return -1;
    }
    d->file_bytes = len;
    if (!d->have_index) {
        free(buf);
        if (full && len) {
            set_err(err, errlen, "store: %s: %zu bytes without an index (uncommitted)", d->data, len);
            return -1;
        }
        return 0;
    }
    if (d->bytes > len) {
        free(buf);
        set_err(err, errlen, "store: %s: shorter (%zu) than the committed %zu bytes", d->data,
                len, d->bytes);
        return -1;
    }
    if (full && len != d->bytes) {
        free(buf);
        set_err(err, errlen, "store: %s: %zu uncommitted trailing bytes", d->data, len - d->bytes);
        return -1;
    }
    char got[65];
    sha256_hex(buf, d->bytes, got);
    if (strcmp(got, sha) != 0) {
        free(buf);
        set_err(err, errlen, "store: %s: SHA-256 mismatch (index %s, data %s)", d->data, sha, got);
        return -1;
    }
    if (d->bytes < HEADER_LEN || memcmp(buf, MAGIC, 8) != 0 ||
        get_u32(buf + 8) != QT_STORE_SCHEMA_VERSION) {
        free(buf);
        set_err(err, errlen, "store: %s: bad header or schema version", d->data);
        return -1;
    }
    size_t pos = HEADER_LEN, cap = 0;
    while (pos < d->bytes) {
        if (d->bytes - pos < 8) goto corrupt;
        uint32_t rl = get_u32(buf + pos), crc = get_u32(buf + pos + 4);
        if (rl == 0 || rl > MAX_RECORD || rl > d->bytes - pos - 8) goto corrupt;
        const uint8_t *p = buf + pos + 8;
        if ((uint32_t)crc32(0L, p, rl) != crc) goto corrupt;
        Qt__V1__Bar *b = qt__v1__bar__unpack(NULL, rl, p);
        if (!b) goto corrupt;
        if (d->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            qt_store_row_t *nr = realloc(d->rows, nc * sizeof *nr);
            if (!nr) {
                qt__v1__bar__free_unpacked(b, NULL);
                free(buf);
                ds_free(d);
                set_err(err, errlen, "store: out of memory");
                return -1;
            }
            d->rows = nr;
            cap = nc;
        }
        d->rows[d->n].bar = (qt_bar_t){b->open_time_ms, b->open, b->high, b->low, b->close, b->volume};
        d->rows[d->n].flags = b->flags;
        d->n++;
        qt__v1__bar__free_unpacked(b, NULL);
        pos += 8 + rl;
    }
    free(buf);
    if (d->n != irows) {
        set_err(err, errlen, "store: %s: index says %llu rows, data holds %zu", d->index,
                (unsigned long long)irows, d->n);
        ds_free(d);
        return -1;
    }
    if (full) {
        int64_t lo = -1, hi = -1;
        for (size_t i = 0; i < d->n; i++) {
            int64_t t = d->rows[i].bar.t_ms;
            if (lo < 0 || t < lo) lo = t;
            if (hi < 0 || t > hi) hi = t;
        }
        if (lo != ifirst || hi != ilast) {
            set_err(err, errlen, "store: %s: first/last time disagree with the data", d->index);
            ds_free(d);
            return -1;
        }
    }
    return 0;
corrupt:
    free(buf);
    set_err(err, errlen, "store: %s: corrupt record at byte %zu", d->data, pos);
    ds_free(d);
    return -1;
}

static int cmp_row_t(const void *x, const void *y) {
    const qt_store_row_t *a = x, *b = y;
    return (a->bar.t_ms > b->bar.t_ms) - (a->bar.t_ms < b->bar.t_ms);
}

/* Index of the row at time t in a sorted array, -1 when absent. */
static long find_t(const qt_store_row_t *v, size_t n, int64_t t) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].bar.t_ms < t) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo].bar.t_ms == t ? (long)lo : -1;
}

static bool same_row(const qt_bar_t *a, uint32_t fa, const qt_bar_t *b, uint32_t fb) {
    return a->t_ms == b->t_ms && a->open == b->open && a->high == b->high && a->low == b->low &&
           a->close == b->close && a->volume == b->volume && fa == fb;
}

static int write_index(const ds_t *d, const char *venue, const char *symbol,
                       const char *interval, const uint8_t *data, size_t len, uint64_t rows,
                       int64_t first, int64_t last, char *err, size_t errlen) {
    char sha[65], tmp[1400];
    sha256_hex(data, len, sha);
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "schema",
                          (int)QT_STORE_SCHEMA_VERSION, "venue", venue, "symbol", symbol,
                          "interval", interval, "rows", (json_int_t)rows, "first_ms",
                          (json_int_t)first, "last_ms", (json_int_t)last, "bytes",
                          (json_int_t)len, "sha256", sha);
    if (!o) {
        set_err(err, errlen, "store: out of memory");
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", d->index);
    char *txt = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    int fd = txt ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    bool ok = fd >= 0;
    if (ok) {
        size_t tl = strlen(txt);
        ok = write(fd, txt, tl) == (ssize_t)tl && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
    }
    free(txt);
    if (!ok || rename(tmp, d->index) != 0) {
        set_err(err, errlen, "store: cannot write %s: %s", d->index, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int qt_store_append(qt_store_t *self, const char *venue, const char *symbol,
                    const char *interval, const Qt__V1__Bar *bars, size_t n,
                    qt_store_stats_t *out, char *err, size_t errlen) {
    qt_store_stats_t st = {0};
    st.first_conflict_ms = -1;
    if (!self || (n && !bars)) {
        set_err(err, errlen, "store: bad arguments");
        return -1;
    }
    ds_t d;
    if (ds_load(self, venue, symbol, interval, &d, false, err, errlen) != 0) return -1;
    /* sorted view of what is stored (+ what this call adds, merged as we go) */
    size_t cap = d.n + n + 1;
    qt_store_row_t *sorted = malloc(cap * sizeof *sorted);
    size_t rcap = 4096;
    uint8_t *recs = malloc(rcap);
    if (!sorted || !recs) {
        free(sorted), free(recs), ds_free(&d);
        set_err(err, errlen, "store: out of memory");
        return -1;
    }
    if (d.n) memcpy(sorted, d.rows, d.n * sizeof *sorted);
    size_t ns = d.n;
    qsort(sorted, ns, sizeof *sorted, cmp_row_t);
    size_t rl = 0;
    int64_t first = -1, last = -1;
    for (size_t i = 0; i < ns; i++) {
        if (first < 0 || sorted[i].bar.t_ms < first) first = sorted[i].bar.t_ms;
        if (last < 0 || sorted[i].bar.t_ms > last) last = sorted[i].bar.t_ms;
    }
    for (size_t i = 0; i < n; i++) {
        const Qt__V1__Bar *in = &bars[i];
        qt_bar_t b = {in->open_time_ms, in->open, in->high, in->low, in->close, in->volume};
        if (!row_valid(&b)) {
            st.invalid++;
            continue;
        }
        long k = find_t(sorted, ns, b.t_ms);
        if (k >= 0) {
            if (same_row(&sorted[k].bar, sorted[k].flags, &b, in->flags)) {
                st.skipped++;
            } else {
                if (st.conflicts++ == 0) st.first_conflict_ms = b.t_ms;
            }
            continue;
        }
        Qt__V1__Bar rec = QT__V1__BAR__INIT;
        rec.symbol = (char *)symbol;
        rec.venue = (char *)venue;
        rec.interval = (char *)interval;
        rec.open_time_ms = b.t_ms;
        rec.open = b.open, rec.high = b.high, rec.low = b.low, rec.close = b.close;
        rec.volume = b.volume;
        rec.flags = in->flags;
        size_t plen = qt__v1__bar__get_packed_size(&rec);
        if (plen == 0 || plen > MAX_RECORD) {
            st.invalid++;
            continue;
        }
        if (rcap - rl < plen + 8) {
            size_t nc = rcap * 2 + plen + 8;
            uint8_t *nr = realloc(recs, nc);
            if (!nr) {
                free(sorted), free(recs), ds_free(&d);
                set_err(err, errlen, "store: out of memory");
                return -1;
            }
            recs = nr;
            rcap = nc;
        }
        qt__v1__bar__pack(&rec, recs + rl + 8);
        put_u32(recs + rl, (uint32_t)plen);
        put_u32(recs + rl + 4, (uint32_t)crc32(0L, recs + rl + 8, (uInt)plen));
        rl += 8 + plen;
        /* insert into the sorted view (keeps later duplicates in this call detectable) */
        size_t lo = 0, hi = ns;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (sorted[mid].bar.t_ms < b.t_ms) lo = mid + 1;
            else hi = mid;
        }
        size_t at = lo;
        memmove(&sorted[at + 1], &sorted[at], (ns - at) * sizeof *sorted);
        sorted[at].bar = b;
        sorted[at].flags = in->flags;
        ns++;
        st.appended++;
        if (first < 0 || b.t_ms < first) first = b.t_ms;
        if (last < 0 || b.t_ms > last) last = b.t_ms;
    }
    free(sorted);
    ds_free(&d);
    st.rows = ns;
    int rc = 0;
    if (st.appended) {
        if (mkdir_p(d.dir) != 0) {
            set_err(err, errlen, "store: cannot create %s: %s", d.dir, strerror(errno));
            free(recs);
            return -1;
        }
        int fd = open(d.data, O_RDWR | O_CREAT, 0644);
        bool ok = fd >= 0;
        size_t base = d.have_index ? d.bytes : 0;
        /* drop a torn tail from an earlier crash, then append after the committed bytes */
        if (ok) ok = ftruncate(fd, (off_t)base) == 0;
        if (ok && base == 0) {
            uint8_t hdr[HEADER_LEN] = {0};
            memcpy(hdr, MAGIC, 8);
            put_u32(hdr + 8, QT_STORE_SCHEMA_VERSION);
            ok = pwrite(fd, hdr, HEADER_LEN, 0) == HEADER_LEN;
            base = HEADER_LEN;
        }
        if (ok) ok = pwrite(fd, recs, rl, (off_t)base) == (ssize_t)rl && fsync(fd) == 0;
        if (fd >= 0) ok = close(fd) == 0 && ok;
        if (!ok) {
            set_err(err, errlen, "store: cannot write %s: %s", d.data, strerror(errno));
            rc = -1;
        } else {
            uint8_t *all = NULL;
            size_t alen = 0;
            if (read_whole(d.data, &all, &alen) != 0 || alen != base + rl) {
                set_err(err, errlen, "store: %s: cannot re-read after append", d.data);
                rc = -1;
            } else {
                rc = write_index(&d, venue, symbol, interval, all, alen, ns, first, last, err,
                                 errlen);
            }
            free(all);
        }
    }
    free(recs);
    if (out) *out = st;
    return rc;
}

int qt_store_read(qt_store_t *self, const char *venue, const char *symbol,
                  const char *interval, qt_store_row_t **rows, size_t *n, char *err,
                  size_t errlen) {
    *rows = NULL;
    *n = 0;
    if (!self) return -1;
    ds_t d;
    if (ds_load(self, venue, symbol, interval, &d, false, err, errlen) != 0) return -1;
    if (d.n) qsort(d.rows, d.n, sizeof *d.rows, cmp_row_t);
    *rows = d.rows;
    *n = d.n;
    return 0;
}

int qt_store_verify(qt_store_t *self, const char *venue, const char *symbol,
                    const char *interval, char *err, size_t errlen) {
    if (!self) return -1;
    ds_t d;
    if (ds_load(self, venue, symbol, interval, &d, true, err, errlen) != 0) return -1;
    if (!d.have_index) {
        set_err(err, errlen, "store: %s: no such dataset", d.dir);
        return -1;
    }
    if (d.n) qsort(d.rows, d.n, sizeof *d.rows, cmp_row_t);
    for (size_t i = 0; i < d.n; i++) {
        if (!row_valid(&d.rows[i].bar) || (i && d.rows[i].bar.t_ms == d.rows[i - 1].bar.t_ms)) {
            set_err(err, errlen, "store: %s: invalid or duplicate bar at %lld", d.data,
                    (long long)d.rows[i].bar.t_ms);
            ds_free(&d);
            return -1;
        }
    }
    ds_free(&d);
    return 0;
}

static int cmp_entry(const void *x, const void *y) {
    const qt_store_entry_t *a = x, *b = y;
    int c = strcmp(a->venue, b->venue);
    if (!c) c = strcmp(a->symbol, b->symbol);
    if (!c) c = strcmp(a->interval, b->interval);
    return c;
}

/* Names of the subdirectories of path (valid names only), sorted. */
static char **list_dirs(const char *path, size_t *n) {
    *n = 0;
    DIR *dp = opendir(path);
    if (!dp) return NULL;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!qt_store_name_valid(de->d_name)) continue;
        char p[1400];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        char **nv = realloc(v, (*n + 1) * sizeof *nv);
        if (!nv) break;
        v = nv;
        if (!(v[*n] = strdup(de->d_name))) break;
        (*n)++;
    }
    closedir(dp);
    return v;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int qt_store_catalog(qt_store_t *self, qt_store_entry_t **entries, size_t *n, char *err,
                     size_t errlen) {
    *entries = NULL;
    *n = 0;
    if (!self) return -1;
    qt_store_entry_t *v = NULL;
    size_t nv = 0;
    int rc = 0;
    size_t n1 = 0;
    char **l1 = list_dirs(self->root, &n1);
    for (size_t a = 0; a < n1 && rc == 0; a++) {
        char p1[1200];
        snprintf(p1, sizeof p1, "%s/%s", self->root, l1[a]);
        size_t n2 = 0;
        char **l2 = list_dirs(p1, &n2);
        for (size_t b = 0; b < n2 && rc == 0; b++) {
            char p2[1300];
            snprintf(p2, sizeof p2, "%s/%s", p1, l2[b]);
            size_t n3 = 0;
            char **l3 = list_dirs(p2, &n3);
            for (size_t c = 0; c < n3 && rc == 0; c++) {
                char ip[1500];
                snprintf(ip, sizeof ip, "%s/%s/index.json", p2, l3[c]);
                json_error_t je;
                json_t *o = json_load_file(ip, 0, &je);
                if (!o) continue;   /* not a dataset (or no committed data yet) */
                qt_store_entry_t e = {0};
                snprintf(e.venue, sizeof e.venue, "%s", l1[a]);
                snprintf(e.symbol, sizeof e.symbol, "%s", l2[b]);
                snprintf(e.interval, sizeof e.interval, "%s", l3[c]);
                json_t *jr = json_object_get(o, "rows"), *jf = json_object_get(o, "first_ms"),
                       *jl = json_object_get(o, "last_ms"), *jh = json_object_get(o, "sha256");
                if (!json_is_integer(jr) || !json_is_integer(jf) || !json_is_integer(jl) ||
                    !json_is_string(jh)) {
                    set_err(err, errlen, "store: %s: malformed index", ip);
                    rc = -1;
                } else {
                    e.rows = (uint64_t)json_integer_value(jr);
                    e.first_ms = json_integer_value(jf);
                    e.last_ms = json_integer_value(jl);
                    snprintf(e.sha256, sizeof e.sha256, "%s", json_string_value(jh));
                    qt_store_entry_t *nvp = realloc(v, (nv + 1) * sizeof *nvp);
                    if (!nvp) {
                        set_err(err, errlen, "store: out of memory");
                        rc = -1;
                    } else {
                        v = nvp;
                        v[nv++] = e;
                    }
                }
                json_decref(o);
            }
            free_list(l3, n3);
        }
        free_list(l2, n2);
    }
    free_list(l1, n1);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (nv) qsort(v, nv, sizeof *v, cmp_entry);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nv; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "venue", v[i].venue,
                                             "symbol", v[i].symbol, "interval", v[i].interval,
                                             "rows", (json_int_t)v[i].rows, "first_ms",
                                             (json_int_t)v[i].first_ms, "last_ms",
                                             (json_int_t)v[i].last_ms, "sha256", v[i].sha256));
    json_t *root = json_pack("{s:i,s:o}", "schema", (int)QT_STORE_SCHEMA_VERSION, "datasets", arr);
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/catalog.json", self->root);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!root || json_dump_file(root, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 ||
        rename(tmp, path) != 0) {
        json_decref(root);
        free(v);
        set_err(err, errlen, "store: cannot write %s", path);
        return -1;
    }
    json_decref(root);
    *entries = v;
    *n = nv;
    return 0;
}

/* ---- selftest ------------------------------------------------------------------------ */

int qt_store_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                      \
    do {                                                              \
        if (!(c)) {                                                   \
            fails++;                                                  \
            if (verbose) fprintf(stderr, "qt_store: FAIL %s\n", #c); \
        }                                                             \
    } while (0)
    CHECK(qt_store_name_valid("BTC_USDT") && !qt_store_name_valid("..") &&
          !qt_store_name_valid("a/b") && !qt_store_name_valid(""));
    char dir[] = "/tmp/qt_store_selftest_XXXXXX";
    if (!mkdtemp(dir)) return fails + 1;
    char err[256];
    qt_store_t *s = qt_store_open(dir, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        Qt__V1__Bar b[2] = {QT__V1__BAR__INIT, QT__V1__BAR__INIT};
        for (int i = 0; i < 2; i++) {
            b[i].open_time_ms = 3600000LL * i;
            b[i].open = b[i].high = b[i].low = b[i].close = 100000000;
            b[i].volume = 5;
        }
        qt_store_stats_t st;
        CHECK(qt_store_append(s, "v", "S", "1h", b, 2, &st, err, sizeof err) == 0 && st.appended == 2);
        CHECK(qt_store_append(s, "v", "S", "1h", b, 2, &st, err, sizeof err) == 0 &&
              st.appended == 0 && st.skipped == 2);
        CHECK(qt_store_verify(s, "v", "S", "1h", err, sizeof err) == 0);
        char p[400];
        snprintf(p, sizeof p, "%s/v/S/1h/bars.qtb", dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/v/S/1h/index.json", dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/v/S/1h", dir);
        rmdir(p);
        snprintf(p, sizeof p, "%s/v/S", dir);
        rmdir(p);
        snprintf(p, sizeof p, "%s/v", dir);
        rmdir(p);
        qt_store_destroy(&s);
    }
    rmdir(dir);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_store selftest: %s\n", fails ? "FAIL" : "ok");
    return fails;
}
