/*
 * s3.c: the S3 client: requests signed by sigv4.c, carried by libcurl's
 * multi interface on the registry's libevent loop.
 *
 * curl tells us which sockets to watch (s3_socket_cb) and when to call it
 * back (s3_timer_cb); we watch them with events on the loop and hand
 * readiness back with curl_multi_socket_action. Nothing here blocks: a
 * request is a struct s3_job that lives from s3_start (or the hand-over
 * of s3_perform) to its done callback, through one curl easy handle per
 * attempt and a backoff timer between attempts.
 *
 * Rules that keep the callback chains safe (Redis: never free inside a
 * callback chain): curl's own callbacks (write, header, read) only copy
 * bytes and set flags; jobs end, and done callbacks run, only from
 * s3_check_done, after curl_multi_socket_action has returned. A sink
 * that pauses only sets a flag: the next write callback answers
 * CURL_WRITEFUNC_PAUSE, and s3_resume unpauses from an event of its own,
 * so a sink is never re-entered from the caller's s3_resume.
 *
 * Worker threads (store_call jobs) use s3_perform: the job goes on a
 * mutex-protected queue and an eventfd wakes the loop, which starts it;
 * the worker waits on a condition variable that the loop signals at the
 * end. This needs no evthread locking in libevent.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "bounds.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"
#include "util.h"

#define S3_TIMEOUT_MS 30000
#define S3_RETRIES    4
#define S3_BACKOFF_MS 100
#define S3_MAX_PARAMS 64 /* query parameters of one request */
#define S3_MAX_HDRS   32 /* caller's headers of one request */

/*
 * Attempts after one that stalled (no byte either way for the timeout;
 * curl measures the speed over its last 5 s, so a stall is seen 30 to
 * 35 s after the last byte) of a request without a deadline: a store
 * that stalls twice in a row is hung, and a part PUT then fails after
 * two stalls, not five.
 */
#define S3_STALL_RETRIES 1

/* j_state */
#define S3_J_QUEUED  0 /* s3_perform: on s_queue, not started */
#define S3_J_RUNNING 1 /* an easy handle in the multi */
#define S3_J_BACKOFF 2 /* waiting on j_timer for the next attempt */

/* What s3_perform waits on; lives on the worker's stack. */
struct s3_wait {
	pthread_cond_t w_cond;
	int w_done; /* under s_lock */
};

/* A socket curl asked us to watch; owned by curl_multi_assign's slot. */
struct s3_sock {
	struct s3 *sk_s3;
	struct event sk_ev;
	int sk_added;
};

/*
 * One request in flight: req->rq_priv. Owned by the client's s_jobs
 * list (or s_queue before it starts); freed by s3_job_end.
 */
struct s3_job {
	struct s3 *j_s3;
	struct s3_request *j_req; /* NULL once orphaned by a cancel */
	void (*j_done)(struct s3_request *, void *);
	void *j_arg;
	struct s3_wait *j_wait; /* s3_perform's waiter, or NULL */
	int j_state;

	char *j_path; /* raw path: "/bucket/key" or "/key" */
	char *j_url;  /* owned */
	char *j_qbuf; /* owned: a copy of rq_query, split in place */
	struct sigv4_pair j_params[S3_MAX_PARAMS];
	size_t j_nparams;
	char j_sha[SIGV4_HEX_LEN]; /* payload hash, or UNSIGNED-PAYLOAD */

	CURL *j_easy; /* this attempt's handle, or NULL */
	struct curl_slist *j_hdrs;
	size_t j_sent;          /* body bytes curl has read */
	struct evbuffer *j_err; /* error body when there is a sink */
	int j_errno;            /* set by a callback that aborted */
	int j_paused;           /* the caller paused the sink */
	int j_curl_paused;      /* we answered CURL_WRITEFUNC_PAUSE */
	struct event j_timer;   /* backoff */
	uint64_t j_deadline;    /* monotonic ms (rq_deadline_ms), 0: none */
	int j_stalls;           /* attempts that timed out (no deadline) */
	struct event j_resume;  /* deferred unpause */
	TAILQ_ENTRY(s3_job) j_entry;
};
TAILQ_HEAD(s3_jobs, s3_job);

struct s3 {
	struct event_base *s_base;
	CURLM *s_multi;
	pthread_t s_loop;     /* the thread that runs s_base */
	struct event s_timer; /* curl's timeout */
	struct event s_wake;  /* s_wakefd readable: s_queue has jobs */
	int s_wakefd;
	char *s_base_url; /* "http://host:port", bucket in host if virtual */
	char *s_host;     /* Host header */
	char *s_prefix;   /* "/bucket" (path style) or "" */
	char *s_access;
	char *s_secret; /* wiped at s3_free */
	char *s_region;
	char *s_ca_file;
	int s_timeout_ms;
	int s_retries;
	int s_backoff_ms;
	int s_in_curl;         /* inside a curl call: no handle removal */
	struct s3_jobs s_jobs; /* started (running or backoff), loop only */
	pthread_mutex_t s_lock;
	struct s3_jobs s_queue; /* from s3_perform, under s_lock */
};

/*
 * libcurl is opened when the first client is made (s3_curl_load), not
 * linked: a registryd on the filesystem driver, the common case, then
 * never maps it nor the ~28 libraries it pulls in (GnuTLS, nettle,
 * krb5, LDAP, ssh2, p11-kit, ...). Their relocated data, relro pages
 * and what their constructors allocate cost every such process about
 * 0.65 MiB of anonymous memory, and their code 3.4 MiB more of resident
 * size (bookworm, /proc/PID/smaps of an idle server: RssAnon 2.1 -> 1.4
 * MiB, VmRSS 11.2 -> 7.2 MiB).
 *
 * The table's types are the prototypes of <curl/curl.h> (__typeof__), so
 * a call through it compiles exactly as the direct call did; only
 * curl's gcc type checks of curl_easy_setopt's third argument are lost,
 * so each value there is of the type the option documents (long, a
 * pointer, curl_off_t). The soname is the ABI of those headers (libcurl
 * 4, since 2006); scripts/build-image.sh copies the same file into the
 * image. Never closed: curl keeps global state for the process's life.
 */
#define S3_CURL_SONAME "libcurl.so.4"

static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_pause) *easy_pause;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_getdate) *getdate;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
} s3_curl;
static pthread_once_t s3_curl_once = PTHREAD_ONCE_INIT;
static int s3_curl_ok; /* every symbol was found (written once) */

static void s3_curl_load_once(void);
static int s3_curl_load(void);

