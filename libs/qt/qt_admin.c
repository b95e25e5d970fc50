/* qt_admin: the admin HTTP endpoint (see qt_admin.h), on libmicrohttpd's own thread.
 *
 * Why this shape: the HTTP thread only reads atomics (healthy/ready) and renders the
 * metrics registry under its own mutex, so nothing a client sends can reach service
 * state. HEAD is answered like GET (without a body, as HTTP requires); every other
 * method gets 405 with an Allow header. Connections are limited in number and time so
 * a slow or hostile client cannot pin the thread. MHD's own error messages are
 * captured while starting (to explain a failed bind in `err`); after that they are
 * counted in qt_admin_http_errors_total and only the first is logged (qt_log_once),
 * so a client sending garbage cannot flood the log. */
#include "qt_admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qt_log.h"

#define ADMIN_MAX_CONNECTIONS 64
#define ADMIN_TIMEOUT_S 10

struct qt_admin_t {
    struct MHD_Daemon *d;
    char service[128];
    qt_metrics_t *metrics; /* not owned */
    qt_counter_t *errors;  /* qt_admin_http_errors_total, NULL without a registry */
    atomic_bool ready;
    atomic_bool healthy;
    atomic_bool starting;
    char start_err[256];
    uint16_t port;
};

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    qt_admin_t *self = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&self->starting)) {
        if (!self->start_err[0])
            snprintf(self->start_err, sizeof self->start_err, "%s", msg);
        return;
    }
    /* hostile input convention: count every one, log only the first */
    qt_counter_inc(self->errors);
    qt_log_once(QT_LOG_WARN, "qt_admin:http_error", "admin_http_error", "msg", msg, (const char *)NULL);
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned code, char *body,
                                const char *ctype)
{
    /* body is malloc'd and passes to MHD (freed with free()) */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static char *status_json(qt_admin_t *self)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "service", json_string(self->service));
    json_object_set_new(o, "healthy", json_boolean(atomic_load(&self->healthy)));
    json_object_set_new(o, "ready", json_boolean(atomic_load(&self->ready)));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_t *m = NULL;
    if (self->metrics) {
        char *mj = qt_metrics_render_json(self->metrics);
        if (mj)
            m = json_loads(mj, 0, NULL);
        free(mj);
    }
    json_object_set_new(o, "metrics", m ? m : json_object());
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *nl = realloc(s, n + 2); /* newline for humans using curl */
    if (!nl)
        return s;
    nl[n] = '\n';
    nl[n + 1] = '\0';
    return nl;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    qt_admin_t *self = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body = self->metrics ? qt_metrics_render(self->metrics) : strdup("");
        if (!body)
            return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return send_buf(conn, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (strcmp(url, "/healthz") == 0) {
        if (atomic_load(&self->healthy))
            return send_text(conn, MHD_HTTP_OK, "ok\n");
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unhealthy\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        if (atomic_load(&self->ready))
            return send_text(conn, MHD_HTTP_OK, "ready\n");
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    }
    if (strcmp(url, "/status") == 0) {
        char *body = status_json(self);
        if (!body)
            return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return send_buf(conn, MHD_HTTP_OK, body, "application/json");
    }
    return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

qt_admin_t *qt_admin_new(const char *service, const char *bind_addr, uint16_t port,
                         qt_metrics_t *metrics, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    const char *addr = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        if (err && errlen)
            snprintf(err, errlen, "admin: invalid bind address '%s' (want an IPv4/IPv6 literal)",
                     addr);
        return NULL;
    }
    qt_admin_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (err && errlen)
            snprintf(err, errlen, "admin: out of memory");
        return NULL;
    }
    snprintf(self->service, sizeof self->service, "%s", service ? service : "unknown");
    self->metrics = metrics;
    if (metrics)
        self->errors = qt_metrics_counter(metrics, "qt_admin_http_errors_total",
                                          "Malformed or failed admin HTTP requests.", NULL);
    atomic_init(&self->ready, false);
    atomic_init(&self->healthy, true);
    atomic_init(&self->starting, true);
    self->d = MHD_start_daemon(flags, port, NULL, NULL, handler, self,
                               MHD_OPTION_SOCK_ADDR, sa,
                               MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, self,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNECTIONS,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_TIMEOUT_S,
                               MHD_OPTION_END);
    atomic_store(&self->starting, false);
    if (!self->d) {
        if (err && errlen)
            snprintf(err, errlen, "admin: cannot listen on %s:%u: %s", addr, (unsigned)port,
                     self->start_err[0] ? self->start_err : "libmicrohttpd failed to start");
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    if (self->port == 0) {
        MHD_stop_daemon(self->d);
        if (err && errlen)
            snprintf(err, errlen, "admin: cannot determine the bound port");
        free(self);
        return NULL;
    }
    return self;
}

void qt_admin_destroy(qt_admin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_admin_t *self = *self_p;
    if (self->d)
        MHD_stop_daemon(self->d);
    free(self);
    *self_p = NULL;
}

uint16_t qt_admin_port(const qt_admin_t *self)
{
    return self ? self->port : 0;
}

void qt_admin_set_ready(qt_admin_t *self, bool ready)
{
    if (self)
        atomic_store(&self->ready, ready);
}

void qt_admin_set_healthy(qt_admin_t *self, bool healthy)
{
    if (self)
        atomic_store(&self->healthy, healthy);
}

/* ---------------------------------------------------------------- selftest */

/* Minimal HTTP/1.0 GET over loopback; returns the status code or -1, body into out. */
static int raw_get(uint16_t port, const char *path, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (n < 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    ssize_t r;
    while (len + 1 < outlen && (r = read(fd, out + len, outlen - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fd);
    int code = -1;
    if (sscanf(out, "HTTP/1.%*d %d", &code) != 1)
        return -1;
    return code;
}

int qt_admin_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fails++;                                                                   \
            if (verbose)                                                               \
                fprintf(stderr, "qt_admin selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                              \
    } while (0)
    char err[256];
    qt_metrics_t *m = qt_metrics_new("qt-self");
    qt_counter_inc(qt_metrics_counter(m, "qt_selftest_total", "Selftest.", NULL));
    qt_admin_t *a = qt_admin_new("qt-self", NULL, 0, m, err, sizeof err);
    CHECK(a != NULL);
    if (a) {
        char buf[4096];
        CHECK(qt_admin_port(a) != 0);
        CHECK(raw_get(qt_admin_port(a), "/healthz", buf, sizeof buf) == 200);
        CHECK(raw_get(qt_admin_port(a), "/readyz", buf, sizeof buf) == 503);
        qt_admin_set_ready(a, true);
        CHECK(raw_get(qt_admin_port(a), "/readyz", buf, sizeof buf) == 200);
        CHECK(raw_get(qt_admin_port(a), "/metrics", buf, sizeof buf) == 200 &&
              strstr(buf, "qt_selftest_total{service=\"qt-self\"} 1\n") != NULL);
        CHECK(raw_get(qt_admin_port(a), "/status", buf, sizeof buf) == 200 &&
              strstr(buf, "\"service\":\"qt-self\"") != NULL);
        CHECK(raw_get(qt_admin_port(a), "/nope", buf, sizeof buf) == 404);
        qt_admin_destroy(&a);
        CHECK(a == NULL);
    }
    CHECK(qt_admin_new("x", "not-an-ip", 0, NULL, err, sizeof err) == NULL && err[0]);
    qt_metrics_destroy(&m);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_admin selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
