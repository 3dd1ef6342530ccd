/*
 * store_s3.c: the S3 storage driver (store_s3.h): registry:2's layout as
 * the keys of one bucket, so that registry:2's own s3 driver and
 * registryd serve each other's data:
 *
 *   <root>/docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data
 *   repositories/<name>/_layers/sha256/<hex>/link
 *   repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *   repositories/<name>/_manifests/tags/<tag>/current/link
 *   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
 *   repositories/<name>/_uploads/<uuid>/startedat
 *
 * plus what is registryd's own (registry:2 walks past every component
 * starting with '_' it does not know):
 *
 *   repositories/<name>/_registryd/referrers/subjects/sha256/<hex>/<hex>
 *   repositories/<name>/_registryd/referrers/indexed/sha256/<hex>
 *   repositories/<name>/_uploads/<uuid>/_registryd/{state,tail,part-<n>}
 *   blobs/sha256/<hex[0:2]>/<hex>/_registryd-used
 *   blobs/sha256/<hex[0:2]>/<hex>/_registryd-doomed-<uuid>
 *
 * The last two are online garbage collection's (store.h): the blob's
 * "used" mark (S3 cannot change an object's time without copying it, and
 * a self-copy of a 1 GiB layer to say "used" is no option; an empty
 * object beside the data is), and the mark of a collection, on any
 * instance, deciding whether to remove it. registry:2's blob enumeration
 * looks for "data" and its sweep deletes the blob's whole prefix, marks
 * included.
 *
 * The requests and listings are store_s3_req.c's, the walk (fsck,
 * garbage collection) store_s3_walk.c's, upload sessions
 * store_s3_upload.c's; store_s3_impl.h is what they share.
 *
 * Everything goes through s3.c, whose requests run on the event loop.
 * The synchronous functions here run on store call workers and wait for
 * their requests (s3_perform); so_cheap is 0 for every kind so that the
 * loop never calls them. The loop-side calls are the blob reader (a
 * read-ahead filled by one streamed range GET, store_reader_set_wake)
 * and the upload writer's appends (store_s3_upload.c).
 *
 * S3 has no directories, so "exists" for a repository or a tag means
 * that some key lies under its prefix, and listings are ListObjectsV2
 * with a prefix and, for one level, the "/" delimiter.
 */

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "s3.h"
#include "store.h"
#include "store_driver.h"
#include "store_s3.h"
#include "store_s3_impl.h"
#include "util.h"

#define STORE_S3_V2        "docker/registry/v2/"
#define STORE_S3_REPO_TTL  5                 /* seconds, see s_repos */
#define STORE_S3_AHEAD     (4 * 1024 * 1024) /* read-ahead per reader */
#define STORE_S3_DEPTH_MAX (NAME_MAX_LEN / 2 + 1)
#define STORE_S3_RESTARTS  3 /* reader GETs cut short asked again */

/*
 * A blob reader. Pulled by the HTTP layer on the loop (with a wake
 * callback): one range GET streams from the first offset asked to the
 * end into r_ahead, paused while r_ahead holds STORE_S3_AHEAD bytes.
 * Without a wake callback (workers: store_blob_read), each read is a
 * range GET of its own that waits.
 */
struct store_s3_reader {
	struct store_reader r_base;
	char r_key[STORE_S3_KEY_MAX];
	uint64_t r_size;
	/* The loop side. */
	struct s3_request r_req;
	int r_active;             /* r_req is in flight */
	int r_paused;             /* s3_pause'd: r_ahead full */
	int r_closing;            /* closed while in flight: done frees */
	int r_err;                /* errno of a failed GET, until a new one */
	struct evbuffer *r_ahead; /* bytes from r_ahead_off on */
	uint64_t r_ahead_off;
	uint64_t r_first; /* where the GET in flight starts */
	int r_badrange;   /* its answer was not that range (R9) */
	void (*r_wake)(void *);
	void *r_wake_arg;
	struct event *r_wake_ev; /* runs r_wake from the loop */
	int r_restarts;          /* GETs asked again after a cut */
	char r_range[64];        /* r_hdr's value */
	struct s3_header r_hdr[2];
};

static void store_s3_close(struct store *);
static int store_s3_cheap(enum store_call_kind);
static void *store_s3_thread(void *);
static void store_s3_keepalive_cb(evutil_socket_t, short, void *);
static int store_s3_test_timeout(void);
static time_t store_s3_test_mpu_age(void);
static int
store_s3_link_read(struct store_s3 *, const char *, char[DIGEST_BUFSZ]);
static int store_s3_link_key(struct store_s3 *, const char *, enum store_link,
    const char *, const char *, char *, size_t);
static int
store_s3_hexdirs(struct store_s3 *, const char *, int, struct store_list *);
static void store_s3_reader_done(struct s3_request *, void *);
static int
store_s3_reader_sink(struct s3_request *, const void *, size_t, void *);
static void store_s3_reader_wake_cb(evutil_socket_t, short, void *);
static void store_s3_reader_free(struct store_s3_reader *);

static const struct store_ops store_s3_ops;

/* ---- the store ---- */

/*
 * For the test suite only, not a setting (no config key, no man page):
 * REGISTRYD_TEST_S3_TIMEOUT_MS, the S3 client's timeout (s3.h:
 * timeout_ms, 30 s by default), so that t9910 shows a slow part that
 * outlasts it and a stalled one in seconds rather than minutes. 0 (the
 * client's default) when unset or not 100..30000. Logged at warn when
 * set, taken or not: it is never meant for a server in production.
 */
static int
store_s3_test_timeout(void)
{
	const char *v = getenv("REGISTRYD_TEST_S3_TIMEOUT_MS");
	uint64_t ms;

	if (v == NULL)
		return 0;
	/* Said either way: someone set it on a server, by mistake. */
	if (util_strtou64(v, strlen(v), 30000, &ms) == -1 || ms < 100) {
		log_warnx("s3: REGISTRYD_TEST_S3_TIMEOUT_MS (for tests only) "
		          "is not 100..30000: ignored");
		return 0;
	}
	log_warnx("s3: REGISTRYD_TEST_S3_TIMEOUT_MS=%llu (for tests only)",
	    (unsigned long long)ms);
	return (int)ms;
}

/*
 * For the test suite only, like the above: REGISTRYD_TEST_S3_MPU_AGE,
 * seconds, the age from which the purge aborts a multipart upload left
 * behind (STORE_S3_MPU_AGE otherwise), so that t9910 sees one aborted
 * without waiting a day. STORE_S3_MPU_AGE when unset or over it;
 * logged at warn when set, like the above.
 */
