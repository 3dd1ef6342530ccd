#ifndef REGISTRYD_ACCESS_H
#define REGISTRYD_ACCESS_H

#include <stddef.h>

/*
 * Who may do what on the /v2/ endpoints: CORS for browser UIs, HTTP Basic
 * authentication through auth.c (with the 401 challenge and the 429 of
 * rate limiting), the client's address behind trusted proxies, and the
 * signed _state of upload locations.
 */

struct config;
struct request;
struct route_match;

/* Hex characters of an upload location's _state (128 bits). */
#define ACCESS_STATE_LEN 32

/*
 * access_init: set the key of the upload _state from cfg: the http secret
 * (REGISTRY_HTTP_SECRET), else random bytes. The other settings are read
 * per request through api_config(). Returns 0, or -1 with a logged reason.
 */
int access_init(const struct config *);

/*
 * access_cors: add the CORS headers for an allowed Origin; answer a
 * preflight (OPTIONS) at once. Returns 1 when it replied, else 0.
 */
int access_cors(struct request *);

/*
 * access_check: decide whether the request routed to m may run handler.
 * Returns 1 to run it now; 0 when a reply was made (401, 429) or the check
 * went to the pool: then the request is held and handler runs later (or
 * the reply is made) when the check is done. Never closes the conn.
 */
int access_check(struct request *, const struct route_match *m,
    void (*handler)(struct request *, const struct route_match *));

/* Bytes of a client address with its NUL (INET6_ADDRSTRLEN and more). */
#define ACCESS_ADDR_MAX 48

/*
 * access_client_addr: the client's address into out[outsz]
 * (ACCESS_ADDR_MAX is enough): the peer's, or the last X-Forwarded-For hop
 * when the peer is a trusted proxy (trust_proxy) and that hop is an IP
 * address.
 */
void access_client_addr(struct request *, char *out, size_t outsz);

/*
 * access_client_key: the client as per-client caps count it, into out:
 * its address (the peer, or the last X-Forwarded-For hop when the peer is
 * a trusted proxy), for IPv6 the /64 ("2001:db8::/64").
 */
void access_client_key(struct request *, char *out, size_t outsz);

/*
 * access_upload_allowed: 1 when the client may start another upload
 * session (upload_sessions_max, upload_sessions_per_client); else 0
 * after answering 429 TOOMANYREQUESTS.
 */
int access_upload_allowed(struct request *);

/*
 * access_upload_state: the _state of the location of upload uuid of
 * repository name for the request's user, into out.
 * access_upload_state_ok: 1 when the request routed to m carries the
 * right _state for its upload (always 1 with auth off), else 0.
 */
void access_upload_state(struct request *, const char *name, const char *uuid,
    char out[ACCESS_STATE_LEN + 1]);
int access_upload_state_ok(struct request *, const struct route_match *m);

#endif /* REGISTRYD_ACCESS_H */
