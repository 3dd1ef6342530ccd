#ifndef REGISTRYD_HTTP_H
#define REGISTRYD_HTTP_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/*
 * The HTTP/1.1 request layer over http-parser. One struct request per
 * request in flight on a connection; it is owned by the connection's
 * struct http_conn and freed when the response is done or the connection
 * closes.
 *
 * The HTTP layer knows neither the server nor the registry: the server
 * gives it a bufferevent per connection (http_conn_new), and the
 * dispatcher given to http_init sees each request once its headers are
 * complete. The dispatcher must then do exactly one of:
 *  - reply at once (http_reply, http_reply_file, http_error): any body the
 *    client still sends is discarded, or the connection closed after the
 *    reply when the body is large;
 *  - accept the body with http_body_sink: body_cb gets each decoded chunk,
 *    end_cb runs when the body is complete and must reply, now or later;
 *  - for requests without a body, go asynchronous: return without a
 *    reply and reply later (for example when a pool job is done).
 * A request whose reply is pending stops the connection from reading;
 * pipelined requests wait. If the connection closes first, the cleanup
 * callback (http_set_cleanup) is the last thing that sees the request:
 * whoever holds the request pointer for a later reply must drop it there.
 */
struct request;

enum http_method_id {
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_PUT,
	HTTP_M_POST,
	HTTP_M_PATCH,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_OTHER,
};

/* Called with each decoded body chunk: 0 to go on, -1 after replying. */
typedef int (*http_body_cb)(struct request *, const char *, size_t);
/* Called once the whole body arrived (not called after body_cb's -1). */
typedef void (*http_end_cb)(struct request *);
/* Called when the request is freed, replied or not. */
typedef void (*http_cleanup_cb)(struct request *);

/* ---- what the request says ---- */

enum http_method_id http_method(const struct request *);
const char *http_method_name(const struct request *);
/* The path without query, NUL-terminated, not decoded. */
const char *http_path(const struct request *);
/* The raw query after '?', "" when none. */
const char *http_query(const struct request *);
/*
 * http_header: the value of header name (case-insensitive), or NULL.
 * Repeated headers are joined with ", " (Accept).
 */
const char *http_header(const struct request *, const char *name);
/* 1 when the request has a body (Content-Length > 0 or chunked). */
int http_has_body(const struct request *);
/* Content-Length, or -1 when absent (chunked or no body). */
int64_t http_content_length(const struct request *);
/* The peer's IP address (the proxy's, behind a proxy). */
const char *http_peer_addr(const struct request *);
/*
 * http_set_client: the client's address for the access line (behind a
 * trusted proxy); copied, at most 63 bytes. The line shows the peer's
 * "addr:port" until it is set, or when addr is the peer's address.
 */
void http_set_client(struct request *, const char *addr);
/*
 * The authenticated user, for the access log and the upload _state (""
 * when anonymous); kept whole up to AUTH_USER_MAX - 1 bytes (bounds.h).
 */
void http_set_user(struct request *, const char *);
const char *http_user(const struct request *);
/* A connection id for debug lines. */
unsigned int http_conn_id(const struct request *);

/* One pointer of handler state; the handler owns what it points to. */
void http_set_ctx(struct request *, void *);
void *http_ctx(const struct request *);
void http_set_cleanup(struct request *, http_cleanup_cb);

/*
 * http_body_sink: accept the body. Sends "100 Continue" when the client
 * asked for it. Must be called from the dispatcher.
 */
void http_body_sink(struct request *, http_body_cb, http_end_cb);

/*
 * http_hold: from the dispatcher, keep the request's body unread until
 * http_release (credentials checked on the worker pool meanwhile, a
 * storage lookup). Holds nest: each hold needs its release.
 * http_release: the handler has replied or set a body sink: go on. A
 * reply does not free a held request, so a holder may reply and then
 * release; the request may be gone after the release. (The connection
 * closing frees it, held or not: its cleanup callback runs.)
 */
void http_hold(struct request *);
void http_release(struct request *);

/* ---- the reply ---- */

/* 1 once a reply has been started. */
int http_replied(const struct request *);

