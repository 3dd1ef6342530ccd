/*
 * Listening sockets, accepted connections and their lifecycle: the
 * connection limits (in all and per client address), the TLS sniffing of
 * the first byte and graceful shutdown. Besides the registry's listeners
 * there may be a debug listener ([http] debug_addr): plain HTTP, with a
 * dispatcher of its own, under the same limits. The HTTP side of a
 * connection (parser, request in flight, header deadline, read timeouts)
 * is http.c's struct http_conn; what it wants done with the connection
 * comes back through http_conn_state. A connection is freed in exactly
 * one place, conn_close, and only from the top of its own event
 * callbacks (STYLE O2, O3).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "bounds.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define SERVER_MAX_LISTENERS 8
/* Bytes read per read event: large enough for fast uploads, bounded. */
#define SERVER_READ_MAX      HTTP_READ_MAX
/* Write callback (and next request) once the output is this low. */
#define SERVER_WRITE_LOW     (64 * 1024)
#define SERVER_EVBUFFER_READ 4096 /* libevent 2.1's EVBUFFER_MAX_READ */
/* Hash buckets of the per-address connection counts. */
#define SERVER_ADDR_BUCKETS  1024
/* Refused connections are logged at most once per this many ms. */
#define SERVER_REFUSE_LOG_MS 1000

/* Connection flags: what the server knows of the transport. */
#define CONN_F_TLS          0x01 /* bufferevent_openssl: no sendfile */
#define CONN_F_PLAIN_ON_TLS 0x02 /* plain HTTP on a TLS port: 400 */

/*
 * What kind of listener a connection came from. The registry's
 * listeners take TLS when it is configured and send requests to
 * http_init's dispatcher; the debug listener is plain HTTP with its own.
 */
struct server_port {
	int sp_tls;                            /* TLS when configured */
	void (*sp_dispatch)(struct request *); /* NULL: http_init's */
};

static const struct server_port server_main_port = {1, NULL};
static struct server_port server_debug_port = {0, NULL};

/*
 * The connections of one client address (util_addr_key: an IPv6 /64).
 * Owned by the server's address table; freed when its last connection
 * closes.
 */
struct server_addr {
	struct server_addr *sa_next; /* bucket chain */
	int sa_conns;
	char sa_key[UTIL_ADDR_KEY_MAX];
};

/*
 * One client connection. Owned by the server's connection list and freed
 * only by conn_close (O2), which frees c_http before c_bev.
 */
struct conn {
	TAILQ_ENTRY(conn) c_entry;
	unsigned int c_id;
	int c_fd;
	struct bufferevent *c_bev;        /* owns c_fd once set */
	struct event *c_peek;             /* TLS port: waiting for byte 1 */
	struct http_conn *c_http;         /* parser and request in flight */
	int c_flags;                      /* CONN_F_* */
	char c_peer[64];                  /* "addr:port" for logs */
	char c_addr[48];                  /* peer IP address alone */
	struct server_addr *c_sa;         /* counted here; NULL: not capped */
	const struct server_port *c_port; /* the listener's kind */
};

TAILQ_HEAD(conn_list, conn);

static struct {
	struct event_base *base;
	const struct config *cfg;
	struct evconnlistener *listeners[SERVER_MAX_LISTENERS];
	int nlisteners;
	struct conn_list conns;
	int nconns;
	int max_conns;
	int max_per_addr;
	struct server_addr *addrs[SERVER_ADDR_BUCKETS];
	uint64_t refused_log_ms; /* last "refusing" line */
	unsigned long refused;   /* connections refused since then */
	int paused;              /* listeners off at the limit */
	int stopping;
	unsigned int next_id;
	struct event *drain_timer;
	struct event *accept_timer; /* out of descriptors: try again */
	int accept_backoff_ms;      /* its next delay; 0: accepts work */
} srv;

static void server_accept_cb(struct evconnlistener *, evutil_socket_t,
    struct sockaddr *, int, void *);
