/* The HTTP server on libmicrohttpd, optionally over TLS (GnuTLS, through
 * libmicrohttpd) with client certificates.
 *
 * Invariants:
 * 1. A body over max_body is refused with 413 and never handed to a handler.
 * 2. Every response that is an error is JSON with an "error" member.
 * 3. Handlers see a complete, NUL-terminated body.
 * 4. cu_http_req.client_cert is set only from a certificate the TLS layer
 *    received on this connection and whose chain GnuTLS verified against
 *    the configured CA list (signature, validity period, usage); never from
 *    anything the client sends in HTTP.  The chain is verified once per
 *    connection (its first request) and again when that verdict is older
 *    than TLS_REVERIFY_NS, so a certificate that expires while its
 *    keep-alive connection stays open stops naming the caller within that
 *    time; a TLS connection's peer cannot change under it (MHD neither
 *    renegotiates nor asks for post-handshake authentication).
 * 5. Each worker thread runs its own libmicrohttpd daemon (external polling,
 *    the listening socket shared) and is the only thread that calls into
 *    it.  A suspended request is resumed by its worker: cu_http_resume, on
 *    any thread, only pushes it on the worker's list and wakes the worker
 *    when it is about to block, so a ledger commit that answers 30 requests
 *    wakes each worker once (libmicrohttpd's own MHD_resume_connection from
 *    another thread costs a lock and an eventfd write per request).
 * 6. A request counts as suspended from cu_http_suspend until its worker
 *    has handed the answer to libmicrohttpd and run the daemon once after,
 *    so cu_server_stop, which waits for none to be left, does not close a
 *    connection under an answer that is due.
 */
#include "custos/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES 128
#define TLS_REVERIFY_NS (60 * UINT64_C(1000000000))
#define CONNECTION_LIMIT 1000u /* over all workers */
#define MAX_WORKERS 1024u
/* libmicrohttpd's memory per connection: request line and headers (up to
 * about half of it: a request with more is refused, 431), the read buffer
 * and the answer's headers.  It zeroes the whole of it after every request
 * (MHD_pool_reset), so its default, 32 KiB, was a 32 KiB memset per
 * decision; bodies do not need it (they reach the handler in pieces). */
#define CONN_POOL_BYTES (8u << 10)

struct conn_state;

/* Add n to a counter only its worker writes (invariant 5): a relaxed load
 * and store, no locked instruction; other threads only read it. */
#define OWN_ADD(c, n) atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), memory_order_relaxed)

/* One worker thread and its daemon (invariant 5).  The counters are
 * written by the worker alone (relaxed stores, no locked instruction) and
 * summed by /metrics; resumed and armed are what other threads touch. */
struct worker {
    cu_server *s;
    struct MHD_Daemon *d;
    pthread_t thr;
    bool running;
    bool quiesced;
    int efd;  /* eventfd: answers to hand back, or stop */
    _Atomic(struct conn_state *) resumed; /* answered, not yet handed to MHD (a stack) */
    atomic_int armed;                     /* 1: the worker may be blocking, wake it */
    atomic_int suspended;                 /* its requests suspended (invariant 6) */
    atomic_ullong connections;            /* connections opened */
    atomic_ullong verifications;          /* client certificate chains verified */
    atomic_ullong resumed_n;              /* requests handed back after a suspension */
    atomic_ullong wakeups;                /* efd writes by cu_http_resume (other threads add) */
};

struct route {
    char *method;
    char *path;
    size_t plen;
    bool prefix;
    bool templ; /* has "{name}" segments: each matches one non-empty segment */
    cu_http_handler fn;
    void *ud;
};

struct cu_server {
    cu_server_opts opts;
    struct worker **w;
    unsigned nw;
    struct route routes[MAX_ROUTES];
    int nroutes;
    uint16_t port;
    atomic_int quiesce; /* stop accepting connections */
    atomic_int exit;    /* workers: return */
};

/* One connection's verified client certificate (invariant 4), kept from
 * one request to the next; only a connection's own worker thread reads or
 * writes it. */
