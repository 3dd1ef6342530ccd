#ifndef REGISTRYD_TLS_H
#define REGISTRYD_TLS_H

#include <stddef.h>

struct bufferevent;
struct config;
struct event_base;

/*
 * TLS for the listeners: one SSL_CTX built from [tls], swapped as a whole
 * on reload. Connections keep the context they were accepted with (each
 * SSL holds a reference), so a reload never disturbs open connections.
 */

/*
 * tls_init: build the context from cfg when [tls] certificate is set.
 * Returns 0 (also when TLS is off), or -1 with the reason in err.
 */
int tls_init(const struct config *, char *err, size_t errlen);
/* tls_enabled: 1 when the listeners speak TLS. */
int tls_enabled(void);
/*
 * tls_reload: rebuild the context from the same files (SIGHUP). On any
 * error the old context stays in use and the reason is logged. 0 or -1.
 */
int tls_reload(void);
void tls_shutdown(void);

/*
 * tls_bufferevent: a server-side bufferevent_openssl on fd, accepting.
 * On success the bufferevent owns fd and the SSL. On NULL (allocation
 * failure) libevent 2.1 has freed the SSL and may or may not have closed
 * fd, so the caller must forget fd rather than close it: a leaked
 * descriptor on out-of-memory beats closing someone else's.
 */
struct bufferevent *tls_bufferevent(struct event_base *, int fd);

/*
 * tls_log_errors: log (info) why a TLS connection failed, draining the
 * OpenSSL error queue of bev. peer names the client.
 */
void tls_log_errors(struct bufferevent *, const char *peer);

#endif /* REGISTRYD_TLS_H */
