/* qt_registry: content-addressed model artifacts, index, promotion and audit; the
 * contract is in qt_registry.h. Every file read here is hostile: sizes are bounded,
 * JSON is parsed strictly, and ids are re-derived from the bytes before use. */
#include "qt_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qt_log.h"
#include "qt_redis.h"

#define MAX_FILE (64u * 1024u * 1024u)   /* model / meta / index size limit */

struct qt_registry_t {
    char dir[1024];
};

/* ------------------------------------------------------------------ small helpers */

void qt_registry_sha256_hex(const void *data, size_t len, char hex[QT_REGISTRY_ID_LEN + 1]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[QT_REGISTRY_ID_LEN] = '\0';
}

bool qt_registry_id_valid(const char *s) {
    if (!s || strlen(s) != QT_REGISTRY_ID_LEN) return false;
    for (size_t i = 0; i < QT_REGISTRY_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static bool name_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static int mkdir_p(const char *path) {
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Whole file into a malloc'd buffer (NUL-terminated); -1 on error or > MAX_FILE. */
static int read_file(const char *path, uint8_t **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            if (cap > MAX_FILE) {
                free(buf);
                fclose(f);
                return -1;
            }
            size_t nc = cap ? cap * 2 : 65536 + 1;
            uint8_t *b = realloc(buf, nc);
            if (!b) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = b;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, 65536, f);
        n += r;
        if (r < 65536) break;
    }
    bool bad = ferror(f) || n > MAX_FILE;
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Writes data to path atomically: path.tmp.<pid>, fsync, rename. If keep_tmp, the temp
 * file is left for the caller to rename (its name in tmp_out). */
static int write_tmp(const char *path, const void *data, size_t len, char *tmp, size_t tmplen) {
    if (snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid()) >= (int)tmplen) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int write_atomic(const char *path, const void *data, size_t len) {
    char tmp[1200];
    if (write_tmp(path, data, len, tmp, sizeof tmp) != 0) return -1;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static char *canonical(const json_t *j) {
    return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* id = sha256(model || "\n" || canonical(meta)) */
static int derive_id(const json_t *meta, const uint8_t *model, size_t len,
                     char id[QT_REGISTRY_ID_LEN + 1]) {
    char *c = canonical(meta);
    if (!c) return -1;
    size_t cl = strlen(c);
    uint8_t *buf = malloc(len + 1 + cl);
    if (!buf) {
        free(c);
        return -1;
    }
    if (len) memcpy(buf, model, len);
    buf[len] = '\n';
    memcpy(buf + len + 1, c, cl);
    qt_registry_sha256_hex(buf, len + 1 + cl, id);
    free(buf);
    free(c);
    return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (err) snprintf(err, errlen, fmt, a ? a : "", b ? b : "");
}

/* ------------------------------------------------------------------ open / close */

qt_registry_t *qt_registry_open(const char *dir, char *err, size_t errlen) {
    if (!dir || !*dir || strlen(dir) > 900) {
        seterr(err, errlen, "registry dir '%s' invalid%s", dir, NULL);
        return NULL;
    }
    if (mkdir_p(dir) != 0) {
        seterr(err, errlen, "registry dir '%s': %s", dir, strerror(errno));
        return NULL;
    }
    qt_registry_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    return r;
}

void qt_registry_close(qt_registry_t **self_p) {
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

const char *qt_registry_dir(const qt_registry_t *self) { return self->dir; }

/* flock on <dir>/.lock; returns the fd or -1 */
static int lock_dir(qt_registry_t *self) {
    char p[1100];
    snprintf(p, sizeof p, "%s/.lock", self->dir);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
static void unlock_dir(int fd) {
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* ------------------------------------------------------------------ index */

static json_t *index_empty(void) {
    return json_pack("{s:i, s:[], s:{}}", "version", 1, "artifacts", "promoted");
}

static bool index_valid(const json_t *ix) {
    json_t *a = json_object_get(ix, "artifacts"), *p = json_object_get(ix, "promoted");
    if (!json_is_object(ix) || json_integer_value(json_object_get(ix, "version")) != 1 ||
        !json_is_array(a) || !json_is_object(p))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!qt_registry_id_valid(json_string_value(json_object_get(v, "id"))) ||
            !name_valid(json_string_value(json_object_get(v, "name"))))
            return false;
    }
    const char *k;
    json_object_foreach(p, k, v) {
        json_t *h = json_object_get(v, "history");
        if (!name_valid(k) || !qt_registry_id_valid(json_string_value(json_object_get(v, "id"))) ||
            !json_is_array(h))
            return false;
        size_t j;
        json_t *e;
        json_array_foreach(h, j, e) if (!qt_registry_id_valid(json_string_value(e))) return false;
    }
    return true;
}

json_t *qt_registry_index(qt_registry_t *self, char *err, size_t errlen) {
    char p[1100];
    snprintf(p, sizeof p, "%s/index.json", self->dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_file(p, &buf, &len) != 0) {
        if (errno == ENOENT) return index_empty();
        seterr(err, errlen, "%s: %s", p, strerror(errno));
        return NULL;
    }
    json_error_t je;
    json_t *ix = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!ix || !index_valid(ix)) {
        if (err) snprintf(err, errlen, "%s: corrupt index%s%s", p, ix ? "" : ": ", ix ? "" : je.text);
        json_decref(ix);
        return NULL;
    }
    return ix;
}

static int index_write_tmp(qt_registry_t *self, const json_t *ix, char *tmp, size_t tmplen) {
    char p[1100];
    snprintf(p, sizeof p, "%s/index.json", self->dir);
    char *s = json_dumps(ix, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!s) return -1;
    int rc = write_tmp(p, s, strlen(s), tmp, tmplen);
    free(s);
    return rc;
}

static int index_commit(qt_registry_t *self, const char *tmp) {
    char p[1100];
    snprintf(p, sizeof p, "%s/index.json", self->dir);
    if (rename(tmp, p) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ put / get */

int qt_registry_put(qt_registry_t *self, const json_t *meta, const char *model_file,
                    const uint8_t *model, size_t len, int64_t now_ms,
                    char id[QT_REGISTRY_ID_LEN + 1], char *err, size_t errlen) {
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (!json_is_object(meta) || !name_valid(name)) {
        seterr(err, errlen, "meta: 'name' missing or not [A-Za-z0-9_.-]{1,63}%s%s", NULL, NULL);
        return -1;
    }
    if (!model_file || (strcmp(model_file, "model.ubj") != 0 && strcmp(model_file, "model.json") != 0)) {
        seterr(err, errlen, "model file name '%s' not model.ubj or model.json%s", model_file, NULL);
        return -1;
    }
    if (!model || len == 0 || len > MAX_FILE) {
        seterr(err, errlen, "model bytes empty or too large%s%s", NULL, NULL);
        return -1;
    }
    static const char *reserved[] = {"id", "model_file", "model_sha256", "created_ms"};
    for (size_t i = 0; i < 4; i++)
        if (json_object_get(meta, reserved[i])) {
            seterr(err, errlen, "meta: key '%s' is reserved for the registry%s", reserved[i], NULL);
            return -1;
        }
    if (derive_id(meta, model, len, id) != 0) {
        seterr(err, errlen, "out of memory%s%s", NULL, NULL);
        return -1;
    }
    char adir[1100], p[1200], tdir[1100];
    snprintf(adir, sizeof adir, "%s/%s", self->dir, id);
    int lk = lock_dir(self);
    if (lk < 0) {
        seterr(err, errlen, "%s: cannot lock: %s", self->dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    json_t *full = NULL, *ix = NULL;
    struct stat st;
    if (stat(adir, &st) != 0) {
        /* build the artifact in a temp dir, then rename it into place (atomic) */
        snprintf(tdir, sizeof tdir, "%s/.tmp-%s-%ld", self->dir, id, (long)getpid());
        if (mkdir(tdir, 0755) != 0 && errno != EEXIST) {
            seterr(err, errlen, "%s: %s", tdir, strerror(errno));
            goto out;
        }
        char sha[QT_REGISTRY_ID_LEN + 1];
        qt_registry_sha256_hex(model, len, sha);
        full = json_deep_copy(meta);
        json_object_set_new(full, "id", json_string(id));
        json_object_set_new(full, "model_file", json_string(model_file));
        json_object_set_new(full, "model_sha256", json_string(sha));
        json_object_set_new(full, "created_ms", json_integer(now_ms));
        char *ms = json_dumps(full, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        snprintf(p, sizeof p, "%s/%s", tdir, model_file);
        bool ok = ms && write_atomic(p, model, len) == 0;
        snprintf(p, sizeof p, "%s/meta.json", tdir);
        ok = ok && write_atomic(p, ms, strlen(ms)) == 0;
        free(ms);
        if (!ok || rename(tdir, adir) != 0) {
            seterr(err, errlen, "%s: cannot write artifact: %s", adir, strerror(errno));
            snprintf(p, sizeof p, "%s/%s", tdir, model_file);
            unlink(p);
            snprintf(p, sizeof p, "%s/meta.json", tdir);
            unlink(p);
            rmdir(tdir);
            goto out;
        }
    }
    ix = qt_registry_index(self, err, errlen);
    if (!ix) goto out;
    json_t *arts = json_object_get(ix, "artifacts"), *v;
    size_t i;
    bool listed = false;
    json_array_foreach(arts, i, v) listed |= strcmp(json_string_value(json_object_get(v, "id")), id) == 0;
    if (!listed) {
        json_array_append_new(arts, json_pack("{s:s, s:s, s:I}", "id", id, "name", name,
                                              "created_ms", (json_int_t)now_ms));
        char tmp[1200];
        if (index_write_tmp(self, ix, tmp, sizeof tmp) != 0 || index_commit(self, tmp) != 0) {
            seterr(err, errlen, "%s: cannot write index: %s", self->dir, strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(full);
    json_decref(ix);
    unlock_dir(lk);
    return rc;
}

int qt_registry_get(qt_registry_t *self, const char *id, json_t **meta, uint8_t **model,
                    size_t *len, char *err, size_t errlen) {
    *meta = NULL;
    if (model) *model = NULL;
    if (!qt_registry_id_valid(id)) {
        seterr(err, errlen, "'%s' is not an artifact id (64 hex digits)%s", id, NULL);
        return -1;
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/%s/meta.json", self->dir, id);
    uint8_t *mb = NULL, *bytes = NULL;
    size_t ml = 0, bl = 0;
    if (read_file(p, &mb, &ml) != 0) {
        seterr(err, errlen, "artifact %s: %s", id, errno == ENOENT ? "not found" : strerror(errno));
        return -1;
    }
    json_error_t je;
    json_t *m = json_loadb((const char *)mb, ml, JSON_REJECT_DUPLICATES, &je);
    free(mb);
    const char *mf = json_string_value(json_object_get(m, "model_file"));
    const char *sha = json_string_value(json_object_get(m, "model_sha256"));
    if (!json_is_object(m) || !mf || !sha || !json_is_integer(json_object_get(m, "created_ms")) ||
        (strcmp(mf, "model.ubj") != 0 && strcmp(mf, "model.json") != 0) ||
        strcmp(json_string_value(json_object_get(m, "id")) ? json_string_value(json_object_get(m, "id")) : "", id) != 0) {
        seterr(err, errlen, "%s: corrupt meta.json%s", p, NULL);
        json_decref(m);
        return -1;
    }
    snprintf(p, sizeof p, "%s/%s/%s", self->dir, id, mf);
    if (read_file(p, &bytes, &bl) != 0) {
        seterr(err, errlen, "%s: %s", p, strerror(errno));
        json_decref(m);
        return -1;
    }
    char h[QT_REGISTRY_ID_LEN + 1], did[QT_REGISTRY_ID_LEN + 1];
    qt_registry_sha256_hex(bytes, bl, h);
    json_t *ident = json_deep_copy(m);
    json_object_del(ident, "id");
    json_object_del(ident, "model_file");
    json_object_del(ident, "model_sha256");
    json_object_del(ident, "created_ms");
    int dr = derive_id(ident, bytes, bl, did);
    json_decref(ident);
    if (strcmp(h, sha) != 0 || dr != 0 || strcmp(did, id) != 0) {
        seterr(err, errlen, "artifact %s: hash mismatch (modified or corrupt)%s", id, NULL);
        free(bytes);
        json_decref(m);
        return -1;
    }
    *meta = m;
    if (model) {
        *model = bytes;
        *len = bl;
    } else {
        free(bytes);
    }
    return 0;
}

int qt_registry_promoted(qt_registry_t *self, const char *name,
                         char id[QT_REGISTRY_ID_LEN + 1], char *err, size_t errlen) {
    json_t *ix = qt_registry_index(self, err, errlen);
    if (!ix) return -1;
    const char *s = json_string_value(json_object_get(json_object_get(json_object_get(ix, "promoted"), name), "id"));
    int rc = 0;
    if (s) {
        snprintf(id, QT_REGISTRY_ID_LEN + 1, "%s", s);
        rc = 1;
    }
    json_decref(ix);
    return rc;
}

/* ------------------------------------------------------------------ promote / rollback */

static void audit(qt_registry_t *self, const char *action, const char *name, const char *id,
                  const char *prev, const char *by, const char *reason, int64_t now_ms) {
    json_t *a = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s, s:s}", "ts_ms", (json_int_t)now_ms,
                          "action", action, "name", name, "id", id, "previous", prev, "by",
                          by ? by : "", "reason", reason ? reason : "");
    char *line = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char p[1100];
    snprintf(p, sizeof p, "%s/audit.jsonl", self->dir);
    int fd = line ? open(p, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    if (fd >= 0) {
        size_t n = strlen(line);
        line[n] = '\n';   /* json_dumps leaves room for the NUL we overwrite */
        if (write(fd, line, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0)
            qt_log_kv(QT_LOG_ERROR, "registry_audit_write_failed", "file", p, NULL);
        close(fd);
    } else {
        qt_log_kv(QT_LOG_ERROR, "registry_audit_write_failed", "file", p, NULL);
    }
    qt_log_kv(QT_LOG_INFO, "model_promotion", "action", action, "name", name, "id", id,
              "previous", prev ? prev : "", "by", by ? by : "", "reason", reason ? reason : "",
              NULL);
    free(line);
    json_decref(a);
}

/* Shared tail: ix already modified; write temp, set pointer, commit. */
static int promote_commit(qt_registry_t *self, json_t *ix, const char *name, const char *id,
                          qt_registry_pointer_fn set_pointer, void *ud, char *err, size_t errlen) {
    char tmp[1200];
    if (index_write_tmp(self, ix, tmp, sizeof tmp) != 0) {
        seterr(err, errlen, "%s: cannot write index: %s", self->dir, strerror(errno));
        return -1;
    }
    if (set_pointer && set_pointer(ud, name, id, err, errlen) != 0) {
        unlink(tmp);
        return -1;
    }
    if (index_commit(self, tmp) != 0) {
        seterr(err, errlen, "%s: cannot commit index: %s", self->dir, strerror(errno));
        return -1;
    }
    return 0;
}

int qt_registry_promote(qt_registry_t *self, const char *id, const char *by,
                        const char *reason, int64_t now_ms, qt_registry_pointer_fn set_pointer,
                        void *ud, char *err, size_t errlen) {
    json_t *meta = NULL;
    if (qt_registry_get(self, id, &meta, NULL, NULL, err, errlen) != 0) return -1;
    char name[64];
    snprintf(name, sizeof name, "%s", json_string_value(json_object_get(meta, "name")));
    json_decref(meta);
    int lk = lock_dir(self);
    if (lk < 0) {
        seterr(err, errlen, "%s: cannot lock: %s", self->dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    json_t *ix = qt_registry_index(self, err, errlen);
    if (!ix) goto out;
    json_t *prom = json_object_get(ix, "promoted"), *cur = json_object_get(prom, name);
    char prev[QT_REGISTRY_ID_LEN + 1] = "";
    if (cur) snprintf(prev, sizeof prev, "%s", json_string_value(json_object_get(cur, "id")));
    if (strcmp(prev, id) == 0) {   /* already promoted: re-assert the pointer only */
        rc = set_pointer ? set_pointer(ud, name, id, err, errlen) : 0;
        goto out;
    }
    json_t *hist = cur ? json_deep_copy(json_object_get(cur, "history")) : json_array();
    if (*prev) json_array_append_new(hist, json_string(prev));
    while (json_array_size(hist) > QT_REGISTRY_HISTORY_MAX) json_array_remove(hist, 0);
    json_object_set_new(prom, name, json_pack("{s:s, s:o, s:I}", "id", id, "history", hist,
                                              "promoted_ms", (json_int_t)now_ms));
    rc = promote_commit(self, ix, name, id, set_pointer, ud, err, errlen);
    if (rc == 0) audit(self, "promote", name, id, *prev ? prev : NULL, by, reason, now_ms);
out:
    json_decref(ix);
    unlock_dir(lk);
    return rc;
}

int qt_registry_rollback(qt_registry_t *self, const char *name, const char *by,
                         const char *reason, int64_t now_ms, qt_registry_pointer_fn set_pointer,
                         void *ud, char id_out[QT_REGISTRY_ID_LEN + 1], char *err,
                         size_t errlen) {
    if (!name_valid(name)) {
        seterr(err, errlen, "model name '%s' invalid%s", name, NULL);
        return -1;
    }
    int lk = lock_dir(self);
    if (lk < 0) {
        seterr(err, errlen, "%s: cannot lock: %s", self->dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    json_t *ix = qt_registry_index(self, err, errlen);
    if (!ix) goto out;
    json_t *cur = json_object_get(json_object_get(ix, "promoted"), name);
    json_t *hist = json_object_get(cur, "history");
    if (!cur || json_array_size(hist) == 0) {
        seterr(err, errlen, "model '%s' has no earlier promotion to roll back to%s", name, NULL);
        goto out;
    }
    char prev[QT_REGISTRY_ID_LEN + 1], now_id[QT_REGISTRY_ID_LEN + 1];
    snprintf(now_id, sizeof now_id, "%s", json_string_value(json_object_get(cur, "id")));
    snprintf(prev, sizeof prev, "%s", json_string_value(json_array_get(hist, json_array_size(hist) - 1)));
    json_t *m = NULL;
    if (qt_registry_get(self, prev, &m, NULL, NULL, err, errlen) != 0) goto out;
    json_decref(m);
    json_array_remove(hist, json_array_size(hist) - 1);
    json_object_set_new(cur, "id", json_string(prev));
    json_object_set_new(cur, "promoted_ms", json_integer(now_ms));
    rc = promote_commit(self, ix, name, prev, set_pointer, ud, err, errlen);
    if (rc == 0) {
        audit(self, "rollback", name, prev, now_id, by, reason, now_ms);
        if (id_out) snprintf(id_out, QT_REGISTRY_ID_LEN + 1, "%s", prev);
    }
out:
    json_decref(ix);
    unlock_dir(lk);
    return rc;
}

int qt_registry_redis_set(void *redis, const char *name, const char *id, char *err,
                          size_t errlen) {
    redisReply *r = qt_redis_cmd(redis, "SET %s%s %s", QT_REGISTRY_REDIS_PREFIX, name, id);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc != 0 && err)
        snprintf(err, errlen, "redis SET %s%s failed: %s", QT_REGISTRY_REDIS_PREFIX, name,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "unreachable");
    if (r) freeReplyObject(r);
    return rc;
}

int qt_registry_redis_get(struct qt_redis_t *redis, const char *name,
                          char id[QT_REGISTRY_ID_LEN + 1]) {
    redisReply *r = qt_redis_cmd(redis, "GET %s%s", QT_REGISTRY_REDIS_PREFIX, name);
    if (!r) return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_NIL) rc = 0;
    else if (r->type == REDIS_REPLY_STRING && qt_registry_id_valid(r->str)) {
        snprintf(id, QT_REGISTRY_ID_LEN + 1, "%s", r->str);
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

int qt_registry_selftest(bool verbose) {
    int fails = 0;
    char h[QT_REGISTRY_ID_LEN + 1];
    qt_registry_sha256_hex("abc", 3, h);
    fails += strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0;
    fails += !qt_registry_id_valid(h);
    fails += qt_registry_id_valid("BA7816") || qt_registry_id_valid(NULL);
    if (verbose) fprintf(stderr, "qt_registry selftest: %d failure(s)\n", fails);
    return fails;
}
