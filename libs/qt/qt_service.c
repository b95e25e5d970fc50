/* qt_service: the shared daemon runtime (see qt_service.h).
 *
 * Why it is strict at start: a service that starts with a wrong config may touch
 * state (Redis, Kafka) in a way that is hard to undo, so every key is read and
 * validated first and the process exits 2 before connecting to anything. Only
 * "paper" mode is accepted in the foundation; "live" is refused outright.
 * Why it keeps going later: Redis and Kafka can be away at runtime; publishing and
 * heartbeats count and log failures but never stop the loop. The kill switch read
 * fails closed (NO_NEW). SIGTERM/SIGINT only set a flag; loops observe it.
 * Why a silent watchdog means WARN: the dead-man's switch can only protect us while
 * it runs; if its heartbeat stops, every service reports (and acts on) at least WARN
 * so that the loss is visible on every dashboard, without stopping trading by itself
 * (the watchdog is not in the order path). */
#include "qt_service.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HB_KEY_PREFIX "qt:hb:"
#define WATCHDOG_NAME "qt-watchdog"
#define KS_CACHE_NS (250LL * 1000000LL)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct qt_service_priv {
    char *name;
    char *instance;
    char *config_path;
    char *config_dir;
    char *brokers;
    char *pub_endpoint;
    size_t n_topics;
    char **topic_keys;
    char **topic_names;
    int64_t hb_interval_ms;
    int64_t started_mono_ns;
    int64_t last_hb_mono_ns;
    bool hb_sent;
    char hb_topic[QT_TOPIC_MAX];
    char hb_key[160];
    qt_ks_tier_t ks_tier;
    int64_t ks_read_mono_ns;
    bool ks_valid;
    qt_gauge_t *ks_gauge;
    qt_gauge_t *wd_gauge;
    int64_t wd_sla_ms;          /* 0: not checked (the watchdog itself) */
    bool wd_silent;
    qt_counter_t *publish_failed;
    bool stop;
    qt_log_level_t log_level;
    char path_buf[4096];
};

static void die(int status, const char *event, const char *msg)
{
    qt_log_kv(QT_LOG_ERROR, event, "error", msg, NULL);
    fprintf(stderr, "%s\n", msg);
    exit(status);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking waits return early */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        die(1, "out_of_memory", "qt_service: out of memory");
    return d;
}

static void priv_free(struct qt_service_priv *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->instance);
    free(p->config_path);
    free(p->config_dir);
    free(p->brokers);
    free(p->pub_endpoint);
    for (size_t i = 0; i < p->n_topics; i++) {
        free(p->topic_keys[i]);
        free(p->topic_names[i]);
    }
    free(p->topic_keys);
    free(p->topic_names);
    free(p);
}

/* Sleeps up to ms in small steps; returns early once a stop was requested. */
static void nap_ms(qt_service_t *self, int64_t ms)
{
    while (ms > 0 && qt_service_running(self)) {
        int64_t step = ms < 100 ? ms : 100;
        qt_clock_sleep_ns(self->clock, step * 1000000);
        ms -= step;
    }
}

static void ensure_topics_or_wait(qt_service_t *self)
{
    struct qt_service_priv *p = self->priv;
    if (p->n_topics == 0)
        return;
    const char **names = calloc(p->n_topics, sizeof *names);
    bool *compacted = calloc(p->n_topics, sizeof *compacted);
    if (!names || !compacted)
        die(1, "out_of_memory", "qt_service: out of memory");
    for (size_t i = 0; i < p->n_topics; i++) {
        names[i] = p->topic_names[i];
        compacted[i] = strcmp(p->topic_keys[i], "control") == 0;
    }
    int attempt = 0;
    while (qt_service_running(self)) {
        char err[512] = "";
        if (qt_kafka_ensure_topics(p->brokers, names, compacted, p->n_topics, 2000, err,
                                   sizeof err) == 0) {
            if (attempt > 0)
                qt_log_kv(QT_LOG_INFO, "kafka_available", "brokers", p->brokers, NULL);
            break;
        }
        char n[16];
        snprintf(n, sizeof n, "%d", ++attempt);
        qt_log_kv(QT_LOG_WARN, "kafka_waiting", "brokers", p->brokers, "attempt", n, "error",
                  err, NULL);
        qt_service_tick(self);
        nap_ms(self, 1000);
    }
    free(names);
    free(compacted);
}