/*
 * http_add_header: add a response header before the reply is sent.
 * Content-Length, Date, Docker-Distribution-Api-Version and [headers]
 * are added by the reply itself.
 */
void http_add_header(struct request *, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * http_reply: send status with body (copied; may be NULL/0). A HEAD
 * request gets the headers, including the Content-Length of body, and no
 * body. content_type may be NULL.
 */
void http_reply(struct request *, int status, const char *content_type,
    const void *body, size_t len);

/*
 * http_reply_take: http_reply with a body from malloc(3) that the
 * response takes over (not copied; freed once sent, or at once).
 */
void http_reply_take(struct request *, int status, const char *content_type,
    char *body, size_t len);

/*
 * http_reply_file: send length bytes of fd from offset (sendfile on plain
 * TCP, bounded reads otherwise). Takes ownership of fd in every case.
 */
void http_reply_file(struct request *, int status, const char *content_type,
    int fd, uint64_t offset, uint64_t length);

/*
 * http_reply_head: the answer to a HEAD whose GET would send length bytes:
 * the head, Content-Length included, without reading any of them. Only
 * for a HEAD (anything else gets a 500).
 */
void http_reply_head(struct request *, int status, const char *content_type,
    uint64_t length);

/*
 * A body the HTTP layer pulls as the client takes it: hs_read fills buf
 * with up to len bytes at off (the count, 0 or -1 with errno cut the
 * body short and close the connection); hs_free releases arg once, when
 * the body is out or the request is gone. Both run on the loop.
 */
struct http_source {
	ssize_t (*hs_read)(void *arg, void *buf, size_t len, uint64_t off);
	void (*hs_free)(void *arg);
};

/*
 * http_reply_source: send length bytes of src from offset, in bounded
 * segments as the output drains. Takes ownership of arg in every case.
 * hs_read may also return -1 with errno EAGAIN when it has nothing yet
 * (a store reading over the network): sending stops until the source
 * calls http_source_wake.
 */
void http_reply_source(struct request *, int status, const char *content_type,
    const struct http_source *src, void *arg, uint64_t offset, uint64_t length);
/*
 * http_source_wake: the source of r's body, which said EAGAIN, has bytes
 * (or an error) now: go on. From a callback of the loop, not from within
 * hs_read.
 */
void http_source_wake(struct request *);

/*
 * http_body_pause: from a body callback (http_body_sink), stop taking
 * the body after this chunk until http_body_resume: the sink cannot take
 * more now (a store sending parts over the network). The connection
 * stops reading meanwhile, so the client is held back by TCP.
 * http_body_resume: from a callback of the loop; the request may be gone
 * after it returns.
 */
void http_body_pause(struct request *);
void http_body_resume(struct request *);

/*
 * http_error: the OCI error body {"errors":[{"code","message","detail"}]}
 * with the spec's message for code. detail (printf format, may be NULL) is
 * sent as a string; it must not echo raw request bytes. For 5xx the detail
 * goes to the log only.
 */
void http_error(struct request *, int status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/*
 * http_set_route: the name of the route serving the request (a string
 * constant, such as router.c's names), under which the metrics count it:
 * in flight from now until it is freed, then done with its status,
 * bytes and duration. Unset, a request counts as "other".
 */
void http_set_route(struct request *, const char *name);

/* Set the digest shown in the access log line. */
void http_log_digest(struct request *, const char *digest);

/*
 * The access line of a request is written when its response has left
 * (the last byte written to the connection), or when the connection
 * closes first: "CLIENT METHOD PATH STATUS BYTES MSms USER DIGEST", where
 * CLIENT is the peer's "addr:port" or the address behind a trusted proxy,
 * BYTES counts the body bytes sent and MS runs from the request's first
 * byte; a line for a response that did not go out whole ends in
 * " aborted", with status 499 when no reply had started. The metrics
 * (metrics.h) count the request at the same moment, with the same
 * status, bytes and duration.
 */

/* ---- the connection side, used by server.c ---- */

struct bufferevent;
struct config;
struct http_conn;

/*
 * The dispatcher: called once per request, when its headers are complete,
 * with the contract at the top of this file.
 */
typedef void (*http_dispatch_cb)(struct request *);

/* What the server knows of a connection's transport (http_conn_new). */
#define HTTP_CONN_F_TLS          0x01 /* bufferevent_openssl: no sendfile */
#define HTTP_CONN_F_PLAIN_ON_TLS 0x02 /* plain HTTP on a TLS port: 400 */

/*
 * What the server is to do with a connection (http_conn_state). The
 * states are ordered: a connection only moves up, never back to open.
 */
enum http_conn_state {
	/* Keep it: reading or replying. */
	HTTP_CONN_OPEN,
	/* Close once nothing is in flight and the output has drained. */
	HTTP_CONN_CLOSE_AFTER_REPLY,
	/*
	 * The last reply is out and the write side shut: discard input until
	 * EOF, the short read timeout or HTTP_LINGER_MAX in all, then close.
	 */
	HTTP_CONN_LINGER,
	/* Close now. */
	HTTP_CONN_CLOSE,
};

/*
 * http_init: keep the [headers] and timeouts of cfg (owned by main, alive
 * while serving) and the dispatcher every request goes to.
 */
void http_init(const struct config *, http_dispatch_cb);
/*
 * http_refusal: a whole response of status with the OCI error body of
 * code and detail, and "Connection: close", into buf[size], for the
 * server to send on a connection it refuses to serve (before reading any
 * request). Needs http_init. Returns its length, or -1 when it does not
 * fit.
 */
int http_refusal(char *buf, size_t size, int status, const char *code,
    const char *detail);
/*
 * http_conn_new: the HTTP side of a new connection on bev. The caller
 * keeps owning bev and must call http_conn_free before it frees bev; the
 * HTTP layer reads and writes it, enables and disables reading, sets its
 * timeouts and may shut down its write side for a lingering close, but
 * never sets its callbacks and never frees it. id, peer ("addr:port",
 * for logs) and addr (the peer's IP address, http_peer_addr) are copied.
 * flags are HTTP_CONN_F_*. The header deadline, which has a timer of its
 * own and runs from now for the first request (a connection that sends
 * nothing is closed after header_timeout), is reported as a deferred
 * BEV_EVENT_READING | BEV_EVENT_TIMEOUT on bev with the state set to
 * HTTP_CONN_CLOSE, so that the server frees the connection from its own
 * event callback. NULL when out of memory.
 */
struct http_conn *http_conn_new(struct bufferevent *bev, unsigned int id,
    const char *peer, const char *addr, int flags);
/*
 * http_conn_set_dispatch: send the requests of hc to dispatch instead of
 * http_init's dispatcher (the debug listener's connections). Call it
 * right after http_conn_new.
 */
void http_conn_set_dispatch(struct http_conn *, http_dispatch_cb);
/*
 * http_conn_free: free the request in flight (its cleanup runs), the
 * timer and hc; not the bufferevent. NULL is a no-op.
 */
void http_conn_free(struct http_conn *);
/*
 * http_conn_read: parse what the bufferevent's input holds, dispatching
 * requests and streaming bodies. May change the state; never frees hc.
 */
void http_conn_read(struct http_conn *);
/*
 * http_conn_drained: the output fell below the low watermark: finish the
 * response, resume the parser on buffered input. May change the state;
 * never frees hc.
 */
void http_conn_drained(struct http_conn *);
/*
 * http_conn_state: what the server is to do with the connection. The
 * server reads it at the top of its bufferevent callbacks, after calling
 * into the HTTP layer; a change made outside them (a reply from a pool
 * job) takes effect at the next one.
 */
enum http_conn_state http_conn_state(const struct http_conn *);
/*
 * http_conn_busy: 1 while a request is in flight (parsed or replied),
 * until all but the last bytes of its answer are written: 0 again once
 * only those wait in the output.
 */
int http_conn_busy(const struct http_conn *);
/*
 * http_conn_close_after_reply: the server wants the connection closed
 * once the request in flight, if any, has its reply written (shutdown,
 * the peer's EOF). The reply says "Connection: close".
 */
void http_conn_close_after_reply(struct http_conn *);

#endif /* REGISTRYD_HTTP_H */
