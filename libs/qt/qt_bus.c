/* qt_bus: the ZeroMQ fast path (see qt_bus.h for the contract).
 *
 * Why these choices:
 * - libzmq directly: two sockets and a poll, nothing CZMQ would save us.
 * - One zmq context per process, shared by every pub/sub and reference counted, so
 *   inproc:// works between them and the last destroy terminates it (clean valgrind).
 * - PUB never blocks: ZMQ_DONTWAIT, small linger. A PUB socket drops silently for a
 *   subscriber whose queue is full (per-subscriber HWM), so the publisher cannot see
 *   those losses; the subscriber sees them as sequence gaps, which is why every
 *   message carries a per-topic sequence number. EAGAIN (should the socket ever report
 *   it) is counted in qt_bus_dropped_total; the sequence number is consumed anyway,
 *   so subscribers see the loss as a gap.
 * - Sequence tables are sorted arrays with binary search: small, bounded, no hashing
 *   to get wrong; insertions are rare (a new topic / stream). */
#include "qt_bus.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "qt_log.h"

#define PUB_MAX_TOPICS 4096      /* distinct topics per publisher */
#define SUB_MAX_STREAMS 4096     /* (source, topic) streams tracked per subscriber (LRU) */
#define PUB_SNDHWM 100000
#define SUB_RCVHWM 100000
#define PUB_LINGER_MS 100
#define SUB_MAXMSGSIZE (16LL * 1024 * 1024) /* zmq disconnects peers sending more */
#define RECV_REJECT_BUDGET 4096  /* rejected frames consumed per qt_sub_recv once timed out */

/* ------------------------------------------------------------------------------------ */
/* shared context                                                                        */

static pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static void *g_ctx;
static int g_ctx_refs;

static void *ctx_acquire(void) {
    pthread_mutex_lock(&g_ctx_mu);
    if (!g_ctx) {
        g_ctx = zmq_ctx_new();
        if (g_ctx) zmq_ctx_set(g_ctx, ZMQ_BLOCKY, 0);
    }
    void *ctx = g_ctx;
    if (ctx) g_ctx_refs++;
    pthread_mutex_unlock(&g_ctx_mu);
    return ctx;
}

static void ctx_release(void) {
    pthread_mutex_lock(&g_ctx_mu);
    if (g_ctx_refs > 0 && --g_ctx_refs == 0) {
        zmq_ctx_term(g_ctx);
        g_ctx = NULL;
    }
    pthread_mutex_unlock(&g_ctx_mu);
}

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                               */

static void cinc(qt_counter_t *c) {
    if (c) qt_counter_inc(c);
}
static void cadd(qt_counter_t *c, uint64_t n) {
    if (c && n) qt_counter_add(c, n);
}
static qt_counter_t *counter(qt_metrics_t *m, const char *name, const char *help,
                             const char *labels) {
    return m ? qt_metrics_counter(m, name, help, labels) : NULL;
}