/* The watchdog's own heartbeat SLA from slas.yml next to services.yml
 * (services.qt-watchdog.heartbeat_sla_ms, else default_sla_ms, else 5000). A missing
 * slas.yml gives 5000 (test configs may have none); a bad value exits 2. */
static int64_t watchdog_sla_ms(const char *config_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/slas.yml", config_dir);
    if (access(path, F_OK) != 0)
        return 5000;
    char err[512] = "";
    qt_config_t *c = qt_config_load(path, err, sizeof err);
    if (!c) {
        char msg[1200];
        snprintf(msg, sizeof msg, "qt_service: %s", err);
        die(2, "config_invalid", msg);
    }
    int64_t dflt = qt_config_int(c, "default_sla_ms", false, 5000, 1, 86400000);
    int64_t sla = qt_config_int(c, "services." WATCHDOG_NAME ".heartbeat_sla_ms", false, dflt, 1,
                                86400000);
    if (qt_config_error(c)) {
        char msg[1200];
        snprintf(msg, sizeof msg, "qt_service: %s", qt_config_error(c));
        qt_config_destroy(&c);
        die(2, "config_invalid", msg);
    }
    qt_config_destroy(&c);
    return sla;
}

qt_service_t *qt_service_new(const char *name, int argc, char **argv, int *argi)
{
    if (!name || !*name) {
        fprintf(stderr, "qt_service_new: service name required\n");
        exit(2);
    }
    const char *config_path = getenv("QT_CONFIG");
    const char *instance = NULL;
    const char *log_level = getenv("QT_LOG_LEVEL");
    bool no_admin = false;
    int i = 1;
    while (argv && i < argc) {
        const char *a = argv[i];
        const char **target = NULL;
        const char *opt = NULL;
        if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
            target = &config_path;
            opt = "--config";
        } else if (strcmp(a, "--instance") == 0 || strncmp(a, "--instance=", 11) == 0) {
            target = &instance;
            opt = "--instance";
        } else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
            target = &log_level;
            opt = "--log-level";
        } else if (strcmp(a, "--no-admin") == 0) {
            no_admin = true;
            i++;
            continue;
        } else {
            break;
        }
        const char *eq = strchr(a, '=');
        if (eq) {
            *target = eq + 1;
            i++;
        } else if (i + 1 < argc) {
            *target = argv[i + 1];
            i += 2;
        } else {
            fprintf(stderr, "%s: option %s needs a value\n", name, opt);
            exit(2);
        }
        if (!**target) {
            fprintf(stderr, "%s: option %s needs a non-empty value\n", name, opt);
            exit(2);
        }
    }
    if (argi)
        *argi = i;
    else if (argv && i < argc) {
        fprintf(stderr, "%s: unknown argument '%s'\n", name, argv[i]);
        exit(2);
    }
    if (!config_path || !*config_path)
        config_path = "configs/services.yml";
    qt_log_level_t level = QT_LOG_INFO;
    if (log_level && qt_log_level_parse(log_level, &level) != 0) {
        fprintf(stderr, "%s: bad log level '%s' (expected debug|info|warn|error)\n", name,
                log_level);
        exit(2);
    }

    qt_service_t *self = calloc(1, sizeof *self);
    struct qt_service_priv *p = calloc(1, sizeof *p);
    if (!self || !p) {
        fprintf(stderr, "%s: out of memory\n", name);
        exit(1);
    }
    self->priv = p;
    p->name = xstrdup(name);
    p->instance = xstrdup(instance ? instance : name);
    p->config_path = xstrdup(config_path);
    char *tmp = xstrdup(config_path);
    p->config_dir = xstrdup(dirname(tmp));
    free(tmp);
    self->name = p->name;
    self->instance = p->instance;
    self->config_dir = p->config_dir;

    self->clock = qt_clock_new_wall();
    if (!self->clock) {
        fprintf(stderr, "%s: cannot create clock\n", name);
        exit(1);
    }
    p->log_level = level;
    qt_log_init(p->instance, level, self->clock);
    install_signals();

    /* ---- config: read and validate everything before touching any state ---- */
    char err[1024] = "";
    self->cfg = qt_config_load(config_path, err, sizeof err);
    if (!self->cfg) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: config: %s", name, err);
        die(2, "config_invalid", msg);
    }
    qt_config_t *cfg = self->cfg;
    const char *mode = qt_config_str(cfg, "mode", "paper");
    const char *redis_host = qt_config_str(cfg, "redis.host", "127.0.0.1");
    int64_t redis_port = qt_config_int(cfg, "redis.port", false, 6379, 1, 65535);
    int64_t redis_timeout = qt_config_int(cfg, "redis.timeout_ms", false, 500, 1, 60000);
    const char *brokers = qt_config_str(cfg, "kafka.brokers", NULL);
    char path[256];
    snprintf(path, sizeof path, "services.%s.pub", name);
    const char *pub = qt_config_str(cfg, path, NULL);
    snprintf(path, sizeof path, "services.%s.admin_port", name);
    int64_t admin_port = qt_config_int(cfg, path, true, 0, 0, 65535);
    snprintf(path, sizeof path, "services.%s.admin_bind", name);
    const char *admin_bind = qt_config_str(cfg, path, "127.0.0.1");
    p->hb_interval_ms = qt_config_int(cfg, "heartbeat.interval_ms", false, 1000, 10, 600000);
    if (strcmp(name, WATCHDOG_NAME) != 0)
        p->wd_sla_ms = watchdog_sla_ms(p->config_dir);
    size_t nt = qt_config_map_len(cfg, "topics");
    if (nt) {
        p->topic_keys = calloc(nt, sizeof *p->topic_keys);
        p->topic_names = calloc(nt, sizeof *p->topic_names);
        if (!p->topic_keys || !p->topic_names)
            die(1, "out_of_memory", "qt_service: out of memory");
    }
    for (size_t k = 0; k < nt; k++) {
        const char *key = qt_config_map_key(cfg, "topics", k);
        if (!key)
            continue;
        snprintf(path, sizeof path, "topics.%s", key);
        const char *topic = qt_config_str(cfg, path, NULL);
        p->topic_keys[p->n_topics] = xstrdup(key);
        p->topic_names[p->n_topics] = xstrdup(topic);
        p->n_topics++;
    }
    const char *cerr = qt_config_error(cfg);
    if (cerr) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: config: %s", name, cerr);
        die(2, "config_invalid", msg);
    }
    if (strcmp(mode, "paper") != 0) {
        char msg[512];
        if (strcmp(mode, "live") == 0)
            snprintf(msg, sizeof msg,
                     "%s: %s: key 'mode': 'live' is refused: the foundation runs in paper "
                     "mode only",
                     name, qt_config_name(cfg));
        else
            snprintf(msg, sizeof msg,
                     "%s: %s: key 'mode': expected 'paper' (the only mode of the foundation), "
                     "got '%s'",
                     name, qt_config_name(cfg), mode);
        die(2, "config_invalid", msg);
    }
    for (size_t k = 0; k < p->n_topics; k++) {
        if (!*p->topic_names[k]) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: %s: key 'topics.%s': expected a topic name", name,
                     qt_config_name(cfg), p->topic_keys[k]);
            die(2, "config_invalid", msg);
        }
    }
    p->brokers = xstrdup(brokers);
    p->pub_endpoint = xstrdup(pub);
    self->brokers = p->brokers;
    snprintf(p->hb_topic, sizeof p->hb_topic, "sys.heartbeat.%s", name);
    snprintf(p->hb_key, sizeof p->hb_key, HB_KEY_PREFIX "%s", name);

    /* ---- runtime ---- */
    self->metrics = qt_metrics_new(p->instance);
    if (!self->metrics)
        die(1, "out_of_memory", "qt_service: cannot create metrics");
    self->processed_total = qt_metrics_counter(self->metrics, "qt_events_processed_total",
                                               "Input events processed", NULL);
    self->last_event_gauge = qt_metrics_gauge(self->metrics, "qt_last_event_timestamp_seconds",
                                              "Event time of the last input processed (Unix s)",
                                              NULL);
    p->ks_gauge = qt_metrics_gauge(self->metrics, "qt_killswitch_tier",
                                   "Kill-switch tier as last read (4 = NO_NEW when unreadable)",
                                   NULL);
    p->wd_gauge = qt_metrics_gauge(self->metrics, "qt_watchdog_silent",
                                   "1 while the watchdog heartbeat is older than its SLA", NULL);
    p->publish_failed = qt_metrics_counter(self->metrics, "qt_publish_failed_total",
                                           "Events that could not be published", NULL);
    self->started_ns = qt_clock_now_ns(self->clock);
    p->started_mono_ns = qt_clock_mono_ns(self->clock);

    if (!no_admin) {
        self->admin = qt_admin_new(p->instance, admin_bind, (uint16_t)admin_port, self->metrics,
                                   err, sizeof err);
        if (!self->admin) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s: admin endpoint: %s", name, err);
            die(1, "admin_failed", msg);
        }
        qt_admin_set_healthy(self->admin, true);
        qt_admin_set_ready(self->admin, false);
    }
    self->redis = qt_redis_new(redis_host, (int)redis_port, (int)redis_timeout, self->metrics);
    if (!self->redis)
        die(1, "out_of_memory", "qt_service: cannot create redis client");
    self->producer = qt_kproducer_new(p->brokers, p->instance, self->metrics, err, sizeof err);
    if (!self->producer) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: kafka producer: %s", name, err);
        die(2, "kafka_config_invalid", msg);
    }
    self->pub = qt_pub_new(p->pub_endpoint, p->instance, self->clock, self->metrics, err,
                           sizeof err);
    if (!self->pub) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: zeromq pub %s: %s", name, p->pub_endpoint, err);
        die(1, "pub_failed", msg);
    }
    qt_log_kv(QT_LOG_INFO, "service_starting", "mode", mode, "config", p->config_path, "pub",
              p->pub_endpoint, "brokers", p->brokers, NULL);
    ensure_topics_or_wait(self);
    if (!qt_service_running(self)) {
        qt_log_kv(QT_LOG_INFO, "service_stopped", "why", "signal before kafka was available",
                  NULL);
        qt_service_destroy(&self);
        exit(0);
    }
    qt_service_tick(self);
    return self;
}

