/*
 * auth.c: HTTP Basic authentication against an htpasswd file.
 *
 * The file holds "user:hash" lines with bcrypt ($2y$ $2b$ $2a$) or
 * sha-crypt ($5$ $6$) hashes, checked through libxcrypt's crypt_rn. Any
 * other scheme ($apr1$, {SHA}, DES crypt, plain text) refuses the whole
 * file: accepting a line that can never match, or a plain-text password,
 * would be worse than not starting.
 *
 * bcrypt is slow on purpose (~50 ms at cost 10) and docker push sends the
 * credentials with every request, so:
 *   - verified credentials are cached under HMAC-SHA256(key, "user:pass")
 *     with a random per-process key and a TTL (cache_ttl=); a hit answers
 *     at once on the loop and the cache never holds a password;
 *   - a miss runs crypt_rn on the worker pool (pool.h), in the password
 *     checks' own queue: commits never wait behind it, and it is bounded
 *     (pending_max=; beyond, AUTH_BUSY: 429). The job owns copies of
 *     everything it needs, because a reload may swap the user table
 *     while it runs;
 *   - an unknown user is checked against a dummy hash with the scheme and
 *     cost that most lines of the file use (htpasswd -B writes cost 5,
 *     registryd passwd 10), made again at every load, so that it costs
 *     what a wrong password of a real user costs and the time of a
 *     failed login does not tell which names exist;
 *   - failures are counted per client address and user name in a 60 s
 *     window (fail_limit=), an IPv6 address by its /64: a limited pair
 *     gets AUTH_LIMITED without any crypt, and checks in flight count
 *     against the limit. Guesses at one user do not lock out the other
 *     users behind the same NAT, and cached (verified) credentials are
 *     never refused. So that guessing many user names does not buy
 *     unbounded crypt work, an address as a whole may fail
 *     fail_limit * AUTH_ADDR_FAIL_FACTOR times per window.
 *
 * Everything but pj_work runs on the event loop. Credential buffers are
 * cleared with explicit_bzero before they are freed, and nothing here logs
 * a password or an Authorization header.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <crypt.h>

#include "auth.h"
#include "bounds.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "util.h"

/* One user of the htpasswd file. */
struct auth_user {
	char *au_name; /* malloc'd */
	char *au_hash; /* malloc'd */
	int au_line;   /* line in the file, for messages */
};

/* The users of one htpasswd file, sorted by name; owns its entries. */
struct auth_table {
	struct auth_user *at_users;
	size_t at_n;
};

/* A verified credential: HMAC of "user:pass" and until when it holds. */
struct auth_cache_entry {
	unsigned char ce_mac[AUTH_KEY_LEN];
	char ce_user[AUTH_USER_MAX];
	uint64_t ce_expires; /* auth_now() seconds; 0: free slot */
};

/*
 * A limiter key: "address user" for one user name from one address (an
 * IPv6 address as its /64), or the address alone for the address as a
 * whole. An address has no space, so the two never collide.
 */
#define AUTH_LIMIT_KEY_MAX (AUTH_ADDR_MAX + 4 + AUTH_USER_MAX)

/* Failures of one limiter key in the current window. */
struct auth_limit_entry {
	char le_key[AUTH_LIMIT_KEY_MAX];
	uint64_t le_start; /* window start, auth_now() seconds */
	int le_fails;      /* failures in the window */
	int le_pending;    /* checks in flight */
};

/*
 * A check on the pool. Owned by itself: it is freed by auth_job_done
 * after the worker ran it, whether or not it was cancelled. pj_work
 * touches only ap_pass, ap_hash, ap_known and ap_match.
 */
struct auth_pending {
	struct pool_job ap_job;
	char ap_user[AUTH_USER_MAX];
	char ap_addr[AUTH_ADDR_MAX];
	char ap_key[AUTH_LIMIT_KEY_MAX];  /* limiter key of address and user */
	char ap_akey[AUTH_LIMIT_KEY_MAX]; /* limiter key of the address */
	char ap_hash[AUTH_HASH_MAX];      /* the user's, or the dummy */
	char *ap_pass;                    /* malloc'd, cleared when freed */
	size_t ap_passlen;
	unsigned char ap_mac[AUTH_KEY_LEN]; /* cache key */
	unsigned int ap_generation;         /* of the table it was checked on */
	int ap_known;                       /* the user exists */
	int ap_dummy;                       /* ap_hash is the dummy */
	int ap_ran;                         /* worker: crypt_rn gave a hash */
	int ap_match;                       /* worker: the password matches */
	int ap_cancelled;
	auth_done_cb ap_done;
	void *ap_arg;
};

static struct {
	const struct config *cfg;
	int enabled;
	struct auth_table table;
	unsigned int generation; /* bumped by every reload */
	unsigned char key[AUTH_KEY_LEN];
	char dummy[AUTH_HASH_MAX];
	struct auth_cache_entry cache[AUTH_CACHE_MAX];
	struct auth_limit_entry limits[AUTH_LIMIT_MAX];
	int nlimits;
	int pending; /* jobs submitted, not done */
	/* For the unit tests. */
	int64_t skew;            /* seconds added to the clock */
	unsigned int dummy_runs; /* unknown users checked on the dummy */
	unsigned int crypt_runs; /* jobs that ran crypt_rn */
} auth;

static uint64_t auth_now(void);
static void auth_table_free(struct auth_table *);
static int auth_user_cmp(const void *, const void *);
static int auth_hash_check(const char *);
static int auth_parse(const char *, size_t, const char *, struct auth_table *,
    char *, size_t);
static int auth_read_file(const char *, char **, size_t *, char *, size_t);
static int auth_load(const char *, struct auth_table *, char *, size_t);
static int auth_hash_setting(const char *, const char **, unsigned long *);
static int auth_dummy_make(const struct auth_table *, char *, size_t);
static int auth_mkdirs(const char *, char *, size_t);
static int
auth_create(const char *, const char *, const char *, char *, size_t);
static int
auth_env_user(const struct config *, struct auth_table *, char *, size_t);
static const struct auth_user *auth_lookup(const char *);
static int auth_b64_decode(const char *, size_t, unsigned char *, size_t *);
static int auth_parse_basic(const char *, char *, size_t, size_t *);
static struct auth_cache_entry *auth_cache_find(const unsigned char *);
static void auth_cache_add(const unsigned char *, const char *);
static void auth_cache_flush(void);
static void auth_limit_keys(const char *, const char *, char *, char *);
static struct auth_limit_entry *auth_limit_find(const char *, int);
static int auth_limit_over(const char *, int);
static int auth_limited(const char *, const char *);
static void auth_limit_count(const char *, int);
static void auth_limit_fail(const char *, const char *);
static void auth_limit_pending(const char *, const char *, int);
static void auth_job_work(struct pool_job *);
static void auth_job_done(struct pool_job *);
static void auth_pending_free(struct auth_pending *);
static void auth_busy_log(void);
static int auth_read_password(char *, size_t, const char *);

