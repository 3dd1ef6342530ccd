#ifndef REGISTRYD_API_CLIENT_H
#define REGISTRYD_API_CLIENT_H

/*
 * The client side of the handler tests (handlers.c, ui_handlers.c): a
 * response read back from the server end of a bufferevent pair, and the
 * callbacks that give the server end to http.c. Each test sends its
 * requests its own way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "http.h"

#define API_CLIENT_UNUSED	__attribute__((unused))

/* A response as the client read it. */
struct resp {
	int status;
	char head[8192]; /* status line and headers, NUL-terminated */
	char *body;      /* malloc'd, NUL-terminated */
	size_t bodylen;
};

static API_CLIENT_UNUSED void
api_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_read(arg);
}

static API_CLIENT_UNUSED void
api_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_drained(arg);
}

/*
 * Parse one complete response from buf; 1 when it is complete (head and
 * Content-Length bytes of body; none after HEAD, 1xx or 304), 0 when more
 * is needed.
 */
static API_CLIENT_UNUSED int
api_parse(struct evbuffer *buf, int head_only, struct resp *r)
{
	struct evbuffer_ptr end;
	const char *cl;
	size_t hlen, blen = 0;

	end = evbuffer_search(buf, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return 0;
	hlen = (size_t)end.pos + 4;
	if (hlen >= sizeof(r->head))
		return 0;
	evbuffer_copyout(buf, r->head, hlen);
	r->head[hlen] = '\0';
	if ((cl = strcasestr(r->head, "\r\nContent-Length: ")) != NULL)
		blen = strtoul(cl + 18, NULL, 10);
	if (head_only || r->head[9] == '1' ||
	    strncmp(r->head + 9, "304", 3) == 0)
		blen = 0;
	if (evbuffer_get_length(buf) < hlen + blen)
		return 0;
	evbuffer_drain(buf, hlen);
	r->body = malloc(blen + 1);
	evbuffer_remove(buf, r->body, blen);
	r->body[blen] = '\0';
	r->bodylen = blen;
	r->status = atoi(r->head + 9);
	return 1;
}

static API_CLIENT_UNUSED void
resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* The value of response header name (case-insensitive), or "". */
static API_CLIENT_UNUSED const char *
hdr(const struct resp *r, const char *name, char *out, size_t outsz)
{
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	out[0] = '\0';
	if ((p = strcasestr(r->head, key)) == NULL)
		return out;
	p += strlen(key);
	if ((e = strstr(p, "\r\n")) == NULL || (size_t)(e - p) >= outsz)
		return out;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
}

#endif /* REGISTRYD_API_CLIENT_H */
