/*
 * api_gc.c: garbage collection while the server runs, every gc_interval
 * seconds (off by default) and on SIGUSR1 (reg_collect_garbage). One
 * collection at a time, removing unreferenced blobs and their layer links
 * (never manifests: --delete-untagged is for the command line, where
 * someone chose it). The work is gc.c's, as a chain of store calls of
 * kind STORE_CALL_WALK, one gc_step each: a walk, then a few hundred
 * manifest reads or removals per call, so the worker pool runs the
 * commits and manifest pushes queued meanwhile between them, and the
 * loop never waits for any of it. Why pushes stay safe meanwhile is told
 * at the top of gc.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "gc.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* The one collection of the process and the call that steps it. */
struct api_gc {
	struct store_call ag_call; /* first: sc_work and sc_done get this */
	struct event_base *ag_base;
	struct store *ag_store;
	const struct config *ag_cfg;
	struct gc *ag_gc; /* the run, while ag_busy */
	int ag_rc;        /* of the last gc_step */
	int ag_errno;
	int ag_busy; /* a run is under way */
	/* A timed run said GC_SHARED_WARNING since start or the last SIGHUP. */
	int ag_timed_warned;
	char ag_why[32];
};

static void gc_timer_cb(evutil_socket_t, short, void *);
static void gc_work(struct store_call *);
static void gc_done(struct store_call *);
static void gc_finish(struct api_gc *, const char *);
static void gc_collect(const char *, int);
static int gc_unsafe(const struct config *);

static struct api_gc api_gc;
static struct event *api_gc_ev;

/*
 * gc_unsafe: whether a collection with cfg can lose layers pushed on
 * another instance (gc.h GC_SHARED_GRACE): on s3 with a short gc_grace.
 */
static int
gc_unsafe(const struct config *cfg)
{
	return strcmp(cfg->cf_driver, "s3") == 0 &&
	    cfg->cf_gc_grace < GC_SHARED_GRACE;
}

/*
 * api_gc_start: keep base, cfg and store (which must outlive the
 * collection) and, when cfg sets gc_interval, collect that often. 0, or
 * -1 (nothing started). A gc_grace that makes collections unsafe on a
 * shared store is said here, also without gc_interval (SIGUSR1 can start
 * one), rather than only at a first timed run that may be a day away.
 */
int
api_gc_start(struct event_base *base, const struct config *cfg,
    struct store *store)
{
	struct timeval tv = {cfg->cf_gc_interval, 0};

	if (!api_gc.ag_busy) {
		api_gc.ag_base = base;
		api_gc.ag_store = store;
		api_gc.ag_cfg = cfg;
	}
	api_gc.ag_timed_warned = 0;
	if (cfg->cf_read_only)
		return 0;
	if (gc_unsafe(cfg))
		log_warnx(GC_SHARED_WARNING, (long long)cfg->cf_gc_grace,
		    GC_SHARED_GRACE);
	if (cfg->cf_gc_interval == 0)
		return 0;
	api_gc_ev = event_new(base, -1, EV_PERSIST, gc_timer_cb, NULL);
	if (api_gc_ev == NULL || event_add(api_gc_ev, &tv) == -1) {
		api_gc_stop();
		return -1;
	}
	return 0;
}

/*
 * api_gc_cancel: the server is shutting down: a run under way stops at
 * its next item (the walk of a big tree can take minutes), so that the
 * worker pool can stop soon.
 */
void
api_gc_cancel(void)
{
	if (api_gc.ag_busy)
		gc_cancel(api_gc.ag_gc);
}

/*
 * api_gc_stop: no more collections. A step under way finishes; its
 * done, seeing the loop gone, ends the run there.
 */
void
api_gc_stop(void)
{
	if (api_gc_ev != NULL)
		event_free(api_gc_ev);
	api_gc_ev = NULL;
	api_gc.ag_cfg = NULL;
}

static void
gc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	gc_collect("gc_interval", 1);
}