/* Monotonic seconds, plus the unit tests' skew. */
static uint64_t
auth_now(void)
{
	return util_now_ms() / 1000 + (uint64_t)auth.skew;
}

/* ---- the htpasswd file ---- */

static void
auth_table_free(struct auth_table *t)
{
	size_t i;

	for (i = 0; i < t->at_n; i++) {
		free(t->at_users[i].au_name);
		explicit_bzero(t->at_users[i].au_hash,
		    strlen(t->at_users[i].au_hash));
		free(t->at_users[i].au_hash);
	}
	free(t->at_users);
	t->at_users = NULL;
	t->at_n = 0;
}

static int
auth_user_cmp(const void *a, const void *b)
{
	const struct auth_user *ua = a, *ub = b;
	int c;

	if ((c = strcmp(ua->au_name, ub->au_name)) != 0)
		return c;
	return ua->au_line - ub->au_line;
}

/*
 * Classify a hash: 1 supported and well formed, 0 an unsupported scheme,
 * -1 a supported scheme that is malformed.
 */
static int
auth_hash_check(const char *h)
{
	static const char b64[] =
	    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const char *p;
	size_t len = strlen(h);

	if (strncmp(h, "$2y$", 4) == 0 || strncmp(h, "$2b$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0) {
		/* "$2y$" cost(2) "$" salt(22) hash(31): 60 bytes. */
		if (len != 60 || h[4] < '0' || h[4] > '3' || h[5] < '0' ||
		    h[5] > '9' || h[6] != '$')
			return -1;
		if ((h[4] - '0') * 10 + (h[5] - '0') < 4 ||
		    (h[4] - '0') * 10 + (h[5] - '0') > 31)
			return -1;
		return strspn(h + 7, b64) == 53 ? 1 : -1;
	}
	if (strncmp(h, "$5$", 3) == 0 || strncmp(h, "$6$", 3) == 0) {
		/* $5$[rounds=N$]salt$hash: checked by libxcrypt itself. */
		for (p = h + 3; *p != '\0'; p++)
			if (strchr(b64, *p) == NULL && *p != '$' && *p != '=')
				return -1;
		/* $5$ counts as "legacy" in libxcrypt, yet it works. */
		switch (crypt_checksalt(h)) {
		case CRYPT_SALT_OK:
		case CRYPT_SALT_METHOD_LEGACY:
		case CRYPT_SALT_TOO_CHEAP:
			return 1;
		default:
			return -1;
		}
	}
	return 0;
}

/*
 * auth_parse: parse an htpasswd file held in buf[0..len) (named file in
 * messages) into t, which the caller frees with auth_table_free (also on
 * failure). Blank lines and '#' comments are allowed, CRLF too. Returns
 * 0, or -1 with "file:line: message" in err.
 */
static int
auth_parse(const char *buf, size_t len, const char *file, struct auth_table *t,
    char *err, size_t errlen)
{
	char line[AUTH_LINE_MAX + 1];
	struct auth_user *u;
	const char *p = buf, *end = buf + len, *nl;
	char *colon, *s, *e;
	size_t n, cap = 0, i;
	int lineno = 0, rv;

	memset(t, 0, sizeof(*t));
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > AUTH_LINE_MAX) {
			snprintf(err, errlen,
			    "%s:%d: line longer than %d bytes", file, lineno,
			    AUTH_LINE_MAX);
			return -1;
		}
		if (memchr(p, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte in line", file,
			    lineno);
			return -1;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl < end ? nl + 1 : end;

		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if ((colon = strchr(s, ':')) == NULL || colon == s) {
			snprintf(err, errlen, "%s:%d: expected user:hash", file,
			    lineno);
			goto fail;
		}
		*colon = '\0';
		for (e = s; *e != '\0'; e++)
			if ((unsigned char)*e < 0x20 || *e == 0x7f)
				break;
		if (*e != '\0' || strlen(s) >= AUTH_USER_MAX) {
			snprintf(err, errlen,
			    "%s:%d: user name longer than %d bytes or with "
			    "control characters",
			    file, lineno, AUTH_USER_MAX - 1);
			goto fail;
		}
		if ((rv = auth_hash_check(colon + 1)) == 0) {
			snprintf(err, errlen,
			    "%s:%d: unsupported hash, use htpasswd -B", file,
			    lineno);
			goto fail;
		}
		if (rv == -1 || strlen(colon + 1) >= AUTH_HASH_MAX) {
			snprintf(err, errlen,
			    "%s:%d: malformed hash, make the line again with "
			    "htpasswd -B or registryd passwd",
			    file, lineno);
			goto fail;
		}
		if (t->at_n == AUTH_USERS_MAX) {
			snprintf(err, errlen, "%s:%d: more than %d users", file,
			    lineno, AUTH_USERS_MAX);
			goto fail;
		}
		if (t->at_n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((u = reallocarray(t->at_users, cap, sizeof(*u))) ==
			    NULL)
				goto oom;
			t->at_users = u;
		}
		u = &t->at_users[t->at_n];
		u->au_line = lineno;
		if ((u->au_name = strdup(s)) == NULL)
			goto oom;
		if ((u->au_hash = strdup(colon + 1)) == NULL) {
			free(u->au_name);
			goto oom;
		}
		t->at_n++;
		explicit_bzero(line, sizeof(line));
	}
	if (t->at_n > 0)
		qsort(t->at_users, t->at_n, sizeof(*t->at_users),
		    auth_user_cmp);
	for (i = 1; i < t->at_n; i++) {
		if (strcmp(t->at_users[i - 1].au_name,
		        t->at_users[i].au_name) == 0) {
			snprintf(err, errlen,
			    "%s:%d: duplicate user, keep one line per user",
			    file, t->at_users[i].au_line);
			return -1;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "%s: %s", file, strerror(errno));
fail:
	explicit_bzero(line, sizeof(line));
	return -1;
}

/*
 * Read a whole regular file of at most AUTH_FILE_MAX bytes into a
 * malloc'd *buf (the caller clears and frees it). Returns 0, -1 with a
 * message in err, -2 when the file does not exist, -3 when it is a
 * directory.
 */
static int
auth_read_file(const char *path, char **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t r;
	size_t off = 0;
	int fd;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return -2;
		if (errno == EACCES)
			snprintf(err, errlen,
			    "htpasswd %s: %s; make it readable by uid %u, "
			    "the user registryd runs as",
			    path, strerror(errno), (unsigned int)geteuid());
		else
			snprintf(err, errlen, "htpasswd %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "htpasswd %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -3;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "htpasswd %s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > AUTH_FILE_MAX) {
		snprintf(err, errlen, "htpasswd %s: larger than %d bytes", path,
		    AUTH_FILE_MAX);
		goto fail;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "htpasswd %s: %s", path, strerror(errno));
		goto fail;
	}
	/* The file may grow meanwhile: read what fstat saw, no more. */
	while (off < (size_t)st.st_size) {
		r = read(fd, *buf + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "htpasswd %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	*len = off;
	return 0;
fail:
	free(*buf);
	*buf = NULL;
	close(fd);
	return -1;
}

/*
 * Load path into t. Returns 0, -1 (message in err) or -2 (missing). A
 * directory is a file without users, as registry:2 takes it: Debian's
 * stock config.yml names /etc/docker/registry, and docker-registry starts
 * on it and refuses every login, so registryd does the same (warned).
 */
static int
auth_load(const char *path, struct auth_table *t, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	int rv;

	memset(t, 0, sizeof(*t));
	rv = auth_read_file(path, &buf, &len, err, errlen);
	if (rv == -3) {
		log_warnx("htpasswd %s is a directory, not a file: no users, "
		          "every login fails (as with registry:2); point "
		          "[auth] htpasswd (auth.htpasswd.path) at a file",
		    path);
		return 0;
	}
	if (rv != 0)
		return rv;
	rv = auth_parse(buf, len, path, t, err, errlen);
	explicit_bzero(buf, len);
	free(buf);
	if (rv == -1)
		auth_table_free(t);
	return rv;
}

/*
 * The scheme and cost of a supported hash (auth_hash_check said 1): for
 * bcrypt, "$2b$" (every bcrypt prefix costs the same) and its cost; for
 * sha-crypt, "$5$" or "$6$" and its rounds, 0 for the default. That is
 * what crypt_gensalt_rn takes to make a setting of the same cost.
 * Returns 0, or -1 when the rounds cannot be read.
 */
static int
auth_hash_setting(const char *h, const char **prefix, unsigned long *count)
{
	const char *p, *d;
	uint64_t n;

	if (h[0] == '$' && h[1] == '2') {
		*prefix = "$2b$";
		*count = (unsigned long)((h[4] - '0') * 10 + (h[5] - '0'));
		return 0;
	}
	*prefix = h[1] == '5' ? "$5$" : "$6$";
	*count = 0;
	if (strncmp(h + 3, "rounds=", 7) != 0)
		return 0;
	p = h + 10;
	if ((d = strchr(p, '$')) == NULL ||
	    util_strtou64(p, (size_t)(d - p), 999999999, &n) == -1)
		return -1;
	*count = (unsigned long)n;
	return 0;
}

/*
 * auth_dummy_make: the setting (scheme, cost, random salt) that unknown
 * users are checked against, into out: the one most lines of t use, on a
 * tie the one of the earliest line, the default bcrypt cost for an empty
 * table. With mixed costs no single dummy hides every name; matching the
 * most users is the best one can do. Only a setting, no crypt: crypt_rn
 * of a password against it costs what a check against a whole hash of
 * that cost does, and no bcrypt runs on the loop at a reload. Returns 0,
 * or -1.
 */
static int
auth_dummy_make(const struct auth_table *t, char *out, size_t outsz)
{
	struct {
		const char *ds_prefix;
		unsigned long ds_count;
		size_t ds_n;
		int ds_line; /* earliest line with it */
	} ds[16];
	const char *prefix, *best_prefix = "$2b$";
	unsigned long count, best_count = AUTH_DEFAULT_COST;
	size_t nds = 0, i, j, best = SIZE_MAX;

	for (i = 0; i < t->at_n; i++) {
		if (auth_hash_setting(t->at_users[i].au_hash, &prefix,
		        &count) == -1)
			continue;
		for (j = 0; j < nds; j++)
			if (ds[j].ds_prefix == prefix &&
			    ds[j].ds_count == count)
				break;
		if (j == nds) {
			/* Past 16 kinds the rare ones do not matter. */
			if (nds == sizeof(ds) / sizeof(ds[0]))
				continue;
			ds[j].ds_prefix = prefix;
			ds[j].ds_count = count;
			ds[j].ds_n = 0;
			ds[j].ds_line = t->at_users[i].au_line;
			nds++;
		}
		ds[j].ds_n++;
		if (t->at_users[i].au_line < ds[j].ds_line)
			ds[j].ds_line = t->at_users[i].au_line;
	}
	for (j = 0; j < nds; j++)
		if (best == SIZE_MAX || ds[j].ds_n > ds[best].ds_n ||
		    (ds[j].ds_n == ds[best].ds_n &&
		        ds[j].ds_line < ds[best].ds_line))
			best = j;
	if (best != SIZE_MAX) {
		best_prefix = ds[best].ds_prefix;
		best_count = ds[best].ds_count;
	}
	if (crypt_gensalt_rn(best_prefix, best_count, NULL, 0, out,
	        (int)outsz) == NULL ||
	    out[0] != '$')
		return -1;
	return 0;
}

/*
 * Create the missing directories above the file path, mode 0700 (the
 * file holds password hashes; umask may only narrow it). Container setups
 * name /auth/htpasswd in a fresh container, where /auth does not exist.
 * Returns 0, or -1 with a message in err.
 */
static int
auth_mkdirs(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], *p, c;
	struct stat st;

	if (util_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		snprintf(err, errlen, "htpasswd %s: path too long", path);
		return -1;
	}
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	if (stat(dir, &st) == 0)
		return 0; /* a file there: the open says so */
	for (p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) == 0)
			log_info("htpasswd %s: created directory %s (0700)",
			    path, dir);
		else if (errno != EEXIST) {
			snprintf(err, errlen,
			    "htpasswd %s: cannot create directory %s: %s; "
			    "create it writable by uid %u, the user registryd "
			    "runs as",
			    path, dir, strerror(errno),
			    (unsigned int)geteuid());
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/*
 * Create path with one bcrypt line for user (REGISTRY_USERNAME and
 * REGISTRY_PASSWORD), mode 0600, never over an existing file, and the
 * directories above it (auth_mkdirs). Returns 0, or -1 with a message in
 * err.
 */
static int
auth_create(const char *path, const char *user, const char *password, char *err,
    size_t errlen)
{
	char hash[AUTH_HASH_MAX], line[AUTH_USER_MAX + AUTH_HASH_MAX + 2];
	int fd, n, rv = -1;

	if (auth_hash_password(password, AUTH_DEFAULT_COST, hash,
	        sizeof(hash)) == -1) {
		snprintf(err, errlen, "htpasswd %s: cannot hash the password",
		    path);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s:%s\n", user, hash);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		snprintf(err, errlen, "htpasswd %s: user name too long", path);
		goto done;
	}
	if (auth_mkdirs(path, err, errlen) == -1)
		goto done;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen,
		    "htpasswd %s: cannot create it: %s; make its directory "
		    "writable by uid %u, or create the file with registryd "
		    "passwd",
		    path, strerror(errno), (unsigned int)geteuid());
		goto done;
	}
	if (write(fd, line, (size_t)n) != n || fsync(fd) == -1) {
		snprintf(err, errlen, "htpasswd %s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		goto done;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "htpasswd %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto done;
	}
	log_info("htpasswd %s: created with user %s (REGISTRY_USERNAME)", path,
	    user);
	rv = 0;
done:
	explicit_bzero(line, sizeof(line));
	explicit_bzero(hash, sizeof(hash));
	return rv;
}

/*
 * The one user of REGISTRY_USERNAME and REGISTRY_PASSWORD when no htpasswd
 * file is configured: what the custom registry:2 images people replace
 * with registryd do by writing an htpasswd at start, but without a file,
 * so the password (hashed with bcrypt here) never reaches a disk. Returns
 * 0, or -1 with a message in err.
 */
static int
auth_env_user(const struct config *cfg, struct auth_table *t, char *err,
    size_t errlen)
{
	char hash[AUTH_HASH_MAX], line[AUTH_USER_MAX + AUTH_HASH_MAX + 2];
	int n, rv = -1;

	memset(t, 0, sizeof(*t));
	if (auth_hash_password(cfg->cf_password, AUTH_DEFAULT_COST, hash,
	        sizeof(hash)) == -1) {
		snprintf(err, errlen, "REGISTRY_PASSWORD: cannot hash it");
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s:%s\n", cfg->cf_username, hash);
	if (n < 0 || (size_t)n >= sizeof(line))
		snprintf(err, errlen, "REGISTRY_USERNAME: too long");
	else if ((rv = auth_parse(line, (size_t)n, "REGISTRY_USERNAME", t, err,
	              errlen)) == 0)
		log_info("authentication: user %s (REGISTRY_USERNAME), in "
		         "memory: no htpasswd file is configured",
		    cfg->cf_username);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(hash, sizeof(hash));
	return rv;
}

/* The user called name in the current table, or NULL. */
static const struct auth_user *
auth_lookup(const char *name)
{
	size_t lo = 0, hi = auth.table.at_n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, auth.table.at_users[mid].au_name);
		if (c == 0)
			return &auth.table.at_users[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- the Authorization header ---- */

/*
 * Strict base64 (RFC 4648 section 4) of in[0..len) into out, which holds
 * len / 4 * 3 bytes. Padding is required, as Go's StdEncoding and every
 * Docker client write it. Returns 0 and *outlen, or -1.
 */
static int
auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	uint32_t v;
	size_t i, j, o = 0;
	int c, pad;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			c = (unsigned char)in[i + j];
			if (c == '=') {
				/* Only at the end, in the last 2 places. */
				if (i + 4 != len || j < 2)
					return -1;
				pad++;
				v <<= 6;
				continue;
			}
			if (pad > 0)
				return -1;
			if (c >= 'A' && c <= 'Z')
				c -= 'A';
			else if (c >= 'a' && c <= 'z')
				c = c - 'a' + 26;
			else if (c >= '0' && c <= '9')
				c = c - '0' + 52;
			else if (c == '+')
				c = 62;
			else if (c == '/')
				c = 63;
			else
				return -1;
			v = (v << 6) | (uint32_t)c;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	*outlen = o;
	return 0;
}

/*
 * Parse an Authorization value "Basic <base64>" into out as "user:pass"
 * (NUL-terminated; outsz must be at least AUTH_B64_MAX / 4 * 3 + 1).
 * *userlen gets the length of the user part. Returns 0, or -1 when the
 * value is anything else: another scheme, bad base64, no ':', an empty
 * or overlong user, a NUL byte.
 */
static int
auth_parse_basic(const char *value, char *out, size_t outsz, size_t *userlen)
{
	const char *p = value, *e;
	const char *colon;
	size_t len, dlen;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -1;
	for (p += 5; *p == ' ' || *p == '\t'; p++)
		;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	len = (size_t)(e - p);
	if (len > AUTH_B64_MAX || len / 4 * 3 + 1 > outsz)
		return -1;
	if (auth_b64_decode(p, len, (unsigned char *)out, &dlen) == -1)
		goto bad;
	out[dlen] = '\0';
	if (memchr(out, '\0', dlen) != NULL)
		goto bad;
	if ((colon = memchr(out, ':', dlen)) == NULL)
		goto bad;
	*userlen = (size_t)(colon - out);
	if (*userlen == 0 || *userlen >= AUTH_USER_MAX)
		goto bad;
	return 0;
bad:
	explicit_bzero(out, outsz);
	return -1;
}

/* ---- the credential cache ---- */

/* The live entry for mac, or NULL. */
static struct auth_cache_entry *
auth_cache_find(const unsigned char *mac)
{
	uint64_t now = auth_now();
	size_t i;

	for (i = 0; i < AUTH_CACHE_MAX; i++) {
		if (auth.cache[i].ce_expires <= now)
			continue;
		if (CRYPTO_memcmp(auth.cache[i].ce_mac, mac, AUTH_KEY_LEN) == 0)
			return &auth.cache[i];
	}
	return NULL;
}

/* Remember mac as verified for user; a full cache drops the oldest. */
static void
auth_cache_add(const unsigned char *mac, const char *user)
{
	struct auth_cache_entry *ce, *victim = &auth.cache[0];
	uint64_t now = auth_now();
	size_t i;

	if (auth.cfg == NULL || auth.cfg->cf_auth_cache_ttl <= 0)
		return;
	if ((ce = auth_cache_find(mac)) == NULL) {
		/* The TTL is the same for all: earliest expiry is oldest. */
		for (i = 0; i < AUTH_CACHE_MAX; i++) {
			if (auth.cache[i].ce_expires <= now) {
				victim = &auth.cache[i];
				break;
			}
			if (auth.cache[i].ce_expires < victim->ce_expires)
				victim = &auth.cache[i];
		}
		ce = victim;
	}
	memcpy(ce->ce_mac, mac, AUTH_KEY_LEN);
	(void)util_strlcpy(ce->ce_user, user, sizeof(ce->ce_user));
	ce->ce_expires = now + (uint64_t)auth.cfg->cf_auth_cache_ttl;
}

static void
auth_cache_flush(void)
{
	explicit_bzero(auth.cache, sizeof(auth.cache));
}

/* ---- the failure limiter ---- */

/*
 * The limiter keys of user (NULL or "" for a malformed header) from addr,
 * into key and akey (AUTH_LIMIT_KEY_MAX bytes each). An IPv6 client
 * usually holds a whole /64, so it counts as one; an IPv4-mapped address
 * counts as its IPv4 address (a dual-stack listener sees those), not as
 * the /64 of every IPv4 client.
 */
static void
auth_limit_keys(const char *addr, const char *user, char *key, char *akey)
{
	struct in6_addr a6;
	char net[INET6_ADDRSTRLEN + 4];

	(void)util_strlcpy(net, addr, sizeof(net));
	if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			if (inet_ntop(AF_INET, &a6.s6_addr[12], net,
			        sizeof(net)) == NULL)
				(void)util_strlcpy(net, addr, sizeof(net));
		} else {
			memset(&a6.s6_addr[8], 0, 8);
			if (inet_ntop(AF_INET6, &a6, net, sizeof(net)) != NULL)
				strcat(net, "/64");
			else
				(void)util_strlcpy(net, addr, sizeof(net));
		}
	}
	(void)util_strlcpy(akey, net, AUTH_LIMIT_KEY_MAX);
	(void)snprintf(key, AUTH_LIMIT_KEY_MAX, "%s %s", net,
	    user != NULL ? user : "");
}

