/* qt_config: YAML configuration with line numbers, typed getters, env overrides
 * (see qt_config.h).
 *
 * Why this shape: the whole file is parsed up front (libyaml event API) into a small
 * tree that keeps the line of every key and value, so any later getter can name the
 * exact line of a bad value (or of the enclosing map for a missing key). The parser
 * refuses what a config should never contain: anchors/aliases, explicit tags, complex
 * (non-scalar) keys, duplicate keys (both lines named), NUL bytes in scalars, more
 * than one document, nesting deeper than QT_CONFIG_MAX_DEPTH, more than
 * QT_CONFIG_MAX_NODES nodes or QT_CONFIG_MAX_BYTES of text. Encoding errors
 * (invalid UTF-8) are reported by libyaml.
 *
 * Paths: keys joined by '.'; a key that itself contains '.' is still found (the
 * lookup tries each key as a prefix of the remaining path); in a sequence a decimal
 * segment selects an item ("assets.0.symbol"). The empty path is the root map.
 * Only the scalar getters (str/int/double/bool/money) and qt_config_has honour the
 * QT_* environment override; when an env value is bad the error names the variable
 * instead of file:line. seq_len/map_len on a missing path return 0 without error
 * (use qt_config_has when a section is mandatory) and record an error when the path
 * exists but is not a sequence/map. */
#include "qt_config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define QT_CONFIG_MAX_DEPTH 32
#define QT_CONFIG_MAX_NODES 200000
#define QT_CONFIG_MAX_BYTES (4u << 20)

typedef enum { N_SCALAR, N_MAP, N_SEQ } ntype_t;

typedef struct node {
    ntype_t type;
    int line; /* 1-based */
    char *str;             /* scalar text */
    char **keys;           /* map */
    int *key_lines;        /* map */
    struct node **kids;    /* map values / seq items */
    size_t n, cap;
} node_t;

typedef struct strlist {
    struct strlist *next;
    char s[];
} strlist_t;

struct qt_config_t {
    char *name;
    node_t *root;
    char err[512];
    bool has_err;
    strlist_t *env_values; /* env strings handed out by qt_config_str */
};

/* ------------------------------------------------------------- tree build */

static void node_free(node_t *n)
{
    if (!n)
        return;
    free(n->str);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        node_free(n->kids[i]);
    }
    free(n->keys);
    free(n->key_lines);
    free(n->kids);
    free(n);
}

typedef struct {
    yaml_parser_t p;
    const char *name;
    char *err;
    size_t errlen;
    size_t nodes;
    bool failed;
} pctx_t;

static void perr(pctx_t *c, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(pctx_t *c, const yaml_mark_t *m, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    if (!c->err || c->errlen == 0)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (m)
        snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->name, m->line + 1, m->column + 1,
                 what);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->name, what);
}

static bool next_event(pctx_t *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->p, ev)) {
        const char *problem = c->p.problem ? c->p.problem : "YAML syntax error";
        if (c->p.context)
            perr(c, &c->p.problem_mark, "%s (%s)", problem, c->p.context);
        else
            perr(c, &c->p.problem_mark, "%s", problem);
        return false;
    }
    return true;
}

static node_t *new_node(pctx_t *c, ntype_t t, const yaml_mark_t *m)
{
    if (++c->nodes > QT_CONFIG_MAX_NODES) {
        perr(c, m, "too many nodes (max %d)", QT_CONFIG_MAX_NODES);
        return NULL;
    }
    node_t *n = calloc(1, sizeof *n);
    if (!n) {
        perr(c, m, "out of memory");
        return NULL;
    }
    n->type = t;
    n->line = (int)m->line + 1;
    return n;
}