/*
 * api_gc_reloaded: after a SIGHUP, the next timed run says the gc_grace
 * warning again (SIGHUP does not re-read gc_grace, so it still holds),
 * for an operator who reloads and reads the log from there.
 */
void
api_gc_reloaded(void)
{
	api_gc.ag_timed_warned = 0;
}

/*
 * api_gc_run: start a collection now, unless one runs (then that one is
 * it) or the registry is read-only. why names who asked, for the log.
 */
void
api_gc_run(const char *why)
{
	gc_collect(why, 0);
}

/*
 * gc_collect: api_gc_run; timed, by gc_interval. Every run someone asked
 * for says the gc_grace warning (gc.h); timed ones only the first since
 * start or the last SIGHUP: with gc_interval 1 that would be 86,400 lines
 * a day.
 */
static void
gc_collect(const char *why, int timed)
{
	struct api_gc *ag = &api_gc;
	struct gc_options opts;

	if (ag->ag_cfg == NULL)
		return;
	if (ag->ag_cfg->cf_read_only) {
		log_info("%s: read-only: no garbage collection", why);
		return;
	}
	if (ag->ag_busy) {
		log_info("%s: garbage collection already running", why);
		return;
	}
	memset(&opts, 0, sizeof(opts));
	opts.go_grace = ag->ag_cfg->cf_gc_grace;
	opts.go_warn_shared =
	    gc_unsafe(ag->ag_cfg) && (!timed || !ag->ag_timed_warned);
	if ((ag->ag_gc = gc_new(ag->ag_store, &opts)) == NULL) {
		log_warn("%s: garbage collection", why);
		return;
	}
	if (timed && opts.go_warn_shared)
		ag->ag_timed_warned = 1; /* gc_new said it */
	(void)util_strlcpy(ag->ag_why, why, sizeof(ag->ag_why));
	log_info("garbage collection started (%s), keeping what was used "
	         "in the last %d s",
	    why, ag->ag_cfg->cf_gc_grace);
	ag->ag_busy = 1;
	ag->ag_call.sc_kind = STORE_CALL_WALK;
	ag->ag_call.sc_work = gc_work;
	ag->ag_call.sc_done = gc_done;
	store_call(ag->ag_store, &ag->ag_call);
}

/* On a worker: one bounded piece of the run. */
static void
gc_work(struct store_call *sc)
{
	struct api_gc *ag = (struct api_gc *)sc;

	ag->ag_rc = gc_step(ag->ag_gc);
	ag->ag_errno = errno;
}

/*
 * On the loop: the next piece, or the end. Not once the loop is told to
 * exit: the pool is about to stop, and a step queued then would never
 * run.
 */
static void
gc_done(struct store_call *sc)
{
	struct api_gc *ag = (struct api_gc *)sc;

	if (ag->ag_rc == 1 && ag->ag_cfg != NULL &&
	    !event_base_got_exit(ag->ag_base)) {
		store_call(ag->ag_store, &ag->ag_call);
		return;
	}
	if (ag->ag_rc == 1 || (ag->ag_rc == -1 && ag->ag_errno == ECANCELED))
		gc_finish(ag, "interrupted by shutdown");
	else if (ag->ag_rc == -1) {
		errno = ag->ag_errno;
		gc_finish(ag, strerror(errno));
	} else
		gc_finish(ag, NULL);
}

/* gc_finish: log how the run ended (failure: why) and free it. */
static void
gc_finish(struct api_gc *ag, const char *failure)
{
	const struct gc_result *r = gc_result(ag->ag_gc);
	char sum[256];

	gc_summary(r, 0, sum, sizeof(sum));
	if (failure != NULL)
		log_warnx("garbage collection (%s) stopped: %s; %s", ag->ag_why,
		    failure, sum);
	else
		log_info("garbage collection (%s) done in %" PRIu64
		         " ms: %zu blobs, %zu repositories; %s; %zu errors",
		    ag->ag_why, r->gr_ms, r->gr_blobs, r->gr_repos, sum,
		    r->gr_errors);
	gc_free(ag->ag_gc);
	ag->ag_gc = NULL;
	ag->ag_busy = 0;
}