/* The entry of key; with create, a new one (evicting the oldest). */
static struct auth_limit_entry *
auth_limit_find(const char *key, int create)
{
	struct auth_limit_entry *le, *victim = NULL;
	uint64_t now = auth_now();
	int i;

	for (i = 0; i < auth.nlimits; i++)
		if (strcmp(auth.limits[i].le_key, key) == 0)
			return &auth.limits[i];
	if (!create)
		return NULL;
	if (auth.nlimits < AUTH_LIMIT_MAX)
		le = &auth.limits[auth.nlimits++];
	else {
		/* Prefer an idle entry; else the one whose window is oldest. */
		for (i = 0; i < AUTH_LIMIT_MAX; i++) {
			le = &auth.limits[i];
			if (le->le_pending > 0)
				continue;
			if (victim == NULL || le->le_start < victim->le_start)
				victim = le;
		}
		le = victim != NULL ? victim : &auth.limits[0];
	}
	memset(le, 0, sizeof(*le));
	(void)util_strlcpy(le->le_key, key, sizeof(le->le_key));
	le->le_start = now;
	return le;
}

/* 1 when key has used up its limit (counting checks in flight). */
static int
auth_limit_over(const char *key, int limit)
{
	struct auth_limit_entry *le;
	uint64_t now = auth_now();

	if ((le = auth_limit_find(key, 0)) == NULL)
		return 0;
	if (now - le->le_start >= AUTH_WINDOW) {
		le->le_start = now;
		le->le_fails = 0;
	}
	return le->le_fails + le->le_pending >= limit;
}