void qt_service_destroy(qt_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_service_t *self = *self_p;
    if (self->producer && qt_kproducer_flush(self->producer, 10000) != 0) {
        qt_log_kv(QT_LOG_ERROR, "kafka_flush_failed_at_shutdown", NULL);
        qt_kproducer_purge(self->producer);
    }
    qt_kproducer_destroy(&self->producer);
    qt_pub_destroy(&self->pub);
    qt_redis_destroy(&self->redis);
    qt_admin_destroy(&self->admin);
    qt_metrics_destroy(&self->metrics);
    qt_config_destroy(&self->cfg);
    /* the log must not keep a pointer to the clock freed below */
    qt_log_init(self->priv->instance, self->priv->log_level, NULL);
    qt_clock_destroy(&self->clock);
    priv_free(self->priv);
    free(self);
    *self_p = NULL;
}

bool qt_service_running(const qt_service_t *self)
{
    return !g_stop && !(self && self->priv && self->priv->stop);
}

void qt_service_stop(qt_service_t *self)
{
    if (self && self->priv)
        self->priv->stop = true;
}

void qt_service_set_ready(qt_service_t *self, bool ready)
{
    if (self && self->admin)
        qt_admin_set_ready(self->admin, ready);
}

static void send_heartbeat(qt_service_t *self)
{
    struct qt_service_priv *p = self->priv;
    Qt__V1__Heartbeat hb = QT__V1__HEARTBEAT__INIT;
    hb.service = p->name;
    hb.instance = p->instance;
    hb.pid = (int32_t)getpid();
    hb.uptime_ms = (qt_clock_mono_ns(self->clock) - p->started_mono_ns) / 1000000;
    hb.last_event_time_ms = self->last_event_ms;
    hb.processed = self->processed;
    hb.status = (char *)(qt_service_running(self) ? "ok" : "draining");
    qt_env_t env;
    qt_env_init(&env, qt_clock_now_ns(self->clock));
    env.body_case = QT__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    if (qt_pub_send(self->pub, p->hb_topic, &env) != 0)
        qt_log_once(QT_LOG_WARN, "heartbeat_pub_failed", "heartbeat_pub_failed", "topic",
                    p->hb_topic, NULL);
    /* Redis copy: the encoded Envelope (decode with qt_env_decode), expiring after three
     * missed intervals so a dead service's key disappears by itself. */
    env.source = (char *)qt_env_intern(p->instance);
    env.publish_time_ns = qt_clock_now_ns(self->clock);
    size_t len = 0;
    uint8_t *buf = qt_env_encode(&env, &len);
    if (buf) {
        char px[32];
        snprintf(px, sizeof px, "%" PRId64, 3 * p->hb_interval_ms);
        const char *argv[5] = {"SET", p->hb_key, (const char *)buf, "PX", px};
        size_t argvlen[5] = {3, strlen(p->hb_key), len, 2, strlen(px)};
        redisReply *r = qt_redis_cmdargv(self->redis, 5, argv, argvlen);
        if (!r || r->type == REDIS_REPLY_ERROR)
            qt_log_once(QT_LOG_WARN, "heartbeat_redis_failed", "heartbeat_redis_failed",
                        "key", p->hb_key, NULL);
        if (r)
            freeReplyObject(r);
        free(buf);
    }
}

