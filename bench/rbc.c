/*
 * rbc: the registry benchmark client. A tiny blocking HTTP/1.1 client that
 * pushes blobs the way docker push does, with sendfile(2) for the bytes, so
 * that the client is not what limits a loopback benchmark. Only loopback
 * addresses are accepted.
 *
 *   rbc stream ADDR REPO FILE OFF LEN SALT CHUNK
 *	POST, one PATCH with Transfer-Encoding: chunked (CHUNK bytes per
 *	chunk) carrying SALT + FILE[OFF, OFF+LEN), PUT ?digest=.
 *   rbc mono ADDR REPO FILE OFF LEN SALT
 *	POST, then PUT ?digest= with the whole body (Content-Length).
 *   rbc many ADDR REPO N FILE SLICE SALT CHUNK
 *	N processes, each a "stream" push of SALT-i + FILE[i*SLICE, +SLICE),
 *	released together once every digest is computed.
 *   rbc small ADDR REPO COUNT SIZE SALT MODE
 *	COUNT distinct SIZE-byte blobs over one keep-alive connection;
 *	MODE "post": POST ?digest= with the body (single request);
 *	MODE "put": POST, then PUT ?digest= with the body.
 *
 * With RBC_AUTHORIZATION set in the environment (e.g. "Basic dXNlcjpwdw=="),
 * every request carries "Authorization: $RBC_AUTHORIZATION". Plain HTTP only
 * (no TLS: bench.py uses curl for the TLS uploads).
 *
 * Every command prints one line "ok key=value..." on success, or
 * "error: ..." and exits 1. Timings exclude computing the digests.
 * Every socket has a 120 s send and receive timeout: nothing waits forever.
 */

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define RBC_IO_TIMEOUT 120
#define RBC_RBUF (256 * 1024)
#define RBC_DIGEST_LEN 71 /* "sha256:" + 64 hex */

struct rbc_conn {
	int fd;
	char buf[RBC_RBUF];
	size_t len; /* bytes buffered, starting at buf */
};

struct rbc_resp {
	int status;
	int close; /* Connection: close */
	char location[4096];
	char digest[128];
	char body[1024]; /* first bytes of the body, for messages */
};

static const char *rbc_addr;
/* "Host: ADDR\r\n", plus "Authorization: ...\r\n" from the environment. */
static char rbc_hdrs[512];
static char rbc_host[64];
static int rbc_port;

static void rbc_fail(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
rbc_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(1);
}

static double
rbc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
rbc_parse_addr(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	struct in_addr ia;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(rbc_host))
		rbc_fail("bad address %s (want 127.x.y.z:port)", addr);
	memcpy(rbc_host, addr, colon - addr);
	rbc_host[colon - addr] = '\0';
	rbc_port = atoi(colon + 1);
	if (inet_pton(AF_INET, rbc_host, &ia) != 1 ||
	    (ntohl(ia.s_addr) >> 24) != 127 || rbc_port <= 0 || rbc_port > 65535)
		rbc_fail("only loopback IPv4 targets: %s", addr);
	rbc_addr = addr;
}

/* Request headers every request carries: Host, and Authorization when
 * RBC_AUTHORIZATION is set (e.g. "Basic dXNlcjpwdw=="). */
static void
rbc_set_hdrs(void)
{
	const char *auth = getenv("RBC_AUTHORIZATION");
	int n;

	if (auth != NULL && auth[0] != '\0') {
		if (strpbrk(auth, "\r\n") != NULL)
			rbc_fail("RBC_AUTHORIZATION: no CR or LF");
		n = snprintf(rbc_hdrs, sizeof(rbc_hdrs),
		    "Host: %s\r\nAuthorization: %s\r\n", rbc_addr, auth);
	} else
		n = snprintf(rbc_hdrs, sizeof(rbc_hdrs), "Host: %s\r\n",
		    rbc_addr);
	if (n < 0 || n >= (int)sizeof(rbc_hdrs))
		rbc_fail("RBC_AUTHORIZATION too long");
}