static int s3_socket_cb(CURL *, curl_socket_t, int, void *, void *);
static int s3_timer_set_cb(CURLM *, long, void *);
static void s3_event_cb(evutil_socket_t, short, void *);
static void s3_timer_cb(evutil_socket_t, short, void *);
static void s3_wake_cb(evutil_socket_t, short, void *);
static void s3_backoff_cb(evutil_socket_t, short, void *);
static void s3_resume_cb(evutil_socket_t, short, void *);
static size_t s3_write_cb(char *, size_t, size_t, void *);
static size_t s3_header_cb(char *, size_t, size_t, void *);
static size_t s3_read_cb(char *, size_t, size_t, void *);
static int s3_seek_cb(void *, curl_off_t, int);
static void s3_check_done(struct s3 *);
static int s3_job_prepare(struct s3 *, struct s3_job *);
static int s3_attempt(struct s3_job *);
static void s3_attempt_clear(struct s3_job *);
static void s3_job_end(struct s3_job *, int);
static void s3_job_free(struct s3_job *);
static void s3_out_clear(struct s3_request *);
static void s3_error_code(struct s3_job *);
static int s3_curl_errno(CURLcode);
static int s3_curl_retryable(CURLcode);
static int s3_code_retryable(const char *);
static int s3_is_loop(struct s3 *);
static const char *s3_outcome(char *, size_t, int, struct s3_request *);

/* --- small helpers ------------------------------------------------ */

/*
 * Open libcurl and fill s3_curl, once per process (clients may be made
 * on several threads: the server's loop, a subcommand's S3 thread).
 * RTLD_NOW: a missing symbol fails here, with dlerror's words in the
 * log, not at the first request.
 */