static time_t
store_s3_test_mpu_age(void)
{
	const char *v = getenv("REGISTRYD_TEST_S3_MPU_AGE");
	uint64_t sec;

	if (v == NULL)
		return STORE_S3_MPU_AGE;
	if (util_strtou64(v, strlen(v), STORE_S3_MPU_AGE, &sec) == -1) {
		log_warnx("s3: REGISTRYD_TEST_S3_MPU_AGE (for tests only) is "
		          "not 0..%d seconds: ignored",
		    STORE_S3_MPU_AGE);
		return STORE_S3_MPU_AGE;
	}
	log_warnx("s3: REGISTRYD_TEST_S3_MPU_AGE=%llu (for tests only)",
	    (unsigned long long)sec);
	return (time_t)sec;
}

struct store *
store_s3_open(struct event_base *base, const struct store_s3_config *cfg,
    char *err, size_t errlen)
{
	struct store_s3 *s;
	struct s3_config *sc;
	const char *root = cfg->sc_root != NULL ? cfg->sc_root : "";
	size_t rlen;
	struct timeval tv = {0, 50 * 1000};

	if (cfg->sc_bucket == NULL || strlen(cfg->sc_bucket) < 3 ||
	    strlen(cfg->sc_bucket) >= sizeof(s->s_bucket)) {
		snprintf(err, errlen, "bucket: 3 to 63 characters");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->s_base.s_ops = &store_s3_ops;
	pthread_mutex_init(&s->s_lock, NULL);
	pthread_cond_init(&s->s_ready, NULL);
	(void)util_strlcpy(s->s_bucket, cfg->sc_bucket, sizeof(s->s_bucket));
	s->s_mpu_age = store_s3_test_mpu_age();
	s->s_chunk = cfg->sc_chunk_size;
	if (s->s_chunk < STORE_S3_CHUNK_MIN)
		s->s_chunk = STORE_S3_CHUNK_MIN;
	/* registry:2: TrimLeft(TrimRight(root, "/") + "/docker/...", "/") */
	while (*root == '/')
		root++;
	rlen = strlen(root);
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	if (snprintf(s->s_prefix, sizeof(s->s_prefix), "%.*s%s%s", (int)rlen,
	        root, rlen > 0 ? "/" : "",
	        STORE_S3_V2) >= (int)sizeof(s->s_prefix)) {
		snprintf(err, errlen, "rootdirectory: too long");
		goto fail;
	}
	(void)snprintf(s->s_base.s_describe, sizeof(s->s_base.s_describe),
	    "s3 %s/%.*s", s->s_bucket, (int)rlen, root);
	if (base == NULL) {
		/* The subcommands: a loop of our own, on a thread. */
		if ((s->s_own_base = event_base_new()) == NULL ||
		    (s->s_keepalive = event_new(s->s_own_base, -1, EV_PERSIST,
		         store_s3_keepalive_cb, s)) == NULL ||
		    event_add(s->s_keepalive, &tv) == -1) {
			snprintf(err, errlen, "cannot make an event loop");
			goto fail;
		}
		base = s->s_own_base;
	}
	s->s_evbase = base;
	sc = &s->s_cfg;
	memset(sc, 0, sizeof(*sc));
	sc->endpoint = cfg->sc_endpoint != NULL && cfg->sc_endpoint[0] != '\0'
	    ? cfg->sc_endpoint
	    : NULL;
	sc->region = cfg->sc_region;
	sc->bucket = cfg->sc_bucket;
	sc->access_key = cfg->sc_access_key;
	sc->secret_key = cfg->sc_secret_key;
	sc->path_style = cfg->sc_path_style;
	sc->secure = cfg->sc_secure;
	sc->ca_file = cfg->sc_ca_file;
	sc->timeout_ms = store_s3_test_timeout();
	if (s->s_own_base == NULL)
		s->s_s3 = s3_new(base, sc);
	else {
		/*
		 * s3_new on the thread that runs the loop: s3_perform tells
		 * the loop's thread from the others by it.
		 */
		pthread_mutex_lock(&s->s_lock);
		if (pthread_create(&s->s_thread, NULL, store_s3_thread, s) !=
		    0) {
			pthread_mutex_unlock(&s->s_lock);
			snprintf(err, errlen, "cannot start the S3 thread");
			goto fail;
		}
		s->s_thread_started = 1;
		while (!s->s_thread_ready)
			pthread_cond_wait(&s->s_ready, &s->s_lock);
		pthread_mutex_unlock(&s->s_lock);
	}
	memset(sc, 0, sizeof(*sc)); /* the client has its copies */
	if (s->s_s3 == NULL) {
		snprintf(err, errlen, "S3 client: %s",
		    strerror(s->s_new_errno != 0 ? s->s_new_errno : errno));
		goto fail;
	}
	return &s->s_base;
fail:
	store_s3_close(&s->s_base);
	return NULL;
}

/*
 * The loop of the subcommands' store: it makes the client, runs until
 * store_s3_close breaks it, and frees the client, all on this thread.
 */
static void *
store_s3_thread(void *arg)
{
	struct store_s3 *s = arg;

	pthread_mutex_lock(&s->s_lock);
	s->s_s3 = s3_new(s->s_own_base, &s->s_cfg);
	s->s_new_errno = errno;
	s->s_thread_ready = 1;
	pthread_cond_signal(&s->s_ready);
	pthread_mutex_unlock(&s->s_lock);
	if (s->s_s3 == NULL)
		return NULL;
	(void)event_base_dispatch(s->s_own_base);
	s3_free(s->s_s3);
	s->s_s3 = NULL;
	return NULL;
}

/*
 * The own loop's timer: it keeps the loop dispatching, and ends it when
 * store_s3_close asks (libevent here is not set up for threads, so
 * another thread cannot break the loop itself).
 */
static void
store_s3_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_s3 *s = arg;

	(void)fd;
	(void)what;
	if (__atomic_load_n(&s->s_stop, __ATOMIC_ACQUIRE))
		(void)event_base_loopbreak(s->s_own_base);
}

static void
store_s3_close(struct store *st)
{
	struct store_s3 *s = (struct store_s3 *)st;

	if (s->s_thread_started) {
		__atomic_store_n(&s->s_stop, 1, __ATOMIC_RELEASE);
		(void)pthread_join(s->s_thread, NULL);
	}
	pthread_cond_destroy(&s->s_ready);
	if (s->s_s3 != NULL)
		s3_free(s->s_s3);
	if (s->s_keepalive != NULL)
		event_free(s->s_keepalive);
	if (s->s_own_base != NULL)
		event_base_free(s->s_own_base);
	store_list_free(s->s_repos.sl_v, s->s_repos.sl_n);
	pthread_mutex_destroy(&s->s_lock);
	free(s);
}

/* Every call waits on the network: none may run on the loop. */
static int
store_s3_cheap(enum store_call_kind kind)
{
	(void)kind;
	return 0;
}