struct peer {
    uint64_t verified_ns; /* monotonic time of the verdict (cu_mono_ns); 0: none yet */
    char hex[2 * CU_SHA256_LEN + 1]; /* "" when none or not verified */
};

/* Buffers kept from one request of a connection to the next up to this
 * size (a larger one is let go when its request ends). */
#define KEEP_BUF_BYTES ((size_t)64 << 10)

/* A connection and its current request (one at a time: HTTP/1.1 answers
 * in order), made when the connection opens and reused by each request,
 * so a request allocates nothing of its own here.  resp outlives the
 * handler: a handler that suspends the request fills it later, from any
 * thread, then resumes.  resp.body is sent from where it is
 * (MHD_RESPMEM_PERSISTENT): libmicrohttpd lets go of the response before
 * the next request of the connection starts and before the connection's
 * end frees the state. */
struct conn_state {
    struct peer peer;
    cu_buf body;
    bool too_big;
    bool suspended;  /* the handler suspended the request */
    bool ready;      /* resumed: resp holds the answer */
    cu_server *s;
    struct worker *w;
    struct conn_state *next_resumed; /* on w->resumed */
    struct MHD_Connection *conn;
    cu_http_resp resp;
    char client_cert[2 * CU_SHA256_LEN + 1]; /* "" when none (invariant 4) */
};

struct cu_http_suspended {
    struct conn_state st;
};

cu_http_suspended *cu_http_suspend(const cu_http_req *req)
{
    struct conn_state *st = req->state_;
    if (!st || st->suspended)
        return NULL;
    st->suspended = true;
    /* (only this worker writes its count: invariant 5) */
    OWN_ADD(st->w->suspended, 1);
    MHD_suspend_connection(st->conn);
    return (cu_http_suspended *)(void *)st;
}

static void worker_wake(struct worker *w)
{
    uint64_t one = 1;
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    /* (EAGAIN: the counter is full, so the worker is woken anyway) */
}

void cu_http_resume(cu_http_suspended *h)
{
    struct conn_state *st = &h->st;
    struct worker *w = st->w;
    st->ready = true;
    /* The push (seq_cst) publishes st->resp and ready to the worker, which
     * takes the whole list at once (invariant 5). */
    struct conn_state *head = atomic_load(&w->resumed);
    do
        st->next_resumed = head;
    while (!atomic_compare_exchange_weak(&w->resumed, &head, st));
    /* the worker sets armed before its last look at the list and blocks
     * only if it was empty: whoever pushes after that look sees armed */
    if (atomic_exchange(&w->armed, 0)) {
        atomic_fetch_add_explicit(&w->wakeups, 1, memory_order_relaxed);
        worker_wake(w);
    }
}

cu_rc cu_server_new(const cu_server_opts *opts, cu_server **out)
{
    cu_server *s = cu_calloc(1, sizeof *s);
    if (!s)
        return CU_ERR_NOMEM;
    if (opts)
        s->opts = *opts;
    if (!s->opts.bind_addr)
        s->opts.bind_addr = "127.0.0.1";
    if (!s->opts.max_body)
        s->opts.max_body = 65536;
    if (!s->opts.threads)
        s->opts.threads = 2;
    /* the PEM texts are the server's own, for as long as MHD holds them */
    const char **pem[3] = {&s->opts.tls_cert_pem, &s->opts.tls_key_pem, &s->opts.tls_client_ca_pem};
    for (int i = 0; i < 3; i++)
        if (*pem[i] && !(*pem[i] = cu_strdup(*pem[i]))) {
            for (int k = 0; k < i; k++)
                cu_free((char *)*pem[k]);
            cu_free(s);
            return CU_ERR_NOMEM;
        }
    *out = s;
    return CU_OK;
}