void qt_service_tick(qt_service_t *self)
{
    if (!self)
        return;
    struct qt_service_priv *p = self->priv;
    if (self->admin)
        qt_admin_set_healthy(self->admin, true);
    qt_kproducer_poll(self->producer);
    int64_t now = qt_clock_mono_ns(self->clock);
    if (!p->hb_sent || now - p->last_hb_mono_ns >= p->hb_interval_ms * 1000000) {
        p->hb_sent = true;
        p->last_hb_mono_ns = now;
        send_heartbeat(self);
    }
}

static void tick_cb(void *arg)
{
    qt_service_tick(arg);
}

int qt_service_flush(qt_service_t *self, int timeout_ms)
{
    if (!self || !self->producer)
        return 0;
    /* 250 ms slices: well inside any heartbeat SLA, cheap when the broker is healthy
     * (the first slice returns as soon as the queue is empty). */
    return qt_kproducer_flush_ticking(self->producer, timeout_ms, 250, tick_cb, self);
}

void qt_service_note_processed(qt_service_t *self, int64_t event_time_ms)
{
    if (!self)
        return;
    self->processed++;
    self->last_event_ms = event_time_ms;
    if (self->processed_total)
        qt_counter_inc(self->processed_total);
    if (self->last_event_gauge)
        qt_gauge_set(self->last_event_gauge, (double)event_time_ms / 1000.0);
}