void
store_s3_repos_changed(struct store_s3 *s)
{
	pthread_mutex_lock(&s->s_lock);
	s->s_repos_at = 0;
	s->s_repos_gen++;
	pthread_mutex_unlock(&s->s_lock);
}

/* ---- keys ---- */

int
store_s3_blob_key(struct store_s3 *s, const char *digest, const char *suffix,
    char *buf, size_t size)
{
	const char *hex = digest_hex(digest);

	return store_s3_key(s, buf, size, "blobs/sha256/%.2s/%s%s", hex, hex,
	    suffix);
}

static int
store_s3_link_key(struct store_s3 *s, const char *name, enum store_link kind,
    const char *digest, const char *suffix, char *buf, size_t size)
{
	const char *hex = digest_hex(digest);

	switch (kind) {
	case STORE_LINK_LAYER:
		return store_s3_key(s, buf, size,
		    "repositories/%s/_layers/sha256/%s%s", name, hex, suffix);
	case STORE_LINK_REVISION:
		return store_s3_key(s, buf, size,
		    "repositories/%s/_manifests/revisions/sha256/%s%s", name,
		    hex, suffix);
	}
	errno = EINVAL;
	return -1;
}

/*
 * store_s3_link_read: the digest in a link object, exactly
 * "sha256:<64 hex>" as distribution writes it; anything else counts as
 * absent (ENOENT), with a warning.
 */
static int
store_s3_link_read(struct store_s3 *s, const char *key,
    char digest[DIGEST_BUFSZ])
{
	char *buf;
	size_t len;

	if (store_s3_get(s, key, 0, 0, STORE_S3_LINK_MAX, &buf, &len) == -1) {
		if (errno == EFBIG) {
			log_warnx("%s: %s: invalid link content", __func__,
			    key);
			errno = ENOENT;
		}
		return -1;
	}
	if (!digest_is_valid(buf, len)) {
		log_warnx("%s: %s: invalid link content", __func__, key);
		free(buf);
		errno = ENOENT;
		return -1;
	}
	memcpy(digest, buf, len);
	digest[len] = '\0';
	free(buf);
	return 0;
}

/* ---- blobs ---- */

static int
store_s3_blob_stat(struct store *st, const char *digest, uint64_t *size)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	return store_s3_head(s, key, size, NULL);
}

static struct store_reader *
store_s3_blob_open(struct store *st, const char *digest, uint64_t *size)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_s3_reader *r;
	char key[STORE_S3_KEY_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return NULL;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1 ||
	    store_s3_head(s, key, size, NULL) == -1)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_base.sr_store = st;
	(void)util_strlcpy(r->r_key, key, sizeof(r->r_key));
	r->r_size = *size;
	return &r->r_base;
}

static void
store_s3_reader_set_wake(struct store_reader *sr, void (*fn)(void *), void *arg)
{
	struct store_s3_reader *r = (struct store_s3_reader *)sr;
	struct store_s3 *s = (struct store_s3 *)sr->sr_store;

	if (r->r_wake_ev == NULL && fn != NULL)
		r->r_wake_ev =
		    event_new(s->s_evbase, -1, 0, store_s3_reader_wake_cb, r);
	r->r_wake = fn;
	r->r_wake_arg = arg;
}

static void
store_s3_reader_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_s3_reader *r = arg;

	(void)fd;
	(void)what;
	if (r->r_wake != NULL)
		r->r_wake(r->r_wake_arg);
}

/* Wake the reader's puller from the loop, not from inside s3.c. */
static void
store_s3_reader_kick(struct store_s3_reader *r)
{
	if (r->r_wake_ev != NULL &&
	    !event_pending(r->r_wake_ev, EV_TIMEOUT, NULL))
		event_active(r->r_wake_ev, EV_TIMEOUT, 1);
}

static int
store_s3_reader_sink(struct s3_request *rq, const void *buf, size_t len,
    void *arg)
{
	struct store_s3_reader *r = arg;

	/* Bytes from elsewhere than asked must not be served as those. */
	if (rq->rs_received == 0 && !store_s3_range_ok(rq, r->r_first)) {
		r->r_badrange = 1;
		return -1;
	}
	if (evbuffer_add(r->r_ahead, buf, len) == -1)
		return -1;
	if (evbuffer_get_length(r->r_ahead) >= STORE_S3_AHEAD && !r->r_paused) {
		r->r_paused = 1;
		s3_pause(rq);
	}
	store_s3_reader_kick(r);
	return 0;
}

static void
store_s3_reader_done(struct s3_request *rq, void *arg)
{
	struct store_s3_reader *r = arg;

	r->r_active = 0;
	r->r_paused = 0;
	if (r->r_closing) {
		s3_request_reset(rq);
		store_s3_reader_free(r);
		return;
	}
	if (r->r_badrange ||
	    (rq->rs_errno == 0 && !store_s3_range_ok(rq, r->r_first))) {
		r->r_err = EIO;
		log_warnx("%s: GET %s from %llu: %ld, not that range", __func__,
		    r->r_key, (unsigned long long)r->r_first, rq->rs_status);
		r->r_badrange = 0;
	} else if (rq->rs_errno != 0 && rq->rs_received > 0 &&
	    r->r_restarts++ < STORE_S3_RESTARTS) {
		/* Cut off mid-body: the next read asks again from there. */
		log_info("%s: GET %s cut short: %s; asking again", __func__,
		    r->r_key, strerror(rq->rs_errno));
	} else if ((rq->rs_status != 200 && rq->rs_status != 206) ||
	    rq->rs_errno != 0) {
		r->r_err =
		    store_s3_errno(rq->rs_status, rq->rs_code, rq->rs_errno);
		log_warnx("%s: GET %s: %ld %s: %s", __func__, r->r_key,
		    rq->rs_status, rq->rs_code, strerror(r->r_err));
	}
	s3_request_reset(rq);
	store_s3_reader_kick(r);
}

/*
 * The loop side of store_reader_read: serve from the read-ahead, or start
 * the GET that fills it and say EAGAIN. The HTTP layer reads in order,
 * so one GET from the first offset to the end serves the whole body.
 */