cu_rc cu_server_route(cu_server *s, const char *method, const char *path, cu_http_handler fn, void *ud)
{
    if (s->nroutes >= MAX_ROUTES)
        return cu_err_set(CU_ERR_RANGE, "too many routes");
    struct route *r = &s->routes[s->nroutes];
    size_t n = strlen(path);
    r->prefix = n && path[n - 1] == '*';
    r->path = cu_strndup(path, r->prefix ? n - 1 : n);
    r->method = method ? cu_strdup(method) : NULL;
    if (!r->path || (method && !r->method)) {
        cu_free(r->path);
        cu_free(r->method);
        return CU_ERR_NOMEM;
    }
    r->plen = strlen(r->path);
    r->templ = !r->prefix && strchr(r->path, '{') != NULL;
    r->fn = fn;
    r->ud = ud;
    s->nroutes++;
    return CU_OK;
}

const char *cu_http_header(const cu_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

const char *cu_http_query(const cu_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn_, MHD_GET_ARGUMENT_KIND, name);
}

/* Does url match a template path where each "{name}" segment stands for one
 * non-empty segment (no '/')?  Literal parts must match exactly. */
static bool templ_match(const char *t, const char *url)
{
    while (*t && *url) {
        if (*t == '{') {
            const char *close = strchr(t, '}');
            if (!close)
                return false;
            t = close + 1;
            if (*url == '/')
                return false;
            while (*url && *url != '/')
                url++;
            continue;
        }
        if (*t != *url)
            return false;
        t++;
        url++;
    }
    return *t == '\0' && *url == '\0';
}

void cu_server_routes(const cu_server *s, cu_server_route_fn fn, void *ud)
{
    char path[1024];
    for (int i = 0; i < s->nroutes; i++) {
        const struct route *r = &s->routes[i];
        snprintf(path, sizeof path, "%s%s", r->path, r->prefix ? "*" : "");
        fn(ud, r->method, path);
    }
}

static enum MHD_Result query_pair(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    cu_buf *b = cls;
    static const char hexd[] = "0123456789ABCDEF";
    const char *parts[2] = {key, value};
    if (b->len && cu_buf_append(b, "&", 1))
        return MHD_NO;
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            if (!value)
                break;
            if (cu_buf_append(b, "=", 1))
                return MHD_NO;
        }
        for (const unsigned char *p = (const unsigned char *)parts[k]; p && *p; p++) {
            char enc[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
            bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                         *p == '-' || *p == '_' || *p == '.' || *p == '~';
            if (plain ? cu_buf_append(b, p, 1) : cu_buf_append(b, enc, 3))
                return MHD_NO;
        }
    }
    return MHD_YES;
}

cu_rc cu_http_query_string(const cu_http_req *req, cu_buf *out)
{
    size_t before = out->len;
    cu_buf tmp;
    cu_buf_init(&tmp, out->max);
    MHD_get_connection_values(req->conn_, MHD_GET_ARGUMENT_KIND, query_pair, &tmp);
    cu_rc rc = cu_buf_append(out, tmp.data ? tmp.data : "", tmp.len);
    cu_buf_free(&tmp);
    if (rc)
        out->len = before;
    return rc;
}

static void json_escape(cu_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        cu_rc rc;
        if (c == '"' || c == '\\')
            rc = cu_buf_appendf(b, "\\%c", c);
        else if (c < 0x20)
            rc = cu_buf_appendf(b, "\\u%04x", c);
        else
            rc = cu_buf_append(b, s, 1);
        if (rc)
            return;
    }
}

void cu_http_error(cu_http_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->content_type = "application/json";
    cu_buf_reset(&resp->body);
    if (cu_buf_appends(&resp->body, "{\"error\":\"") == CU_OK) {
        json_escape(&resp->body, msg);
        if (cu_buf_appends(&resp->body, "\"}\n")) {
            /* the message was cut by the buffer limit: nothing better to do */
        }
    }
}