/* 1 when this user from this address may not try now (auth_limit_keys). */
static int
auth_limited(const char *key, const char *akey)
{
	int limit = auth.cfg->cf_auth_fail_limit;

	if (limit <= 0)
		return 0;
	return auth_limit_over(key, limit) ||
	    auth_limit_over(akey, limit * AUTH_ADDR_FAIL_FACTOR);
}

/* Count one failure of key against limit; log when it is reached. */
static void
auth_limit_count(const char *key, int limit)
{
	struct auth_limit_entry *le;
	uint64_t now = auth_now();

	if ((le = auth_limit_find(key, 1)) == NULL)
		return;
	if (now - le->le_start >= AUTH_WINDOW) {
		le->le_start = now;
		le->le_fails = 0;
	}
	if (++le->le_fails == limit)
		log_warnx("auth: %s: %d failed logins in %d s, refusing "
		          "more for now",
		    key, le->le_fails, AUTH_WINDOW);
}

/* Count one failure of a user from an address (auth_limit_keys). */
static void
auth_limit_fail(const char *key, const char *akey)
{
	int limit = auth.cfg->cf_auth_fail_limit;

	if (limit <= 0)
		return;
	auth_limit_count(key, limit);
	auth_limit_count(akey, limit * AUTH_ADDR_FAIL_FACTOR);
}