static ssize_t
store_s3_reader_async(struct store_s3_reader *r, void *buf, size_t len,
    uint64_t off)
{
	struct store_s3 *s = (struct store_s3 *)r->r_base.sr_store;
	size_t avail = r->r_ahead != NULL ? evbuffer_get_length(r->r_ahead) : 0;
	int n;

	if (avail > 0 && off == r->r_ahead_off) {
		n = evbuffer_remove(r->r_ahead, buf, len);
		if (n < 0) {
			errno = EIO;
			return -1;
		}
		r->r_ahead_off += (uint64_t)n;
		if (r->r_paused && r->r_active &&
		    evbuffer_get_length(r->r_ahead) < STORE_S3_AHEAD / 2) {
			r->r_paused = 0;
			s3_resume(&r->r_req);
		}
		return n;
	}
	if (r->r_active) {
		if (off == r->r_ahead_off + avail) {
			errno = EAGAIN;
			return -1;
		}
		/* Not in order: the HTTP layer never does that. */
		errno = EIO;
		return -1;
	}
	if (r->r_err != 0) {
		/*
		 * EAGAIN means "a GET is under way, wait for the wake" to
		 * the HTTP layer; none is, so a store that kept answering
		 * 5xx or 429 ends the body like any other failure (R0).
		 */
		errno = r->r_err == EAGAIN ? EIO : r->r_err;
		r->r_err = 0; /* a new read starts afresh */
		return -1;
	}
	if (r->r_ahead == NULL && (r->r_ahead = evbuffer_new()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	(void)evbuffer_drain(r->r_ahead, evbuffer_get_length(r->r_ahead));
	(void)snprintf(r->r_range, sizeof(r->r_range), "bytes=%llu-%llu",
	    (unsigned long long)off, (unsigned long long)(r->r_size - 1));
	r->r_hdr[0].sh_name = "Range";
	r->r_hdr[0].sh_value = r->r_range;
	r->r_hdr[1].sh_name = NULL;
	store_s3_req(&r->r_req, "GET", r->r_key, NULL);
	r->r_req.rq_headers = r->r_hdr;
	r->r_req.rq_sink = store_s3_reader_sink;
	r->r_req.rq_sink_arg = r;
	r->r_ahead_off = off;
	r->r_first = off;
	if (s3_start(s->s_s3, &r->r_req, store_s3_reader_done, r) == -1) {
		errno = store_s3_errno(0, NULL, errno);
		if (errno == EAGAIN) /* no GET in flight, no wake */
			errno = EIO;
		return -1;
	}
	r->r_active = 1;
	errno = EAGAIN;
	return -1;
}

static ssize_t
store_s3_reader_read(struct store_reader *sr, void *buf, size_t len,
    uint64_t off)
{
	struct store_s3_reader *r = (struct store_s3_reader *)sr;
	struct store_s3 *s = (struct store_s3 *)sr->sr_store;
	char *p;
	size_t got;

	if (off >= r->r_size || len == 0)
		return 0;
	if (len > r->r_size - off)
		len = (size_t)(r->r_size - off);
	if (r->r_wake != NULL)
		return store_s3_reader_async(r, buf, len, off);
	if (store_s3_get(s, r->r_key, off, len, len, &p, &got) == -1)
		return -1;
	memcpy(buf, p, got);
	free(p);
	return (ssize_t)got;
}

static void
store_s3_reader_free(struct store_s3_reader *r)
{
	if (r->r_wake_ev != NULL)
		event_free(r->r_wake_ev);
	if (r->r_ahead != NULL)
		evbuffer_free(r->r_ahead);
	free(r);
}

static void
store_s3_reader_close(struct store_reader *sr)
{
	struct store_s3_reader *r = (struct store_s3_reader *)sr;
	struct store_s3 *s = (struct store_s3 *)sr->sr_store;

	r->r_wake = NULL;
	if (r->r_wake_ev != NULL) {
		event_free(r->r_wake_ev);
		r->r_wake_ev = NULL;
	}
	if (r->r_active) {
		/* The done callback frees it, now or later. */
		r->r_closing = 1;
		s3_cancel(s->s_s3, &r->r_req);
		return;
	}
	store_s3_reader_free(r);
}

/* store_s3_blob_url: a presigned GET of the blob's data object. */
static char *
store_s3_blob_url(struct store *st, const char *digest, int expires)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return NULL;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return NULL;
	return s3_presign(s->s_s3, "GET", key, expires);
}

/*
 * store_s3_blob_write: content-addressed: an existing blob is left alone
 * (and counts as used); else one PUT, which S3 makes visible whole.
 */
static int
store_s3_blob_write(struct store *st, const char *digest, const void *buf,
    size_t len)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	return store_s3_put(s, key, buf, len);
}

/* store_s3_blob_delete: every key of the blob's prefix; ENOENT if none. */
static int
store_s3_blob_delete(struct store *st, const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];
	const char *hex;
	size_t n;
	int found = 0;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * The data first, the marks after it: a push asks whether the blob
	 * is doomed before whether it exists (api_manifests.c), so one that
	 * finds no mark here finds no data either (store.h); the prefix
	 * lists "_" before "data".
	 */
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == 0) {
		if (store_s3_delete(s, key) == -1)
			return -1;
		found = 1;
	} else if (errno != ENOENT)
		return -1;
	hex = digest_hex(digest);
	if (snprintf(key, sizeof(key), "blobs/sha256/%.2s/%s/", hex, hex) >=
	    (int)sizeof(key)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_delete_prefix(s, key, &n) == -1)
		return -1;
	if (n == 0 && !found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* ---- links ---- */

static int
store_s3_link_exists(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX], got[DIGEST_BUFSZ];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_link_key(s, name, kind, digest, "/link", key,
	        sizeof(key)) == -1)
		return -1;
	if (store_s3_link_read(s, key, got) == -1)
		return errno == ENOENT ? 0 : -1;
	if (strcmp(got, digest) != 0) {
		log_warnx("%s: %s: names %s", __func__, key, got);
		return 0;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == -1)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

/*
 * store_s3_link_put: write the link (one PUT: atomic, and durable when S3
 * says 200), then mark the blob used when it exists.
 */
int
store_s3_link_put(struct store_s3 *s, const char *name, enum store_link kind,
    const char *digest)
{
	char key[STORE_S3_KEY_MAX];

	if (store_s3_link_key(s, name, kind, digest, "/link", key,
	        sizeof(key)) == -1 ||
	    store_s3_put(s, key, digest, strlen(digest)) == -1)
		return -1;
	if (kind == STORE_LINK_REVISION)
		store_s3_repos_changed(s);
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == -1)
		return errno == ENOENT ? 0 : -1;
	if (store_s3_blob_key(s, digest, "/" STORE_S3_USED, key, sizeof(key)) ==
	    -1)
		return -1;
	return store_s3_put(s, key, "", 0);
}

static int
store_s3_link_write(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	return store_s3_link_put((struct store_s3 *)st, name, kind, digest);
}

static int
store_s3_link_delete(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_link_key(s, name, kind, digest, "/link", key,
	        sizeof(key)) == -1 ||
	    store_s3_head(s, key, NULL, NULL) == -1 ||
	    store_s3_delete(s, key) == -1)
		return -1;
	return 0;
}

struct store_s3_hex {
	struct store_list *h_list;
	size_t h_skip;      /* bytes of the listed prefix */
	const char *h_tail; /* what must follow the hex ("/link"), or "" */
};