int qt_service_publish(qt_service_t *self, const char *zmq_topic, const char *kafka_topic,
                       const char *key, qt_env_t *env)
{
    if (!self || !env)
        return -1;
    /* An invalid event goes nowhere (not even to Kafka): it is a bug in the caller. */
    char why[200] = "";
    if (!qt_env_validate(env, why, sizeof why)) {
        if (self->priv->publish_failed)
            qt_counter_inc(self->priv->publish_failed);
        qt_log_once(QT_LOG_ERROR, "publish_invalid", "publish_invalid", "body",
                    qt_env_body_name(env), "why", why, NULL);
        return -1;
    }
    int rc = 0;
    char *old_source = env->source;
    const char *src = qt_env_intern(self->instance);
    env->source = (char *)(src ? src : self->instance);
    if (zmq_topic) {
        /* stamps seq and publish time; keeps our (interned) source in env */
        if (qt_pub_send(self->pub, zmq_topic, env) != 0)
            rc = -1;
        env->source = (char *)(src ? src : self->instance);
    } else {
        env->publish_time_ns = qt_clock_now_ns(self->clock);
    }
    /* Kafka gets the same envelope (same source, seq, publish time) as ZeroMQ. */
    if (kafka_topic && qt_kproducer_send_env(self->producer, kafka_topic, key, env) != 0)
        rc = -1;
    env->source = old_source;
    if (rc != 0 && self->priv->publish_failed)
        qt_counter_inc(self->priv->publish_failed);
    return rc;
}