static void
s3_curl_load_once(void)
{
	void *h;
	const char *what = NULL;

	if ((h = dlopen(S3_CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("S3: cannot load %s: %s (install libcurl4, the "
		          "library the S3 driver uses)",
		    S3_CURL_SONAME, dlerror());
		return;
	}
	/* dlsym(3)'s way of storing an object pointer in a function one. */
#define S3_CURL_SYM(f)                                                         \
	do {                                                                   \
		if (what == NULL &&                                            \
		    (*(void **)&s3_curl.f = dlsym(h, "curl_" #f)) == NULL)     \
			what = "curl_" #f;                                     \
	} while (0)
	S3_CURL_SYM(global_init);
	S3_CURL_SYM(easy_init);
	S3_CURL_SYM(easy_setopt);
	S3_CURL_SYM(easy_getinfo);
	S3_CURL_SYM(easy_pause);
	S3_CURL_SYM(easy_cleanup);
	S3_CURL_SYM(getdate);
	S3_CURL_SYM(multi_init);
	S3_CURL_SYM(multi_setopt);
	S3_CURL_SYM(multi_add_handle);
	S3_CURL_SYM(multi_remove_handle);
	S3_CURL_SYM(multi_assign);
	S3_CURL_SYM(multi_cleanup);
	S3_CURL_SYM(multi_info_read);
	S3_CURL_SYM(multi_socket_action);
	S3_CURL_SYM(slist_append);
	S3_CURL_SYM(slist_free_all);
#undef S3_CURL_SYM
	if (what != NULL) {
		log_warnx("S3: %s has no %s: %s", S3_CURL_SONAME, what,
		    dlerror());
		return;
	}
	s3_curl_ok = 1;
}

/* s3_curl_load: 0 when s3_curl is usable, else -1 with errno ELIBACC. */
static int
s3_curl_load(void)
{
	(void)pthread_once(&s3_curl_once, s3_curl_load_once);
	if (!s3_curl_ok) {
		errno = ELIBACC;
		return -1;
	}
	return 0;
}

/* "503 SlowDown" or "Connection refused", for the log. */
static const char *
s3_outcome(char *buf, size_t len, int err, struct s3_request *req)
{
	if (err != 0)
		snprintf(buf, len, "%s", strerror(err));
	else
		snprintf(buf, len, "%ld%s%s", req->rs_status,
		    req->rs_code[0] ? " " : "", req->rs_code);
	return buf;
}

/* Monotonic milliseconds, for rq_deadline_ms. */
static uint64_t
s3_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * s3_backoff: the delay before attempt n + 1: exponential, capped, with
 * jitter, so instances that lost the store together do not return
 * together.
 */
static int
s3_backoff(struct s3 *s, int n)
{
	int delay = s->s_backoff_ms, half, k;

	for (k = 1; k < n && delay < S3_BACKOFF_MAX_MS; k++)
		delay *= 2;
	if (delay > S3_BACKOFF_MAX_MS)
		delay = S3_BACKOFF_MAX_MS;
	half = delay / 2;
	return half + (int)(arc4random() % (uint32_t)(half + 1));
}

/* s3_in_time: another attempt after delay ms still fits the deadline. */
static int
s3_in_time(struct s3_job *j, int delay)
{
	return j->j_deadline == 0 ||
	    s3_now_ms() + (uint64_t)delay + 100 < j->j_deadline;
}

static int
s3_is_loop(struct s3 *s)
{
	return pthread_equal(pthread_self(), s->s_loop);
}

static void
s3_out_clear(struct s3_request *req)
{
	req->rs_status = 0;
	if (req->rs_body != NULL)
		evbuffer_drain(req->rs_body, evbuffer_get_length(req->rs_body));
	req->rs_etag[0] = '\0';
	req->rs_length = -1;
	req->rs_total = -1;
	req->rs_first = -1;
	req->rs_mtime = req->rs_date = -1;
	req->rs_received = 0;
	req->rs_code[0] = '\0';
	req->rs_errno = 0;
}

static int
s3_curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		/*
		 * The store went away mid-request or is restarting (the
		 * retryable transport failures): "down", which the API
		 * answers 503 like a refused connection (review R7).
		 */
		return ECONNRESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		/* A configuration fault, not an outage: it stays 500. */
		return EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	default:
		return EIO;
	}
}

/*
 * Transport failures worth another attempt: the store restarting, a
 * connection the server closed under us, a slow answer. A certificate
 * problem or a bad URL will not heal by itself.
 */
static int
s3_curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Error codes S3 documents as "retry", also inside a 200 (Complete). */
static int
s3_code_retryable(const char *code)
{
	return strcmp(code, "InternalError") == 0 ||
	    strcmp(code, "SlowDown") == 0 ||
	    strcmp(code, "ServiceUnavailable") == 0 ||
	    strcmp(code, "RequestTimeout") == 0;
}

/* --- the client --------------------------------------------------- */

/*
 * s3_new: see s3.h. The endpoint's host (and port) is the Host header
 * we sign, so it is kept exactly as configured.
 */
struct s3 *
s3_new(struct event_base *base, const struct s3_config *cfg)
{
	const char *ep, *scheme, *hostpart, *region;
	struct s3 *s;
	size_t len;
	char *host = NULL;
	int flags;

	if (cfg->bucket == NULL || cfg->bucket[0] == '\0' ||
	    cfg->access_key == NULL || cfg->secret_key == NULL ||
	    strchr(cfg->bucket, '/') != NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (s3_curl_load() == -1)
		return NULL;
	if (s3_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->s_base = base;
	s->s_loop = pthread_self();
	s->s_wakefd = -1;
	TAILQ_INIT(&s->s_jobs);
	TAILQ_INIT(&s->s_queue);
	pthread_mutex_init(&s->s_lock, NULL);
	region = cfg->region && cfg->region[0] ? cfg->region : "us-east-1";
	s->s_timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : S3_TIMEOUT_MS;
	s->s_retries = cfg->retries < 0 ? 0
	    : cfg->retries > 0          ? cfg->retries
	                                : S3_RETRIES;
	s->s_backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : S3_BACKOFF_MS;

	/* "scheme://host[:port]", a bare host, or AWS's regional name. */
	ep = cfg->endpoint;
	scheme = cfg->secure ? "https" : "http";
	if (ep == NULL || ep[0] == '\0') {
		if (asprintf(&host, "s3.%s.amazonaws.com", region) == -1)
			host = NULL;
	} else {
		if (strncmp(ep, "http://", 7) == 0) {
			scheme = "http";
			hostpart = ep + 7;
		} else if (strncmp(ep, "https://", 8) == 0) {
			scheme = "https";
			hostpart = ep + 8;
		} else
			hostpart = ep;
		len = strcspn(hostpart, "/?#");
		host = strndup(hostpart, len);
	}
	if (host == NULL || host[0] == '\0')
		goto fail;
	if (cfg->path_style) {
		s->s_host = host;
		host = NULL;
		if (asprintf(&s->s_prefix, "/%s", cfg->bucket) == -1)
			s->s_prefix = NULL;
	} else {
		if (asprintf(&s->s_host, "%s.%s", cfg->bucket, host) == -1)
			s->s_host = NULL;
		s->s_prefix = strdup("");
	}
	free(host);
	host = NULL;
	if (s->s_host == NULL || s->s_prefix == NULL ||
	    asprintf(&s->s_base_url, "%s://%s", scheme, s->s_host) == -1) {
		s->s_base_url = NULL;
		goto fail;
	}
	if ((s->s_access = strdup(cfg->access_key)) == NULL ||
	    (s->s_secret = strdup(cfg->secret_key)) == NULL ||
	    (s->s_region = strdup(region)) == NULL ||
	    (cfg->ca_file != NULL &&
	        (s->s_ca_file = strdup(cfg->ca_file)) == NULL))
		goto fail;

	if ((s->s_multi = s3_curl.multi_init()) == NULL)
		goto fail;
	s3_curl.multi_setopt(s->s_multi, CURLMOPT_SOCKETFUNCTION, s3_socket_cb);
	s3_curl.multi_setopt(s->s_multi, CURLMOPT_SOCKETDATA, s);
	s3_curl.multi_setopt(s->s_multi, CURLMOPT_TIMERFUNCTION,
	    s3_timer_set_cb);
	s3_curl.multi_setopt(s->s_multi, CURLMOPT_TIMERDATA, s);
	evtimer_assign(&s->s_timer, base, s3_timer_cb, s);

	flags = EFD_NONBLOCK | EFD_CLOEXEC;
	if ((s->s_wakefd = eventfd(0, flags)) == -1)
		goto fail;
	if (event_assign(&s->s_wake, base, s->s_wakefd, EV_READ | EV_PERSIST,
	        s3_wake_cb, s) == -1 ||
	    event_add(&s->s_wake, NULL) == -1)
		goto fail;
	return s;
fail:
	free(host);
	if (errno == 0)
		errno = ENOMEM;
	s3_free(s);
	return NULL;
}

/*
 * s3_free: see s3.h. Workers must be stopped first: a s3_perform that
 * starts after this returns uses freed memory.
 */
void
s3_free(struct s3 *s)
{
	struct s3_job *j;
	int saved = errno;

	if (s == NULL)
		return;
	for (;;) {
		pthread_mutex_lock(&s->s_lock);
		if ((j = TAILQ_FIRST(&s->s_queue)) != NULL)
			TAILQ_REMOVE(&s->s_queue, j, j_entry);
		pthread_mutex_unlock(&s->s_lock);
		if (j == NULL)
			break;
		s3_job_end(j, ECANCELED); /* still S3_J_QUEUED */
	}
	while ((j = TAILQ_FIRST(&s->s_jobs)) != NULL)
		s3_job_end(j, ECANCELED);
	if (s->s_multi != NULL) {
		event_del(&s->s_timer);
		s3_curl.multi_cleanup(s->s_multi);
	}
	if (s->s_wakefd != -1) {
		event_del(&s->s_wake);
		close(s->s_wakefd);
	}
	pthread_mutex_destroy(&s->s_lock);
	if (s->s_secret != NULL) {
		explicit_bzero(s->s_secret, strlen(s->s_secret));
		free(s->s_secret);
	}
	free(s->s_access);
	free(s->s_region);
	free(s->s_ca_file);
	free(s->s_base_url);
	free(s->s_host);
	free(s->s_prefix);
	free(s);
	errno = saved;
}

/* --- libcurl on libevent ------------------------------------------ */

/* curl wants fd watched for what (or no longer: CURL_POLL_REMOVE). */
static int
s3_socket_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct s3 *s = arg;
	struct s3_sock *sk = sockp;
	short ev = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			if (sk->sk_added)
				event_del(&sk->sk_ev);
			free(sk);
			s3_curl.multi_assign(s->s_multi, fd, NULL);
		}
		return 0;
	}
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		sk->sk_s3 = s;
		s3_curl.multi_assign(s->s_multi, fd, sk);
	} else if (sk->sk_added) {
		event_del(&sk->sk_ev);
		sk->sk_added = 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (event_assign(&sk->sk_ev, s->s_base, fd, ev, s3_event_cb, s) == -1 ||
	    event_add(&sk->sk_ev, NULL) == -1)
		return -1;
	sk->sk_added = 1;
	return 0;
}

/* curl's single timeout: -1 none, 0 "as soon as possible". */
static int
s3_timer_set_cb(CURLM *m, long ms, void *arg)
{
	struct s3 *s = arg;
	struct timeval tv;

	(void)m;
	if (ms < 0) {
		event_del(&s->s_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(&s->s_timer, &tv) == -1 ? -1 : 0;
}

static void
s3_event_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct s3 *s = arg;
	int action = 0, running;

	if (ev & EV_READ)
		action |= CURL_CSELECT_IN;
	if (ev & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	s->s_in_curl = 1;
	s3_curl.multi_socket_action(s->s_multi, fd, action, &running);
	s->s_in_curl = 0;
	s3_check_done(s);
}

static void
s3_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct s3 *s = arg;
	int running;

	(void)fd;
	(void)ev;
	s->s_in_curl = 1;
	s3_curl.multi_socket_action(s->s_multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	s->s_in_curl = 0;
	s3_check_done(s);
}

/* Jobs handed over by s3_perform. */
static void
s3_wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct s3 *s = arg;
	struct s3_job *j;
	uint64_t n;

	(void)ev;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: read", __func__);
	for (;;) {
		pthread_mutex_lock(&s->s_lock);
		if ((j = TAILQ_FIRST(&s->s_queue)) != NULL)
			TAILQ_REMOVE(&s->s_queue, j, j_entry);
		pthread_mutex_unlock(&s->s_lock);
		if (j == NULL)
			break;
		TAILQ_INSERT_TAIL(&s->s_jobs, j, j_entry);
		j->j_state = S3_J_RUNNING;
		if (s3_attempt(j) == -1)
			s3_job_end(j, errno);
	}
	s3_check_done(s);
}

/*
 * The transfers curl has finished: retry, or end the job. Runs only
 * from our event callbacks, after curl_multi_socket_action returned, so
 * removing handles and running done callbacks here is safe.
 */
static void
s3_check_done(struct s3 *s)
{
	struct s3_request *req;
	struct s3_job *j;
	struct timeval tv;
	CURLMsg *m;
	struct s3_job *next;
	CURLcode rc;
	long status = 0;
	int left, err, retry, stalled, delay;
	char *p, what[128];

	while ((m = s3_curl.multi_info_read(s->s_multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		rc = m->data.result;
		p = NULL;
		s3_curl.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		if ((j = (struct s3_job *)(void *)p) == NULL)
			continue;
		if ((req = j->j_req) == NULL)
			continue; /* an orphan: reaped below */
		s3_curl.easy_getinfo(j->j_easy, CURLINFO_RESPONSE_CODE,
		    &status);
		err = 0;
		retry = 0;
		stalled = 0;
		if (j->j_errno != 0)
			err = j->j_errno;
		else if (rc != CURLE_OK) {
			err = s3_curl_errno(rc);
			retry = s3_curl_retryable(rc) && req->rs_received == 0;
		} else {
			req->rs_status = status;
			s3_error_code(j);
			retry = status >= 500 || status == 429 ||
			    (status / 100 == 2 && req->rs_code[0] != '\0' &&
			        s3_code_retryable(req->rs_code));
		}
		if (retry && err == ETIMEDOUT && j->j_deadline == 0 &&
		    ++j->j_stalls > S3_STALL_RETRIES)
			stalled = 1;
		if (retry && !stalled && !(req->rq_flags & S3_F_NORETRY) &&
		    req->rs_attempts <= s->s_retries &&
		    s3_in_time(j, delay = s3_backoff(s, req->rs_attempts))) {
			s3_attempt_clear(j);
			log_debug("%s: %s %s: %s, attempt %d, retry in %d ms",
			    __func__, req->rq_method, j->j_path,
			    s3_outcome(what, sizeof(what), err, req),
			    req->rs_attempts, delay);
			s3_out_clear(req);
			if (j->j_err != NULL)
				evbuffer_drain(j->j_err,
				    evbuffer_get_length(j->j_err));
			j->j_state = S3_J_BACKOFF;
			tv.tv_sec = delay / 1000;
			tv.tv_usec = (delay % 1000) * 1000;
			if (evtimer_add(&j->j_timer, &tv) == -1)
				s3_job_end(j, ENOMEM);
			continue;
		}
		if (retry && req->rs_attempts > 1)
			log_warnx("s3: %s %s: %s after %d attempts",
			    req->rq_method, j->j_path,
			    s3_outcome(what, sizeof(what), err, req),
			    req->rs_attempts);
		s3_job_end(j, err);
	}
	/* Jobs ended inside a curl callback; done has run for them. */
	for (j = TAILQ_FIRST(&s->s_jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, j_entry);
		if (j->j_req == NULL)
			s3_job_free(j);
	}
}

static void
s3_backoff_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct s3_job *j = arg;
	struct s3 *s = j->j_s3;

	(void)fd;
	(void)ev;
	j->j_state = S3_J_RUNNING;
	if (s3_attempt(j) == -1)
		s3_job_end(j, errno);
	s3_check_done(s);
}

static void
s3_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct s3_job *j = arg;
	struct s3 *s = j->j_s3;

	(void)fd;
	(void)ev;
	if (j->j_easy != NULL && j->j_curl_paused && !j->j_paused) {
		j->j_curl_paused = 0;
		/* May call s3_write_cb with what curl held back. */
		s->s_in_curl = 1;
		s3_curl.easy_pause(j->j_easy, CURLPAUSE_CONT);
		s->s_in_curl = 0;
	}
	s3_check_done(s);
}

/* --- curl's data callbacks ---------------------------------------- */

static size_t
s3_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct s3_job *j = arg;
	struct s3_request *req = j->j_req;
	size_t len = size * n, nl, vl;
	const char *v;
	char buf[128];
	uint64_t u;

	if (req == NULL)
		return len;
	/* A status line starts a new header block (after a 100). */
	if (len > 9 && strncmp(p, "HTTP/", 5) == 0) {
		v = memchr(p, ' ', len);
		req->rs_status = v ? strtol(v + 1, NULL, 10) : 0;
		req->rs_etag[0] = '\0';
		req->rs_length = req->rs_total = req->rs_mtime = -1;
		req->rs_date = -1;
		req->rs_first = -1;
		return len;
	}
	if ((v = memchr(p, ':', len)) == NULL)
		return len;
	nl = (size_t)(v - p);
	for (v++; v < p + len && (*v == ' ' || *v == '\t'); v++)
		;
	vl = len - (size_t)(v - p);
	while (vl > 0 &&
	    (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
	        v[vl - 1] == '\t'))
		vl--;
	if (vl >= sizeof(buf))
		return len;
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	if (nl == 4 && strncasecmp(p, "ETag", 4) == 0)
		util_strlcpy(req->rs_etag, buf, sizeof(req->rs_etag));
	else if (nl == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
		if (util_strtou64(buf, vl, INT64_MAX, &u) == 0)
			req->rs_length = (int64_t)u;
	} else if (nl == 13 && strncasecmp(p, "Content-Range", 13) == 0) {
		/* "bytes 0-9/443": the total follows the last '/' */
		if ((v = strrchr(buf, '/')) != NULL &&
		    util_strtou64(v + 1, strlen(v + 1), INT64_MAX, &u) == 0)
			req->rs_total = (int64_t)u;
		/* and the first byte the "bytes " */
		if (strncasecmp(buf, "bytes ", 6) == 0 &&
		    (v = strchr(buf, '-')) != NULL &&
		    util_strtou64(buf + 6, (size_t)(v - buf - 6), INT64_MAX,
		        &u) == 0)
			req->rs_first = (int64_t)u;
	} else if (nl == 13 && strncasecmp(p, "Last-Modified", 13) == 0) {
		time_t t = s3_curl.getdate(buf, NULL);

		if (t != (time_t)-1)
			req->rs_mtime = (int64_t)t;
	} else if (nl == 4 && strncasecmp(p, "Date", 4) == 0) {
		time_t t = s3_curl.getdate(buf, NULL);

		if (t != (time_t)-1)
			req->rs_date = (int64_t)t;
	}
	return len;
}

static size_t
s3_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct s3_job *j = arg;
	struct s3_request *req = j->j_req;
	size_t len = size * n, max, have;
	int rc;

	if (req == NULL)
		return 0; /* cancelled: abort the transfer */
	if (req->rq_sink == NULL) {
		max = req->rq_body_max ? req->rq_body_max : S3_BODY_MAX_DEFAULT;
		/* An error's XML is read for its <Code> (NoSuchBucket)
		 * even where a good answer must be tiny (a link). */
		if (req->rs_status / 100 != 2 && max < S3_ERRBODY_MAX)
			max = S3_ERRBODY_MAX;
		have = evbuffer_get_length(req->rs_body);
		if (len > max - have) {
			j->j_errno = EFBIG;
			return 0;
		}
		if (evbuffer_add(req->rs_body, p, len) == -1) {
			j->j_errno = ENOMEM;
			return 0;
		}
		return len;
	}
	if (req->rs_status / 100 != 2) {
		/* Kept for <Code>; the rest of a long error is dropped. */
		have = evbuffer_get_length(j->j_err);
		if (have < S3_ERRBODY_MAX)
			evbuffer_add(j->j_err, p,
			    len < S3_ERRBODY_MAX - have
			        ? len
			        : S3_ERRBODY_MAX - have);
		return len;
	}
	if (j->j_paused) {
		j->j_curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	rc = req->rq_sink(req, p, len, req->rq_sink_arg);
	if (j->j_req == NULL)
		return 0; /* the sink cancelled */
	if (rc == -1) {
		j->j_errno = EIO;
		return 0;
	}
	req->rs_received += (int64_t)len;
	return len;
}

static size_t
s3_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct s3_job *j = arg;
	struct s3_request *req = j->j_req;
	size_t len;

	if (req == NULL)
		return CURL_READFUNC_ABORT;
	len = req->rq_body_len - j->j_sent;
	if (len > size * n)
		len = size * n;
	memcpy(buf, (const char *)req->rq_body + j->j_sent, len);
	j->j_sent += len;
	return len;
}

/* curl rewinds the body when it resends on a connection that died. */
static int
s3_seek_cb(void *arg, curl_off_t off, int origin)
{
	struct s3_job *j = arg;

	if (j->j_req == NULL || origin != SEEK_SET || off < 0 ||
	    (uint64_t)off > j->j_req->rq_body_len)
		return CURL_SEEKFUNC_FAIL;
	j->j_sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* --- jobs --------------------------------------------------------- */

/*
 * The parts of a request that do not change between attempts: path,
 * URL with the canonical query, and the payload hash.
 */
static int
s3_job_prepare(struct s3 *s, struct s3_job *j)
{
	struct s3_request *req = j->j_req;
	const struct s3_param *sp;
	const struct s3_header *h;
	char *p, *tok, *eq, *path = NULL, *query = NULL;
	size_t n = 0;

	if (req->rq_method == NULL || req->rq_key == NULL ||
	    (req->rq_body == NULL && req->rq_body_len > 0))
		goto inval;
	/* Headers go out as given: no line breaks, and none of ours. */
	for (h = req->rq_headers; h != NULL && h->sh_name != NULL; h++)
		if (h - req->rq_headers >= S3_MAX_HDRS ||
		    strpbrk(h->sh_name, "\r\n: ") != NULL ||
		    h->sh_name[0] == '\0' || h->sh_value == NULL ||
		    strpbrk(h->sh_value, "\r\n") != NULL ||
		    strcasecmp(h->sh_name, "host") == 0 ||
		    strcasecmp(h->sh_name, "authorization") == 0 ||
		    strcasecmp(h->sh_name, "x-amz-date") == 0 ||
		    strcasecmp(h->sh_name, "x-amz-content-sha256") == 0 ||
		    strcasecmp(h->sh_name, "content-length") == 0)
			goto inval;
	if (req->rq_query != NULL && req->rq_query[0] != '\0') {
		if ((j->j_qbuf = strdup(req->rq_query)) == NULL)
			return -1;
		for (p = j->j_qbuf; (tok = strsep(&p, "&")) != NULL;) {
			if (tok[0] == '\0')
				continue;
			if (n == S3_MAX_PARAMS)
				goto inval;
			if ((eq = strchr(tok, '=')) != NULL)
				*eq++ = '\0';
			j->j_params[n].sv_name = tok;
			j->j_params[n++].sv_value = eq;
		}
	}
	for (sp = req->rq_params; sp != NULL && sp->sp_name != NULL; sp++) {
		if (n == S3_MAX_PARAMS)
			goto inval;
		j->j_params[n].sv_name = sp->sp_name;
		j->j_params[n++].sv_value = sp->sp_value;
	}
	j->j_nparams = n;

	/* "/bucket" alone for the bucket in path style, else "/key". */
	if (asprintf(&j->j_path, "%s%s%s", s->s_prefix,
	        req->rq_key[0] != '\0' || s->s_prefix[0] == '\0' ? "/" : "",
	        req->rq_key) == -1) {
		j->j_path = NULL;
		return -1;
	}
	if ((path = sigv4_uri_encode(j->j_path, 1)) == NULL ||
	    (query = sigv4_canonical_query(j->j_params, n)) == NULL ||
	    asprintf(&j->j_url, "%s%s%s%s", s->s_base_url, path,
	        query[0] ? "?" : "", query) == -1) {
		j->j_url = NULL;
		free(path);
		free(query);
		return -1;
	}
	free(path);
	free(query);

	if (req->rq_body_sha256 != NULL) {
		if (strlen(req->rq_body_sha256) >= sizeof(j->j_sha))
			goto inval;
		util_strlcpy(j->j_sha, req->rq_body_sha256, sizeof(j->j_sha));
	} else if (sigv4_sha256_hex(req->rq_body ? req->rq_body : "",
	               req->rq_body_len, j->j_sha) == -1) {
		errno = EIO;
		return -1;
	}
	return 0;
inval:
	errno = EINVAL;
	return -1;
}

/* One attempt: sign now, a fresh easy handle, into the multi. */
static int
s3_attempt(struct s3_job *j)
{
	struct s3 *s = j->j_s3;
	struct s3_request *req = j->j_req;
	struct sigv4_pair hv[S3_MAX_HDRS + 3];
	struct sigv4_key key;
	struct sigv4_request sr;
	const struct s3_header *h;
	struct curl_slist *l;
	char amzdate[SIGV4_AMZDATE_LEN], *auth = NULL, *line;
	size_t nh = 0, i;
	long lowspeed, tmo;
	uint64_t left;
	int rc;
	time_t now;
	CURL *e;

	tmo = s->s_timeout_ms;
	if (j->j_deadline != 0) {
		/* This attempt gets what is left of the deadline. */
		if ((left = s3_now_ms()) >= j->j_deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (j->j_deadline - left < (uint64_t)tmo)
			tmo = (long)(j->j_deadline - left);
	}
	req->rs_attempts++;
	j->j_sent = 0;
	j->j_errno = 0;
	j->j_curl_paused = 0;
	now = time(NULL);
	sigv4_amzdate(now, amzdate);
	hv[nh++] = (struct sigv4_pair){"host", s->s_host};
	hv[nh++] = (struct sigv4_pair){"x-amz-content-sha256", j->j_sha};
	hv[nh++] = (struct sigv4_pair){"x-amz-date", amzdate};
	for (h = req->rq_headers; h != NULL && h->sh_name != NULL; h++)
		hv[nh++] = (struct sigv4_pair){h->sh_name, h->sh_value};
	key = (struct sigv4_key){s->s_access, s->s_secret, s->s_region, "s3"};
	sr = (struct sigv4_request){req->rq_method, j->j_path, j->j_params,
	    j->j_nparams, hv, nh, j->j_sha};
	if ((auth = sigv4_authorization(&key, &sr, now)) == NULL)
		return -1;

	/* Every signed header goes out exactly as signed. */
	for (i = 0; i < nh + 3; i++) {
		if (i < nh && hv[i].sv_value[0] == '\0')
			/* curl's way of sending an empty value */
			rc = asprintf(&line, "%s;", hv[i].sv_name);
		else if (i < nh)
			rc = asprintf(&line, "%s: %s", hv[i].sv_name,
			    hv[i].sv_value);
		else if (i == nh)
			rc = asprintf(&line, "Authorization: %s", auth);
		else if (i == nh + 1)
			/* No 100-continue round trip before each part. */
			rc = asprintf(&line, "Expect:");
		else
			rc = asprintf(&line, "Accept:");
		if (rc == -1 ||
		    (l = s3_curl.slist_append(j->j_hdrs, line)) == NULL) {
			if (rc != -1)
				free(line);
			free(auth);
			errno = ENOMEM;
			return -1;
		}
		j->j_hdrs = l;
		free(line);
	}
	free(auth);

	if ((e = s3_curl.easy_init()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	j->j_easy = e;
	s3_curl.easy_setopt(e, CURLOPT_URL, j->j_url);
	s3_curl.easy_setopt(e, CURLOPT_PRIVATE, (char *)(void *)j);
	s3_curl.easy_setopt(e, CURLOPT_HTTPHEADER, j->j_hdrs);
	s3_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* S3 keys are not paths: no "/./" or "/../" squashing. */
	s3_curl.easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	s3_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	s3_curl.easy_setopt(e, CURLOPT_USERAGENT, "registryd");
	s3_curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, s3_header_cb);
	s3_curl.easy_setopt(e, CURLOPT_HEADERDATA, j);
	s3_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, s3_write_cb);
	s3_curl.easy_setopt(e, CURLOPT_WRITEDATA, j);
	if (s->s_ca_file != NULL)
		s3_curl.easy_setopt(e, CURLOPT_CAINFO, s->s_ca_file);
	if (j->j_deadline != 0)
		/* A small request: the whole of it within the deadline. */
		s3_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo);
	else {
		/*
		 * A part PUT (up to 5 GiB), an UploadPartCopy or a Complete
		 * (S3 may work for minutes, sending spaces meanwhile), a
		 * paused reader waiting on its client: no bound on the
		 * whole, which would fail a slow but sound transfer (review
		 * R6); time out a transfer that makes no progress either way
		 * for s_timeout_ms (a hung store).
		 */
		lowspeed = (s->s_timeout_ms + 999) / 1000;
		s3_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)s->s_timeout_ms);
		s3_curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		s3_curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME, lowspeed);
	}
	if (strcmp(req->rq_method, "GET") == 0) {
		s3_curl.easy_setopt(e, CURLOPT_HTTPGET, 1L);
		/*
		 * A streamed body (a blob download): libcurl's default 16 KiB
		 * costs a recv, a poll and a sink call per 16 KiB (PERF 1).
		 * Small GETs (links, state) keep the default.
		 */
		if (req->rq_sink != NULL)
			s3_curl.easy_setopt(e, CURLOPT_BUFFERSIZE,
			    (long)S3_GET_BUFFER);
	} else if (strcmp(req->rq_method, "HEAD") == 0)
		s3_curl.easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(req->rq_method, "PUT") == 0 ||
	    strcmp(req->rq_method, "POST") == 0 || req->rq_body_len > 0) {
		/* An upload of known size: curl writes Content-Length, also
		 * "Content-Length: 0" (S3 answers 411 without it). POST as
		 * a renamed PUT gets no form Content-Type. */
		s3_curl.easy_setopt(e, CURLOPT_UPLOAD, 1L);
		s3_curl.easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)req->rq_body_len);
		s3_curl.easy_setopt(e, CURLOPT_READFUNCTION, s3_read_cb);
		s3_curl.easy_setopt(e, CURLOPT_READDATA, j);
		s3_curl.easy_setopt(e, CURLOPT_SEEKFUNCTION, s3_seek_cb);
		s3_curl.easy_setopt(e, CURLOPT_SEEKDATA, j);
		if (strcmp(req->rq_method, "PUT") != 0)
			s3_curl.easy_setopt(e, CURLOPT_CUSTOMREQUEST,
			    req->rq_method);
	} else
		s3_curl.easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->rq_method);
	if (s3_curl.multi_add_handle(s->s_multi, e) != CURLM_OK) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Undo one attempt: the easy handle and its header list. */