/* Topics are 1..QT_TOPIC_MAX bytes of printable ASCII without spaces. */
static bool topic_valid_n(const char *t, size_t n) {
    if (n == 0 || n > QT_TOPIC_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e) return false;
    return true;
}
static bool topic_valid(const char *t) {
    return t && topic_valid_n(t, strnlen(t, QT_TOPIC_MAX + 1));
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

/* ------------------------------------------------------------------------------------ */
/* publisher                                                                             */

typedef struct {
    char topic[QT_TOPIC_MAX + 1];
    uint64_t seq;
} pub_topic_t;

struct qt_pub_t {
    void *sock;
    const char *source; /* interned */
    qt_clock_t *clock;
    qt_clock_t *own_clock;
    char endpoint[256];
    pub_topic_t *topics; /* sorted by topic */
    size_t n_topics, cap_topics;
    qt_counter_t *c_sent, *c_dropped, *c_errors;
};

/* Index of topic, or -(insertion point) - 1. */
static long pub_find(const qt_pub_t *self, const char *topic) {
    size_t lo = 0, hi = self->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(self->topics[mid].topic, topic);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

/* Entry for topic, created with seq 0 if needed; NULL when the table is full. */
static pub_topic_t *pub_entry(qt_pub_t *self, const char *topic) {
    long i = pub_find(self, topic);
    if (i >= 0) return &self->topics[i];
    size_t at = (size_t)(-i - 1);
    if (self->n_topics >= PUB_MAX_TOPICS) return NULL;
    if (self->n_topics == self->cap_topics) {
        size_t cap = self->cap_topics ? self->cap_topics * 2 : 16;
        pub_topic_t *t = realloc(self->topics, cap * sizeof *t);
        if (!t) return NULL;
        self->topics = t;
        self->cap_topics = cap;
    }
    memmove(&self->topics[at + 1], &self->topics[at], (self->n_topics - at) * sizeof *self->topics);
    self->n_topics++;
    pub_topic_t *e = &self->topics[at];
    memset(e, 0, sizeof *e);
    memcpy(e->topic, topic, strlen(topic) + 1);
    return e;
}

qt_pub_t *qt_pub_new(const char *endpoint, const char *source, qt_clock_t *clock,
                     qt_metrics_t *metrics, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!endpoint || !*endpoint) {
        set_err(err, errlen, "%s%s", "qt_pub_new: empty endpoint", "");
        return NULL;
    }
    const char *src = qt_env_intern(source ? source : "");
    if (!src) {
        set_err(err, errlen, "qt_pub_new: source \"%.64s\"%s: too long (max 128)", source, "");
        return NULL;
    }
    qt_pub_t *self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "%s%s", "qt_pub_new: out of memory", "");
        return NULL;
    }
    self->source = src;
    if (clock) {
        self->clock = clock;
    } else {
        self->own_clock = self->clock = qt_clock_new_wall();
        if (!self->clock) {
            free(self);
            set_err(err, errlen, "%s%s", "qt_pub_new: cannot create clock", "");
            return NULL;
        }
    }
    void *ctx = ctx_acquire();
    if (!ctx) {
        qt_clock_destroy(&self->own_clock);
        free(self);
        set_err(err, errlen, "qt_pub_new: zmq_ctx_new: %s%s", zmq_strerror(errno), "");
        return NULL;
    }
    self->sock = zmq_socket(ctx, ZMQ_PUB);
    int linger = PUB_LINGER_MS, hwm = PUB_SNDHWM;
    if (!self->sock || zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_bind(self->sock, endpoint) != 0) {
        set_err(err, errlen, "qt_pub_new: bind %s: %s", endpoint, zmq_strerror(errno));
        if (self->sock) zmq_close(self->sock);
        ctx_release();
        qt_clock_destroy(&self->own_clock);
        free(self);
        return NULL;
    }
    size_t elen = sizeof self->endpoint;
    if (zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &elen) != 0)
        snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->c_sent = counter(metrics, "qt_bus_sent_total", "Messages published on ZeroMQ", NULL);
    self->c_dropped = counter(metrics, "qt_bus_dropped_total",
                              "Messages dropped by the ZeroMQ publisher (would block)", NULL);
    self->c_errors = counter(metrics, "qt_bus_send_errors_total",
                             "Messages not published: invalid, bad topic or socket error", NULL);
    return self;
}

void qt_pub_destroy(qt_pub_t **self_p) {
    if (!self_p || !*self_p) return;
    qt_pub_t *self = *self_p;
    zmq_close(self->sock);
    ctx_release();
    qt_clock_destroy(&self->own_clock);
    free(self->topics);
    free(self);
    *self_p = NULL;
}

const char *qt_pub_endpoint(const qt_pub_t *self) { return self ? self->endpoint : NULL; }