static bool node_push(pctx_t *c, node_t *parent, char *key, int key_line, node_t *kid)
{
    if (parent->n == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 4;
        node_t **k = realloc(parent->kids, nc * sizeof *k);
        if (!k)
            goto oom;
        parent->kids = k;
        if (parent->type == N_MAP) {
            char **ks = realloc(parent->keys, nc * sizeof *ks);
            if (!ks)
                goto oom;
            parent->keys = ks;
            int *kl = realloc(parent->key_lines, nc * sizeof *kl);
            if (!kl)
                goto oom;
            parent->key_lines = kl;
        }
        parent->cap = nc;
    }
    parent->kids[parent->n] = kid;
    if (parent->type == N_MAP) {
        parent->keys[parent->n] = key;
        parent->key_lines[parent->n] = key_line;
    }
    parent->n++;
    return true;
oom:
    perr(c, NULL, "out of memory");
    return false;
}

/* Copies a scalar's text; rejects embedded NULs. */
static char *scalar_dup(pctx_t *c, const yaml_event_t *ev)
{
    size_t len = ev->data.scalar.length;
    const char *v = (const char *)ev->data.scalar.value;
    if (memchr(v, '\0', len)) {
        perr(c, &ev->start_mark, "NUL byte in a scalar");
        return NULL;
    }
    char *s = malloc(len + 1);
    if (!s) {
        perr(c, &ev->start_mark, "out of memory");
        return NULL;
    }
    memcpy(s, v, len);
    s[len] = '\0';
    return s;
}

/* Rejects anchors, aliases and explicit tags on a node event. */
static bool check_plain(pctx_t *c, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        perr(c, &ev->start_mark, "aliases are not allowed in a config");
        return false;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    default:
        perr(c, &ev->start_mark, "unexpected YAML event");
        return false;
    }
    if (anchor) {
        perr(c, &ev->start_mark, "anchors are not allowed in a config ('&%s')", anchor);
        return false;
    }
    if (tag) {
        perr(c, &ev->start_mark, "tags are not allowed in a config ('%s')", tag);
        return false;
    }
    return true;
}

/* Builds the node for ev (a node-start event, consumed here). */
static node_t *parse_node(pctx_t *c, yaml_event_t *ev, int depth)
{
    if (!check_plain(c, ev)) {
        yaml_event_delete(ev);
        return NULL;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        node_t *n = new_node(c, N_SCALAR, &ev->start_mark);
        if (n && !(n->str = scalar_dup(c, ev))) {
            node_free(n);
            n = NULL;
        }
        yaml_event_delete(ev);
        return n;
    }
    bool is_map = ev->type == YAML_MAPPING_START_EVENT;
    if (depth >= QT_CONFIG_MAX_DEPTH) {
        perr(c, &ev->start_mark, "nesting deeper than %d levels", QT_CONFIG_MAX_DEPTH);
        yaml_event_delete(ev);
        return NULL;
    }
    node_t *n = new_node(c, is_map ? N_MAP : N_SEQ, &ev->start_mark);
    yaml_event_delete(ev);
    if (!n)
        return NULL;
    for (;;) {
        yaml_event_t e;
        if (!next_event(c, &e))
            goto fail;
        if (e.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&e);
            return n;
        }
        if (!is_map) {
            node_t *kid = parse_node(c, &e, depth + 1);
            if (!kid)
                goto fail;
            if (!node_push(c, n, NULL, 0, kid)) {
                node_free(kid);
                goto fail;
            }
            continue;
        }
        /* map: key (scalar) then value */
        if (e.type != YAML_SCALAR_EVENT) {
            if (e.type == YAML_ALIAS_EVENT || check_plain(c, &e))
                perr(c, &e.start_mark,
                     e.type == YAML_ALIAS_EVENT ? "aliases are not allowed in a config"
                                                : "map keys must be scalars");
            yaml_event_delete(&e);
            goto fail;
        }
        if (!check_plain(c, &e)) {
            yaml_event_delete(&e);
            goto fail;
        }
        int key_line = (int)e.start_mark.line + 1;
        yaml_mark_t key_mark = e.start_mark;
        char *key = scalar_dup(c, &e);
        yaml_event_delete(&e);
        if (!key)
            goto fail;
        for (size_t i = 0; i < n->n; i++) {
            if (strcmp(n->keys[i], key) == 0) {
                perr(c, &key_mark, "duplicate key '%.100s' (lines %d and %d)", key,
                     n->key_lines[i], key_line);
                free(key);
                goto fail;
            }
        }
        yaml_event_t v;
        if (!next_event(c, &v)) {
            free(key);
            goto fail;
        }
        node_t *kid = parse_node(c, &v, depth + 1);
        if (!kid) {
            free(key);
            goto fail;
        }
        if (!node_push(c, n, key, key_line, kid)) {
            free(key);
            node_free(kid);
            goto fail;
        }
    }