static void
rbc_connect(struct rbc_conn *c)
{
	struct sockaddr_in sin;
	struct timeval tv = {RBC_IO_TIMEOUT, 0};
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(rbc_port);
	inet_pton(AF_INET, rbc_host, &sin.sin_addr);
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		rbc_fail("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		rbc_fail("connect %s: %s", rbc_addr, strerror(errno));
	c->len = 0;
}

static void
rbc_send(struct rbc_conn *c, const void *p, size_t n, int more)
{
	const char *q = p;
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, q, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			rbc_fail("send: %s", w == 0 ? "eof" : strerror(errno));
		q += w;
		n -= w;
	}
}

static void
rbc_sendfile(struct rbc_conn *c, int fd, off_t off, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = sendfile(c->fd, fd, &off, n > (1u << 30) ? (1u << 30) : n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			rbc_fail("sendfile: %s",
			    w == 0 ? "short file" : strerror(errno));
		n -= w;
	}
}

/* Read more bytes into the buffer; 0 on EOF. */
static size_t
rbc_fill(struct rbc_conn *c)
{
	ssize_t r;

	if (c->len == sizeof(c->buf))
		rbc_fail("response header too large");
	do
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		rbc_fail("recv: %s", strerror(errno));
	c->len += r;
	return r;
}

static void
rbc_consume(struct rbc_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Skip n body bytes, keeping the first ones in r->body. */
static void
rbc_body(struct rbc_conn *c, struct rbc_resp *r, unsigned long long n,
    size_t *kept)
{
	size_t k;

	while (n > 0) {
		if (c->len == 0 && rbc_fill(c) == 0)
			rbc_fail("eof in response body");
		k = c->len < n ? c->len : n;
		if (*kept + 1 < sizeof(r->body)) {
			size_t room = sizeof(r->body) - 1 - *kept;
			memcpy(r->body + *kept, c->buf, k < room ? k : room);
			*kept += k < room ? k : room;
			r->body[*kept] = '\0';
		}
		rbc_consume(c, k);
		n -= k;
	}
}

/* The line at the start of the buffer, without CRLF; consumed. */
static void
rbc_line(struct rbc_conn *c, char *out, size_t outsz)
{
	char *e;
	size_t n;

	while ((e = memmem(c->buf, c->len, "\r\n", 2)) == NULL)
		if (rbc_fill(c) == 0)
			rbc_fail("eof in chunked response");
	n = e - c->buf;
	if (n >= outsz)
		rbc_fail("chunk line too long");
	memcpy(out, c->buf, n);
	out[n] = '\0';
	rbc_consume(c, n + 2);
}

/* Read one response (after any 1xx) into r. */
static void
rbc_response(struct rbc_conn *c, struct rbc_resp *r, int head)
{
	char *end, *line, *next, *v;
	unsigned long long clen = 0;
	int have_clen = 0, chunked = 0;
	size_t hlen, kept = 0;

again:
	memset(r, 0, sizeof(*r));
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (rbc_fill(c) == 0)
			rbc_fail("connection closed before a response");
	hlen = end - c->buf + 4;
	*end = '\0';
	if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1)
		rbc_fail("bad status line");
	for (line = strstr(c->buf, "\r\n"); line != NULL; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (next != NULL)
			*next = '\0';
		if ((v = strchr(line, ':')) == NULL)
			continue;
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "Location") == 0)
			snprintf(r->location, sizeof(r->location), "%s", v);
		else if (strcasecmp(line, "Docker-Content-Digest") == 0)
			snprintf(r->digest, sizeof(r->digest), "%s", v);
		else if (strcasecmp(line, "Content-Length") == 0) {
			clen = strtoull(v, NULL, 10);
			have_clen = 1;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0)
			chunked = strcasestr(v, "chunked") != NULL;
		else if (strcasecmp(line, "Connection") == 0)
			r->close = strcasestr(v, "close") != NULL;
	}
	rbc_consume(c, hlen);
	if (r->status >= 100 && r->status < 200)
		goto again;
	if (head || r->status == 204 || r->status == 304)
		return;
	if (chunked) {
		char l[256];
		unsigned long long n;

		for (;;) {
			rbc_line(c, l, sizeof(l));
			n = strtoull(l, NULL, 16);
			if (n == 0)
				break;
			rbc_body(c, r, n, &kept);
			rbc_line(c, l, sizeof(l));
		}
		do
			rbc_line(c, l, sizeof(l));
		while (l[0] != '\0');
	} else if (have_clen)
		rbc_body(c, r, clen, &kept);
	else {
		/* Body up to EOF. */
		while (c->len > 0 || rbc_fill(c) > 0)
			rbc_body(c, r, c->len, &kept);
		r->close = 1;
	}
}