void cu_http_text(cu_http_resp *resp, int status, const char *content_type, const char *text)
{
    resp->status = status;
    resp->content_type = content_type;
    cu_buf_reset(&resp->body);
    if (cu_buf_appends(&resp->body, text))
        cu_http_error(resp, 500, "response too large");
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, cu_http_resp *r)
{
    /* the body stays where it is until MHD lets go of the response (struct conn_state) */
    struct MHD_Response *mr = MHD_create_response_from_buffer(r->body.len, r->body.data ? r->body.data : (char *)"",
                                                              MHD_RESPMEM_PERSISTENT);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, "Content-Type", r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    /* extra headers: "Name: value\r\n" lines */
    char *line = r->extra_headers;
    while (*line) {
        char *end = strstr(line, "\r\n");
        if (!end)
            break;
        *end = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            MHD_add_response_header(mr, line, v);
        }
        line = end + 2;
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* The verified client certificate of conn, as the hex SHA-256 of its DER
 * form, into hex; "" when there is none or its chain does not verify. */
static void verify_peer(struct worker *w, struct MHD_Connection *conn, char *hex)
{
    hex[0] = '\0';
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return;
    gnutls_session_t ss = (gnutls_session_t)ci->tls_session;
    unsigned status = 0, n = 0;
    const gnutls_datum_t *c = gnutls_certificate_get_peers(ss, &n);
    if (!c || n == 0)
        return; /* no certificate sent */
    OWN_ADD(w->verifications, 1);
    uint8_t h[CU_SHA256_LEN];
    if (gnutls_certificate_verify_peers2(ss, &status) != GNUTLS_E_SUCCESS || status != 0 ||
        cu_sha256(c[0].data, c[0].size, NULL, 0, NULL, 0, h))
        return;
    cu_hex_encode(h, sizeof h, hex);
}

/* The connection's client certificate into hex: the verdict kept for the
 * connection while it is fresh, else verified now (invariant 4). */
static void client_cert(struct worker *w, struct MHD_Connection *conn, char *hex)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_state *st = ci ? ci->socket_context : NULL;
    if (!st) { /* (not expected: on_request refuses a connection without one) */
        verify_peer(w, conn, hex);
        return;
    }
    struct peer *p = &st->peer;
    uint64_t now = cu_mono_ns();
    if (!p->verified_ns || now - p->verified_ns >= TLS_REVERIFY_NS) {
        verify_peer(w, conn, p->hex);
        p->verified_ns = now;
    }
    memcpy(hex, p->hex, sizeof p->hex);
}

/* Connections open and close: the peer record of a server that asks for
 * client certificates. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct worker *w = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        OWN_ADD(w->connections, 1);
        struct conn_state *st = cu_calloc(1, sizeof *st); /* NULL: on_request refuses the requests */
        if (st) {
            cu_buf_init(&st->body, w->s->opts.max_body);
            cu_buf_init(&st->resp.body, 64u << 20);
            st->s = w->s;
            st->w = w;
            st->conn = conn;
        }
        *socket_context = st;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn_state *st = *socket_context;
        if (st) {
            cu_buf_free(&st->body);
            cu_buf_free(&st->resp.body);
            cu_free(st);
        }
        *socket_context = NULL;
    }
}

static int suspended_now(const cu_server *s)
{
    int n = 0;
    for (unsigned i = 0; i < s->nw; i++)
        n += atomic_load_explicit(&s->w[i]->suspended, memory_order_relaxed);
    return n;
}