static void server_accept_error_cb(struct evconnlistener *, void *);
static int
server_listen(const char *, const char *, int, const struct server_port *);
static int server_bind(const char *, const struct server_port *);
static int server_adopt(void);
static void server_listeners_enable(int);
static void server_drain_cb(evutil_socket_t, short, void *);
static void server_accept_retry_cb(evutil_socket_t, short, void *);
static void server_raise_nofile(void);
static unsigned int server_addr_hash(const char *);
static struct server_addr *server_addr_take(const char *);
static void server_addr_release(struct server_addr *);
static void server_refuse(evutil_socket_t, const char *, int);
static int conn_setup(struct conn *, struct bufferevent *);
static void conn_peek_cb(evutil_socket_t, short, void *);
static void conn_read_more(struct conn *);
static void conn_read_cb(struct bufferevent *, void *);
static void conn_write_cb(struct bufferevent *, void *);
static void conn_event_cb(struct bufferevent *, short, void *);
static int conn_idle(struct conn *);
static void conn_close(struct conn *, const char *);
static int conn_state_act(struct conn *);

/* ----------------------------------------------------------------------
 * Listening
 */

/*
 * Raise the open-file limit to its hard limit: every connection, every
 * upload and every blob being sent holds a descriptor.
 */
static void
server_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/*
 * Bind every address host resolves to (NULL: the IPv4 and IPv6 wildcard)
 * on port, for connections of kind sp. Returns how many listeners were
 * added, or -1.
 */
static int
server_listen(const char *host, const char *port, int backlog,
    const struct server_port *sp)
{
	struct addrinfo hints, *res, *ai;
	struct evconnlistener *l;
	char name[NI_MAXHOST];
	int fd, on = 1, n = 0, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("listen %s:%s: %s", host ? host : "*", port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (srv.nlisteners == SERVER_MAX_LISTENERS)
			break;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name),
		        NULL, 0, NI_NUMERICHOST) != 0)
			util_strlcpy(name, "?", sizeof(name));
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			log_warn("socket %s", name);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		/* Keep the IPv6 socket from claiming the IPv4 port too. */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			log_warn("bind %s port %s", name, port);
			close(fd);
			continue;
		}
		l = evconnlistener_new(srv.base, server_accept_cb,
		    (void *)(uintptr_t)sp,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, backlog, fd);
		if (l == NULL) {
			log_warn("listen %s port %s", name, port);
			close(fd);
			continue;
		}
		evconnlistener_set_error_cb(l, server_accept_error_cb);
		srv.listeners[srv.nlisteners++] = l;
		log_info("listening on %s port %s%s", name, port,
		    sp == &server_main_port ? "" : " (debug listener)");
		n++;
	}
	freeaddrinfo(res);
	return n;
}

/*
 * Socket activation: take the listening sockets the service manager
 * passed instead of binding cf_addr. Returns how many, 0 when none were
 * passed, or -1.
 */
static int
server_adopt(void)
{
	struct evconnlistener *l;
	int fds[SERVER_MAX_LISTENERS], i, n;

	if ((n = notify_listen_fds(fds, SERVER_MAX_LISTENERS)) <= 0)
		return n;
	for (i = 0; i < n; i++) {
		/* Backlog 0: the socket already listens. */
		l = evconnlistener_new(srv.base, server_accept_cb,
		    (void *)(uintptr_t)&server_main_port,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fds[i]);
		if (l == NULL) {
			log_warnx("socket activation: descriptor %d", fds[i]);
			return -1;
		}
		evconnlistener_set_error_cb(l, server_accept_error_cb);
		srv.listeners[srv.nlisteners++] = l;
	}
	log_info("listening on %d socket%s from the service manager "
	         "([http] addr not used)",
	    n, n == 1 ? "" : "s");
	return n;
}

/*
 * server_start: listen on the sockets of socket activation, else on
 * cf_addr, "host:port", "[v6]:port" or ":port" (every address). Returns
 * 0, or -1 when nothing could be bound.
 */