static int
store_s3_hex_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_hex *h = arg;
	char digest[DIGEST_BUFSZ];
	const char *rest;
	size_t len;

	if (strlen(o->so_key) < h->h_skip)
		return 0;
	rest = o->so_key + h->h_skip;
	len = strlen(rest);
	if (o->so_is_prefix) {
		if (len == 0 || rest[len - 1] != '/')
			return 0;
		len--;
	} else {
		if (len < strlen(h->h_tail) ||
		    strcmp(rest + len - strlen(h->h_tail), h->h_tail) != 0)
			return 0;
		len -= strlen(h->h_tail);
	}
	if (len + 8 > sizeof(digest))
		return 0;
	memcpy(digest, "sha256:", 7);
	memcpy(digest + 7, rest, len);
	digest[7 + len] = '\0';
	if (!store_digest_ok(digest))
		return 0;
	return store_list_add(h->h_list, digest);
}

/*
 * store_s3_hexdirs: the digests named by the keys under prefix: with
 * dirs, the "<hex>/" levels (one delimited listing), else the objects
 * "<hex>" themselves. Sorted.
 */
static int
store_s3_hexdirs(struct store_s3 *s, const char *prefix, int dirs,
    struct store_list *l)
{
	struct store_s3_hex h = {l, strlen(prefix), ""};

	if (store_s3_list(s, prefix, 1, store_s3_hex_cb, &h) == -1)
		return -1;
	(void)dirs;
	store_list_sort(l, 0);
	return 0;
}

/*
 * store_s3_link_list: the links of that kind in name: every
 * "<hex>/link" key under the kind's prefix (one listing; the links are
 * not read, so one naming something else would count: registry:2 never
 * writes those).
 */
static int
store_s3_link_list(struct store *st, const char *name, enum store_link kind,
    char ***digests, size_t *n)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list l = {NULL, 0, 0};
	char prefix[STORE_S3_KEY_MAX];
	struct store_s3_hex h;
	int saved;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(prefix, sizeof(prefix), "repositories/%s/%s/", name,
	        kind == STORE_LINK_LAYER
	            ? "_layers/sha256"
	            : "_manifests/revisions/sha256") >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	h.h_list = &l;
	h.h_skip = strlen(prefix);
	h.h_tail = "/link";
	if (store_s3_list(s, prefix, 0, store_s3_hex_cb, &h) == -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	store_list_sort(&l, 0);
	*digests = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* ---- tags ---- */

static int
store_s3_tag_get(struct store *st, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ])
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_key(s, key, sizeof(key),
	        "repositories/%s/_manifests/tags/%s/current/link", name,
	        tag) == -1)
		return -1;
	return store_s3_link_read(s, key, digest);
}

/* store_s3_tag_set: the index entry first, then current (tagStore.Tag). */
static int
store_s3_tag_set(struct store *st, const char *name, const char *tag,
    const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_name_ok(name) || !store_tag_ok(tag) ||
	    !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_key(s, key, sizeof(key),
	        "repositories/%s/_manifests/tags/%s/index/sha256/%s/link", name,
	        tag, digest_hex(digest)) == -1 ||
	    store_s3_put(s, key, digest, strlen(digest)) == -1 ||
	    store_s3_key(s, key, sizeof(key),
	        "repositories/%s/_manifests/tags/%s/current/link", name,
	        tag) == -1 ||
	    store_s3_put(s, key, digest, strlen(digest)) == -1)
		return -1;
	store_s3_repos_changed(s);
	return 0;
}

static int
store_s3_tag_delete(struct store *st, const char *name, const char *tag)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char prefix[STORE_S3_KEY_MAX];
	size_t n;

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(prefix, sizeof(prefix),
	        "repositories/%s/_manifests/tags/%s/", name,
	        tag) >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_delete_prefix(s, prefix, &n) == -1)
		return -1;
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

struct store_s3_tags {
	struct store_list *t_list;
	size_t t_skip;
};

static int
store_s3_tags_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_tags *t = arg;
	char tag[TAG_MAX_LEN + 2];
	size_t len;

	if (!o->so_is_prefix || strlen(o->so_key) <= t->t_skip)
		return 0;
	len = strlen(o->so_key) - t->t_skip;
	if (len < 2 || len > TAG_MAX_LEN + 1)
		return 0;
	memcpy(tag, o->so_key + t->t_skip, len - 1);
	tag[len - 1] = '\0';
	if (!store_tag_ok(tag))
		return 0;
	return store_list_add(t->t_list, tag);
}

/*
 * store_s3_tag_list: the "<tag>/" levels under _manifests/tags/ (one
 * delimited listing, as registry:2 lists them). ENOENT when the
 * repository has no _manifests at all.
 */
static int
store_s3_tag_list(struct store *st, const char *name, char ***tags, size_t *n)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list l = {NULL, 0, 0};
	struct store_s3_tags t;
	char prefix[STORE_S3_KEY_MAX];
	int saved, r;

	*tags = NULL;
	*n = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(prefix, sizeof(prefix), "repositories/%s/_manifests/tags/",
	        name) >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	t.t_list = &l;
	t.t_skip = strlen(prefix);
	if (store_s3_list(s, prefix, 1, store_s3_tags_cb, &t) == -1)
		goto fail;
	if (l.sl_n == 0) {
		if (snprintf(prefix, sizeof(prefix),
		        "repositories/%s/_manifests/",
		        name) >= (int)sizeof(prefix)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if ((r = store_s3_any(s, prefix)) == -1)
			goto fail;
		if (r == 0) {
			errno = ENOENT;
			goto fail;
		}
	}
	store_list_sort(&l, 0);
	*tags = l.sl_v;
	*n = l.sl_n;
	return 0;
fail:
	saved = errno;
	store_list_free(l.sl_v, l.sl_n);
	errno = saved;
	return -1;
}

/* ---- repositories ---- */

static int
store_s3_repo_exists(struct store *st, const char *name)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char prefix[STORE_S3_KEY_MAX];

	if (!store_name_ok(name) ||
	    snprintf(prefix, sizeof(prefix), "repositories/%s/_manifests/",
	        name) >= (int)sizeof(prefix))
		return 0;
	return store_s3_any(s, prefix) == 1;
}

/*
 * One level of the repository walk: its children, whether a repository,
 * whether it has upload sessions.
 */
struct store_s3_level {
	struct store_list l_children; /* "repositories/a/b/" */
	int l_is_repo;
	int l_has_uploads;
	size_t l_skip;
};

static int
store_s3_level_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_level *lv = arg;
	const char *rest;

	if (!o->so_is_prefix || strlen(o->so_key) <= lv->l_skip)
		return 0;
	rest = o->so_key + lv->l_skip;
	if (strcmp(rest, "_manifests/") == 0) {
		lv->l_is_repo = 1;
		return 0;
	}
	if (strcmp(rest, "_uploads/") == 0) {
		lv->l_has_uploads = 1;
		return 0;
	}
	if (rest[0] == '_' || rest[0] == '.')
		return 0;
	return store_list_add(&lv->l_children, o->so_key);
}