static void
s3_attempt_clear(struct s3_job *j)
{
	if (j->j_easy != NULL) {
		s3_curl.multi_remove_handle(j->j_s3->s_multi, j->j_easy);
		s3_curl.easy_cleanup(j->j_easy);
		j->j_easy = NULL;
	}
	s3_curl.slist_free_all(j->j_hdrs);
	j->j_hdrs = NULL;
	j->j_curl_paused = 0;
}

/* S3's <Code> from an error body, or from a 200 whose root is <Error>. */
static void
s3_error_code(struct s3_job *j)
{
	struct s3_request *req = j->j_req;
	struct evbuffer *b;
	const char *buf, *inner, *p;
	size_t len, innerlen, pos = 0;

	b = req->rq_sink != NULL ? j->j_err : req->rs_body;
	if (b == NULL || (len = evbuffer_get_length(b)) == 0)
		return;
	if (req->rs_status / 100 == 2) {
		if (req->rq_sink != NULL)
			return;
		/* Only the first 1 KiB: a listing never starts <Error>. */
		if (len > 1024)
			len = 1024;
		if ((buf = (const char *)evbuffer_pullup(b, (ssize_t)len)) ==
		    NULL)
			return;
		p = buf;
		/* Skip the prolog and the white space S3 sends while it
		 * works on a Complete or a copy. */
		for (;;) {
			while (p < buf + len &&
			    (*p == ' ' || *p == '\r' || *p == '\n' ||
			        *p == '\t'))
				p++;
			if (p + 1 < buf + len && p[0] == '<' && p[1] == '?') {
				if ((p = memchr(p, '>',
				         len - (size_t)(p - buf))) == NULL)
					return;
				p++;
				continue;
			}
			break;
		}
		if ((size_t)(buf + len - p) < 7 || memcmp(p, "<Error>", 7) != 0)
			return;
	} else if ((buf = (const char *)evbuffer_pullup(b, -1)) == NULL)
		return;
	if (s3_xml_next(buf, len, &pos, "Code", &inner, &innerlen) == 1 &&
	    s3_xml_text(inner, innerlen, req->rs_code, sizeof(req->rs_code)) ==
	        -1)
		req->rs_code[0] = '\0';
}

