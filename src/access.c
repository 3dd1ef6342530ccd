/*
 * access.c: who may do what on the /v2/ endpoints. It owns CORS (the
 * headers for allowed origins and the preflight answer), the client's
 * address (X-Forwarded-For from trusted proxies only), the Basic auth glue
 * around auth.c (a decision now, or a check on the pool that holds the
 * request until it is done), the 401 challenge and the 429 of rate
 * limiting, and the signed _state that ties an upload location to its
 * repository, uuid and user.
 *
 * registry.c calls access_cors before routing and access_check before
 * running a handler; api_uploads.c signs and checks upload locations.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "access.h"
#include "api.h"
#include "auth.h"
#include "bounds.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "upload.h"
#include "util.h"

static void challenge(struct request *);
static void limited(struct request *, const char *, const char *);
static void auth_done(void *, enum auth_result, const char *);

/* Key of the upload _state HMAC: REGISTRY_HTTP_SECRET, else random. */
static unsigned char access_secret[64];
static size_t access_secret_len;

/*
 * access_init: take the _state key from cfg's http secret, or make a
 * random one for this process. Returns 0, or -1 with a logged reason.
 */
int
access_init(const struct config *cfg)
{
	if (cfg->cf_secret != NULL && cfg->cf_secret[0] != '\0') {
		access_secret_len = strlen(cfg->cf_secret);
		if (access_secret_len > sizeof(access_secret))
			access_secret_len = sizeof(access_secret);
		memcpy(access_secret, cfg->cf_secret, access_secret_len);
	} else {
		if (RAND_bytes(access_secret, 32) != 1) {
			log_warnx("%s: RAND_bytes failed", __func__);
			return -1;
		}
		access_secret_len = 32;
		if (auth_enabled())
			log_warnx("no http secret set: upload locations are "
			          "valid for this process only (set "
			          "REGISTRY_HTTP_SECRET when several instances "
			          "share the storage)");
	}
	return 0;
}

/* ----------------------------------------------------------------------
 * CORS and the client's address
 */

/*
 * access_client_addr: the client's address for rate limiting and logs:
 * the peer, or, when the peer is a proxy listed in trust_proxy, the last
 * X-Forwarded-For hop (the one that proxy saw; earlier hops are the
 * client's word), if it is an IP address.
 */
void
access_client_addr(struct request *req, char *out, size_t outsz)
{
	const struct config *cfg = api_config();
	const char *peer = http_peer_addr(req), *xff, *p;
	unsigned char bin[sizeof(struct in6_addr)];
	char hop[INET6_ADDRSTRLEN];
	size_t len;

	util_strlcpy(out, peer, outsz);
	if (cfg->cf_trust_proxy == NULL ||
	    !util_list_has(cfg->cf_trust_proxy, peer) ||
	    (xff = http_header(req, "X-Forwarded-For")) == NULL)
		return;
	p = strrchr(xff, ',');
	p = p != NULL ? p + 1 : xff;
	p += strspn(p, " ");
	len = strcspn(p, " ");
	if (len == 0 || len >= sizeof(hop))
		return;
	memcpy(hop, p, len);
	hop[len] = '\0';
	if (inet_pton(AF_INET, hop, bin) == 1 ||
	    inet_pton(AF_INET6, hop, bin) == 1)
		util_strlcpy(out, hop, outsz);
}

/*
 * access_client_key: the client as per-client caps count it: its
 * address (access_client_addr) as util_addr_key keys it, an IPv6 address
 * by its /64, since one host usually has a whole /64 to pick addresses
 * from.
 */
void
access_client_key(struct request *req, char *out, size_t outsz)
{
	char addr[INET6_ADDRSTRLEN];

	access_client_addr(req, addr, sizeof(addr));
	util_addr_key(addr, out, outsz);
}

/*
 * access_upload_allowed: may this client start one more upload session?
 * No when the registry holds upload_sessions_max sessions, or the client
 * address upload_sessions_per_client: a client (or many) opening
 * sessions and never finishing them would otherwise grow the table and
 * the store without bound. Answers 429 TOOMANYREQUESTS then, and returns
 * 0; else 1. A session leaves the count with its commit or cancel, or
 * after an hour idle (its data then stays until the purge); so the 429
 * says to retry later.
 */
