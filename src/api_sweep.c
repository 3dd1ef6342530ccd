/*
 * api_sweep.c: the timers that keep upload sessions bounded over months:
 * closing sessions idle for an hour (their data stays, a client may come
 * back), and purging abandoned ones from the store by age, at start and
 * every upload_purge_interval, as registry:2's uploadpurging does.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "upload.h"

#define API_UPLOAD_EXPIRE_INTERVAL 60   /* seconds between upload sweeps */
#define API_UPLOAD_IDLE            3600 /* close sessions idle this long */

/*
 * The sweep of stale upload sessions (store_upload_purge), at start and
 * every upload_purge_interval: registry:2's uploadpurging.
 */
struct api_upload_purge {
	struct store_call up_call;
	struct store *up_store;
	time_t up_age;
	int up_dryrun;
	int up_result;
	int up_errno;
	int up_busy; /* started, sc_done not run */
};

static void expire_cb(evutil_socket_t, short, void *);
static void purge_timer_cb(evutil_socket_t, short, void *);
static void purge_run(void);
static void purge_work(struct store_call *);
static void purge_done(struct store_call *);

static struct event *api_upload_expire_ev;
static struct event *api_upload_purge_ev;
static struct api_upload_purge api_upload_purge;

/*
 * api_sweep_start: close idle sessions every
 * API_UPLOAD_EXPIRE_INTERVAL seconds and, unless cfg turns purging off,
 * purge stale sessions from store now and every upload_purge_interval
 * (store must outlive the timers). 0, or -1 (nothing started).
 */
int
api_sweep_start(struct event_base *base, const struct config *cfg,
    struct store *store)
{
	struct timeval tv = {API_UPLOAD_EXPIRE_INTERVAL, 0};
	struct timeval ptv = {cfg->cf_upload_purge_interval, 0};

	api_upload_expire_ev = event_new(base, -1, EV_PERSIST, expire_cb, NULL);
	if (api_upload_expire_ev == NULL ||
	    event_add(api_upload_expire_ev, &tv) == -1)
		goto fail;
	/* Read-only, as registry:2's maintenance mode: nothing is removed. */
	if (!cfg->cf_upload_purge || cfg->cf_read_only)
		return 0;
	api_upload_purge_ev =
	    event_new(base, -1, EV_PERSIST, purge_timer_cb, NULL);
	if (api_upload_purge_ev == NULL ||
	    event_add(api_upload_purge_ev, &ptv) == -1)
		goto fail;
	if (!api_upload_purge.up_busy) {
		memset(&api_upload_purge, 0, sizeof(api_upload_purge));
		api_upload_purge.up_store = store;
		api_upload_purge.up_age = (time_t)cfg->cf_upload_purge_age;
		api_upload_purge.up_dryrun = cfg->cf_upload_purge_dryrun;
	}
	purge_run();
	return 0;
fail:
	api_sweep_stop();
	return -1;
}

/* api_sweep_stop: stop the sweeps (no-op when not started). */
void
api_sweep_stop(void)
{
	if (api_upload_expire_ev != NULL)
		event_free(api_upload_expire_ev);
	api_upload_expire_ev = NULL;
	if (api_upload_purge_ev != NULL)
		event_free(api_upload_purge_ev);
	api_upload_purge_ev = NULL;
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	upload_expire(API_UPLOAD_IDLE);
}

static void
purge_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	purge_run();
}

/*
 * Stale sessions (a crash, a client that went away) are removed by age,
 * as registry:2's uploadpurging does. The walk may take long on a big
 * tree: a STORE_CALL_WALK, one at a time (a sweep still running when the
 * next is due skips that one).
 */
static void
purge_run(void)
{
	struct api_upload_purge *up = &api_upload_purge;

	if (up->up_busy)
		return;
	up->up_call.sc_kind = STORE_CALL_WALK;
	up->up_call.sc_work = purge_work;
	up->up_call.sc_done = purge_done;
	up->up_busy = 1;
	store_call(up->up_store, &up->up_call);
}

static void
purge_work(struct store_call *sc)
{
	struct api_upload_purge *up = (struct api_upload_purge *)sc;

	up->up_result =
	    store_upload_purge(up->up_store, up->up_age, up->up_dryrun);
	up->up_errno = errno;
}

static void
purge_done(struct store_call *sc)
{
	struct api_upload_purge *up = (struct api_upload_purge *)sc;

	up->up_busy = 0;
	if (!up->up_dryrun && up->up_result > 0 && api_running())
		upload_purged(up->up_age);
	if (up->up_result == -1) {
		errno = up->up_errno;
		log_warn("purging stale uploads");
	} else if (up->up_result > 0)
		log_info("%s %d stale upload(s)",
		    up->up_dryrun ? "would purge" : "purged", up->up_result);
}
