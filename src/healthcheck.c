/*
 * healthcheck.c: `registryd healthcheck`, the client side of /healthz.
 *
 * A container image without a shell or curl still needs a HEALTHCHECK:
 * registryd asks itself. The address comes from the same configuration
 * the server reads ([http] addr; a wildcard host means the loopback), so
 * the check follows REGISTRY_HTTP_ADDR and a mounted config.yml alike.
 * One blocking request with a deadline; nothing here runs in the server.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "healthcheck.h"

#define HC_HOST_MAX 256
#define HC_RESP_MAX 512 /* bytes of the answer read: the status line */

static int hc_split(const char *, char *, size_t, char *, size_t);
static int hc_connect(const char *, const char *, int, char *, size_t);
static long hc_left_ms(const struct timespec *);
static void
hc_tls_failed(const struct config *, int, const char *, const char *, int *);

/* Milliseconds until the deadline, at least 0. */
static long
hc_left_ms(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

/*
 * addr ("[host]:port") into host and port; an empty or wildcard host is
 * the loopback of the same family. Returns 0, or -1.
 */
static int
hc_split(const char *addr, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *colon, *h = addr;
	size_t hlen;

	if (*addr == '[') {
		if ((colon = strstr(addr, "]:")) == NULL)
			return -1;
		h = addr + 1;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - addr);
	}
	if (hlen >= hostsz || strlen(colon + 1) >= portsz)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	if (*host == '\0' || strcmp(host, "0.0.0.0") == 0)
		strcpy(host, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		strcpy(host, "::1");
	return 0;
}

/*
 * A connected TCP socket to host:port within timeout ms, trying each
 * address in turn. Returns the fd, or -1 with the reason in err.
 */
static int
hc_connect(const char *host, const char *port, int timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	struct pollfd pfd;
	socklen_t sl;
	int fd = -1, rc, soerr;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "%s port %s: no address", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		soerr = errno;
		if (soerr == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			sl = sizeof(soerr);
			if ((rc = poll(&pfd, 1, timeout_ms)) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
			        0 &&
			    soerr == 0)
				break;
			if (rc == 0)
				soerr = ETIMEDOUT;
		}
		snprintf(err, errlen, "connect %s port %s: %s", host, port,
		    strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * The TLS handshake failed. A server that requires client certificates
 * refuses ours (we have none): it answered with an alert, so it is alive,
 * which is all /healthz would have said; readiness cannot be asked.
 */
static void
hc_tls_failed(const struct config *cfg, int ready, const char *host,
    const char *port, int *rc)
{
	if (!ready && cfg->cf_tls_client_auth == CONFIG_CLIENT_REQUIRE) {
		printf("healthy: %s port %s answered TLS (client certificates "
		       "required)\n",
		    host, port);
		*rc = 0;
	} else
		printf("unhealthy: TLS with %s port %s failed\n", host, port);
}

/*
 * healthcheck_run: see healthcheck.h.
 */
int
healthcheck_run(const struct config *cfg, int ready, int timeout)
{
	char host[HC_HOST_MAX], port[16], err[512], req[512];
	char resp[HC_RESP_MAX + 1];
	const char *path = ready ? "/readyz" : "/healthz";
	struct timespec deadline;
	struct timeval tv;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	size_t got = 0;
	int fd, n, reqlen, rc = 1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	if (hc_split(cfg->cf_addr, host, sizeof(host), port, sizeof(port)) ==
	    -1) {
		printf("unhealthy: cannot use [http] addr %s\n", cfg->cf_addr);
		return 1;
	}
	if ((fd = hc_connect(host, port, (int)hc_left_ms(&deadline), err,
	         sizeof(err))) == -1) {
		printf("unhealthy: %s\n", err);
		return 1;
	}
	/* Blocking from here on, each read and write bounded. */
	if ((n = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, n & ~O_NONBLOCK) == -1) {
		printf("unhealthy: fcntl: %s\n", strerror(errno));
		goto done;
	}
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	reqlen = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: registryd-healthcheck"
	    "\r\nConnection: close\r\n\r\n",
	    path, strchr(host, ':') != NULL ? "localhost" : host);
	if (*cfg->cf_tls_cert != '\0') {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
			printf("unhealthy: TLS: out of memory\n");
			goto done;
		}
		/* Our own server on this host: not verified, on purpose. */
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		if (SSL_connect(ssl) != 1 ||
		    SSL_write(ssl, req, reqlen) != reqlen) {
			hc_tls_failed(cfg, ready, host, port, &rc);
			goto done;
		}
		while (got < HC_RESP_MAX &&
		    (n = SSL_read(ssl, resp + got, HC_RESP_MAX - (int)got)) > 0)
			got += (size_t)n;
		/* TLS 1.3 refuses a missing client certificate here. */
		if (got == 0 && ERR_peek_error() != 0) {
			hc_tls_failed(cfg, ready, host, port, &rc);
			goto done;
		}
	} else {
		if (write(fd, req, (size_t)reqlen) != reqlen) {
			printf("unhealthy: write to %s port %s: %s\n", host,
			    port, strerror(errno));
			goto done;
		}
		while (got < HC_RESP_MAX &&
		    (n = (int)read(fd, resp + got, HC_RESP_MAX - got)) > 0)
			got += (size_t)n;
	}
	resp[got] = '\0';
	resp[strcspn(resp, "\r\n")] = '\0';
	if (strncmp(resp, "HTTP/1.1 200 ", 13) == 0) {
		printf("healthy: %s from %s port %s %s\n", resp + 9, host, port,
		    path);
		rc = 0;
	} else
		printf("unhealthy: %s port %s %s: %s\n", host, port, path,
		    got > 0 ? resp : "no answer");
done:
	if (ssl != NULL)
		SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}