cu_rc cu_server_metrics(cu_server *s, cu_buf *out)
{
    unsigned long long conns = 0, verif = 0, resumed = 0, wakeups = 0;
    for (unsigned i = 0; i < s->nw; i++) {
        conns += atomic_load_explicit(&s->w[i]->connections, memory_order_relaxed);
        verif += atomic_load_explicit(&s->w[i]->verifications, memory_order_relaxed);
        resumed += atomic_load_explicit(&s->w[i]->resumed_n, memory_order_relaxed);
        wakeups += atomic_load_explicit(&s->w[i]->wakeups, memory_order_relaxed);
    }
    return cu_buf_appendf(out,
                          "# TYPE custos_http_connections counter\n"
                          "# HELP custos_http_connections Connections accepted.\n"
                          "custos_http_connections_total %llu\n"
                          "# TYPE custos_http_tls_client_verifications counter\n"
                          "# HELP custos_http_tls_client_verifications Client certificate chains verified "
                          "(once per connection, again after %d s).\n"
                          "custos_http_tls_client_verifications_total %llu\n"
                          "# TYPE custos_http_requests_suspended gauge\n"
                          "# HELP custos_http_requests_suspended Requests waiting for their answer (the ledger).\n"
                          "custos_http_requests_suspended %d\n"
                          "# TYPE custos_http_requests_resumed counter\n"
                          "# HELP custos_http_requests_resumed Suspended requests handed back to be answered.\n"
                          "custos_http_requests_resumed_total %llu\n"
                          "# TYPE custos_http_resume_wakeups counter\n"
                          "# HELP custos_http_resume_wakeups Server threads woken to hand answers back (one "
                          "wakes for all the answers waiting).\n"
                          "custos_http_resume_wakeups_total %llu\n",
                          conns, (int)(TLS_REVERIFY_NS / UINT64_C(1000000000)), verif, suspended_now(s), resumed,
                          wakeups);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    struct worker *w = cls;
    cu_server *s = w->s;
    struct conn_state *st = *con_cls;
    if (!st) {
        /* a new request on the connection: its state, reset */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (!ci || !(st = ci->socket_context))
            return MHD_NO; /* (out of memory when the connection opened) */
        cu_buf_reset(&st->body);
        st->too_big = st->suspended = st->ready = false;
        *con_cls = st;
        return MHD_YES;
    }
    if (st->ready) /* resumed: the suspended handler's answer */
        return send_resp(conn, &st->resp);
    if (st->suspended)
        return MHD_YES; /* (not expected: MHD does not call a suspended request) */
    if (*upload_size) {
        if (!st->too_big && cu_buf_append(&st->body, upload_data, *upload_size))
            st->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    cu_http_resp *resp = &st->resp;
    resp->status = 200;
    resp->content_type = "application/json";
    resp->extra_headers[0] = '\0';
    cu_buf_reset(&resp->body);
    if (st->too_big) {
        cu_http_error(resp, 413, "request body larger than %zu bytes", s->opts.max_body);
    } else {
        const struct route *found = NULL;
        bool path_known = false;
        for (int i = 0; i < s->nroutes; i++) {
            const struct route *r = &s->routes[i];
            bool pm = r->prefix  ? strncmp(url, r->path, r->plen) == 0
                      : r->templ ? templ_match(r->path, url)
                                 : strcmp(url, r->path) == 0;
            if (!pm)
                continue;
            path_known = true;
            if (!r->method || strcmp(r->method, method) == 0) {
                found = r;
                break;
            }
        }
        if (found) {
            if (s->opts.tls_client_ca_pem)
                client_cert(w, conn, st->client_cert);
            cu_http_req req = {.method = method, .path = url, .body = st->body.data ? st->body.data : "",
                               .body_len = st->body.len, .client_cert = st->client_cert[0] ? st->client_cert : NULL,
                               .conn_ = conn, .state_ = st};
            found->fn(found->ud, &req, resp);
            if (st->suspended)
                return MHD_YES; /* answered by cu_http_resume, perhaps already */
        } else if (path_known) {
            cu_http_error(resp, 405, "method %s not allowed on %s", method, url);
        } else {
            cu_http_error(resp, 404, "no such route: %s", url);
        }
    }
    return send_resp(conn, resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_state *st = *con_cls;
    if (st) {
        /* the state stays with the connection; a large buffer does not
         * (MHD reads no more of the answer: it only lets go of it now) */
        if (st->body.cap > KEEP_BUF_BYTES)
            cu_buf_free(&st->body);
        if (st->resp.body.cap > KEEP_BUF_BYTES)
            cu_buf_free(&st->resp.body);
        *con_cls = NULL;
    }
}

/* Hand the worker's resumed requests back to its daemon (worker only).
 * Returns how many; they stay counted as suspended until the daemon has
 * run (invariant 6). */
static int take_resumed(struct worker *w)
{
    struct conn_state *st = atomic_exchange(&w->resumed, NULL);
    int n = 0;
    for (; st; st = st->next_resumed, n++)
        MHD_resume_connection(st->conn); /* (no ITC in this mode: flags under MHD's lock) */
    if (n)
        OWN_ADD(w->resumed_n, (unsigned)n);
    return n;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    cu_server *s = w->s;
    pthread_setname_np(pthread_self(), "cu-http"); /* per-thread CPU in benchmarks */
    for (;;) {
        if (atomic_load(&s->quiesce) && !w->quiesced) {
            /* the listening socket is this worker's own descriptor of it */
            MHD_socket ls = MHD_quiesce_daemon(w->d);
            if (ls != MHD_INVALID_SOCKET)
                close(ls);
            w->quiesced = true;
        }
        if (atomic_load(&s->exit))
            break;
        int n = take_resumed(w);
        /* about to block: from here on a resume wakes the worker; one
         * pushed before this store is on the list, seen just below */
        bool armed = true;
        atomic_store(&w->armed, 1);
        if (atomic_load(&w->resumed) || atomic_load(&s->exit) || (atomic_load(&s->quiesce) && !w->quiesced)) {
            atomic_store(&w->armed, 0);
            armed = false;
            if (!n)
                continue;
        }
        /* blocks (unless n: MHD then sees requests to resume) until the
         * network, a timeout or efd, which is in the daemon's epoll set */
        (void)MHD_run_wait(w->d, -1);
        if (armed && !atomic_exchange(&w->armed, 0)) {
            uint64_t v; /* a resume wrote efd: take the count back */
            if (read(w->efd, &v, sizeof v) < 0) {
                /* EAGAIN: the write is still to come; its edge is harmless */
            }
        }
        if (n)
            OWN_ADD(w->suspended, -n);
    }
    return NULL;
}

/* The listening socket, shared by every worker's daemon (each gets its own
 * descriptor of it). */
static int listen_on(cu_server *s, const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1;
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in got;
    socklen_t gl = sizeof got;
    s->port = getsockname(fd, (struct sockaddr *)&got, &gl) == 0 ? ntohs(got.sin_port) : s->opts.port;
    return fd;
}

static cu_rc worker_start(cu_server *s, struct worker *w, int lfd, const struct MHD_OptionItem *tlsopt, bool tls)
{
    struct epoll_event ev;
    w->s = s;
    if ((w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return cu_err_set(CU_ERR_IO, "cannot make the server's worker: %s", strerror(errno));
    int ls = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    if (ls < 0)
        return cu_err_set(CU_ERR_IO, "cannot share the listening socket: %s", strerror(errno));
    unsigned limit = (CONNECTION_LIMIT + s->nw - 1) / s->nw;
    w->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0),
                            s->port, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, tlsopt, MHD_OPTION_LISTEN_SOCKET,
                            (MHD_socket)ls, MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, w, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)CONN_POOL_BYTES, MHD_OPTION_END);
    if (!w->d) {
        close(ls);
        return cu_err_set(CU_ERR_IO, "cannot serve on %s:%u%s", s->opts.bind_addr, s->port,
                          tls ? " (or the TLS certificate, key or CA list is not valid PEM)" : "");
    }
    /* efd goes into the daemon's own epoll set with a NULL pointer, the
     * marker libmicrohttpd's epoll loop skips (its listen-shutdown signal,
     * MHD_epoll in daemon.c, 0.9.75 to 1.0): a resume then ends the
     * daemon's wait, and one epoll_wait a round serves both */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_EPOLL_FD);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = NULL;
    if (!info || epoll_ctl(info->epoll_fd, EPOLL_CTL_ADD, w->efd, &ev) != 0)
        return cu_err_set(CU_ERR_IO, "cannot poll the server's wake-ups: %s", strerror(errno));
    if (pthread_create(&w->thr, NULL, worker_main, w) != 0)
        return cu_err_set(CU_ERR_INTERNAL, "cannot start a server thread");
    w->running = true;
    return CU_OK;
}