int
server_start(struct event_base *base, const struct config *cfg,
    void (*dispatch)(struct request *))
{
	srv.base = base;
	srv.cfg = cfg;
	srv.max_conns = cfg->cf_max_connections > 0 ? cfg->cf_max_connections
	                                            : SERVER_MAX_CONNECTIONS;
	srv.max_per_addr = cfg->cf_conns_per_addr > 0
	    ? cfg->cf_conns_per_addr
	    : SERVER_MAX_CONNECTIONS_PER_ADDRESS;
	TAILQ_INIT(&srv.conns);
	server_raise_nofile();
	http_init(cfg, dispatch);
	if ((srv.drain_timer = evtimer_new(base, server_drain_cb, NULL)) ==
	        NULL ||
	    (srv.accept_timer =
	            evtimer_new(base, server_accept_retry_cb, NULL)) == NULL)
		return -1;

	switch (server_adopt()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		return 0;
	}
	return server_bind(cfg->cf_addr, &server_main_port);
}

/*
 * server_listen_debug: listen on addr (as [http] addr is written) for
 * the debug listener, whose requests go to dispatch; plain HTTP even
 * when TLS is configured. Call after server_start. 0, or -1 when nothing
 * could be bound.
 */
int
server_listen_debug(const char *addr, void (*dispatch)(struct request *))
{
	server_debug_port.sp_dispatch = dispatch;
	return server_bind(addr, &server_debug_port);
}

/*
 * Listen on addr, "host:port", "[v6]:port" or ":port" (every address),
 * for connections of kind sp. 0, or -1 when nothing could be bound.
 */
static int
server_bind(const char *addr, const struct server_port *sp)
{
	char host[256], *port;
	const char *h;

	if (util_strlcpy(host, addr, sizeof(host)) >= sizeof(host) ||
	    (port = strrchr(host, ':')) == NULL) {
		log_warnx("addr %s: expected host:port", addr);
		return -1;
	}
	*port++ = '\0';
	h = host;
	if (h[0] == '[') {
		size_t len = strlen(h);

		if (len < 2 || h[len - 1] != ']') {
			log_warnx("addr %s: bad IPv6 address", addr);
			return -1;
		}
		host[len - 1] = '\0';
		h = host + 1;
	}
	if (*h == '\0')
		h = NULL; /* ":5000": every IPv4 and IPv6 address */
	if (server_listen(h, port, 1024, sp) <= 0)
		return -1;
	return 0;
}

static void
server_listeners_enable(int on)
{
	int i;

	for (i = 0; i < srv.nlisteners; i++) {
		if (on)
			evconnlistener_enable(srv.listeners[i]);
		else
			evconnlistener_disable(srv.listeners[i]);
	}
	srv.paused = !on;
}

static void
server_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval tv;
	int ms;

	(void)l;
	(void)arg;
	/*
	 * EMFILE/ENFILE: stop accepting rather than spinning on a listener
	 * that stays readable, until a connection closes or, since none
	 * may be open to close (the descriptors are held elsewhere), the
	 * retry timer fires. Logged once per pause: the timer retries.
	 */
	if (errno != EMFILE && errno != ENFILE) {
		log_warn("accept");
		return;
	}
	if (srv.accept_backoff_ms == 0) {
		log_warn("accept");
		srv.accept_backoff_ms = SERVER_ACCEPT_RETRY_MIN_MS;
	}
	server_listeners_enable(0);
	ms = srv.accept_backoff_ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(srv.accept_timer, &tv) == -1)
		log_warnx("%s: evtimer_add failed", __func__);
	srv.accept_backoff_ms = ms * 2 > SERVER_ACCEPT_RETRY_MAX_MS
	    ? SERVER_ACCEPT_RETRY_MAX_MS
	    : ms * 2;
}

/*
 * The accept backoff has passed: listen again, unless at max_connections
 * (a close re-enables then). Another EMFILE comes back to
 * server_accept_error_cb with a longer delay.
 */