/* The path (and query) of a Location, absolute or relative. */
static const char *
rbc_loc_path(const char *loc)
{
	const char *p = strstr(loc, "://");

	if (p == NULL)
		return loc;
	p = strchr(p + 3, '/');
	if (p == NULL)
		rbc_fail("bad Location %s", loc);
	return p;
}

static void
rbc_expect(const struct rbc_resp *r, int status, const char *what)
{
	if (r->status != status)
		rbc_fail("%s: status %d, want %d: %.300s", what, r->status,
		    status, r->body);
}

/* ---------------------------------------------------------------------- */

struct rbc_src {
	int fd;
	off_t off;
	size_t len;
	const char *salt;
	size_t saltlen;
	char digest[RBC_DIGEST_LEN + 1];
};

static void
rbc_hex(const unsigned char *md, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[RBC_DIGEST_LEN] = '\0';
}

static void
rbc_src_open(struct rbc_src *s, const char *file, off_t off, size_t len,
    const char *salt)
{
	static char buf[4 << 20];
	EVP_MD_CTX *ctx;
	unsigned char md[32];
	size_t left;
	off_t pos;
	ssize_t r;
	struct stat st;

	if ((s->fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		rbc_fail("%s: %s", file, strerror(errno));
	if (fstat(s->fd, &st) == -1 || off < 0 ||
	    (unsigned long long)off + len > (unsigned long long)st.st_size)
		rbc_fail("%s: range beyond the file", file);
	s->off = off;
	s->len = len;
	s->salt = salt;
	s->saltlen = strlen(salt);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		rbc_fail("EVP init");
	EVP_DigestUpdate(ctx, salt, s->saltlen);
	for (left = len, pos = off; left > 0; left -= r, pos += r) {
		r = pread(s->fd, buf, left < sizeof(buf) ? left : sizeof(buf),
		    pos);
		if (r <= 0)
			rbc_fail("%s: read: %s", file,
			    r == 0 ? "eof" : strerror(errno));
		EVP_DigestUpdate(ctx, buf, r);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	rbc_hex(md, s->digest);
}

/* POST /v2/REPO/blobs/uploads/ on c; returns the upload path (static). */
static const char *
rbc_post(struct rbc_conn *c, const char *repo)
{
	static char path[4096];
	struct rbc_resp r;
	char req[2048];
	int n;

	n = snprintf(req, sizeof(req),
	    "POST /v2/%s/blobs/uploads/ HTTP/1.1\r\n%s"
	    "Content-Length: 0\r\n\r\n", repo, rbc_hdrs);
	rbc_send(c, req, n, 0);
	rbc_response(c, &r, 0);
	rbc_expect(&r, 202, "POST uploads");
	if (r.location[0] == '\0')
		rbc_fail("POST uploads: no Location");
	snprintf(path, sizeof(path), "%s", rbc_loc_path(r.location));
	return path;
}

static void
rbc_put_digest(struct rbc_conn *c, const char *path, const struct rbc_src *s,
    int with_body)
{
	struct rbc_resp r;
	char req[5120];
	int n;

	n = snprintf(req, sizeof(req),
	    "PUT %s%sdigest=%s HTTP/1.1\r\n%s"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %zu\r\n\r\n", path,
	    strchr(path, '?') ? "&" : "?", s->digest, rbc_hdrs,
	    with_body ? s->saltlen + s->len : 0);
	if (n >= (int)sizeof(req))
		rbc_fail("upload path too long");
	rbc_send(c, req, n, with_body);
	if (with_body) {
		rbc_send(c, s->salt, s->saltlen, 1);
		rbc_sendfile(c, s->fd, s->off, s->len);
	}
	rbc_response(c, &r, 0);
	rbc_expect(&r, 201, "PUT ?digest=");
	if (strcmp(r.digest, s->digest) != 0)
		rbc_fail("PUT: Docker-Content-Digest %s, want %s", r.digest,
		    s->digest);
}

static void
rbc_push_stream(const char *repo, struct rbc_src *s, size_t chunk)
{
	struct rbc_conn *c = malloc(sizeof(*c));
	struct rbc_resp r;
	const char *path;
	char req[5120], hdr[32];
	size_t left, k;
	off_t pos;
	int n;

	if (c == NULL)
		rbc_fail("out of memory");
	rbc_connect(c);
	path = rbc_post(c, repo);
	n = snprintf(req, sizeof(req),
	    "PATCH %s HTTP/1.1\r\n%s"
	    "Content-Type: application/octet-stream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", path, rbc_hdrs);
	rbc_send(c, req, n, 1);
	if (s->saltlen > 0) {
		n = snprintf(hdr, sizeof(hdr), "%zx\r\n", s->saltlen);
		rbc_send(c, hdr, n, 1);
		rbc_send(c, s->salt, s->saltlen, 1);
		rbc_send(c, "\r\n", 2, 1);
	}
	for (left = s->len, pos = s->off; left > 0; left -= k, pos += k) {
		k = left < chunk ? left : chunk;
		n = snprintf(hdr, sizeof(hdr), "%zx\r\n", k);
		rbc_send(c, hdr, n, 1);
		rbc_sendfile(c, s->fd, pos, k);
		rbc_send(c, "\r\n", 2, 1);
	}
	rbc_send(c, "0\r\n\r\n", 5, 0);
	rbc_response(c, &r, 0);
	rbc_expect(&r, 202, "PATCH");
	if (r.location[0] != '\0')
		path = rbc_loc_path(r.location);
	if (r.close) {
		close(c->fd);
		rbc_connect(c);
	}
	rbc_put_digest(c, path, s, 0);
	close(c->fd);
	free(c);
}

static void
rbc_push_mono(const char *repo, struct rbc_src *s)
{
	struct rbc_conn *c = malloc(sizeof(*c));
	const char *path;

	if (c == NULL)
		rbc_fail("out of memory");
	rbc_connect(c);
	path = rbc_post(c, repo);
	rbc_put_digest(c, path, s, 1);
	close(c->fd);
	free(c);
}

/* ---------------------------------------------------------------------- */

static unsigned long long
rbc_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		rbc_fail("bad %s: %s", what, s);
	return v;
}

static int
cmd_stream(char **av, int mono)
{
	struct rbc_src s;
	double t0, t1;

	rbc_src_open(&s, av[2], rbc_num(av[3], "offset"),
	    rbc_num(av[4], "length"), av[5]);
	t0 = rbc_now();
	if (mono)
		rbc_push_mono(av[1], &s);
	else
		rbc_push_stream(av[1], &s, rbc_num(av[6], "chunk"));
	t1 = rbc_now();
	printf("ok digest=%s bytes=%zu secs=%.6f\n", s.digest,
	    s.saltlen + s.len, t1 - t0);
	return 0;
}

static int
cmd_many(char **av)
{
	unsigned long long n = rbc_num(av[2], "count"), i;
	unsigned long long slice = rbc_num(av[4], "slice");
	size_t chunk = rbc_num(av[6], "chunk");
	int ready[2], go[2], status, failed = 0;
	char salt[256], b;
	double t0, t1;
	pid_t pid;

	if (n == 0 || n > 256)
		rbc_fail("count 1..256");
	if (pipe(ready) == -1 || pipe(go) == -1)
		rbc_fail("pipe: %s", strerror(errno));
	fflush(stdout);
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == -1)
			rbc_fail("fork: %s", strerror(errno));
		if (pid == 0) {
			struct rbc_src s;

			close(ready[0]);
			close(go[1]);
			snprintf(salt, sizeof(salt), "%s-%llu\n", av[5], i);
			rbc_src_open(&s, av[3], i * slice, slice, salt);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			/* EOF on go: every sibling is ready. */
			if (read(go[0], &b, 1) != 0)
				_exit(1);
			rbc_push_stream(av[1], &s, chunk);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < n; i++)
		if (read(ready[0], &b, 1) != 1)
			break;
	t0 = rbc_now();
	close(go[1]);
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	t1 = rbc_now();
	if (i < n || failed)
		rbc_fail("%d of %llu pushes failed", failed ? failed : 1, n);
	printf("ok pushes=%llu bytes=%llu secs=%.6f\n", n, n * slice, t1 - t0);
	return 0;
}

static int
cmd_small(char **av)
{
	unsigned long long count = rbc_num(av[2], "count"), i;
	size_t size = rbc_num(av[3], "size");
	const char *salt = av[4], *mode = av[5], *path;
	struct rbc_conn *c = malloc(sizeof(*c));
	struct rbc_resp r;
	unsigned char md[32], *blob;
	char digest[RBC_DIGEST_LEN + 1], req[5120];
	unsigned int x = 2463534242u;
	unsigned reconnects = 0;
	double t0, t1;
	size_t k;
	int n, single;

	if (strcmp(mode, "post") == 0)
		single = 1;
	else if (strcmp(mode, "put") == 0)
		single = 0;
	else
		rbc_fail("mode post or put");
	if (c == NULL || size < 64 || size > (16 << 20) ||
	    (blob = malloc(size)) == NULL)
		rbc_fail("size 64..16M");
	for (k = 0; k < size; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		blob[k] = x;
	}
	rbc_connect(c);
	t0 = rbc_now();
	for (i = 0; i < count; i++) {
		/* Distinct content: salt and counter at the front. */
		snprintf((char *)blob, 64, "%s-%llu\n", salt, i);
		EVP_Digest(blob, size, md, NULL, EVP_sha256(), NULL);
		rbc_hex(md, digest);
		if (single)
			n = snprintf(req, sizeof(req),
			    "POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\n"
			    "%sContent-Type: application/octet-stream"
			    "\r\nContent-Length: %zu\r\n\r\n", av[1], digest,
			    rbc_hdrs, size);
		else {
			path = rbc_post(c, av[1]);
			n = snprintf(req, sizeof(req),
			    "PUT %s%sdigest=%s HTTP/1.1\r\n%s"
			    "Content-Type: application/octet-stream\r\n"
			    "Content-Length: %zu\r\n\r\n", path,
			    strchr(path, '?') ? "&" : "?", digest, rbc_hdrs,
			    size);
		}
		rbc_send(c, req, n, 1);
		rbc_send(c, blob, size, 0);
		rbc_response(c, &r, 0);
		rbc_expect(&r, 201, single ? "POST ?digest=" : "PUT ?digest=");
		if (strcmp(r.digest, digest) != 0)
			rbc_fail("upload %llu: Docker-Content-Digest %s, want %s",
			    i, r.digest, digest);
		if (r.close) {
			close(c->fd);
			rbc_connect(c);
			reconnects++;
		}
	}
	t1 = rbc_now();
	printf("ok uploads=%llu bytes=%llu secs=%.6f reconnects=%u\n", count,
	    count * size, t1 - t0, reconnects);
	return 0;
}

static void
rbc_usage(void)
{
	fputs("usage: rbc stream ADDR REPO FILE OFF LEN SALT CHUNK\n"
	      "       rbc mono ADDR REPO FILE OFF LEN SALT\n"
	      "       rbc many ADDR REPO N FILE SLICE SALT CHUNK\n"
	      "       rbc small ADDR REPO COUNT SIZE SALT post|put\n",
	    stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	/* Every command reports its own time; none may run unbounded. */
	alarm(900);
	if (argc < 3)
		rbc_usage();
	rbc_parse_addr(argv[2]);
	rbc_set_hdrs();
	if (strcmp(argv[1], "stream") == 0 && argc == 9)
		return cmd_stream(argv + 2, 0);
	if (strcmp(argv[1], "mono") == 0 && argc == 8)
		return cmd_stream(argv + 2, 1);
	if (strcmp(argv[1], "many") == 0 && argc == 9)
		return cmd_many(argv + 2);
	if (strcmp(argv[1], "small") == 0 && argc == 8)
		return cmd_small(argv + 2);
	rbc_usage();
	return 2;
}