/* Stop every running worker (exit, woken, joined), then free them all. */
static void workers_end(cu_server *s)
{
    atomic_store(&s->exit, 1);
    for (unsigned i = 0; i < s->nw; i++)
        if (s->w[i]->running) {
            worker_wake(s->w[i]);
            pthread_join(s->w[i]->thr, NULL);
            s->w[i]->running = false;
        }
    for (unsigned i = 0; i < s->nw; i++) {
        struct worker *w = s->w[i];
        if (w->d)
            MHD_stop_daemon(w->d);
        if (w->efd >= 0)
            close(w->efd);
        cu_free(w);
    }
    cu_free(s->w);
    s->w = NULL;
    s->nw = 0;
}

cu_rc cu_server_start(cu_server *s)
{
    struct sockaddr_in sa;
    cu_rc rc = CU_OK;
    int lfd = -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(s->opts.port);
    if (s->w)
        return cu_err_set(CU_ERR_STATE, "the server is already started");
    if (inet_pton(AF_INET, s->opts.bind_addr, &sa.sin_addr) != 1)
        return cu_err_set(CU_ERR_INVAL, "bad bind address %s", s->opts.bind_addr);
    bool tls = s->opts.tls_cert_pem && s->opts.tls_key_pem;
    if (!tls && (s->opts.tls_cert_pem || s->opts.tls_key_pem || s->opts.tls_client_ca_pem))
        return cu_err_set(CU_ERR_INVAL, "TLS needs both a certificate and its key");
    struct MHD_OptionItem tlsopt[4] = {{MHD_OPTION_END, 0, NULL}};
    if (tls) {
        int k = 0;
        tlsopt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)s->opts.tls_cert_pem};
        tlsopt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)s->opts.tls_key_pem};
        if (s->opts.tls_client_ca_pem)
            tlsopt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)s->opts.tls_client_ca_pem};
        tlsopt[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    if ((lfd = listen_on(s, &sa)) < 0)
        return cu_err_set(CU_ERR_IO, "cannot listen on %s:%u: %s", s->opts.bind_addr, s->opts.port, strerror(errno));
    unsigned n = s->opts.threads < MAX_WORKERS ? s->opts.threads : MAX_WORKERS;
    atomic_store(&s->quiesce, 0);
    atomic_store(&s->exit, 0);
    if (!(s->w = cu_calloc(n, sizeof *s->w))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    s->nw = n;
    for (unsigned i = 0; i < n; i++)
        if (!(s->w[i] = cu_calloc(1, sizeof *s->w[i]))) {
            s->nw = i;
            rc = CU_ERR_NOMEM;
            goto fail;
        } else {
            s->w[i]->efd = -1;
        }
    for (unsigned i = 0; i < n; i++)
        if ((rc = worker_start(s, s->w[i], lfd, tlsopt, tls)))
            goto fail;
    close(lfd);
    return CU_OK;
fail:
    /* (s->nw counts only the workers allocated: each of them is non-NULL) */
    close(lfd);
    workers_end(s);
    return rc;
}

uint16_t cu_server_port(const cu_server *s) { return s->port; }

void cu_server_stop(cu_server *s)
{
    if (!s || !s->w)
        return;
    /* No new connections; the suspended requests are answered by their
     * owners (the ledger runs every pending completion) and handed back by
     * the workers, so wait for them with the workers running: stopping MHD
     * under a suspended request would free it while its completion still
     * holds it (invariant 6). */
    atomic_store(&s->quiesce, 1);
    for (unsigned i = 0; i < s->nw; i++)
        worker_wake(s->w[i]);
    while (suspended_now(s) > 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    workers_end(s);
}

void cu_server_free(cu_server *s)
{
    if (!s)
        return;
    cu_server_stop(s);
    for (int i = 0; i < s->nroutes; i++) {
        cu_free(s->routes[i].path);
        cu_free(s->routes[i].method);
    }
    cu_free((char *)s->opts.tls_cert_pem);
    cu_free((char *)s->opts.tls_key_pem);
    cu_free((char *)s->opts.tls_client_ca_pem);
    cu_free(s);
}