/* One more (delta 1) or one fewer (-1) check in flight for both keys. */
static void
auth_limit_pending(const char *key, const char *akey, int delta)
{
	struct auth_limit_entry *le;
	const char *k[2] = {key, akey};
	int i;

	for (i = 0; i < 2; i++) {
		le = auth_limit_find(k[i], delta > 0);
		if (le == NULL || (delta < 0 && le->le_pending == 0))
			continue;
		le->le_pending += delta;
	}
}

/* ---- checks on the pool ---- */

/* On a worker: run crypt_rn. Touches only the job. */
static void
auth_job_work(struct pool_job *job)
{
	struct auth_pending *ap = (struct auth_pending *)(void *)((char *)job -
	    offsetof(struct auth_pending, ap_job));
	struct crypt_data *cd;
	const char *out;
	size_t hlen = strlen(ap->ap_hash);

	/* ~32 KiB: not on a worker's stack. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return;
	out = crypt_rn(ap->ap_pass, ap->ap_hash, cd, (int)sizeof(*cd));
	if (out != NULL && out[0] == '$') {
		ap->ap_ran = 1;
		ap->ap_match = ap->ap_known && strlen(out) == hlen &&
		    CRYPTO_memcmp(out, ap->ap_hash, hlen) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

static void
auth_pending_free(struct auth_pending *ap)
{
	if (ap->ap_pass != NULL) {
		explicit_bzero(ap->ap_pass, ap->ap_passlen);
		free(ap->ap_pass);
	}
	explicit_bzero(ap, sizeof(*ap));
	free(ap);
}

/* On the loop: cache, count, tell the requester, free. */
static void
auth_job_done(struct pool_job *job)
{
	struct auth_pending *ap = (struct auth_pending *)(void *)((char *)job -
	    offsetof(struct auth_pending, ap_job));

	auth.pending--;
	auth_limit_pending(ap->ap_key, ap->ap_akey, -1);
	if (ap->ap_cancelled && !ap->ap_ran) {
		/* Taken off the queue (auth_cancel): nothing was checked. */
		auth_pending_free(ap);
		return;
	}
	if (ap->ap_ran)
		auth.crypt_runs++;
	if (ap->ap_ran && ap->ap_dummy)
		auth.dummy_runs++;
	if (ap->ap_match) {
		/* A reload meanwhile may have changed this password. */
		if (auth.enabled && ap->ap_generation == auth.generation)
			auth_cache_add(ap->ap_mac, ap->ap_user);
	} else {
		if (auth.enabled && auth.cfg->cf_auth_fail_limit > 0)
			auth_limit_fail(ap->ap_key, ap->ap_akey);
		log_info("auth: %s: failed login%s%s%s", ap->ap_addr,
		    ap->ap_known ? " for user '" : " (unknown user)",
		    ap->ap_known ? ap->ap_user : "", ap->ap_known ? "'" : "");
	}
	if (!ap->ap_cancelled && ap->ap_done != NULL)
		ap->ap_done(ap->ap_arg, ap->ap_match ? AUTH_OK : AUTH_FAIL,
		    ap->ap_user);
	auth_pending_free(ap);
}

/* ---- interface ---- */

/*
 * auth_init: remember cfg (it must outlive the module), make the cache
 * key, load cfg->cf_htpasswd when it is set and make the dummy setting of
 * its cost (auth_dummy_make). A
 * missing file is created from cf_username and cf_password (bcrypt, mode
 * 0600) when both are set, and is an error otherwise. Without a file,
 * cf_username and cf_password are the only user, kept in memory
 * (auth_env_user). Returns 0, or -1 with a message for the operator in
 * err.
 */
int
auth_init(const struct config *cfg, char *err, size_t errlen)
{
	int rv;

	auth.cfg = cfg;
	auth.enabled = 0;
	if ((cfg->cf_htpasswd == NULL || cfg->cf_htpasswd[0] == '\0') &&
	    (cfg->cf_username == NULL || cfg->cf_username[0] == '\0'))
		return 0;
	if (RAND_bytes(auth.key, sizeof(auth.key)) != 1) {
		snprintf(err, errlen, "auth: RAND_bytes failed");
		return -1;
	}
	if (cfg->cf_htpasswd == NULL || cfg->cf_htpasswd[0] == '\0')
		rv = auth_env_user(cfg, &auth.table, err, errlen);
	else
		rv = auth_load(cfg->cf_htpasswd, &auth.table, err, errlen);
	if (rv == -2) {
		if (cfg->cf_username == NULL || cfg->cf_username[0] == '\0' ||
		    cfg->cf_password == NULL || cfg->cf_password[0] == '\0') {
			snprintf(err, errlen,
			    "htpasswd %s: %s (set REGISTRY_USERNAME and "
			    "REGISTRY_PASSWORD to create it)",
			    cfg->cf_htpasswd, strerror(ENOENT));
			return -1;
		}
		if (auth_create(cfg->cf_htpasswd, cfg->cf_username,
		        cfg->cf_password, err, errlen) == -1)
			return -1;
		rv = auth_load(cfg->cf_htpasswd, &auth.table, err, errlen);
		if (rv == -2)
			snprintf(err, errlen, "htpasswd %s: %s",
			    cfg->cf_htpasswd, strerror(ENOENT));
	} else if (rv == 0 && cfg->cf_htpasswd[0] != '\0' &&
	    cfg->cf_username != NULL && cfg->cf_username[0] != '\0')
		log_info("htpasswd %s exists: REGISTRY_USERNAME and "
		         "REGISTRY_PASSWORD are not used",
		    cfg->cf_htpasswd);
	if (rv != 0)
		return -1;
	if (auth_dummy_make(&auth.table, auth.dummy, sizeof(auth.dummy)) ==
	    -1) {
		snprintf(err, errlen, "auth: cannot make a crypt setting: %s",
		    strerror(errno));
		auth_table_free(&auth.table);
		return -1;
	}
	if (auth.table.at_n == 0)
		log_warnx("htpasswd %s: no users: every login will fail",
		    cfg->cf_htpasswd);
	auth.enabled = 1;
	auth.generation++;
	auth_cache_flush();
	return 0;
}

/* auth_enabled: 1 when an htpasswd file is configured and loaded. */
int
auth_enabled(void)
{
	return auth.enabled;
}

/*
 * auth_reload: re-read the htpasswd file (SIGHUP). On success the new
 * users replace the old, the dummy setting follows their cost and the
 * cache is flushed; on any error the old
 * users stay and the reason is logged. Returns 0 or -1.
 */
int
auth_reload(void)
{
	struct auth_table t;
	char err[512], dummy[AUTH_HASH_MAX];
	int rv;

	/* No file: the user of the environment stays as it is. */
	if (!auth.enabled || auth.cfg->cf_htpasswd[0] == '\0')
		return 0;
	rv = auth_load(auth.cfg->cf_htpasswd, &t, err, sizeof(err));
	if (rv == -2)
		snprintf(err, sizeof(err), "htpasswd %s: %s",
		    auth.cfg->cf_htpasswd, strerror(ENOENT));
	if (rv != 0) {
		log_warnx("%s; keeping the %zu users loaded before", err,
		    auth.table.at_n);
		return -1;
	}
	if (auth_dummy_make(&t, dummy, sizeof(dummy)) == -1) {
		log_warnx("htpasswd %s: cannot make a crypt setting; keeping "
		          "the %zu users loaded before",
		    auth.cfg->cf_htpasswd, auth.table.at_n);
		auth_table_free(&t);
		return -1;
	}
	auth_table_free(&auth.table);
	auth.table = t;
	(void)util_strlcpy(auth.dummy, dummy, sizeof(auth.dummy));
	auth.generation++;
	auth_cache_flush();
	log_info("htpasswd %s: reloaded, %zu users", auth.cfg->cf_htpasswd,
	    t.at_n);
	return 0;
}

/*
 * auth_shutdown: free the users and clear the cache. Checks still on the
 * pool free themselves when their pj_done runs (pool_stop).
 */
void
auth_shutdown(void)
{
	auth_table_free(&auth.table);
	auth_cache_flush();
	explicit_bzero(auth.key, sizeof(auth.key));
	auth.enabled = 0;
	auth.nlimits = 0;
}

/*
 * auth_check: decide on the Authorization value (NULL when absent) of a
 * client at addr. AUTH_OK fills user (AUTH_USER_MAX bytes); a cache hit
 * answers at once, even while that user is limited at addr: verified
 * credentials are never refused. AUTH_LIMITED fills user too (for
 * auth_retry_after). A miss submits a check to the pool and returns
 * AUTH_PENDING with *pending set: done(arg, result, user) follows on the
 * loop unless auth_cancel(*pending) comes first. Never closes anything.
 */
enum auth_result
auth_check(const char *authorization, const char *addr, char *user,
    auth_done_cb done, void *arg, struct auth_pending **pending)
{
	char cred[AUTH_B64_MAX / 4 * 3 + 1];
	char key[AUTH_LIMIT_KEY_MAX], akey[AUTH_LIMIT_KEY_MAX];
	unsigned char mac[AUTH_KEY_LEN];
	unsigned int maclen = sizeof(mac);
	const struct auth_user *u;
	struct auth_cache_entry *ce;
	struct auth_pending *ap;
	size_t ulen, clen;
	enum auth_result rv = AUTH_FAIL;

	if (pending != NULL)
		*pending = NULL;
	user[0] = '\0';
	if (!auth.enabled)
		return AUTH_OK;
	if (addr == NULL)
		addr = "-";
	if (authorization == NULL)
		return AUTH_FAIL;
	if (auth_parse_basic(authorization, cred, sizeof(cred), &ulen) == -1) {
		/* Malformed: counted as the user "" of addr. */
		auth_limit_keys(addr, NULL, key, akey);
		if (auth_limited(key, akey))
			return AUTH_LIMITED;
		auth_limit_fail(key, akey);
		return AUTH_FAIL;
	}
	clen = strlen(cred);
	if (HMAC(EVP_sha256(), auth.key, sizeof(auth.key),
	        (const unsigned char *)cred, clen, mac, &maclen) == NULL)
		goto done;
	if ((ce = auth_cache_find(mac)) != NULL) {
		(void)util_strlcpy(user, ce->ce_user, AUTH_USER_MAX);
		rv = AUTH_OK;
		goto done;
	}
	cred[ulen] = '\0';
	auth_limit_keys(addr, cred, key, akey);
	cred[ulen] = ':';
	if (auth_limited(key, akey)) {
		memcpy(user, cred, ulen);
		user[ulen] = '\0';
		rv = AUTH_LIMITED;
		goto done;
	}
	if (done == NULL || pending == NULL)
		goto done;
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		goto done;
	ap->ap_passlen = clen - ulen - 1;
	if ((ap->ap_pass = malloc(ap->ap_passlen + 1)) == NULL) {
		free(ap);
		goto done;
	}
	memcpy(ap->ap_pass, cred + ulen + 1, ap->ap_passlen + 1);
	memcpy(ap->ap_user, cred, ulen);
	ap->ap_user[ulen] = '\0';
	(void)util_strlcpy(ap->ap_addr, addr, sizeof(ap->ap_addr));
	(void)util_strlcpy(ap->ap_key, key, sizeof(ap->ap_key));
	(void)util_strlcpy(ap->ap_akey, akey, sizeof(ap->ap_akey));
	memcpy(ap->ap_mac, mac, sizeof(mac));
	if ((u = auth_lookup(ap->ap_user)) != NULL) {
		ap->ap_known = 1;
		(void)util_strlcpy(ap->ap_hash, u->au_hash,
		    sizeof(ap->ap_hash));
	} else {
		/* Same cost as a wrong password: no user enumeration. */
		ap->ap_dummy = 1;
		(void)util_strlcpy(ap->ap_hash, auth.dummy,
		    sizeof(ap->ap_hash));
	}
	ap->ap_generation = auth.generation;
	ap->ap_done = done;
	ap->ap_arg = arg;
	ap->ap_job.pj_work = auth_job_work;
	ap->ap_job.pj_done = auth_job_done;
	ap->ap_job.pj_class = POOL_AUTH;
	/*
	 * The checks' own queue, bounded by pending_max: beyond it, only
	 * this request is refused (AUTH_BUSY); commits and cached users are
	 * not queued behind it.
	 */
	if (pool_submit(&ap->ap_job) == -1) {
		auth_pending_free(ap);
		auth_busy_log();
		rv = AUTH_BUSY;
		goto done;
	}
	if (auth.cfg->cf_auth_fail_limit > 0)
		auth_limit_pending(key, akey, 1);
	auth.pending++;
	*pending = ap;
	rv = AUTH_PENDING;
done:
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(mac, sizeof(mac));
	return rv;
}

/*
 * auth_cancel: the requester went away; its done callback will not run.
 * A check no worker has started is taken off the queue (no bcrypt for
 * nobody: a client that gives up frees its place at once); one that runs
 * finishes. Either way it frees itself in auth_job_done.
 */
void
auth_cancel(struct auth_pending *ap)
{
	if (ap == NULL)
		return;
	ap->ap_cancelled = 1;
	ap->ap_done = NULL;
	ap->ap_arg = NULL;
	(void)pool_cancel(&ap->ap_job);
}

/*
 * A check was refused: say why, once a window, not once a refusal. The
 * queue is full (pending_max), or no password-check thread runs because
 * none could be started (pool_submit), which no setting of ours fixes.
 */
static void
auth_busy_log(void)
{
	static uint64_t last;
	static int logged;
	uint64_t now = auth_now();
	struct pool_stats ps;

	if (logged && now - last < AUTH_WINDOW)
		return;
	logged = 1;
	last = now;
	pool_stats(POOL_AUTH, &ps);
	if (ps.ps_threads == 0)
		log_warnx("auth: no password-check thread could be started "
		          "(pthread_create: %s): refusing logins that need a "
		          "check with 429 for now; check the limits on threads "
		          "(ulimit -u, docker --pids-limit, systemd TasksMax)",
		    strerror(ps.ps_spawn_err != 0 ? ps.ps_spawn_err : EAGAIN));
	else
		log_warnx("auth: %d password checks in flight (pending_max): "
		          "refusing logins that need one with 429 for now",
		    auth.pending);
}

/*
 * auth_busy_retry_after: seconds to wait after AUTH_BUSY (Retry-After):
 * about the time the checks queued now take.
 */
int
auth_busy_retry_after(void)
{
	return pool_wait_estimate(POOL_AUTH);
}

/*
 * auth_retry_after: seconds until user may try again from addr
 * (Retry-After): the longest wait of its limiter keys, at least 1.
 */
int
auth_retry_after(const char *addr, const char *user)
{
	char key[AUTH_LIMIT_KEY_MAX], akey[AUTH_LIMIT_KEY_MAX];
	const char *k[2] = {key, akey};
	struct auth_limit_entry *le;
	uint64_t now = auth_now(), used;
	int limit[2], i, wait = 1;

	if (addr == NULL || auth.cfg == NULL ||
	    auth.cfg->cf_auth_fail_limit <= 0)
		return 1;
	limit[0] = auth.cfg->cf_auth_fail_limit;
	limit[1] = limit[0] * AUTH_ADDR_FAIL_FACTOR;
	auth_limit_keys(addr, user, key, akey);
	for (i = 0; i < 2; i++) {
		if ((le = auth_limit_find(k[i], 0)) == NULL ||
		    !auth_limit_over(k[i], limit[i]))
			continue;
		used = now - le->le_start;
		if (used < AUTH_WINDOW && (int)(AUTH_WINDOW - used) > wait)
			wait = (int)(AUTH_WINDOW - used);
	}
	return wait;
}

/*
 * auth_hash_password: a bcrypt hash of password with cost (4 to 31) into
 * out, "$2y$" as htpasswd -B writes it ("$2b$" if this libxcrypt cannot
 * make "$2y$"). Returns 0, or -1.
 */
int
auth_hash_password(const char *password, int cost, char *out, size_t outsz)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rv = -1;

	if (cost < 4 || cost > 31)
		return -1;
	if (crypt_gensalt_rn("$2y$", cost, NULL, 0, salt, sizeof(salt)) ==
	        NULL &&
	    crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] == '$' && util_strlcpy(out, h, outsz) < outsz)
		rv = 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}

