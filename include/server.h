#ifndef REGISTRYD_SERVER_H
#define REGISTRYD_SERVER_H

#include <sys/queue.h>

#include <http_parser.h>

struct bufferevent;
struct config;
struct event;
struct event_base;
struct request;

/* Connection flags, acted on only at the top of the conn callbacks (O3). */
#define CONN_F_CLOSE             0x01 /* close now */
#define CONN_F_CLOSE_AFTER_REPLY 0x02 /* close once the output drained */
#define CONN_F_PAUSED            0x04 /* parser paused at a message end */
#define CONN_F_LINGER            0x08 /* write side shut, discarding input */
#define CONN_F_TLS               0x10 /* bufferevent_openssl: no sendfile */
#define CONN_F_PLAIN_ON_TLS      0x20 /* plain HTTP on a TLS port: 400 */

/*
 * One client connection. Owned by the server's connection list and freed
 * only by conn_close (O2); the request in flight is owned by it (O4).
 */
struct conn {
	TAILQ_ENTRY(conn) c_entry;
	unsigned int c_id;
	int c_fd;
	struct bufferevent *c_bev; /* owns c_fd once set */
	struct event *c_peek;      /* TLS port: waiting for byte 1 */
	struct event *c_hdr_timer; /* absolute header deadline */
	http_parser c_parser;
	struct request *c_req; /* request being parsed/served */
	int c_flags;           /* CONN_F_* */
	char c_peer[64];       /* "addr:port" for logs */
	char c_addr[48];       /* peer IP address alone */
};

/*
 * server_start: listen on cfg->cf_addr (":port" means every IPv4 and IPv6
 * address) and accept connections on base; each request goes to dispatch
 * (http.h says what a dispatcher must do) once its headers are complete.
 * cfg is owned by main and must outlive the server. Raises RLIMIT_NOFILE
 * to its hard limit. 0, or -1 with a logged reason.
 */
int server_start(struct event_base *, const struct config *,
    void (*dispatch)(struct request *));
/*
 * server_shutdown: stop accepting, close idle connections, let requests in
 * flight finish for up to drain_timeout seconds, then leave the loop.
 */
void server_shutdown(void);
/* server_free: close every remaining connection and free the listeners. */
void server_free(void);

/* conn_header_deadline: arm (on) or disarm the header deadline timer. */
void conn_header_deadline(struct conn *, int on);
/* conn_read_timeout: the inactivity timeout while reading, in seconds. */
void conn_read_timeout(struct conn *, int secs);

#endif /* REGISTRYD_SERVER_H */