const char *qt_service_topic(qt_service_t *self, const char *logical)
{
    if (!self || !logical)
        return NULL;
    for (size_t i = 0; i < self->priv->n_topics; i++)
        if (strcmp(self->priv->topic_keys[i], logical) == 0)
            return self->priv->topic_names[i];
    return NULL;
}

qt_ks_tier_t qt_service_effective_tier(qt_ks_tier_t stored, bool watchdog_silent)
{
    if (watchdog_silent && stored != QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN &&
        stored < QT__V1__KILL_SWITCH_TIER__KS_WARN)
        return QT__V1__KILL_SWITCH_TIER__KS_WARN;
    return stored;
}

bool qt_service_watchdog_is_silent(int64_t hb_time_ms, int64_t now_ms, int64_t sla_ms,
                                   int64_t uptime_ms)
{
    if (sla_ms <= 0 || uptime_ms < sla_ms)
        return false;
    return hb_time_ms < 0 || now_ms - hb_time_ms > sla_ms;
}

/* Publish time (ms) of the watchdog's last heartbeat in Redis; -1 absent, unreadable
 * or not a heartbeat from the watchdog (all count as silent). */
static int64_t watchdog_hb_ms(qt_service_t *self)
{
    redisReply *r = qt_redis_cmd(self->redis, "GET %s", HB_KEY_PREFIX WATCHDOG_NAME);
    int64_t t = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        qt_env_t *env = NULL;
        char why[128];
        if (qt_env_decode((const uint8_t *)r->str, r->len, &env, why, sizeof why) ==
                QT_DECODE_OK &&
            env) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_HEARTBEAT && env->heartbeat &&
                env->heartbeat->service && strcmp(env->heartbeat->service, WATCHDOG_NAME) == 0)
                t = env->publish_time_ns / 1000000;
            qt_env_free(env);
        }
    }
    if (r)
        freeReplyObject(r);
    return t;
}

qt_ks_tier_t qt_service_killswitch(qt_service_t *self)
{
    if (!self)
        return QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    struct qt_service_priv *p = self->priv;
    int64_t now = qt_clock_mono_ns(self->clock);
    if (!p->ks_valid || now - p->ks_read_mono_ns >= KS_CACHE_NS) {
        qt_ks_tier_t stored = qt_redis_killswitch_read(self->redis, NULL);
        bool silent = false;
        if (p->wd_sla_ms > 0) {
            int64_t uptime_ms = (now - p->started_mono_ns) / 1000000;
            /* cheap first: no Redis read during the start-up grace */
            if (uptime_ms >= p->wd_sla_ms)
                silent = qt_service_watchdog_is_silent(watchdog_hb_ms(self),
                                                       qt_clock_now_ms(self->clock),
                                                       p->wd_sla_ms, uptime_ms);
            if (silent != p->wd_silent)
                qt_log_kv(silent ? QT_LOG_WARN : QT_LOG_INFO,
                          silent ? "watchdog_silent" : "watchdog_back", "effect",
                          silent ? "kill switch acts as at least WARN" : "none", NULL);
            p->wd_silent = silent;
            if (p->wd_gauge)
                qt_gauge_set(p->wd_gauge, silent ? 1.0 : 0.0);
        }
        p->ks_tier = qt_service_effective_tier(stored, silent);
        p->ks_read_mono_ns = now;
        p->ks_valid = true;
        if (p->ks_gauge)
            qt_gauge_set(p->ks_gauge, (double)p->ks_tier);
    }
    return p->ks_tier;
}

bool qt_service_watchdog_silent(const qt_service_t *self)
{
    return self && self->priv && self->priv->wd_silent;
}

qt_kconsumer_t *qt_service_consumer(qt_service_t *self, const char *group_suffix)
{
    char group[256];
    if (group_suffix && *group_suffix)
        snprintf(group, sizeof group, "%s.%s", self->name, group_suffix);
    else
        snprintf(group, sizeof group, "%s", self->name);
    char err[512] = "";
    qt_kconsumer_t *c = qt_kconsumer_new(self->brokers, group, self->metrics, err, sizeof err);
    if (!c) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: kafka consumer: %s", self->name, err);
        die(1, "kafka_consumer_failed", msg);
    }
    return c;
}

