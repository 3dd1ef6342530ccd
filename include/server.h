#ifndef REGISTRYD_SERVER_H
#define REGISTRYD_SERVER_H

/*
 * Listening sockets and the connections they accept. Each connection's
 * HTTP side is an opaque struct http_conn (http.h); the server owns the
 * connection, its socket and its bufferevent, and is the only one that
 * frees them.
 */
struct config;
struct event_base;
struct request;

/*
 * server_start: listen on cfg->cf_addr (":port" means every IPv4 and IPv6
 * address), or on the sockets of socket activation ($LISTEN_FDS, see
 * notify.h) when the service manager passed some, and accept connections
 * on base; each request goes to dispatch
 * (http.h says what a dispatcher must do) once its headers are complete.
 * cfg is owned by main and must outlive the server. Raises RLIMIT_NOFILE
 * to its hard limit. 0, or -1 with a logged reason.
 */
int server_start(struct event_base *, const struct config *,
    void (*dispatch)(struct request *));
/*
 * server_listen_debug: also listen on addr (the form of [http] addr) for
 * the debug listener: plain HTTP whatever [tls] says, each request to
 * dispatch, under the same connection limits. After server_start. 0, or
 * -1 with a logged reason.
 */
int server_listen_debug(const char *addr, void (*dispatch)(struct request *));
/*
 * server_shutdown: stop accepting, close idle connections, let requests in
 * flight finish for up to drain_timeout seconds, then leave the loop.
 */
void server_shutdown(void);
/* server_free: close every remaining connection and free the listeners. */
void server_free(void);

#endif /* REGISTRYD_SERVER_H */