fail:
    node_free(n);
    return NULL;
}

qt_config_t *qt_config_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen)
{
    pctx_t c = {.name = name ? name : "<config>", .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!text) {
        perr(&c, NULL, "no text");
        return NULL;
    }
    if (len > QT_CONFIG_MAX_BYTES) {
        perr(&c, NULL, "config larger than %u bytes", QT_CONFIG_MAX_BYTES);
        return NULL;
    }
    if (!yaml_parser_initialize(&c.p)) {
        perr(&c, NULL, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    node_t *root = NULL;
    yaml_event_t ev;
    bool in_doc = false, done = false;
    while (!c.failed && !done) {
        if (!next_event(&c, &ev))
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (root) {
                perr(&c, &ev.start_mark, "more than one YAML document");
                yaml_event_delete(&ev);
                break;
            }
            in_doc = true;
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_END_EVENT:
            in_doc = false;
            yaml_event_delete(&ev);
            break;
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            done = true;
            break;
        default:
            if (!in_doc || root) {
                perr(&c, &ev.start_mark, "unexpected YAML content");
                yaml_event_delete(&ev);
                break;
            }
            if (ev.type != YAML_MAPPING_START_EVENT) {
                /* a document that is only a null scalar (e.g. "---" or "~") is empty */
                if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.plain_implicit &&
                    !ev.data.scalar.anchor && !ev.data.scalar.tag &&
                    (ev.data.scalar.length == 0 ||
                     strcmp((const char *)ev.data.scalar.value, "~") == 0 ||
                     strcmp((const char *)ev.data.scalar.value, "null") == 0)) {
                    yaml_mark_t top = {0, 0, 0}; /* an empty config: line 1 */
                    root = new_node(&c, N_MAP, &top);
                    yaml_event_delete(&ev);
                    break;
                }
                perr(&c, &ev.start_mark, "the top level of a config must be a mapping");
                yaml_event_delete(&ev);
                break;
            }
            root = parse_node(&c, &ev, 0);
            break;
        }
    }
    yaml_parser_delete(&c.p);
    if (c.failed) {
        node_free(root);
        return NULL;
    }
    if (!root) { /* empty stream */
        yaml_mark_t m = {0, 0, 0};
        root = new_node(&c, N_MAP, &m);
        if (!root)
            return NULL;
    }
    qt_config_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(c.name))) {
        free(self);
        node_free(root);
        perr(&c, NULL, "out of memory");
        return NULL;
    }
    self->root = root;
    return self;
}

qt_config_t *qt_config_load(const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "<config>: no path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    const char *problem = buf ? NULL : "out of memory";
    while (!problem) {
        if (len == cap) {
            char *nb = cap > QT_CONFIG_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                problem = cap > QT_CONFIG_MAX_BYTES ? "file too large" : "out of memory";
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            if (ferror(f))
                problem = "read error";
            break;
        }
    }
    fclose(f);
    if (problem) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, problem);
        free(buf);
        return NULL;
    }
    qt_config_t *self = qt_config_parse(buf, len, path, err, errlen);
    free(buf);
    return self;
}

void qt_config_destroy(qt_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_config_t *self = *self_p;
    node_free(self->root);
    free(self->name);
    while (self->env_values) {
        strlist_t *nx = self->env_values->next;
        free(self->env_values);
        self->env_values = nx;
    }
    free(self);
    *self_p = NULL;
}

const char *qt_config_error(const qt_config_t *self)
{
    return self && self->has_err ? self->err : NULL;
}

const char *qt_config_name(const qt_config_t *self)
{
    return self ? self->name : NULL;
}