static void
s3_job_free(struct s3_job *j)
{
	s3_attempt_clear(j);
	if (j->j_state != S3_J_QUEUED) {
		event_del(&j->j_timer);
		event_del(&j->j_resume);
		TAILQ_REMOVE(&j->j_s3->s_jobs, j, j_entry);
	}
	if (j->j_err != NULL)
		evbuffer_free(j->j_err);
	free(j->j_path);
	free(j->j_url);
	free(j->j_qbuf);
	free(j);
}

/*
 * End a job: report err (0: there is a status), then free it. A job
 * from s3_perform wakes its worker; the job is freed first, so nothing
 * here touches it after the worker may return.
 */
static void
s3_job_end(struct s3_job *j, int err)
{
	struct s3_request *req = j->j_req;
	void (*done)(struct s3_request *, void *) = j->j_done;
	struct s3_wait *w = j->j_wait;
	struct s3 *s = j->j_s3;
	void *arg = j->j_arg;

	if (req != NULL) {
		req->rs_errno = err;
		req->rq_priv = NULL;
	}
	if (s->s_in_curl && j->j_easy != NULL) {
		/* Ended from inside a curl callback (a sink that cancels):
		 * curl may not lose the handle now. The orphan's callbacks
		 * abort its transfer and s3_check_done frees it. */
		j->j_req = NULL;
	} else
		s3_job_free(j);
	if (req == NULL)
		return;
	if (w != NULL) {
		pthread_mutex_lock(&s->s_lock);
		w->w_done = 1;
		pthread_cond_signal(&w->w_cond);
		pthread_mutex_unlock(&s->s_lock);
	} else if (done != NULL)
		done(req, arg);
}