/* 0 sent, -1 not sent. */
static int pub_frames(qt_pub_t *self, const char *topic, const uint8_t *buf, size_t len) {
    if (zmq_send(self->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, len ? buf : NULL, len, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        if (e == EAGAIN) {
            cinc(self->c_dropped);
        } else {
            cinc(self->c_errors);
            qt_log_once(QT_LOG_ERROR, "qt_bus:send_error", "bus_send_error", "topic", topic,
                        "error", zmq_strerror(e), NULL);
        }
        return -1;
    }
    cinc(self->c_sent);
    return 0;
}

int qt_pub_send(qt_pub_t *self, const char *topic, qt_env_t *env) {
    if (!self || !env) return -1;
    if (!topic_valid(topic)) {
        cinc(self->c_errors);
        qt_log_once(QT_LOG_ERROR, "qt_bus:bad_topic", "bus_send_bad_topic", "topic",
                    topic ? "(invalid)" : "(null)", NULL);
        return -1;
    }
    char why[256];
    if (!qt_env_validate(env, why, sizeof why)) {
        cinc(self->c_errors);
        qt_log_once(QT_LOG_ERROR, "qt_bus:invalid_env", "bus_send_invalid", "topic", topic,
                    "body", qt_env_body_name(env), "why", why, NULL);
        return -1;
    }
    pub_topic_t *e = pub_entry(self, topic);
    if (!e) {
        cinc(self->c_errors);
        qt_log_once(QT_LOG_ERROR, "qt_bus:too_many_topics", "bus_send_too_many_topics", "topic",
                    topic, NULL);
        return -1;
    }
    /* The seq is consumed even if sending fails below: subscribers then see a gap. */
    e->seq++;
    char *old_source = env->source;
    env->source = (char *)self->source;
    env->seq = e->seq;
    env->publish_time_ns = qt_clock_now_ns(self->clock);
    size_t len = 0;
    uint8_t *buf = qt_env_encode(env, &len);
    /* Keep our (interned) source unless env carried a string of its own, which may be
     * owned by env (qt_env_decode) and must stay where it was. */
    if (old_source && old_source != protobuf_c_empty_string && old_source != self->source)
        env->source = old_source;
    if (!buf) {
        cinc(self->c_errors);
        return -1;
    }
    int rc = pub_frames(self, topic, buf, len);
    free(buf);
    return rc;
}

int qt_pub_send_raw(qt_pub_t *self, const char *topic, const uint8_t *buf, size_t len) {
    if (!self || !topic || (!buf && len)) return -1;
    return pub_frames(self, topic, buf, len);
}

uint64_t qt_pub_seq(qt_pub_t *self, const char *topic) {
    if (!self || !topic) return 0;
    long i = pub_find(self, topic);
    return i >= 0 ? self->topics[i].seq : 0;
}

void qt_pub_set_seq(qt_pub_t *self, const char *topic, uint64_t seq) {
    if (!self || !topic_valid(topic)) return;
    pub_topic_t *e = pub_entry(self, topic);
    if (e) e->seq = seq;
    else
        qt_log_once(QT_LOG_ERROR, "qt_bus:too_many_topics", "bus_send_too_many_topics",
                    "topic", topic, NULL);
}

size_t qt_pub_topics(qt_pub_t *self, const char **names, uint64_t *seqs, size_t max) {
    if (!self) return 0;
    for (size_t i = 0; i < self->n_topics && i < max; i++) {
        if (names) names[i] = self->topics[i].topic;
        if (seqs) seqs[i] = self->topics[i].seq;
    }
    return self->n_topics;
}

/* ------------------------------------------------------------------------------------ */
/* subscriber                                                                            */

enum { REASON_FRAMES = QT_DECODE__COUNT, REASON_TOPIC, REASON__COUNT };

typedef struct {
    char *source;
    char *topic;
    uint64_t last;
    uint64_t used; /* LRU tick */
} stream_t;

struct qt_sub_t {
    void *sock;
    qt_clock_t *clock; /* private wall clock for recv deadlines */
    stream_t *streams; /* sorted by (source, topic) */
    size_t n_streams, cap_streams;
    uint64_t tick;
    uint64_t gaps, missed, stale, restarts, rejected, received;
    qt_counter_t *c_received, *c_gaps, *c_missed, *c_stale, *c_restarts;
    qt_counter_t *c_rejected[REASON__COUNT];
};

static const char *reason_str(int r) {
    if (r == REASON_FRAMES) return "frames";
    if (r == REASON_TOPIC) return "topic";
    return qt_decode_status_str((qt_decode_status_t)r);
}

qt_sub_t *qt_sub_new(qt_metrics_t *metrics) {
    qt_sub_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->clock = qt_clock_new_wall();
    void *ctx = self->clock ? ctx_acquire() : NULL;
    if (!ctx) {
        qt_clock_destroy(&self->clock);
        free(self);
        return NULL;
    }
    self->sock = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, hwm = SUB_RCVHWM;
    int64_t maxsz = SUB_MAXMSGSIZE;
    if (!self->sock || zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) != 0) {
        if (self->sock) zmq_close(self->sock);
        ctx_release();
        qt_clock_destroy(&self->clock);
        free(self);
        return NULL;
    }
    self->c_received = counter(metrics, "qt_bus_received_total",
                               "Valid messages received from ZeroMQ", NULL);
    self->c_gaps = counter(metrics, "qt_bus_gaps_total",
                           "Sequence gaps seen on ZeroMQ streams (events)", NULL);
    self->c_missed = counter(metrics, "qt_bus_missed_total",
                             "Messages missing inside sequence gaps", NULL);
    self->c_stale = counter(metrics, "qt_bus_stale_total",
                            "Messages with a sequence number already seen (duplicate/reorder)",
                            NULL);
    self->c_restarts = counter(metrics, "qt_bus_restarts_total",
                               "Publisher restarts seen (sequence back to 1)", NULL);
    for (int r = 0; r < REASON__COUNT; r++) {
        if (r == QT_DECODE_OK) continue;
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", reason_str(r));
        self->c_rejected[r] = counter(metrics, "qt_bus_rejected_total",
                                      "ZeroMQ frames rejected, by reason", labels);
    }
    return self;
}