/* ----------------------------------------------------------------- lookup */

/* Finds the node at rest (a dotted path) below n; *deepest = the deepest container
 * reached (for the line of a missing key). */
static node_t *lookup(node_t *n, const char *rest, node_t **deepest)
{
    if (n->type != N_SCALAR && deepest)
        *deepest = n;
    if (*rest == '\0')
        return n;
    size_t rlen = strlen(rest);
    if (n->type == N_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            size_t kl = strlen(n->keys[i]);
            if (kl > rlen || strncmp(n->keys[i], rest, kl) != 0)
                continue;
            if (kl == rlen)
                return n->kids[i];
            if (rest[kl] == '.') {
                node_t *d = NULL;
                node_t *r = lookup(n->kids[i], rest + kl + 1, &d);
                if (r)
                    return r;
                if (d && deepest)
                    *deepest = d;
            }
        }
        return NULL;
    }
    if (n->type == N_SEQ) {
        size_t idx = 0, k = 0;
        while (rest[k] >= '0' && rest[k] <= '9' && k < 9)
            idx = idx * 10 + (size_t)(rest[k++] - '0');
        if (k == 0 || (rest[k] != '\0' && rest[k] != '.') || idx >= n->n)
            return NULL;
        if (rest[k] == '\0')
            return n->kids[idx];
        return lookup(n->kids[idx], rest + k + 1, deepest);
    }
    return NULL;
}

static node_t *find(qt_config_t *self, const char *path, int *missing_line)
{
    node_t *deepest = NULL;
    node_t *r = lookup(self->root, path ? path : "", &deepest);
    if (!r && missing_line)
        *missing_line = deepest ? deepest->line : 1;
    return r;
}

/* The QT_* variable name for path. */
static void env_name(const char *path, char *out, size_t len)
{
    size_t o = 0;
    const char *pre = "QT_";
    for (; *pre && o + 1 < len; pre++)
        out[o++] = *pre;
    for (const char *p = path; *p && o + 1 < len; p++) {
        char c = *p;
        if (c == '.' || c == '-')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[o++] = c;
    }
    out[o] = '\0';
}

typedef struct {
    const char *text; /* NULL when missing */
    bool from_env;
    bool not_scalar;
    const char *what; /* "a mapping" / "a sequence" when not_scalar */
    int line;         /* value line, or the parent map's line when missing */
    char env[256];
} value_t;

static void get_value(qt_config_t *self, const char *path, value_t *v)
{
    memset(v, 0, sizeof *v);
    env_name(path ? path : "", v->env, sizeof v->env);
    const char *e = getenv(v->env);
    if (e) {
        v->text = e;
        v->from_env = true;
        return;
    }
    int mline = 1;
    node_t *n = find(self, path, &mline);
    if (!n) {
        v->line = mline;
        return;
    }
    v->line = n->line;
    if (n->type != N_SCALAR) {
        v->not_scalar = true;
        v->what = n->type == N_MAP ? "a mapping" : "a sequence";
        return;
    }
    v->text = n->str;
}