/*
 * Walk prefix ("repositories/" or a repository's "repositories/a/"): the
 * names of repositories (with _manifests/) into repos, and with uploads
 * not NULL the "repositories/<name>/_uploads/" prefixes (a name with
 * sessions but no manifest yet included: a first push that failed).
 */
static int
store_s3_repo_walk(struct store_s3 *s, const char *prefix, int depth,
    struct store_list *repos, struct store_list *uploads)
{
	struct store_s3_level lv;
	char name[NAME_MAX_LEN + 2], dir[STORE_S3_KEY_MAX];
	size_t i, top = strlen("repositories/"), len;
	int rv = -1, saved, ok;

	memset(&lv, 0, sizeof(lv));
	lv.l_skip = strlen(prefix);
	if (store_s3_list_walk(s, prefix, 1, store_s3_level_cb, &lv) == -1)
		goto done;
	len = strlen(prefix);
	if ((lv.l_is_repo || lv.l_has_uploads) && len > top + 1 &&
	    len - top - 1 <= NAME_MAX_LEN) {
		memcpy(name, prefix + top, len - top - 1);
		name[len - top - 1] = '\0';
		ok = store_name_ok(name);
		if (ok && lv.l_is_repo && store_list_add(repos, name) == -1)
			goto done;
		if (ok && lv.l_has_uploads && uploads != NULL &&
		    (snprintf(dir, sizeof(dir), "%s_uploads/", prefix) >=
		            (int)sizeof(dir) ||
		        store_list_add(uploads, dir) == -1))
			goto done;
	}
	for (i = 0; i < lv.l_children.sl_n && depth < STORE_S3_DEPTH_MAX; i++)
		if (store_s3_repo_walk(s, lv.l_children.sl_v[i], depth + 1,
		        repos, uploads) == -1)
			goto done;
	rv = 0;
done:
	saved = errno;
	store_list_free(lv.l_children.sl_v, lv.l_children.sl_n);
	errno = saved;
	return rv;
}

int
store_s3_upload_dirs(struct store_s3 *s, struct store_list *uploads)
{
	struct store_list repos = {NULL, 0, 0};
	int rv, saved;

	rv = store_s3_repo_walk(s, "repositories/", 0, &repos, uploads);
	saved = errno;
	store_list_free(repos.sl_v, repos.sl_n);
	errno = saved;
	return rv;
}

/*
 * store_s3_repo_list: every repository: a walk of repositories/ one
 * delimited listing per level, like registry:2's catalog, not a listing
 * of every object; kept for STORE_S3_REPO_TTL seconds.
 */
static int
store_s3_repo_list(struct store *st, char ***names, size_t *n)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list l = {NULL, 0, 0}, c;
	time_t now = (time_t)(util_now_ms() / 1000) + 1;
	uint64_t gen;
	int saved;

	*names = NULL;
	*n = 0;
	pthread_mutex_lock(&s->s_lock);
	if (s->s_repos_at != 0 && now - s->s_repos_at < STORE_S3_REPO_TTL) {
		saved = store_list_copy(&s->s_repos, &c);
		pthread_mutex_unlock(&s->s_lock);
		if (saved == -1)
			return -1;
		*names = c.sl_v;
		*n = c.sl_n;
		return 0;
	}
	gen = s->s_repos_gen;
	pthread_mutex_unlock(&s->s_lock);
	if (store_s3_repo_walk(s, "repositories/", 0, &l, NULL) == -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	store_list_sort(&l, 1);
	pthread_mutex_lock(&s->s_lock);
	if (gen == s->s_repos_gen) {
		/* Nothing written since the walk began: keep the list. */
		store_list_free(s->s_repos.sl_v, s->s_repos.sl_n);
		s->s_repos_at = 0;
		if (store_list_copy(&l, &s->s_repos) == 0)
			s->s_repos_at = now;
		else
			memset(&s->s_repos, 0, sizeof(s->s_repos));
	}
	pthread_mutex_unlock(&s->s_lock);
	*names = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* ---- the referrers index (store_fs.c explains it) ---- */

static int
store_s3_referrer_key(struct store_s3 *s, const char *name, const char *subject,
    const char *digest, char *buf, size_t size)
{
	if (subject != NULL)
		return store_s3_key(s, buf, size,
		    "repositories/%s/_registryd/referrers/subjects/sha256/%s/"
		    "%s",
		    name, digest_hex(subject), digest_hex(digest));
	return store_s3_key(s, buf, size,
	    "repositories/%s/_registryd/referrers/indexed/sha256/%s", name,
	    digest_hex(digest));
}

/* Each entry and mark is one PUT: atomic and durable on S3 by itself. */
static int
store_s3_referrer_put(struct store *st, const char *name, const char *digest,
    const char *subject, const void *desc, size_t len, int flags)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	(void)flags;
	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	if (subject != NULL &&
	    (store_s3_referrer_key(s, name, subject, digest, key,
	         sizeof(key)) == -1 ||
	        store_s3_put(s, key, desc, len) == -1))
		return -1;
	if (store_s3_referrer_key(s, name, NULL, digest, key, sizeof(key)) ==
	        -1 ||
	    store_s3_put(s, key, "", 0) == -1)
		return -1;
	return 0;
}

static int
store_s3_referrer_get(struct store *st, const char *name, const char *subject,
    const char *digest, size_t max, char **desc, size_t *len)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	*desc = NULL;
	*len = 0;
	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_referrer_key(s, name, subject, digest, key, sizeof(key)) ==
	    -1)
		return -1;
	return store_s3_get(s, key, 0, 0, max, desc, len);
}

static int
store_s3_referrer_list(struct store *st, const char *name, const char *subject,
    char ***digests, size_t *n)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list l = {NULL, 0, 0};
	char prefix[STORE_S3_KEY_MAX];
	int saved;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name) || !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(prefix, sizeof(prefix),
	        "repositories/%s/_registryd/referrers/subjects/sha256/%s/",
	        name, digest_hex(subject)) >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_hexdirs(s, prefix, 0, &l) == -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	*digests = l.sl_v;
	*n = l.sl_n;
	return 0;
}