void qt_sub_destroy(qt_sub_t **self_p) {
    if (!self_p || !*self_p) return;
    qt_sub_t *self = *self_p;
    zmq_close(self->sock);
    ctx_release();
    qt_clock_destroy(&self->clock);
    for (size_t i = 0; i < self->n_streams; i++) {
        free(self->streams[i].source);
        free(self->streams[i].topic);
    }
    free(self->streams);
    free(self);
    *self_p = NULL;
}

int qt_sub_connect(qt_sub_t *self, const char *endpoint) {
    if (!self || !endpoint) return -1;
    if (zmq_connect(self->sock, endpoint) != 0) {
        qt_log_kv(QT_LOG_ERROR, "bus_connect_failed", "endpoint", endpoint, "error",
                  zmq_strerror(errno), NULL);
        return -1;
    }
    return 0;
}

int qt_sub_subscribe(qt_sub_t *self, const char *topic_prefix) {
    if (!self || !topic_prefix) return -1;
    return zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, topic_prefix, strlen(topic_prefix)) == 0
               ? 0
               : -1;
}

static int stream_cmp(const stream_t *s, const char *source, const char *topic) {
    int c = strcmp(s->source, source);
    return c ? c : strcmp(s->topic, topic);
}

static long stream_find(const qt_sub_t *self, const char *source, const char *topic) {
    size_t lo = 0, hi = self->n_streams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = stream_cmp(&self->streams[mid], source, topic);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

static void stream_remove(qt_sub_t *self, size_t i) {
    free(self->streams[i].source);
    free(self->streams[i].topic);
    memmove(&self->streams[i], &self->streams[i + 1],
            (self->n_streams - i - 1) * sizeof *self->streams);
    self->n_streams--;
}

/* Track a new stream whose first seen seq is `seq`. Failure to track (no memory) only
 * means the next message of the stream is treated as first-seen again. */
static void stream_add(qt_sub_t *self, const char *source, const char *topic, uint64_t seq) {
    if (self->n_streams >= SUB_MAX_STREAMS) {
        size_t lru = 0;
        for (size_t i = 1; i < self->n_streams; i++)
            if (self->streams[i].used < self->streams[lru].used) lru = i;
        stream_remove(self, lru);
    }
    if (self->n_streams == self->cap_streams) {
        size_t cap = self->cap_streams ? self->cap_streams * 2 : 16;
        stream_t *s = realloc(self->streams, cap * sizeof *s);
        if (!s) return;
        self->streams = s;
        self->cap_streams = cap;
    }
    long i = stream_find(self, source, topic);
    if (i >= 0) return;
    size_t at = (size_t)(-i - 1);
    stream_t e = {strdup(source), strdup(topic), seq, self->tick};
    if (!e.source || !e.topic) {
        free(e.source);
        free(e.topic);
        return;
    }
    memmove(&self->streams[at + 1], &self->streams[at],
            (self->n_streams - at) * sizeof *self->streams);
    self->streams[at] = e;
    self->n_streams++;
}

static void track_seq(qt_sub_t *self, const char *topic, const qt_env_t *env) {
    if (env->seq == 0) return; /* unsequenced (not from a qt_pub): nothing to track */
    const char *source = env->source ? env->source : "";
    self->tick++;
    long i = stream_find(self, source, topic);
    if (i < 0) {
        stream_add(self, source, topic, env->seq);
        return;
    }
    stream_t *s = &self->streams[i];
    s->used = self->tick;
    uint64_t seq = env->seq;
    if (seq == s->last + 1) {
        s->last = seq;
    } else if (seq > s->last + 1) {
        uint64_t miss = seq - s->last - 1;
        self->gaps++;
        self->missed += miss;
        cinc(self->c_gaps);
        cadd(self->c_missed, miss);
        char a[24], b[24];
        snprintf(a, sizeof a, "%" PRIu64, s->last);
        snprintf(b, sizeof b, "%" PRIu64, seq);
        qt_log_once(QT_LOG_WARN, "qt_bus:gap", "bus_gap", "source", source, "topic", topic,
                    "last_seq", a, "seq", b, NULL);
        s->last = seq;
    } else if (seq == 1) {
        self->restarts++;
        cinc(self->c_restarts);
        qt_log_once(QT_LOG_INFO, "qt_bus:restart", "bus_publisher_restart", "source", source,
                    "topic", topic, NULL);
        s->last = 1;
    } else {
        self->stale++;
        cinc(self->c_stale);
    }
}

static void reject(qt_sub_t *self, int reason, const char *topic, const char *why) {
    self->rejected++;
    cinc(self->c_rejected[reason]);
    char key[64];
    snprintf(key, sizeof key, "qt_bus:reject:%s", reason_str(reason));
    qt_log_once(QT_LOG_WARN, key, "bus_frame_rejected", "reason", reason_str(reason), "topic",
                topic, "why", why, NULL);
}

/* Reads one whole message (all parts). 1: valid envelope returned; 0: rejected or nothing
 * there; -1: socket error. */
static int read_one(qt_sub_t *self, char *topic, size_t topiclen, qt_env_t **env) {
    zmq_msg_t parts[2];
    size_t n = 0;
    int more = 1;
    int rc = 0;
    zmq_msg_t extra;
    while (more) {
        /* The first two parts are kept; any further part is read into `extra` and
         * dropped (the whole message must be consumed). */
        zmq_msg_t *m = n < 2 ? &parts[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, self->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(m);
            if (n == 0 && (e == EAGAIN || e == EINTR)) return 0;
            rc = -1;
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) zmq_msg_close(m);
        n++;
    }
    size_t kept = n < 2 ? n : 2;
    if (rc < 0) goto out;
    if (n != 2) {
        char why[64];
        snprintf(why, sizeof why, "message has %zu frames, expected 2", n);
        reject(self, REASON_FRAMES, "-", why);
        goto out;
    }
    const char *t = zmq_msg_data(&parts[0]);
    size_t tlen = zmq_msg_size(&parts[0]);
    if (!topic_valid_n(t, tlen)) {
        char why[80];
        snprintf(why, sizeof why, "topic of %zu bytes is empty, longer than %d or not printable",
                 tlen, QT_TOPIC_MAX);
        reject(self, REASON_TOPIC, "-", why);
        goto out;
    }
    char tbuf[QT_TOPIC_MAX + 1];
    memcpy(tbuf, t, tlen);
    tbuf[tlen] = '\0';
    char why[256];
    qt_env_t *e = NULL;
    qt_decode_status_t st =
        qt_env_decode(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), &e, why, sizeof why);
    if (st != QT_DECODE_OK) {
        reject(self, (int)st, tbuf, why);
        goto out;
    }
    track_seq(self, tbuf, e);
    self->received++;
    cinc(self->c_received);
    if (topic && topiclen) snprintf(topic, topiclen, "%s", tbuf);
    if (env) *env = e;
    else qt_env_free(e);
    rc = 1;
out:
    for (size_t i = 0; i < kept; i++) zmq_msg_close(&parts[i]);
    return rc;
}