/* --- the interface ------------------------------------------------ */

/*
 * A job for req, prepared but not started; NULL with errno. The out
 * fields are cleared here, on the caller's thread, before the loop may
 * see req.
 */
static struct s3_job *
s3_job_new(struct s3 *s, struct s3_request *req)
{
	struct s3_job *j;

	if (req->rq_priv != NULL) {
		errno = EBUSY;
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->j_s3 = s;
	j->j_req = req;
	if (s3_job_prepare(s, j) == -1)
		goto fail;
	if (req->rq_sink == NULL) {
		if (req->rs_body == NULL &&
		    (req->rs_body = evbuffer_new()) == NULL)
			goto fail;
	} else if ((j->j_err = evbuffer_new()) == NULL)
		goto fail;
	s3_out_clear(req);
	req->rs_attempts = 0;
	if (req->rq_deadline_ms > 0)
		j->j_deadline = s3_now_ms() + (uint64_t)req->rq_deadline_ms;
	evtimer_assign(&j->j_timer, s->s_base, s3_backoff_cb, j);
	event_assign(&j->j_resume, s->s_base, -1, 0, s3_resume_cb, j);
	req->rq_priv = j;
	return j;
fail:
	if (j->j_err != NULL)
		evbuffer_free(j->j_err);
	free(j->j_path);
	free(j->j_url);
	free(j->j_qbuf);
	free(j);
	return NULL;
}

/*
 * s3_start: see s3.h. The first attempt starts here; curl calls us
 * back from the loop, so done never runs inside s3_start.
 */
int
s3_start(struct s3 *s, struct s3_request *req,
    void (*done)(struct s3_request *, void *), void *arg)
{
	struct s3_job *j;

	if ((j = s3_job_new(s, req)) == NULL)
		return -1;
	j->j_done = done;
	j->j_arg = arg;
	TAILQ_INSERT_TAIL(&s->s_jobs, j, j_entry);
	if (s->s_in_curl) {
		/* From a sink: curl refuses new handles inside its
		 * callbacks, so the first attempt starts from the loop. */
		j->j_state = S3_J_BACKOFF;
		event_active(&j->j_timer, EV_TIMEOUT, 0);
		return 0;
	}
	j->j_state = S3_J_RUNNING;
	if (s3_attempt(j) == -1) {
		int saved = errno;

		req->rq_priv = NULL;
		req->rs_attempts = 0;
		s3_job_free(j);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * s3_cancel: see s3.h. From inside req's own sink the transfer cannot be
 * removed from curl yet; done runs all the same and the handle goes
 * later.
 */
void
s3_cancel(struct s3 *s, struct s3_request *req)
{
	struct s3_job *j = req->rq_priv;

	(void)s;
	if (j == NULL || j->j_req != req)
		return;
	s3_job_end(j, ECANCELED);
}

/*
 * s3_pause: see s3.h. Only a flag: the next chunk curl offers is
 * refused with CURL_WRITEFUNC_PAUSE, which stops reading the socket.
 */
void
s3_pause(struct s3_request *req)
{
	struct s3_job *j = req->rq_priv;

	if (j != NULL)
		j->j_paused = 1;
}

/* s3_resume: see s3.h. */
void
s3_resume(struct s3_request *req)
{
	struct s3_job *j = req->rq_priv;

	if (j == NULL || !j->j_paused)
		return;
	j->j_paused = 0;
	if (j->j_curl_paused)
		event_active(&j->j_resume, EV_TIMEOUT, 0);
}

/*
 * s3_perform: see s3.h. The job is built here (it only reads req), the
 * loop starts it, and this thread sleeps until s3_job_end signals.
 */
int
s3_perform(struct s3 *s, struct s3_request *req)
{
	struct s3_wait w;
	struct s3_job *j;
	uint64_t one = 1;
	int empty;

	if (s3_is_loop(s)) {
		errno = EDEADLK;
		return -1;
	}
	if ((j = s3_job_new(s, req)) == NULL)
		return -1;
	memset(&w, 0, sizeof(w));
	pthread_cond_init(&w.w_cond, NULL);
	j->j_wait = &w;
	j->j_state = S3_J_QUEUED;
	pthread_mutex_lock(&s->s_lock);
	empty = TAILQ_EMPTY(&s->s_queue);
	TAILQ_INSERT_TAIL(&s->s_queue, j, j_entry);
	/* One wake-up per batch: the loop drains the whole queue. */
	if (empty && write(s->s_wakefd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("%s: write", __func__);
	while (!w.w_done)
		pthread_cond_wait(&w.w_cond, &s->s_lock);
	pthread_mutex_unlock(&s->s_lock);
	pthread_cond_destroy(&w.w_cond);
	if (req->rs_errno != 0) {
		errno = req->rs_errno;
		return -1;
	}
	return 0;
}

/* s3_request_reset: see s3.h. */
void
s3_request_reset(struct s3_request *req)
{
	if (req->rs_body != NULL) {
		evbuffer_free(req->rs_body);
		req->rs_body = NULL;
	}
	s3_out_clear(req);
	req->rs_attempts = 0;
	req->rq_priv = NULL;
}

/* s3_presign: see s3.h. */
char *
s3_presign(struct s3 *s, const char *method, const char *key, int expires)
{
	struct sigv4_pair h = {"host", s->s_host};
	struct sigv4_key k = {s->s_access, s->s_secret, s->s_region, "s3"};
	struct sigv4_request r;
	char *path = NULL, *enc = NULL, *query = NULL, *url = NULL;

	if (method == NULL || key == NULL || expires < 1 || expires > 604800) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&path, "%s/%s", s->s_prefix, key) == -1)
		return NULL;
	r = (struct sigv4_request){method, path, NULL, 0, &h, 1,
	    SIGV4_UNSIGNED};
	if ((enc = sigv4_uri_encode(path, 1)) != NULL &&
	    (query = sigv4_presign_query(&k, &r, time(NULL), expires)) !=
	        NULL &&
	    asprintf(&url, "%s%s?%s", s->s_base_url, enc, query) == -1)
		url = NULL;
	free(path);
	free(enc);
	free(query);
	return url;
}

/* s3_uri_encode: see s3.h. */
char *
s3_uri_encode(const char *s, int keep_slash)
{
	return sigv4_uri_encode(s, keep_slash);
}

/* --- XML ---------------------------------------------------------- */

/* s3_xml_next: see s3.h. */
int
s3_xml_next(const char *buf, size_t len, size_t *pos, const char *tag,
    const char **inner, size_t *innerlen)
{
	size_t tl = strlen(tag), i = *pos, j;
	const char *p, *end = buf + len;
	char c;

	if (tl == 0)
		return 0;
	for (; i + tl + 2 <= len; i++) {
		p = buf + i;
		if (p[0] != '<' || memcmp(p + 1, tag, tl) != 0)
			continue;
		c = p[1 + tl];
		if (c != '>' && c != '/' && c != ' ' && c != '\t' &&
		    c != '\r' && c != '\n')
			continue; /* a longer name: <PrefixX> */
		if ((p = memchr(p, '>', (size_t)(end - p))) == NULL)
			return -1;
		if (p[-1] == '/') { /* <Tag/> */
			*inner = p + 1;
			*innerlen = 0;
			*pos = (size_t)(p + 1 - buf);
			return 1;
		}
		*inner = ++p;
		/* The end tag: "</Tag" and optional space, then '>'. */
		for (j = (size_t)(p - buf); j + tl + 3 <= len; j++) {
			if (buf[j] != '<' || buf[j + 1] != '/' ||
			    memcmp(buf + j + 2, tag, tl) != 0)
				continue;
			p = buf + j + 2 + tl;
			while (p < end &&
			    (*p == ' ' || *p == '\t' || *p == '\r' ||
			        *p == '\n'))
				p++;
			if (p < end && *p == '>') {
				*innerlen = j - (size_t)(*inner - buf);
				*pos = (size_t)(p + 1 - buf);
				return 1;
			}
		}
		return -1;
	}
	return 0;
}

/* s3_xml_text: see s3.h. */
int
s3_xml_text(const char *in, size_t len, char *out, size_t outlen)
{
	static const struct {
		const char *name;
		char c;
	} ent[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'},
	    {"apos;", '\''}};
	const char *end = in + len, *semi;
	unsigned long cp;
	size_t o = 0, i, n;
	char u[4], *ep;

	while (in < end) {
		if (*in != '&') {
			u[0] = *in++;
			n = 1;
		} else {
			in++;
			if ((semi = memchr(in, ';', (size_t)(end - in))) ==
			    NULL)
				goto inval;
			n = 0;
			for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++)
				if ((size_t)(semi + 1 - in) ==
				        strlen(ent[i].name) &&
				    memcmp(in, ent[i].name,
				        strlen(ent[i].name)) == 0) {
					u[0] = ent[i].c;
					n = 1;
				}
			if (n == 0) {
				if (*in != '#')
					goto inval;
				errno = 0;
				if (in[1] == 'x' || in[1] == 'X')
					cp = strtoul(in + 2, &ep, 16);
				else
					cp = strtoul(in + 1, &ep, 10);
				if (ep != semi || errno != 0 || cp == 0 ||
				    cp > 0x10ffff ||
				    (cp >= 0xd800 && cp <= 0xdfff))
					goto inval;
				/* UTF-8 */
				if (cp < 0x80) {
					u[0] = (char)cp;
					n = 1;
				} else if (cp < 0x800) {
					u[0] = (char)(0xc0 | (cp >> 6));
					u[1] = (char)(0x80 | (cp & 0x3f));
					n = 2;
				} else if (cp < 0x10000) {
					u[0] = (char)(0xe0 | (cp >> 12));
					u[1] =
					    (char)(0x80 | ((cp >> 6) & 0x3f));
					u[2] = (char)(0x80 | (cp & 0x3f));
					n = 3;
				} else {
					u[0] = (char)(0xf0 | (cp >> 18));
					u[1] =
					    (char)(0x80 | ((cp >> 12) & 0x3f));
					u[2] =
					    (char)(0x80 | ((cp >> 6) & 0x3f));
					u[3] = (char)(0x80 | (cp & 0x3f));
					n = 4;
				}
			}
			in = semi + 1;
		}
		if (o + n >= outlen) {
			if (outlen > 0)
				out[0] = '\0';
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(out + o, u, n);
		o += n;
	}
	if (outlen == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out[o] = '\0';
	return 0;
inval:
	if (outlen > 0)
		out[0] = '\0';
	errno = EINVAL;
	return -1;
}