static void
server_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!srv.stopping && srv.paused && srv.nconns < srv.max_conns)
		server_listeners_enable(1);
}

static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	const struct server_port *sp = arg;
	struct conn *c;
	char host[INET6_ADDRSTRLEN], port[8], key[UTIL_ADDR_KEY_MAX];
	int on = 1;

	(void)l;
	if (srv.stopping) {
		close(fd);
		return;
	}
	srv.accept_backoff_ms = 0;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: calloc", __func__);
		close(fd);
		return;
	}
	c->c_id = ++srv.next_id;
	c->c_fd = fd;
	c->c_port = sp;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
	        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
		snprintf(c->c_peer, sizeof(c->c_peer), "%s:%s", host, port);
		util_strlcpy(c->c_addr, host, sizeof(c->c_addr));
	} else {
		util_strlcpy(c->c_peer, "?", sizeof(c->c_peer));
		util_strlcpy(c->c_addr, "?", sizeof(c->c_addr));
	}
	/*
	 * A trusted proxy carries many clients: only max_connections bounds
	 * it (access.c tells its clients apart by X-Forwarded-For).
	 */
	if (srv.cfg->cf_trust_proxy == NULL ||
	    !util_list_has(srv.cfg->cf_trust_proxy, c->c_addr)) {
		util_addr_key(c->c_addr, key, sizeof(key));
		if ((c->c_sa = server_addr_take(key)) == NULL) {
			server_refuse(fd, key, sp->sp_tls && tls_enabled());
			free(c);
			return;
		}
	}
	/* Small responses must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	/* Listed from here on, so that conn_close undoes what follows. */
	TAILQ_INSERT_TAIL(&srv.conns, c, c_entry);
	srv.nconns++;
	metrics_connections(1);
	log_debug("%s: conn %u: from %s", __func__, c->c_id, c->c_peer);
	if (sp->sp_tls && tls_enabled()) {
		/*
		 * Look at the first byte before OpenSSL does: a plain HTTP
		 * request on the TLS port gets a readable 400 instead of a
		 * handshake failure the client reports as a hang or garbage.
		 */
		struct timeval tv = {srv.cfg->cf_header_timeout, 0};

		c->c_peek = event_new(srv.base, fd, EV_READ, conn_peek_cb, c);
		if (c->c_peek == NULL || event_add(c->c_peek, &tv) == -1) {
			conn_close(c, "peek event failed");
			return;
		}
	} else if (conn_setup(c,
	               bufferevent_socket_new(srv.base, fd,
	                   BEV_OPT_CLOSE_ON_FREE)) == -1) {
		conn_close(c, "setup failed");
		return;
	}
	if (srv.nconns >= srv.max_conns) {
		log_warnx("%d connections: not accepting more for now",
		    srv.nconns);
		server_listeners_enable(0);
	}
}

/* ----------------------------------------------------------------------
 * Connections per client address
 */

/* FNV-1a of the key, for the bucket. */
static unsigned int
server_addr_hash(const char *key)
{
	uint32_t h = 2166136261u;

	while (*key != '\0')
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return h % SERVER_ADDR_BUCKETS;
}

/*
 * Count one more connection for the client address key: its entry
 * (made on its first connection), or NULL when it holds
 * max_connections_per_address already or memory ran out.
 */
static struct server_addr *
server_addr_take(const char *key)
{
	struct server_addr **b = &srv.addrs[server_addr_hash(key)], *sa;

	for (sa = *b; sa != NULL; sa = sa->sa_next)
		if (strcmp(sa->sa_key, key) == 0)
			break;
	if (sa == NULL) {
		if ((sa = calloc(1, sizeof(*sa))) == NULL) {
			log_warn("%s: calloc", __func__);
			return NULL;
		}
		util_strlcpy(sa->sa_key, key, sizeof(sa->sa_key));
		sa->sa_next = *b;
		*b = sa;
	}
	if (sa->sa_conns >= srv.max_per_addr)
		return NULL;
	sa->sa_conns++;
	return sa;
}