static int
store_s3_referrer_delete(struct store *st, const char *name,
    const char *subject, const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];
	int found = 0;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_referrer_key(s, name, NULL, digest, key, sizeof(key)) ==
	    -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == 0) {
		found = 1;
		if (store_s3_delete(s, key) == -1)
			return -1;
	} else if (errno != ENOENT)
		return -1;
	if (subject != NULL) {
		if (store_s3_referrer_key(s, name, subject, digest, key,
		        sizeof(key)) == -1)
			return -1;
		if (store_s3_head(s, key, NULL, NULL) == 0) {
			found = 1;
			if (store_s3_delete(s, key) == -1)
				return -1;
		} else if (errno != ENOENT)
			return -1;
	}
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int
store_s3_referrer_stale(struct store *st, const char *name, char ***add,
    size_t *nadd, char ***drop, size_t *ndrop)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list revs = {NULL, 0, 0}, marks = {NULL, 0, 0};
	struct store_list a = {NULL, 0, 0}, d = {NULL, 0, 0};
	char prefix[STORE_S3_KEY_MAX];
	size_t i = 0, j = 0;
	int c, rv = -1, saved;

	*add = *drop = NULL;
	*nadd = *ndrop = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(prefix, sizeof(prefix),
	        "repositories/%s/_manifests/revisions/sha256/",
	        name) >= (int)sizeof(prefix) ||
	    store_s3_hexdirs(s, prefix, 1, &revs) == -1)
		goto done;
	if (snprintf(prefix, sizeof(prefix),
	        "repositories/%s/_registryd/referrers/indexed/sha256/",
	        name) >= (int)sizeof(prefix) ||
	    store_s3_hexdirs(s, prefix, 0, &marks) == -1)
		goto done;
	while (i < revs.sl_n || j < marks.sl_n) {
		if (i == revs.sl_n)
			c = 1;
		else if (j == marks.sl_n)
			c = -1;
		else
			c = strcmp(revs.sl_v[i], marks.sl_v[j]);
		if (c < 0 && store_list_add(&a, revs.sl_v[i]) == -1)
			goto done;
		if (c > 0 && store_list_add(&d, marks.sl_v[j]) == -1)
			goto done;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	*add = a.sl_v;
	*nadd = a.sl_n;
	*drop = d.sl_v;
	*ndrop = d.sl_n;
	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	rv = 0;
done:
	saved = errno;
	store_list_free(revs.sl_v, revs.sl_n);
	store_list_free(marks.sl_v, marks.sl_n);
	store_list_free(a.sl_v, a.sl_n);
	store_list_free(d.sl_v, d.sl_n);
	errno = saved;
	return rv;
}

/* ---- when things were last used ---- */

static int
store_s3_blob_used(struct store *st, const char *digest, struct timespec *ts)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];
	time_t data, used = 0;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1 ||
	    store_s3_head(s, key, NULL, &data) == -1)
		return -1;
	if (store_s3_blob_key(s, digest, "/" STORE_S3_USED, key, sizeof(key)) ==
	    -1)
		return -1;
	if (store_s3_head(s, key, NULL, &used) == -1 && errno != ENOENT)
		return -1;
	ts->tv_sec = used > data ? used : data;
	ts->tv_nsec = 0;
	return 0;
}

static int
store_s3_link_used(struct store *st, const char *name, enum store_link kind,
    const char *digest, struct timespec *ts)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];
	time_t t;

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_link_key(s, name, kind, digest, "/link", key,
	        sizeof(key)) == -1 ||
	    store_s3_head(s, key, NULL, &t) == -1)
		return -1;
	ts->tv_sec = t;
	ts->tv_nsec = 0;
	return 0;
}

/*
 * store_s3_link_touch: rewrite the link (same bytes, new Last-Modified)
 * and the blob's used mark.
 */
static int
store_s3_link_touch(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_link_key(s, name, kind, digest, "/link", key,
	        sizeof(key)) == -1 ||
	    store_s3_head(s, key, NULL, NULL) == -1)
		return -1;
	if (store_s3_link_put(s, name, kind, digest) == -1)
		return -1;
	if (store_s3_blob_key(s, digest, "/data", key, sizeof(key)) == -1)
		return -1;
	return store_s3_head(s, key, NULL, NULL);
}

/* store_s3_blob_doom: the empty object _registryd-doomed-<id>, or not. */
static int
store_s3_blob_doom(struct store *st, const char *digest, const char *id, int on)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX],
	    tail[sizeof(STORE_S3_DOOMED) + UUID_LEN + 1];

	if (!store_digest_ok(digest) || !store_uuid_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(tail, sizeof(tail), "/%s%s", STORE_S3_DOOMED, id);
	if (store_s3_blob_key(s, digest, tail, key, sizeof(key)) == -1)
		return -1;
	return on ? store_s3_put(s, key, "", 0) : store_s3_delete(s, key);
}

/*
 * A doomed mark must outlive the sweep that made it, or a push on
 * another instance may find neither mark nor gap and reference a blob
 * about to go (store.h). From the mark's Last-Modified (at worst the
 * start of its PUT) to the data DELETE reaching the store: the doom PUT,
 * then at most STORE_DOOM_HOLD seconds (gc.c keeps the blob when more
 * passed since the PUT returned), then store_s3_blob_delete's HEAD and
 * DELETE of the data; each request ends within STORE_S3_DEADLINE_MS. A
 * longer deadline, a shorter TTL, or one more request before the DELETE
 * must not break this silently. (A DELETE whose deadline fired may still
 * be applied later by the store: no TTL covers that.)
 */
#define STORE_S3_DOOM_REQUESTS 3 /* doom PUT, data HEAD, data DELETE */
_Static_assert((long long)STORE_DOOM_TTL * 1000 >
        (long long)STORE_DOOM_HOLD * 1000 +
            (long long)STORE_S3_DOOM_REQUESTS * STORE_S3_DEADLINE_MS,
    "STORE_DOOM_TTL must exceed STORE_DOOM_HOLD plus the deadlines of "
    "the doom PUT and the data HEAD and DELETE");
/* 0 or less would remove every deadline (store_s3_impl.h). */
_Static_assert(STORE_S3_DEADLINE_MS > 0,
    "STORE_S3_DEADLINE_MS must be positive: 0 removes every deadline");
/* What the TTL leaves over: a Date off by more is logged. */
_Static_assert((long long)STORE_S3_DATE_WARN * 1000 <=
        (long long)STORE_DOOM_TTL * 1000 - (long long)STORE_DOOM_HOLD * 1000 -
            (long long)STORE_S3_DOOM_REQUESTS * STORE_S3_DEADLINE_MS,
    "STORE_S3_DATE_WARN must not exceed the doomed-mark TTL's margin");

/*
 * store_s3_clock: the time to age doomed marks by, for a listing
 * answered with Date date (<= 0: none) when this host's clock read
 * local: date, or 0 (this host's clock: store_s3_doom_live) when there
 * is none or it is more than STORE_S3_DATE_SKEW seconds off local.
 * Every request is signed with this host's clock and a store refuses one
 * more than 15 minutes off its own, so while listings succeed the two
 * clocks agree to within that: a Date further off is not the store's
 * clock but something else (a proxy's or gateway's clock, or a value
 * libcurl read leniently: a date without a time is midnight; year 9999)
 * and, taken as is, would expire every mark at once or keep every one
 * alive. A Date within the limit but more than STORE_S3_DATE_WARN off is
 * used, and logged once: if it is a proxy's clock rather than the
 * store's, marks may expire early. The fallback is logged once too.
 */