static void record(qt_config_t *self, const value_t *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void record(qt_config_t *self, const value_t *v, const char *path, const char *fmt, ...)
{
    if (self->has_err)
        return;
    self->has_err = true;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int n;
    if (v->from_env)
        n = snprintf(self->err, sizeof self->err, "env %s: key '%s': %s", v->env, path, what);
    else
        n = snprintf(self->err, sizeof self->err, "%s:%d: key '%s': %s", self->name, v->line,
                     path, what);
    if (n < 0 || (size_t)n >= sizeof self->err)
        memcpy(self->err + sizeof self->err - 4, "...", 4); /* truncated: say so */
}

/* "got 'abc'" with control characters replaced and long values cut. */
static void got_text(const value_t *v, char *out, size_t len)
{
    if (v->not_scalar) {
        snprintf(out, len, "got %s", v->what);
        return;
    }
    if (!v->text) {
        snprintf(out, len, "missing");
        return;
    }
    char clean[72];
    size_t o = 0;
    const char *s = v->text;
    for (; *s && o < 64; s++)
        clean[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    clean[o] = '\0';
    snprintf(out, len, "got '%s'%s", clean, *s ? "..." : "");
}

/* Common prologue: fetch the value, handle missing/not-scalar. Returns true when
 * v->text is a usable scalar text; false (error recorded when required or not a scalar). */
static bool fetch(qt_config_t *self, const char *path, bool required, value_t *v,
                  const char *expected)
{
    get_value(self, path, v);
    if (v->text)
        return true;
    if (v->not_scalar || required) {
        char got[128];
        got_text(v, got, sizeof got);
        record(self, v, path, "expected %s, %s", expected, got);
    }
    return false;
}

/* ---------------------------------------------------------------- getters */

const char *qt_config_str(qt_config_t *self, const char *path, const char *dflt)
{
    if (!self || !path)
        return dflt ? dflt : "";
    value_t v;
    if (!fetch(self, path, dflt == NULL, &v, "string"))
        return dflt ? dflt : "";
    if (!v.from_env)
        return v.text;
    /* keep a stable copy: the environment may change later */
    size_t n = strlen(v.text);
    strlist_t *s = malloc(sizeof *s + n + 1);
    if (!s)
        return dflt ? dflt : "";
    memcpy(s->s, v.text, n + 1);
    s->next = self->env_values;
    self->env_values = s;
    return s->s;
}

static bool parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return false;
    uint64_t mag = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (mag > (UINT64_MAX - d) / 10)
            return false;
        mag = mag * 10 + d;
    }
    if (*p)
        return false;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return false;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)mag;
    }
    return true;
}

int64_t qt_config_int(qt_config_t *self, const char *path, bool required, int64_t dflt,
                      int64_t min, int64_t max)
{
    if (!self || !path)
        return dflt;
    char expected[96];
    snprintf(expected, sizeof expected, "integer in [%lld, %lld]", (long long)min,
             (long long)max);
    value_t v;
    if (!fetch(self, path, required, &v, expected))
        return dflt;
    int64_t r;
    if (!parse_i64(v.text, &r) || r < min || r > max) {
        char got[128];
        got_text(&v, got, sizeof got);
        record(self, &v, path, "expected %s, %s", expected, got);
        return dflt;
    }
    return r;
}

double qt_config_double(qt_config_t *self, const char *path, bool required, double dflt,
                        double min, double max)
{
    if (!self || !path)
        return dflt;
    char expected[96];
    snprintf(expected, sizeof expected, "number in [%g, %g]", min, max);
    value_t v;
    if (!fetch(self, path, required, &v, expected))
        return dflt;
    const char *s = v.text;
    bool ok = false;
    double r = 0;
    /* strtod accepts hex floats, "nan", "inf" and leading space: refuse those */
    bool shape = (*s == '-' || *s == '+' || (*s >= '0' && *s <= '9') || *s == '.') &&
                 !strpbrk(s, "xXnNiI \t");
    if (shape) {
        char *end;
        errno = 0;
        r = strtod(s, &end);
        ok = end != s && *end == '\0' && errno != ERANGE && isfinite(r) && r >= min && r <= max;
    }
    if (!ok) {
        char got[128];
        got_text(&v, got, sizeof got);
        record(self, &v, path, "expected %s, %s", expected, got);
        return dflt;
    }
    return r;
}

