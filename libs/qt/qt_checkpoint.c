/* qt_checkpoint: one Redis value per service holding a self-verifying state record.
 *
 * Record (little-endian):
 *   "QTCK" | u32 format (1) | u64 seq | u32 payload length | payload | SHA-256(all before)
 * The digest makes a partial write, a bit flip or a hand edit detectable; a record
 * that fails any check is refused as a whole (never half-loaded). The sequence number
 * grows by one per save (read from the stored record's header with GETRANGE) so
 * operators and tests can see checkpoints advancing. */
#include "qt_checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "qt_log.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int outlen = 0;
    if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != 32)
        return -1;
    return 0;
}

static void set_why(char *why, size_t whylen, const char *msg)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
}

uint8_t *qt_checkpoint_encode(uint64_t seq, const uint8_t *payload, size_t len, size_t *reclen)
{
    if (!reclen || (!payload && len) || len > QT_CKPT_MAX_PAYLOAD)
        return NULL;
    size_t total = QT_CKPT_OVERHEAD + len;
    uint8_t *rec = malloc(total);
    if (!rec)
        return NULL;
    memcpy(rec, QT_CKPT_MAGIC, 4);
    put_le(rec + 4, QT_CKPT_FORMAT, 4);
    put_le(rec + 8, seq, 8);
    put_le(rec + 16, (uint64_t)len, 4);
    if (len)
        memcpy(rec + QT_CKPT_HEADER, payload, len);
    if (sha256(rec, QT_CKPT_HEADER + len, rec + QT_CKPT_HEADER + len) != 0) {
        free(rec);
        return NULL;
    }
    *reclen = total;
    return rec;
}

int qt_checkpoint_decode(const uint8_t *rec, size_t reclen, uint64_t *seq,
                         const uint8_t **payload, size_t *len, char *why, size_t whylen)
{
    if (!rec || reclen < QT_CKPT_OVERHEAD) {
        set_why(why, whylen, "truncated record");
        return -1;
    }
    if (memcmp(rec, QT_CKPT_MAGIC, 4) != 0) {
        set_why(why, whylen, "bad magic");
        return -1;
    }
    if (get_le(rec + 4, 4) != QT_CKPT_FORMAT) {
        set_why(why, whylen, "unsupported format version");
        return -1;
    }
    uint64_t plen = get_le(rec + 16, 4);
    if (plen > QT_CKPT_MAX_PAYLOAD || plen != reclen - QT_CKPT_OVERHEAD) {
        set_why(why, whylen, "payload length does not match record size");
        return -1;
    }
    uint8_t digest[32];
    if (sha256(rec, QT_CKPT_HEADER + plen, digest) != 0) {
        set_why(why, whylen, "sha-256 unavailable");
        return -1;
    }
    if (memcmp(digest, rec + QT_CKPT_HEADER + plen, 32) != 0) {
        set_why(why, whylen, "sha-256 mismatch");
        return -1;
    }
    if (seq)
        *seq = get_le(rec + 8, 8);
    if (payload)
        *payload = rec + QT_CKPT_HEADER;
    if (len)
        *len = (size_t)plen;
    return 0;
}

static int ckpt_key(char *key, size_t keylen, const char *service)
{
    if (!service || !*service)
        return -1;
    int n = snprintf(key, keylen, "qt:ckpt:%s", service);
    return (n < 0 || (size_t)n >= keylen) ? -1 : 0;
}

/* Sequence of the stored record (0 when absent or unreadable); -1 on Redis error. */
static int stored_seq(qt_redis_t *r, const char *key, uint64_t *seq)
{
    *seq = 0;
    redisReply *rep = qt_redis_cmd(r, "GETRANGE %s 0 %d", key, (int)QT_CKPT_HEADER - 1);
    if (!rep)
        return -1;
    if (rep->type == REDIS_REPLY_STRING && rep->len == QT_CKPT_HEADER &&
        memcmp(rep->str, QT_CKPT_MAGIC, 4) == 0 &&
        get_le((const uint8_t *)rep->str + 4, 4) == QT_CKPT_FORMAT)
        *seq = get_le((const uint8_t *)rep->str + 8, 8);
    int rc = rep->type == REDIS_REPLY_ERROR ? -1 : 0;
    freeReplyObject(rep);
    return rc;
}