int
access_upload_allowed(struct request *req)
{
	const struct config *cfg = api_config();
	char addr[INET6_ADDRSTRLEN + 4];
	size_t total, mine;

	access_client_key(req, addr, sizeof(addr));
	upload_count(addr, &total, &mine);
	if (total < (size_t)cfg->cf_upload_sessions_max &&
	    mine < (size_t)cfg->cf_upload_sessions_per_client)
		return 1;
	log_info("%s: %s: %zu of %d upload sessions (%zu of %d for it)",
	    __func__, addr, total, cfg->cf_upload_sessions_max, mine,
	    cfg->cf_upload_sessions_per_client);
	http_add_header(req, "Retry-After", "%d", 60);
	http_error(req, 429, "TOOMANYREQUESTS",
	    "too many upload sessions open: finish or cancel some");
	return 0;
}

/*
 * access_cors: CORS for a browser UI on another origin (cors_origins).
 * An origin listed by name is echoed with credentials allowed, so that UI
 * can use the browser's Basic credentials. cors_origins = * (the config
 * takes it only alone) answers a literal "*" and never allows
 * credentials: echoing any Origin with Allow-Credentials would let every
 * web page push and delete with the credentials a browser has cached for
 * the registry. "null" (sandboxed frames, file: and data: pages) is never
 * echoed; the config cannot list it either. The headers registry clients
 * read are exposed. A preflight is answered here, before auth: browsers
 * send it without credentials. Returns 1 when it replied.
 */