const char *qt_service_config_path(qt_service_t *self, const char *file)
{
    if (!self || !file)
        return NULL;
    if (file[0] == '/')
        snprintf(self->priv->path_buf, sizeof self->priv->path_buf, "%s", file);
    else
        snprintf(self->priv->path_buf, sizeof self->priv->path_buf, "%s/%s",
                 self->priv->config_dir, file);
    return self->priv->path_buf;
}

int qt_service_selftest(bool verbose)
{
    /* The runtime needs a config, Redis and Kafka: covered by
     * tests/integration/test_stage.c. Here: the pure pieces. */
    int fails = 0;
    qt_service_t fake;
    struct qt_service_priv priv;
    memset(&fake, 0, sizeof fake);
    memset(&priv, 0, sizeof priv);
    fake.priv = &priv;
    char *keys[2] = {(char *)"bars", (char *)"control"};
    char *names[2] = {(char *)"qt.bars", (char *)"qt.control"};
    priv.n_topics = 2;
    priv.topic_keys = keys;
    priv.topic_names = names;
    priv.config_dir = (char *)"/etc/qt";
    if (!qt_service_topic(&fake, "control") ||
        strcmp(qt_service_topic(&fake, "control"), "qt.control") != 0)
        fails++;
    if (qt_service_topic(&fake, "nope") != NULL)
        fails++;
    if (strcmp(qt_service_config_path(&fake, "risk.yml"), "/etc/qt/risk.yml") != 0)
        fails++;
    if (!qt_service_running(&fake) && !g_stop)
        fails++;
    qt_service_stop(&fake);
    if (qt_service_running(&fake))
        fails++;
    /* silent watchdog: WARN floor, never lowers, UNKNOWN untouched */
    if (qt_service_effective_tier(QT__V1__KILL_SWITCH_TIER__KS_NORMAL, true) !=
            QT__V1__KILL_SWITCH_TIER__KS_WARN ||
        qt_service_effective_tier(QT__V1__KILL_SWITCH_TIER__KS_NORMAL, false) !=
            QT__V1__KILL_SWITCH_TIER__KS_NORMAL ||
        qt_service_effective_tier(QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL, true) !=
            QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL ||
        qt_service_effective_tier(QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN, true) !=
            QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
        fails++;
    if (qt_service_watchdog_is_silent(-1, 10000, 5000, 4999) ||     /* grace */
        !qt_service_watchdog_is_silent(-1, 10000, 5000, 5000) ||    /* never seen */
        qt_service_watchdog_is_silent(5000, 10000, 5000, 9000) ||   /* exactly at the SLA */
        !qt_service_watchdog_is_silent(4999, 10000, 5000, 9000) ||  /* 1 ms over */
        qt_service_watchdog_is_silent(-1, 10000, 0, 9000))          /* not checked */
        fails++;
    if (fails && verbose)
        fprintf(stderr, "qt_service selftest: %d failures\n", fails);
    return fails ? -1 : 0;
}

/* Path of `file` next to services.yml, from the same arguments qt_service_new parses
 * (--config FILE / --config=FILE, else env QT_CONFIG, else configs/services.yml).
 * Used to validate our own config before qt_service_new, which connects to (and waits
 * for) Kafka: a bad file must exit 2 at once, before anything is touched. */
void qt_service_sibling_config_path(int argc, char **argv, const char *file, char *out,
                                size_t outlen)
{
    const char *config = getenv("QT_CONFIG");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--config=", 9) == 0) {
            config = a + 9;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if ((strcmp(a, "--instance") == 0 || strcmp(a, "--log-level") == 0) &&
                   i + 1 < argc) {
            i++;
        } else if (strncmp(a, "--instance=", 11) != 0 && strncmp(a, "--log-level=", 12) != 0 &&
                   strcmp(a, "--no-admin") != 0) {
            break;   /* qt_service_new stops here too (and main reports it) */
        }
    }
    if (!config || !*config)
        config = "configs/services.yml";
    const char *slash = strrchr(config, '/');
    if (!slash)
        snprintf(out, outlen, "./%s", file);
    else if (slash == config)
        snprintf(out, outlen, "/%s", file);
    else
        snprintf(out, outlen, "%.*s/%s", (int)(slash - config), config, file);
}