/* A connection of sa closed; the entry goes with its last one. */
static void
server_addr_release(struct server_addr *sa)
{
	struct server_addr **pp;

	if (sa == NULL || --sa->sa_conns > 0)
		return;
	for (pp = &srv.addrs[server_addr_hash(sa->sa_key)]; *pp != NULL;
	     pp = &(*pp)->sa_next)
		if (*pp == sa) {
			*pp = sa->sa_next;
			break;
		}
	free(sa);
}

/*
 * A connection beyond max_connections_per_address: answer 429
 * TOOMANYREQUESTS and close at once, without a struct conn, a
 * bufferevent or a timer, so refusing costs the same whatever the client
 * does. A short canned reply, rather than a bare close, tells a person
 * or a client log why (a reset looks like a network fault); it is sent
 * before any request is read, into the empty socket buffer of a new
 * connection, so it never blocks. Whatever the client sent already is
 * read first, so that the close sends FIN, not a reset that could
 * destroy the reply. A TLS listener (tls) just closes: the client
 * expects a handshake, and doing one for a refusal would cost what the
 * cap saves.
 * Logged at most once a second, with the count since the last line.
 * (A reply that does not fit, with very many [headers], is left out.)
 */
static void
server_refuse(evutil_socket_t fd, const char *key, int tls)
{
	/* Static: the [headers] may make the reply a few KiB. */
	static char scratch[16384], reply[8192];
	uint64_t now = util_now_ms();
	int len;

	srv.refused++;
	if (now - srv.refused_log_ms >= SERVER_REFUSE_LOG_MS) {
		log_warnx("%s holds %d connections "
		          "(max_connections_per_address): refused %lu since "
		          "the last such line",
		    key, srv.max_per_addr, srv.refused);
		srv.refused_log_ms = now;
		srv.refused = 0;
	}
	if (!tls) {
		len = http_refusal(reply, sizeof(reply), 429, "TOOMANYREQUESTS",
		    "too many connections from this address");
		(void)recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (len > 0)
			(void)send(fd, reply, (size_t)len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)shutdown(fd, SHUT_WR);
	}
	close(fd);
}

/* ----------------------------------------------------------------------
 * Connections
 */

/*
 * Give the connection its bufferevent (which owns c_fd from now on) and
 * its HTTP side, and start reading requests. -1 when bev is NULL or the
 * HTTP side could not be made; the caller then closes the connection,
 * which frees bev if it was set.
 */