int
access_cors(struct request *req)
{
	const char *origin = http_header(req, "Origin");
	const char *list = api_config()->cf_cors_origins;

	if (list == NULL || list[0] == '\0' || origin == NULL ||
	    strlen(origin) > 256)
		return 0;
	if (util_list_has(list, "*"))
		http_add_header(req, "Access-Control-Allow-Origin", "*");
	else if (strcmp(origin, "null") != 0 && util_list_has(list, origin)) {
		http_add_header(req, "Access-Control-Allow-Origin", "%s",
		    origin);
		http_add_header(req, "Access-Control-Allow-Credentials",
		    "true");
	} else
		return 0;
	/* The answer depends on Origin: caches must keep them apart. */
	http_add_header(req, "Vary", "Origin");
	http_add_header(req, "Access-Control-Expose-Headers",
	    "Docker-Content-Digest, Docker-Upload-UUID, Location, Range, "
	    "Content-Range, Link, OCI-Subject, OCI-Filters-Applied, "
	    "WWW-Authenticate");
	if (http_method(req) != HTTP_M_OPTIONS)
		return 0;
	http_add_header(req, "Access-Control-Allow-Methods",
	    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	http_add_header(req, "Access-Control-Allow-Headers",
	    "Authorization, Accept, Content-Type, Content-Range, Range, "
	    "Docker-Content-Digest");
	http_add_header(req, "Access-Control-Max-Age", "600");
	http_reply(req, 204, NULL, NULL, 0);
	return 1;
}

/* ----------------------------------------------------------------------
 * Basic auth
 */

/* 401 with the Basic challenge (OCI UNAUTHORIZED body). */
static void
challenge(struct request *req)
{
	const struct config *cfg = api_config();

	http_add_header(req, "WWW-Authenticate", "Basic realm=\"%s\"",
	    cfg->cf_realm != NULL ? cfg->cf_realm : "registryd");
	http_error(req, 401, "UNAUTHORIZED", NULL);
}

/* 429 for a user that failed too often from addr. */
static void
limited(struct request *req, const char *addr, const char *user)
{
	http_add_header(req, "Retry-After", "%d", auth_retry_after(addr, user));
	http_error(req, 429, "TOOMANYREQUESTS",
	    "too many failed logins: retry later");
}

/*
 * 429 when the password checks' queue is full: the same answer as the
 * global upload-session cap, since like it this is about every client
 * together. Only requests whose credentials need a check get it.
 */
static void
busy(struct request *req)
{
	http_add_header(req, "Retry-After", "%d", auth_busy_retry_after());
	http_error(req, 429, "TOOMANYREQUESTS",
	    "too many logins waiting for a password check: retry later");
}

/*
 * access_check: decide whether the request may run handler h. Returns 1
 * to run it now; 0 when a reply was made (401, 429) or the check went to
 * the pool, in which case the request is held and auth_done runs h later.
 * With anonymous_pull, reads pass without credentials, but GET /v2/ still
 * challenges: docker login would otherwise report success for any
 * password and never send credentials on push. So does /metrics: it
 * tells about the registry's traffic, not about images, and a scraper
 * without credentials has the debug listener.
 */
int
access_check(struct request *req, const struct route_match *m, api_handler h)
{
	const char *authz = http_header(req, "Authorization");
	enum http_method_id meth = http_method(req);
	struct auth_pending *pending = NULL;
	struct api_ctx *ctx;
	char addr[INET6_ADDRSTRLEN], user[AUTH_USER_MAX];

	if (!auth_enabled())
		return 1;
	if (authz == NULL && api_config()->cf_anonymous_pull &&
	    (meth == HTTP_M_GET || meth == HTTP_M_HEAD) &&
	    m->rm_id != ROUTE_BASE && m->rm_id != ROUTE_METRICS)
		return 1;
	access_client_addr(req, addr, sizeof(addr));
	switch (auth_check(authz, addr, user, auth_done, req, &pending)) {
	case AUTH_OK:
		http_set_user(req, user);
		return 1;
	case AUTH_PENDING:
		if ((ctx = api_ctx_new(req, m)) == NULL) {
			auth_cancel(pending);
			http_error(req, 500, "UNKNOWN", "out of memory");
			return 0;
		}
		ctx->ac_auth = pending;
		ctx->ac_handler = h;
		http_hold(req);
		return 0;
	case AUTH_LIMITED:
		metrics_auth_failure(METRICS_AUTH_LIMITED);
		limited(req, addr, user);
		return 0;
	case AUTH_BUSY:
		busy(req);
		return 0;
	case AUTH_FAIL:
	default:
		metrics_auth_failure(authz == NULL ? METRICS_AUTH_MISSING
		                                   : METRICS_AUTH_INVALID);
		challenge(req);
		return 0;
	}
}

/* The pool has checked the credentials of a held request. */
static void
auth_done(void *arg, enum auth_result res, const char *user)
{
	struct request *req = arg;
	struct api_ctx *ctx = http_ctx(req);
	char addr[INET6_ADDRSTRLEN];

	ctx->ac_auth = NULL;
	if (res == AUTH_OK) {
		http_set_user(req, user);
		ctx->ac_handler(req, &ctx->ac_match);
	} else if (res == AUTH_LIMITED) {
		metrics_auth_failure(METRICS_AUTH_LIMITED);
		access_client_addr(req, addr, sizeof(addr));
		limited(req, addr, user);
	} else {
		metrics_auth_failure(METRICS_AUTH_INVALID);
		challenge(req);
	}
	http_release(req);
}

/* ----------------------------------------------------------------------
 * Signed upload state
 */

/*
 * access_upload_state: the _state of an upload location: HMAC-SHA256
 * under the HTTP secret of the repository, the uuid and the user, in hex
 * (truncated to 128 bits). With auth on, every upload request must carry
 * it, so an upload started by one user cannot be continued by another,
 * and instances sharing REGISTRY_HTTP_SECRET accept each other's
 * locations.
 */
void
access_upload_state(struct request *req, const char *name, const char *uuid,
    char out[ACCESS_STATE_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char msg[NAME_MAX_LEN + UUID_LEN + AUTH_USER_MAX + 3];
	int n, i;

	n = snprintf(msg, sizeof(msg), "%s\n%s\n%s", name, uuid,
	    http_user(req));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	HMAC(EVP_sha256(), access_secret, (int)access_secret_len,
	    (const unsigned char *)msg, (size_t)n, mac, &maclen);
	for (i = 0; i < ACCESS_STATE_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[ACCESS_STATE_LEN] = '\0';
}

/*
 * access_upload_state_ok: 1 when the request carries the right _state for
 * its upload.
 */
int
access_upload_state_ok(struct request *req, const struct route_match *m)
{
	char want[ACCESS_STATE_LEN + 1], got[ACCESS_STATE_LEN + 1];

	if (!auth_enabled())
		return 1;
	if (util_query_get(http_query(req), "_state", got, sizeof(got)) != 1)
		return 0;
	access_upload_state(req, m->rm_name, m->rm_ref, want);
	return CRYPTO_memcmp(want, got, ACCESS_STATE_LEN) == 0;
}