int qt_sub_recv(qt_sub_t *self, int timeout_ms, char *topic, size_t topiclen, qt_env_t **env) {
    if (env) *env = NULL;
    if (!self) return -1;
    int64_t deadline = 0;
    if (timeout_ms > 0) deadline = qt_clock_mono_ns(self->clock) + (int64_t)timeout_ms * 1000000;
    unsigned rejected = 0;
    for (;;) {
        long wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = timeout_ms > 0 ? deadline - qt_clock_mono_ns(self->clock) : 0;
            wait = left > 0 ? (long)((left + 999999) / 1000000) : 0;
            if (wait == 0 && rejected >= RECV_REJECT_BUDGET) return 0;
        }
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int prc = zmq_poll(&item, 1, wait);
        if (prc < 0) return errno == EINTR ? 0 : -1;
        if (prc == 0 || !(item.revents & ZMQ_POLLIN)) return 0;
        int r = read_one(self, topic, topiclen, env);
        if (r != 0) return r;
        rejected++;
    }
}

uint64_t qt_sub_gaps(const qt_sub_t *self) { return self ? self->gaps : 0; }
uint64_t qt_sub_missed(const qt_sub_t *self) { return self ? self->missed : 0; }
uint64_t qt_sub_rejected(const qt_sub_t *self) { return self ? self->rejected : 0; }
uint64_t qt_sub_stale(const qt_sub_t *self) { return self ? self->stale : 0; }
uint64_t qt_sub_restarts(const qt_sub_t *self) { return self ? self->restarts : 0; }
uint64_t qt_sub_received(const qt_sub_t *self) { return self ? self->received : 0; }