int qt_checkpoint_save(qt_redis_t *r, const char *service, const uint8_t *state, size_t len)
{
    char key[256];
    if (!r || ckpt_key(key, sizeof key, service) != 0 || (!state && len))
        return -1;
    uint64_t seq;
    if (stored_seq(r, key, &seq) != 0)
        return -1;
    size_t reclen = 0;
    uint8_t *rec = qt_checkpoint_encode(seq + 1, state, len, &reclen);
    if (!rec) {
        qt_log_once(QT_LOG_ERROR, "checkpoint_encode_failed", "checkpoint_encode_failed",
                    "service", service, NULL);
        return -1;
    }
    const char *argv[3] = {"SET", key, (const char *)rec};
    size_t argvlen[3] = {3, strlen(key), reclen};
    redisReply *rep = qt_redis_cmdargv(r, 3, argv, argvlen);
    free(rec);
    int rc = (rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0) ? 0 : -1;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int qt_checkpoint_load_ex(qt_redis_t *r, const char *service, uint8_t **state, size_t *len,
                          uint64_t *seq, char *why, size_t whylen)
{
    char key[256];
    if (!r || !state || !len || ckpt_key(key, sizeof key, service) != 0) {
        set_why(why, whylen, "bad arguments");
        return -1;
    }
    *state = NULL;
    *len = 0;
    redisReply *rep = qt_redis_cmd(r, "GET %s", key);
    if (!rep) {
        set_why(why, whylen, "redis unreachable");
        return -1;
    }
    int rc;
    if (rep->type == REDIS_REPLY_NIL) {
        set_why(why, whylen, "no checkpoint");
        rc = 0;
    } else if (rep->type != REDIS_REPLY_STRING) {
        set_why(why, whylen, rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = rep->type == REDIS_REPLY_ERROR ? -1 : -2;
    } else {
        const uint8_t *p = NULL;
        size_t plen = 0;
        uint64_t s = 0;
        if (qt_checkpoint_decode((const uint8_t *)rep->str, rep->len, &s, &p, &plen, why,
                                 whylen) != 0) {
            rc = -2;
        } else {
            uint8_t *copy = malloc(plen ? plen : 1);
            if (!copy) {
                set_why(why, whylen, "out of memory");
                rc = -1;
            } else {
                if (plen)
                    memcpy(copy, p, plen);
                *state = copy;
                *len = plen;
                if (seq)
                    *seq = s;
                rc = 1;
            }
        }
    }
    freeReplyObject(rep);
    return rc;
}

int qt_checkpoint_load(qt_redis_t *r, const char *service, uint8_t **state, size_t *len,
                       char *why, size_t whylen)
{
    int rc = qt_checkpoint_load_ex(r, service, state, len, NULL, why, whylen);
    return rc == -2 ? -1 : rc;
}

int qt_checkpoint_clear(qt_redis_t *r, const char *service)
{
    char key[256];
    if (!r || ckpt_key(key, sizeof key, service) != 0)
        return -1;
    redisReply *rep = qt_redis_cmd(r, "DEL %s", key);
    int rc = (rep && rep->type == REDIS_REPLY_INTEGER) ? 0 : -1;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int qt_checkpoint_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fails++;                                                                        \
            if (verbose)                                                                    \
                fprintf(stderr, "qt_checkpoint selftest: %s:%d: %s\n", __FILE__, __LINE__,  \
                        #c);                                                                \
        }                                                                                   \
    } while (0)
    const uint8_t payload[] = "state bytes";
    size_t reclen = 0;
    uint8_t *rec = qt_checkpoint_encode(7, payload, sizeof payload, &reclen);
    CHECK(rec && reclen == QT_CKPT_OVERHEAD + sizeof payload);
    if (rec) {
        uint64_t seq = 0;
        const uint8_t *p = NULL;
        size_t len = 0;
        CHECK(qt_checkpoint_decode(rec, reclen, &seq, &p, &len, NULL, 0) == 0);
        CHECK(seq == 7 && len == sizeof payload && memcmp(p, payload, len) == 0);
        for (size_t n = 0; n < reclen; n++)
            CHECK(qt_checkpoint_decode(rec, n, &seq, &p, &len, NULL, 0) == -1);
        for (size_t i = 0; i < reclen; i++) {
            rec[i] ^= 0x01;
            CHECK(qt_checkpoint_decode(rec, reclen, &seq, &p, &len, NULL, 0) == -1);
            rec[i] ^= 0x01;
        }
        free(rec);
    }
    rec = qt_checkpoint_encode(1, NULL, 0, &reclen);
    CHECK(rec && reclen == QT_CKPT_OVERHEAD);
    if (rec) {
        size_t len = 99;
        CHECK(qt_checkpoint_decode(rec, reclen, NULL, NULL, &len, NULL, 0) == 0 && len == 0);
        free(rec);
    }
#undef CHECK
    return fails ? -1 : 0;
}