bool qt_config_bool(qt_config_t *self, const char *path, bool required, bool dflt)
{
    if (!self || !path)
        return dflt;
    const char *expected = "boolean (true/false)";
    value_t v;
    if (!fetch(self, path, required, &v, expected))
        return dflt;
    static const char *const T[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const F[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        if (strcmp(v.text, T[i]) == 0)
            return true;
        if (strcmp(v.text, F[i]) == 0)
            return false;
    }
    char got[128];
    got_text(&v, got, sizeof got);
    record(self, &v, path, "expected %s, %s", expected, got);
    return dflt;
}

qt_fixed_t qt_config_money(qt_config_t *self, const char *path, bool required, qt_fixed_t dflt)
{
    if (!self || !path)
        return dflt;
    const char *expected = "decimal amount (up to 8 decimals, |x| < 92233720368)";
    value_t v;
    if (!fetch(self, path, required, &v, expected))
        return dflt;
    qt_fixed_t r;
    qt_money_status_t st = qt_fixed_parse(v.text, &r);
    if (st != QT_MONEY_OK) {
        char got[128];
        got_text(&v, got, sizeof got);
        record(self, &v, path, "expected %s, %s (%s)", expected, got, qt_money_status_str(st));
        return dflt;
    }
    return r;
}

bool qt_config_has(qt_config_t *self, const char *path)
{
    if (!self || !path)
        return false;
    char env[256];
    env_name(path, env, sizeof env);
    if (getenv(env))
        return true;
    return find(self, path, NULL) != NULL;
}

/* Container at path of the wanted type; NULL when missing (no error) or wrong type
 * (error recorded). */
static node_t *container(qt_config_t *self, const char *path, ntype_t want)
{
    if (!self)
        return NULL;
    int mline = 1;
    node_t *n = find(self, path, &mline);
    if (!n)
        return NULL;
    if (n->type != want) {
        value_t v;
        memset(&v, 0, sizeof v);
        v.line = n->line;
        v.not_scalar = n->type != N_SCALAR;
        v.what = n->type == N_MAP ? "a mapping" : "a sequence";
        v.text = n->type == N_SCALAR ? n->str : NULL;
        char got[128];
        got_text(&v, got, sizeof got);
        record(self, &v, path ? path : "", "expected %s, %s",
               want == N_MAP ? "a mapping" : "a sequence", got);
        return NULL;
    }
    return n;
}

size_t qt_config_seq_len(qt_config_t *self, const char *path)
{
    node_t *n = container(self, path, N_SEQ);
    return n ? n->n : 0;
}

const char *qt_config_seq_str(qt_config_t *self, const char *path, size_t i)
{
    node_t *n = container(self, path, N_SEQ);
    if (!n || i >= n->n || n->kids[i]->type != N_SCALAR)
        return NULL;
    return n->kids[i]->str;
}

size_t qt_config_map_len(qt_config_t *self, const char *path)
{
    node_t *n = container(self, path, N_MAP);
    return n ? n->n : 0;
}

const char *qt_config_map_key(qt_config_t *self, const char *path, size_t i)
{
    node_t *n = container(self, path, N_MAP);
    if (!n || i >= n->n)
        return NULL;
    return n->keys[i];
}

/* ---------------------------------------------------------------- selftest */

int qt_config_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fails++;                                                                    \
            if (verbose)                                                                \
                fprintf(stderr, "qt_config selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                               \
    } while (0)
    const char *y = "a:\n  b: 12\n  c: [x, y]\n  d: true\nprice: 0.01634790\n";
    char err[256];
    qt_config_t *c = qt_config_parse(y, strlen(y), "self.yml", err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK(qt_config_int(c, "a.b", true, 0, 0, 100) == 12);
        CHECK(qt_config_seq_len(c, "a.c") == 2);
        CHECK(strcmp(qt_config_seq_str(c, "a.c", 1), "y") == 0);
        CHECK(qt_config_bool(c, "a.d", true, false));
        CHECK(qt_config_money(c, "price", true, 0) == 1634790);
        CHECK(qt_config_map_len(c, "") == 2);
        CHECK(qt_config_error(c) == NULL);
        CHECK(qt_config_int(c, "a.b", true, 7, 0, 10) == 7);
        const char *e = qt_config_error(c);
        CHECK(e && strcmp(e, "self.yml:2: key 'a.b': expected integer in [0, 10], got '12'") == 0);
        qt_config_destroy(&c);
    }
    const char *dup = "a: 1\nb: 2\na: 3\n";
    c = qt_config_parse(dup, strlen(dup), "d.yml", err, sizeof err);
    CHECK(c == NULL && strstr(err, "lines 1 and 3") != NULL);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_config selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