/* ---- registryd passwd ---- */

/*
 * Read one password line into buf. From a terminal, prompt on stderr
 * without echo; otherwise read a line of standard input. Returns its
 * length, or -1.
 */
static int
auth_read_password(char *buf, size_t size, const char *prompt)
{
	struct termios old, quiet;
	size_t len;
	int tty = isatty(STDIN_FILENO), restore = 0;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			quiet.c_lflag |= ICANON;
			if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
				restore = 1;
		}
	}
	if (fgets(buf, (int)size, stdin) == NULL)
		buf[0] = '\0';
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	len = strlen(buf);
	if (len > 0 && buf[len - 1] != '\n' && !feof(stdin))
		return -1; /* longer than the buffer */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return (int)len;
}

/*
 * auth_passwd_main: `registryd passwd [-C cost] USER`; argv[0] is the
 * subcommand. Reads the password (twice, without echo, from a terminal;
 * one line otherwise) and prints "USER:HASH" (bcrypt, cost 10 unless -C)
 * on stdout. Returns the exit status: 0, 1 on error, 2 on usage.
 */
int
auth_passwd_main(int argc, char *argv[])
{
	char pass[AUTH_PASS_MAX], again[AUTH_PASS_MAX], hash[AUTH_HASH_MAX];
	const char *user, *p;
	uint64_t cost = AUTH_DEFAULT_COST;
	int ch, len, rv = 1;

	optind = 1;
	while ((ch = getopt(argc, argv, "C:")) != -1) {
		switch (ch) {
		case 'C':
			if (util_strtou64(optarg, strlen(optarg), 31, &cost) ==
			        -1 ||
			    cost < 4) {
				fprintf(stderr,
				    "registryd passwd: -C: expected a bcrypt "
				    "cost from 4 to 31\n");
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	user = argv[optind];
	for (p = user; *p != '\0'; p++)
		if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (*user == '\0' || *p != '\0' || strlen(user) >= AUTH_USER_MAX) {
		fprintf(stderr,
		    "registryd passwd: a user name is 1 to %d bytes, without "
		    "':' or control characters\n",
		    AUTH_USER_MAX - 1);
		return 1;
	}
	if ((len = auth_read_password(pass, sizeof(pass), "Password: ")) ==
	    -1) {
		fprintf(stderr, "registryd passwd: password too long\n");
		goto done;
	}
	if (len == 0) {
		fprintf(stderr, "registryd passwd: empty password\n");
		goto done;
	}
	if (isatty(STDIN_FILENO)) {
		if (auth_read_password(again, sizeof(again),
		        "Retype password: ") == -1 ||
		    strcmp(pass, again) != 0) {
			fprintf(stderr,
			    "registryd passwd: passwords do not match\n");
			goto done;
		}
	}
	if (len > 72)
		fprintf(stderr,
		    "registryd passwd: warning: bcrypt uses only the first "
		    "72 bytes of the password\n");
	if (auth_hash_password(pass, (int)cost, hash, sizeof(hash)) == -1) {
		fprintf(stderr, "registryd passwd: cannot hash the password\n");
		goto done;
	}
	printf("%s:%s\n", user, hash);
	rv = fflush(stdout) == 0 ? 0 : 1;
done:
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(again, sizeof(again));
	explicit_bzero(hash, sizeof(hash));
	return rv;
usage:
	fprintf(stderr, "usage: registryd passwd [-C cost] user\n");
	return 2;
}