time_t
store_s3_clock(int64_t date, time_t local)
{
	static atomic_int said_off, said_local;
	int64_t off = date - (int64_t)local, abs_off = off < 0 ? -off : off;

	if (date > 0 && abs_off <= STORE_S3_DATE_SKEW) {
		if (abs_off > STORE_S3_DATE_WARN &&
		    atomic_exchange(&said_off, 1) == 0)
			log_warnx("s3: the store's Date is %lld s %s this "
			          "host's clock: doomed marks are aged by it, "
			          "which is right only if the store wrote it "
			          "(a proxy in front of the store must pass "
			          "its Date through; check both clocks)",
			    (long long)abs_off,
			    off < 0 ? "behind" : "ahead of");
		return (time_t)date;
	}
	if (atomic_exchange(&said_local, 1) == 0) {
		if (date <= 0)
			log_warnx("s3: the store's answer has no Date: "
			          "doomed marks are aged by this host's clock "
			          "and count for %d s instead of %d s",
			    STORE_DOOM_TTL + STORE_S3_DATE_SKEW,
			    STORE_DOOM_TTL);
		else
			log_warnx("s3: the store's Date is %lld s %s this "
			          "host's clock, more than %d s (a request's "
			          "signature): ignored, doomed marks are aged "
			          "by this host's clock and count for %d s "
			          "instead of %d s (a proxy in front of the "
			          "store must pass its Date through; check "
			          "both clocks)",
			    (long long)abs_off, off < 0 ? "behind" : "ahead of",
			    STORE_S3_DATE_SKEW,
			    STORE_DOOM_TTL + STORE_S3_DATE_SKEW,
			    STORE_DOOM_TTL);
	}
	return 0;
}

/*
 * By the store's clock a mark counts for STORE_DOOM_TTL. By this host's,
 * which may be up to STORE_S3_DATE_SKEW ahead of the store's (the mark's
 * Last-Modified), it counts that much longer, so that it never expires
 * early: longer refusals, only when the Date is missing or not the
 * store's.
 */
int
store_s3_doom_live(const struct store_s3_obj *o)
{
	/* A listing without a time counts: better refused than lost. */
	if (o->so_mtime == 0)
		return 1;
	if (o->so_now != 0)
		return o->so_now - o->so_mtime < STORE_DOOM_TTL;
	return time(NULL) - o->so_mtime < STORE_DOOM_TTL + STORE_S3_DATE_SKEW;
}

static int
store_s3_doomed_cb(const struct store_s3_obj *o, void *arg)
{
	int *doomed = arg;

	if (store_s3_doom_live(o)) {
		*doomed = 1;
		errno = 0;
		return -1; /* one is enough */
	}
	return 0;
}

/*
 * store_s3_blob_doomed: one listing of the blob's doomed marks. S3 (and
 * RGW) list what was written before the listing began.
 */
static int
store_s3_blob_doomed(struct store *st, const char *digest)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char prefix[STORE_S3_KEY_MAX];
	const char *hex;
	int doomed = 0;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	hex = digest_hex(digest);
	if (snprintf(prefix, sizeof(prefix), "blobs/sha256/%.2s/%s/%s", hex,
	        hex, STORE_S3_DOOMED) >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_list(s, prefix, 0, store_s3_doomed_cb, &doomed) == -1 &&
	    !doomed)
		return -1;
	return doomed;
}

/*
 * store_s3_probe: a small object written and removed; or, for a
 * read-only registry, a listing of the root (the bucket answers, with
 * these credentials).
 */
static int
store_s3_probe(struct store *st, enum store_probe_kind kind)
{
	struct store_s3 *s = (struct store_s3 *)st;
	char key[STORE_S3_KEY_MAX], uuid[UUID_LEN + 1];

	if (kind == STORE_PROBE_READ)
		return store_s3_any(s, "") == -1 ? -1 : 0;
	if (util_uuid(uuid) == -1 ||
	    store_s3_key(s, key, sizeof(key), "_registryd/probe-%s", uuid) ==
	        -1 ||
	    store_s3_put(s, key, "probe", 5) == -1)
		return -1;
	return store_s3_delete(s, key);
}

static const struct store_ops store_s3_ops = {
    .so_name = "s3",
    .so_close = store_s3_close,
    .so_cheap = store_s3_cheap,
    .so_blob_stat = store_s3_blob_stat,
    .so_blob_open = store_s3_blob_open,
    .so_reader_read = store_s3_reader_read,
    .so_reader_close = store_s3_reader_close,
    .so_blob_write = store_s3_blob_write,
    .so_blob_delete = store_s3_blob_delete,
    .so_link_exists = store_s3_link_exists,
    .so_link_write = store_s3_link_write,
    .so_link_delete = store_s3_link_delete,
    .so_link_list = store_s3_link_list,
    .so_tag_get = store_s3_tag_get,
    .so_tag_set = store_s3_tag_set,
    .so_tag_delete = store_s3_tag_delete,
    .so_tag_list = store_s3_tag_list,
    .so_repo_exists = store_s3_repo_exists,
    .so_repo_list = store_s3_repo_list,
    .so_upload_create = store_s3_upload_create,
    .so_upload_resume = store_s3_upload_resume,
    .so_writer_append = store_s3_writer_append,
    .so_writer_truncate = store_s3_writer_truncate,
    .so_writer_idle = store_s3_writer_idle,
    .so_writer_hash = store_s3_writer_hash,
    .so_writer_stat = store_s3_writer_stat,
    .so_writer_commit = store_s3_writer_commit,
    .so_writer_abort = store_s3_writer_abort,
    .so_writer_free = store_s3_writer_free,
    .so_upload_purge = store_s3_upload_purge,
    .so_referrer_put = store_s3_referrer_put,
    .so_referrer_get = store_s3_referrer_get,
    .so_referrer_list = store_s3_referrer_list,
    .so_referrer_delete = store_s3_referrer_delete,
    .so_referrer_stale = store_s3_referrer_stale,
    .so_walk = store_s3_walk,
    .so_blob_used = store_s3_blob_used,
    .so_link_used = store_s3_link_used,
    .so_link_touch = store_s3_link_touch,
    .so_blob_doom = store_s3_blob_doom,
    .so_blob_doomed = store_s3_blob_doomed,
    .so_probe = store_s3_probe,
    .so_reader_set_wake = store_s3_reader_set_wake,
    .so_writer_busy = store_s3_writer_busy,
    .so_writer_set_wake = store_s3_writer_set_wake,
    .so_writer_flush = store_s3_writer_flush,
    .so_writer_refresh = store_s3_writer_refresh,
    .so_blob_url = store_s3_blob_url,
    .so_workers = STORE_S3_THREADS,
};