static int
conn_setup(struct conn *c, struct bufferevent *bev)
{
	int flags = 0;

	if ((c->c_bev = bev) == NULL)
		return -1;
	if (c->c_flags & CONN_F_TLS)
		flags |= HTTP_CONN_F_TLS;
	if (c->c_flags & CONN_F_PLAIN_ON_TLS)
		flags |= HTTP_CONN_F_PLAIN_ON_TLS;
	c->c_http = http_conn_new(bev, c->c_id, c->c_peer, c->c_addr, flags);
	if (c->c_http == NULL)
		return -1;
	if (c->c_port->sp_dispatch != NULL)
		http_conn_set_dispatch(c->c_http, c->c_port->sp_dispatch);
	bufferevent_setcb(c->c_bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_setwatermark(c->c_bev, EV_WRITE, SERVER_WRITE_LOW, 0);
	bufferevent_set_max_single_read(c->c_bev, SERVER_READ_MAX);
	/*
	 * libevent writes 16 KiB per callback by default: one writev per
	 * 16 KiB for bodies that go through the output buffer (S3, TLS)
	 * rather than sendfile (PERF 1).
	 */
	bufferevent_set_max_single_write(c->c_bev, HTTP_FILE_SEGMENT);
	bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
	return 0;
}

/*
 * The first byte of a connection on a TLS listener: 0x16 starts a TLS
 * handshake record; anything else is answered as plain HTTP with a 400.
 */
static void
conn_peek_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev;
	unsigned char b;
	ssize_t n;

	event_free(c->c_peek);
	c->c_peek = NULL;
	if (what & EV_TIMEOUT) {
		conn_close(c, "no data");
		return;
	}
	n = recv(fd, &b, 1, MSG_PEEK);
	if (n <= 0) {
		conn_close(c, n == 0 ? "eof" : "recv failed");
		return;
	}
	if (b == 0x16) {
		c->c_flags |= CONN_F_TLS;
		if ((bev = tls_bufferevent(srv.base, fd)) == NULL) {
			c->c_fd = -1; /* see tls_bufferevent */
			conn_close(c, "TLS setup failed");
			return;
		}
	} else {
		c->c_flags |= CONN_F_PLAIN_ON_TLS;
		bev =
		    bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (conn_setup(c, bev) == -1)
		conn_close(c, "setup failed");
}

/* No request in flight and nothing left to write. */
static int
conn_idle(struct conn *c)
{
	return !http_conn_busy(c->c_http) &&
	    evbuffer_get_length(bufferevent_get_output(c->c_bev)) == 0;
}

/*
 * conn_close: the one place a connection is freed. Frees the request in
 * flight (its cleanup callback detaches pending work), the bufferevent
 * (closing the fd) and the conn. Callers return right after.
 */
static void
conn_close(struct conn *c, const char *reason)
{
	log_debug("%s: conn %u: %s", __func__, c->c_id, reason);
	http_conn_free(c->c_http);
	if (c->c_peek != NULL)
		event_free(c->c_peek);
	if (c->c_bev != NULL)
		bufferevent_free(c->c_bev); /* closes c_fd, frees the SSL */
	else if (c->c_fd != -1)
		close(c->c_fd);
	TAILQ_REMOVE(&srv.conns, c, c_entry);
	server_addr_release(c->c_sa);
	free(c);
	srv.nconns--;
	metrics_connections(-1);
	if (srv.stopping) {
		if (srv.nconns == 0)
			event_base_loopexit(srv.base, NULL);
	} else if (srv.paused && srv.nconns < srv.max_conns)
		server_listeners_enable(1);
}

/*
 * Act on what the HTTP layer (for itself or for a handler) decided below
 * us. Returns 1 when the connection was closed.
 */
static int
conn_state_act(struct conn *c)
{
	if (http_conn_state(c->c_http) == HTTP_CONN_CLOSE) {
		conn_close(c, "closed by handler");
		return 1;
	}
	return 0;
}

/*
 * libevent 2.1's evbuffer_read reads at most 4096 bytes (EVBUFFER_MAX_READ)
 * per call whatever max_single_read says: top the input up with one large
 * readv on plain TCP. EOF and errors are left for libevent's next read.
 * Less than that in the input means libevent's read took less, which is
 * all the socket had (it reads what FIONREAD reports, up to 4096): a readv
 * now would only fail with EAGAIN, one wasted syscall per small request.
 */
static void
conn_read_more(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->c_bev);
	struct evbuffer_iovec v[2];
	size_t have = evbuffer_get_length(in), left;
	ssize_t r;
	int i, n, used;

	if ((c->c_flags & CONN_F_TLS) || have >= HTTP_READ_MAX ||
	    have < SERVER_EVBUFFER_READ)
		return;
	/* bufferevent_socket freezes the end of its input; thaw it. */
	(void)evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, (ev_ssize_t)(HTTP_READ_MAX - have), v,
	    2);
	if (n <= 0)
		goto done;
	r = readv(c->c_fd, (struct iovec *)v, n);
	if (r <= 0) {
		(void)evbuffer_commit_space(in, v, 0);
		goto done;
	}
	for (i = 0, used = 0, left = (size_t)r; i < n && left > 0; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		used++;
	}
	(void)evbuffer_commit_space(in, v, used);
