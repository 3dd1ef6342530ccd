#ifndef REGISTRYD_AUTH_H
#define REGISTRYD_AUTH_H

#include <stddef.h>

#include "bounds.h"

struct config;

/*
 * HTTP Basic authentication against an htpasswd file (bcrypt $2y$ $2b$
 * $2a$, sha-crypt $5$ $6$ through crypt_rn). auth.c knows nothing of
 * requests: the registry passes it the Authorization header and the
 * client address and gets a decision, now or later.
 *
 * bcrypt costs ~50 ms here, and docker push sends the credentials with
 * every request: verified credentials are cached (an HMAC of user and
 * password under a random per-process key, with a TTL), and checks that
 * miss the cache run on the worker pool. Failures are rate limited per
 * client address and user name (an IPv6 address per /64); cached
 * credentials are never refused.
 */

enum auth_result {
	AUTH_OK,      /* credentials valid; user filled in */
	AUTH_FAIL,    /* none, malformed, unknown user or wrong password */
	AUTH_LIMITED, /* too many failures of this user here: 429 */
	AUTH_PENDING, /* being checked on the pool; done() follows */
	AUTH_BUSY,    /* the password-check queue is full: 429 */
};

/* Called on the event loop with the decision of a pending check. */
typedef void (*auth_done_cb)(void *arg, enum auth_result, const char *user);

struct auth_pending;

/*
 * auth_init: load cfg->cf_htpasswd (when set); when the file is missing
 * and cf_username/cf_password are set, create it (bcrypt, mode 0600).
 * Returns 0, or -1 with a message for the operator in err ("file:line:
 * unsupported hash, use htpasswd -B"). cfg must outlive the module.
 */
int auth_init(const struct config *, char *err, size_t errlen);
/* auth_enabled: 1 when an htpasswd file is configured. */
int auth_enabled(void);
/*
 * auth_reload: re-read the htpasswd file (SIGHUP) and flush the cache;
 * on any error keep the old users and log why. 0 or -1.
 */
int auth_reload(void);
void auth_shutdown(void);

/*
 * auth_check: decide on an Authorization header value (NULL when absent)
 * from client address addr (the already resolved client address: the
 * registry applies trust_proxy). On AUTH_OK, user (AUTH_USER_MAX bytes)
 * holds the user name. On AUTH_PENDING, *pending is a handle and done(arg,
 * ...) runs later on the loop unless auth_cancel(*pending) is called
 * first (the request went away).
 */
enum auth_result auth_check(const char *authorization, const char *addr,
    char *user, auth_done_cb done, void *arg, struct auth_pending **pending);
/* auth_cancel: done will not be called for this check. */
void auth_cancel(struct auth_pending *);
/*
 * auth_busy_retry_after: seconds a client refused with AUTH_BUSY should
 * wait (Retry-After): about the time the queued checks take; at least 1.
 */
int auth_busy_retry_after(void);

/*
 * auth_retry_after: seconds user (as AUTH_LIMITED left it in auth_check's
 * user) should wait before trying again from addr (Retry-After).
 */
int auth_retry_after(const char *addr, const char *user);

/*
 * auth_hash_password: a bcrypt htpasswd hash of password with cost into
 * out ("$2y$10$..."). 0 or -1. Used by `registryd passwd`.
 */
int auth_hash_password(const char *password, int cost, char *out, size_t outsz);

/*
 * auth_passwd_main: `registryd passwd [-C cost] USER`: print "USER:HASH"
 * (bcrypt) for a password read from stdin, or prompted for twice without
 * echo on a terminal. argv[0] is "passwd". Returns the exit status.
 */
int auth_passwd_main(int argc, char *argv[]);

#endif /* REGISTRYD_AUTH_H */