/* ------------------------------------------------------------------------------------ */
/* self-test: loopback round trip, a gap, a rejected frame                               */

int qt_bus_selftest(bool verbose) {
    int failures = 0;
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            failures++;                                                        \
            if (verbose) fprintf(stderr, "qt_bus selftest: %s failed\n", #c); \
        }                                                                      \
    } while (0)
    char err[256];
    qt_pub_t *pub = qt_pub_new("tcp://127.0.0.1:*", "selftest", NULL, NULL, err, sizeof err);
    qt_sub_t *sub = qt_sub_new(NULL);
    CHECK(pub && sub);
    if (!pub || !sub) {
        qt_pub_destroy(&pub);
        qt_sub_destroy(&sub);
        return 1;
    }
    CHECK(qt_sub_connect(sub, qt_pub_endpoint(pub)) == 0);
    CHECK(qt_sub_subscribe(sub, "") == 0);
    qt_env_t env;
    Qt__V1__Heartbeat hb = QT__V1__HEARTBEAT__INIT;
    hb.service = "selftest";
    qt_env_init(&env, 1);
    env.body_case = QT__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    char topic[QT_TOPIC_MAX + 1];
    qt_env_t *got = NULL;
    int r = 0;
    for (int i = 0; i < 200 && r != 1; i++) { /* slow joiner: probe until heard */
        qt_pub_send(pub, "probe", &env);
        r = qt_sub_recv(sub, 20, topic, sizeof topic, &got);
        if (r == 1) qt_env_free(got);
        got = NULL;
    }
    CHECK(r == 1);
    qt_pub_send(pub, "t", &env);
    qt_pub_set_seq(pub, "t", 5);
    qt_pub_send_raw(pub, "t", (const uint8_t *)"\x08\x63", 2); /* schema_version 99 */
    qt_pub_send(pub, "t", &env);
    int n = 0;
    while (qt_sub_recv(sub, 200, topic, sizeof topic, &got) == 1) {
        if (strcmp(topic, "t") == 0) n++;
        qt_env_free(got);
        got = NULL;
        if (n == 2) break;
    }
    CHECK(n == 2);
    CHECK(qt_sub_gaps(sub) == 1 && qt_sub_missed(sub) == 4);
    CHECK(qt_sub_rejected(sub) == 1);
    qt_pub_destroy(&pub);
    qt_sub_destroy(&sub);
    if (verbose) fprintf(stderr, "qt_bus selftest: %d failure(s)\n", failures);
#undef CHECK
    return failures ? 1 : 0;
}