done:
	(void)evbuffer_freeze(in, 0);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_read_more(c);
	http_conn_read(c->c_http);
	conn_state_act(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	http_conn_drained(c->c_http);
	if (conn_state_act(c))
		return;
	/*
	 * A connection that must close once its last reply is out, with no
	 * request left (EOF seen, or shutting down while a reply was still
	 * being written). One with a request in flight lingers instead once
	 * that is answered (http.c).
	 */
	if (http_conn_state(c->c_http) == HTTP_CONN_CLOSE_AFTER_REPLY &&
	    conn_idle(c))
		conn_close(c, "done");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	enum http_conn_state st = http_conn_state(c->c_http);

	if ((what & BEV_EVENT_EOF) && (c->c_flags & CONN_F_TLS))
		tls_log_errors(bev, c->c_peer);
	if (what & BEV_EVENT_EOF) {
		if (!http_conn_busy(c->c_http) && st < HTTP_CONN_LINGER &&
		    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
			/* Half-closed client: finish writing, then close. */
			http_conn_close_after_reply(c->c_http);
			bufferevent_disable(bev, EV_READ);
			return;
		}
		conn_close(c, "eof");
	} else if (what & BEV_EVENT_TIMEOUT) {
		if (st == HTTP_CONN_LINGER)
			conn_close(c, "linger done");
		else if (what & BEV_EVENT_WRITING)
			conn_close(c, "write timeout");
		else if (st == HTTP_CONN_CLOSE)
			/*
			 * Reported by http.c: the header deadline passed, or
			 * a body source failed after a wait (http.c logs
			 * which).
			 */
			conn_close(c, "closed by the HTTP layer");
		else if (http_conn_busy(c->c_http))
			conn_close(c, "body timeout");
		else
			conn_close(c, "idle timeout");
	} else if (what & BEV_EVENT_ERROR) {
		if (c->c_flags & CONN_F_TLS)
			tls_log_errors(bev, c->c_peer);
		conn_close(c,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
}

/* ----------------------------------------------------------------------
 * Shutdown
 */

static void
server_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c;

	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("drain timeout: closing %d connections", srv.nconns);
	while ((c = TAILQ_FIRST(&srv.conns)) != NULL)
		conn_close(c, "drain timeout");
	event_base_loopexit(srv.base, NULL);
}

/*
 * server_shutdown: stop accepting; idle connections close now, busy ones
 * after their reply, all within drain_timeout.
 */
void
server_shutdown(void)
{
	struct conn *c, *next;
	struct timeval tv = {srv.cfg->cf_drain_timeout, 0};
	int i;

	if (srv.stopping)
		return;
	srv.stopping = 1;
	for (i = 0; i < srv.nlisteners; i++)
		evconnlistener_free(srv.listeners[i]);
	srv.nlisteners = 0;
	if (srv.accept_timer != NULL)
		evtimer_del(srv.accept_timer);
	log_info("shutting down: %d connections to finish", srv.nconns);
	for (c = TAILQ_FIRST(&srv.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if (c->c_http == NULL || conn_idle(c))
			conn_close(c, "shutdown");
		else
			http_conn_close_after_reply(c->c_http);
	}
	if (srv.nconns == 0)
		event_base_loopexit(srv.base, NULL);
	else
		evtimer_add(srv.drain_timer, &tv);
}

/* server_free: close what is left, free listeners and timers. */
void
server_free(void)
{
	struct conn *c;
	int i;

	srv.stopping = 1;
	while ((c = TAILQ_FIRST(&srv.conns)) != NULL)
		conn_close(c, "exit");
	for (i = 0; i < srv.nlisteners; i++)
		evconnlistener_free(srv.listeners[i]);
	srv.nlisteners = 0;
	if (srv.drain_timer != NULL)
		event_free(srv.drain_timer);
	srv.drain_timer = NULL;
	if (srv.accept_timer != NULL)
		event_free(srv.accept_timer);
	srv.accept_timer = NULL;
}
