/*
 * The worker pool: threads that run the few jobs which may block for long
 * (fsync of a finished blob, a walk of the tree, bcrypt), one queue per
 * class of job. The queues and their mutex are the only state shared with
 * the workers; a finished job is handed back through an eventfd and its
 * pj_done runs on the event loop, where all registry state lives.
 *
 * Why each class has workers of its own, rather than one FIFO or shared
 * workers picking by priority:
 *
 *  - Password checks are bcrypt: pure CPU, ~50 ms each at cost 10, four
 *    times that at 12. With one FIFO, fifteen unknown-user logins queued
 *    ahead of a commit delayed a 1 MB push from 11 ms to 422 ms. Their
 *    workers are capped at one per CPU but one (at least one), so that a
 *    login storm leaves a core to the event loop and the disk: on a
 *    2-core machine one password check runs at a time, and the rest wait
 *    in a queue of bounded depth (pool_set_limit; the registry answers
 *    429 TOOMANYREQUESTS with Retry-After beyond it, which only a request
 *    needing a check can get: access.c).
 *  - Store jobs (commits, manifest writes, listings, deferred store
 *    calls) are mostly waiting for the disk: several can be in fsync at
 *    once for about the cost of one, and the filesystem driver lets
 *    commits that arrive during a sync share the next one (group
 *    commit), which needs commits in flight together. So they get a few
 *    threads that never run anything else. Their queue has no limit of
 *    its own and needs none: every store job belongs to a request, one
 *    per connection at a time, so max_connections bounds it; refusing a
 *    commit would throw away an upload that was already received.
 *  - Walks (catalog refresh, upload purge) take seconds on a big root;
 *    each kind runs one at a time. Two threads of their own, so that a
 *    walk never holds a commit's worker and a long purge never delays
 *    the catalog's refresh.
 *
 * Priority over shared workers was the alternative: it would let idle
 * password workers help with commits, but a worker that picked a bcrypt
 * job is gone for its 50-200 ms however urgent the next commit is, so a
 * worker would have to be reserved for store jobs anyway, and the CPU
 * cap for bcrypt would need a second mechanism. Dedicated threads give
 * both with one rule; the price is a few idle threads, which is why a
 * class's workers start with its first jobs (pool_spawn_locked).
 *
 * Memory. glibc gives each thread that mallocs an arena of its own, up
 * to 8 per CPU, and a freed small block stays in its arena's bins: a
 * listing of 2000 tags built as JSON on a worker left ~300 KiB there,
 * and since consecutive jobs go to different workers, each store worker
 * kept its own copy (bench phase 7, catalog/tags: RssAnon 3.4 MiB where
 * the single-threaded listing of before the hardening work held 2.0).
 * So the workers share one arena besides the loop's (M_ARENA_MAX 2, at
 * pool_start, unless the administrator set MALLOC_ARENA_MAX or a glibc
 * tunable): one arena, not one per worker, grows to the largest job.
 * Not one for everything (M_ARENA_MAX 1): then the loop contended
 * with the workers for the arena's lock and concurrent 2000-tag listings
 * fell from ~1400 to ~850 per second; with two, no change was
 * measurable. And a while after the workers' jobs end, when none is in
 * flight, malloc_trim gives the free pages of every arena back to the
 * kernel (pool_trim_cb), at most once per POOL_TRIM_DELAY_MS. Measured
 * with /proc/PID/status on bench phase 7's configuration (2000
 * repositories, 2000 tags): idle 1.45 -> 1.2 MiB RssAnon; right after
 * the catalog and tags listings 3.4 -> 2.7 MiB, and 1.5 MiB 0.6 s later
 * (3.4 before, never given back).
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounds.h"
#include "log.h"
#include "pool.h"

TAILQ_HEAD(pool_queue, pool_job);

/* pj_state */
enum {
	POOL_JOB_IDLE,    /* not in the pool */
	POOL_JOB_QUEUED,  /* in its class's waiting queue */
	POOL_JOB_RUNNING, /* a worker runs pj_work */
	POOL_JOB_DONE,    /* in the done queue, waiting for pj_done */
};

struct pool_class_state {
	struct pool_queue pc_waiting; /* waiting for a worker of the class */
	pthread_cond_t pc_cond;       /* pc_waiting got a job, or stopping */
	int pc_max;               /* workers the class may have (pool_start) */
	int pc_threads;           /* started so far (pool_submit starts them) */
	int pc_spawn_err;         /* pthread_create's last error, 0: none */
	uint64_t pc_spawn_retry;  /* no pthread_create before (ns), 0: any */
	uint64_t pc_spawn_failed; /* pthread_create failures */
	uint64_t pc_nothread;     /* of pc_refused: no worker could start */
	int pc_idle;              /* waiting on pc_cond for a job */
	int pc_queued;
	int pc_running;
	int pc_limit; /* queued + running refused beyond; 0: none */
	uint64_t pc_submitted;
	uint64_t pc_refused;
	uint64_t pc_cancelled;
	uint64_t pc_avg_ns; /* moving average of pj_work run times */
};

struct pool_worker {
	pthread_t pw_thread;
	enum pool_class pw_class;
};

static struct {
	pthread_mutex_t lock;
	struct pool_class_state cls[POOL_NCLASSES];
	struct pool_queue done; /* waiting for pj_done */
	struct pool_worker workers[POOL_THREADS_MAX];
	int nworkers;
	int started; /* the conditions are initialised */
	int stopping;
	int pending; /* submitted, pj_done not run (the loop's only) */
	int efd;     /* eventfd: done queue non-empty */
	struct event *ev;
	struct event *trim_ev; /* malloc_trim once the jobs are over */
	int trim_armed;        /* trim_ev is pending */
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .efd = -1,
};

static void *pool_worker(void *);
static void pool_done_cb(evutil_socket_t, short, void *);
static void pool_trim_cb(evutil_socket_t, short, void *);
static void pool_trim_arm(void);
static void pool_limit_arenas(void);
static void pool_run_done(void);
static void pool_finish_locked(struct pool_job *);
static int pool_spawn_locked(enum pool_class);
static uint64_t pool_now_ns(void);
static int pool_default_auth_threads(void);
static const char *pool_class_name(enum pool_class);

/*
 * pthread_create, or the unit test's stand-in that fails: thread limits
 * (ulimit -u, a container's pids limit) cannot be set reliably for a
 * test that may run as root.
 */
static int (*pool_thread_create)(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *) = pthread_create;

static uint64_t
pool_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* With pool.lock held: hand job to the loop and wake it. */
static void
pool_finish_locked(struct pool_job *job)
{
	uint64_t one = 1;

	job->pj_state = POOL_JOB_DONE;
	TAILQ_INSERT_TAIL(&pool.done, job, pj_entry);
	/* A full eventfd counter cannot happen with 64 bits. */
	if (write(pool.efd, &one, sizeof(one)) != sizeof(one))
		log_warn("%s: eventfd write", __func__);
}

/*
 * A worker of one class: take the oldest job of the class, run it, queue
 * it for the loop, wake the loop. When stopping, it first empties its
 * queue.
 */
static void *
pool_worker(void *arg)
{
	struct pool_worker *w = arg;
	struct pool_class_state *c = &pool.cls[w->pw_class];
	struct pool_job *job;
	uint64_t t0, ns;

	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (TAILQ_EMPTY(&c->pc_waiting) && !pool.stopping) {
			c->pc_idle++;
			pthread_cond_wait(&c->pc_cond, &pool.lock);
			c->pc_idle--;
		}
		if ((job = TAILQ_FIRST(&c->pc_waiting)) == NULL)
			break; /* stopping and nothing left */
		TAILQ_REMOVE(&c->pc_waiting, job, pj_entry);
		c->pc_queued--;
		c->pc_running++;
		job->pj_state = POOL_JOB_RUNNING;
		pthread_mutex_unlock(&pool.lock);

		t0 = pool_now_ns();
		job->pj_work(job);
		ns = pool_now_ns() - t0;

		pthread_mutex_lock(&pool.lock);
		c->pc_running--;
		/* An average over the last ~8 jobs: Retry-After, metrics. */
		if (c->pc_avg_ns == 0)
			c->pc_avg_ns = ns;
		else
			c->pc_avg_ns = (c->pc_avg_ns * 7 + ns) / 8;
		pool_finish_locked(job);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Run pj_done of every finished job, on the loop. */
static void
pool_run_done(void)
{
	struct pool_queue ready;
	struct pool_job *job;

	TAILQ_INIT(&ready);
	pthread_mutex_lock(&pool.lock);
	TAILQ_CONCAT(&ready, &pool.done, pj_entry);
	pthread_mutex_unlock(&pool.lock);
	while ((job = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, job, pj_entry);
		job->pj_state = POOL_JOB_IDLE;
		pool.pending--;
		/* pj_done may free the job: nothing touches it afterwards. */
		job->pj_done(job);
		pool_trim_arm();
	}
}

/* A job ended: trim the arenas in a while, unless that is planned. */
static void
pool_trim_arm(void)
{
	struct timeval tv = {0, POOL_TRIM_DELAY_MS * 1000};

	if (pool.trim_armed || pool.trim_ev == NULL)
		return;
	if (evtimer_add(pool.trim_ev, &tv) == 0)
		pool.trim_armed = 1;
}

/*
 * Give the free pages of every malloc arena back (see the top of the
 * file), when no job is in flight: under a steady flow of jobs the pages
 * would only be faulted in again, so it waits for a pause.
 */
static void
pool_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pool.trim_armed = 0;
	if (pool.pending > 0) {
		pool_trim_arm();
		return;
	}
	(void)malloc_trim(0);
}

/*
 * The workers share one malloc arena besides the loop's (see the top of
 * the file), unless the administrator chose: MALLOC_ARENA_MAX or the
 * glibc.malloc.arena_max tunable win. Before the first worker starts,
 * so that none makes an arena of its own.
 */
static void
pool_limit_arenas(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") != NULL ||
	    (t != NULL && strstr(t, "glibc.malloc.arena_max") != NULL))
		return;
	/* Refused by allocators other than glibc's (ASan's): no harm. */
	if (mallopt(M_ARENA_MAX, POOL_MALLOC_ARENAS) != 1)
		log_debug("%s: mallopt M_ARENA_MAX refused", __func__);
}

static void
pool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("%s: eventfd read", __func__);
	pool_run_done();
}

/* One password-check worker per CPU this process may use, but one. */
static int
pool_default_auth_threads(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	n--;
	if (n < 1)
		n = 1;
	return n > POOL_AUTH_THREADS_MAX ? POOL_AUTH_THREADS_MAX : n;
}

/* For log lines. */
static const char *
pool_class_name(enum pool_class c)
{
	switch (c) {
	case POOL_STORE:
		return "store";
	case POOL_AUTH:
		return "password-check";
	case POOL_WALK:
	default:
		return "walk";
	}
}

/* pool_default_threads: the workers class c gets with pool_start(NULL). */
int
pool_default_threads(enum pool_class c)
{
	switch (c) {
	case POOL_STORE:
		return POOL_STORE_THREADS;
	case POOL_AUTH:
		return pool_default_auth_threads();
	case POOL_WALK:
	default:
		return POOL_WALK_THREADS;
	}
}

/*
 * pool_start: let each class c have up to nthreads[c] workers (NULL: the
 * defaults), whose finished jobs are reported on base, and start the
 * first of each class whose jobs must be able to run (see below).
 * Returns 0, or -1 with a logged reason.
 */
int
pool_start(struct event_base *base, const int nthreads[POOL_NCLASSES],
    int flags)
{
	int want[POOL_NCLASSES], c, limit, total = 0;

	if (nthreads != NULL) {
		for (c = 0; c < POOL_NCLASSES; c++)
			want[c] = nthreads[c];
	} else {
		for (c = 0; c < POOL_NCLASSES; c++)
			want[c] = pool_default_threads(c);
	}
	for (c = 0; c < POOL_NCLASSES; c++) {
		if (want[c] < 1)
			want[c] = 1;
		total += want[c];
	}
	if (total > POOL_THREADS_MAX) {
		log_warnx("%s: %d threads, at most %d", __func__, total,
		    POOL_THREADS_MAX);
		return -1;
	}
	if (pool.started) {
		log_warnx("%s: started twice", __func__);
		return -1;
	}
	TAILQ_INIT(&pool.done);
	for (c = 0; c < POOL_NCLASSES; c++) {
		/* pool_set_limit may come first. */
		limit = pool.cls[c].pc_limit;
		memset(&pool.cls[c], 0, sizeof(pool.cls[c]));
		pool.cls[c].pc_limit = limit;
		TAILQ_INIT(&pool.cls[c].pc_waiting);
		if ((errno = pthread_cond_init(&pool.cls[c].pc_cond, NULL)) !=
		    0) {
			log_warn("pthread_cond_init");
			while (--c >= 0)
				pthread_cond_destroy(&pool.cls[c].pc_cond);
			return -1;
		}
	}
	pool.started = 1;
	pool.stopping = 0;
	if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		return -1;
	}
	pool.ev =
	    event_new(base, pool.efd, EV_READ | EV_PERSIST, pool_done_cb, NULL);
	if (pool.ev == NULL || event_add(pool.ev, NULL) == -1) {
		log_warnx("%s: event_new failed", __func__);
		return -1;
	}
	if ((pool.trim_ev = evtimer_new(base, pool_trim_cb, NULL)) == NULL) {
		log_warnx("%s: evtimer_new failed", __func__);
		return -1;
	}
	pool.trim_armed = 0;
	pool_limit_arenas();
	/*
	 * The other workers start with the first job that finds none idle
	 * (pool_submit). Store and walk jobs cannot be refused (store_call),
	 * so one worker of each is there from the start; so is one password
	 * worker when checks will come (POOL_START_AUTH): whether each class
	 * can run at all is known here, where a start can still be refused,
	 * not at the first login after the privileges were dropped, where a
	 * thread limit (ulimit -u, a container's pids limit, systemd's
	 * TasksMax) would turn every login into a 429.
	 */
	pthread_mutex_lock(&pool.lock);
	for (c = 0; c < POOL_NCLASSES; c++)
		pool.cls[c].pc_max = want[c];
	if (pool_spawn_locked(POOL_STORE) == -1 ||
	    pool_spawn_locked(POOL_WALK) == -1 ||
	    ((flags & POOL_START_AUTH) && pool_spawn_locked(POOL_AUTH) == -1)) {
		pthread_mutex_unlock(&pool.lock);
		return -1; /* pool_stop joins what did start */
	}
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/*
 * With pool.lock held: start one more worker of class c. Workers start
 * on demand rather than all at pool_start because most would stay idle
 * for ever (the password-check workers without htpasswd, the third and
 * fourth store worker without concurrent commits) and each idle one
 * costs ~12 KiB of RssAnon (its stack's touched pages and thread block;
 * /proc/PID/smaps on bench phase 7's configuration).
 *
 * A failed pthread_create is not tried again for POOL_SPAWN_BACKOFF_MS:
 * the limit that refused it (ulimit -u, a pids limit) rarely lifts
 * within a request, and retrying on every job would cost a system call
 * and a log line each. The class's running workers take the job
 * meanwhile; a class without any refuses it (pool_submit). One log
 * line per failure, so at most one per window.
 */
static int
pool_spawn_locked(enum pool_class c)
{
	struct pool_class_state *pc = &pool.cls[c];
	struct pool_worker *w;
	uint64_t now;
	int err;

	if (pool.stopping || pool.nworkers >= POOL_THREADS_MAX ||
	    pc->pc_threads >= pc->pc_max)
		return -1;
	now = pool_now_ns();
	if (pc->pc_spawn_retry != 0 && now < pc->pc_spawn_retry) {
		errno = pc->pc_spawn_err;
		return -1;
	}
	w = &pool.workers[pool.nworkers];
	w->pw_class = c;
	if ((err = pool_thread_create(&w->pw_thread, NULL, pool_worker, w)) !=
	    0) {
		pc->pc_spawn_err = err;
		pc->pc_spawn_failed++;
		pc->pc_spawn_retry =
		    now + (uint64_t)POOL_SPAWN_BACKOFF_MS * 1000000u;
		log_warnx("pool: cannot start a %s worker thread (%d of %d "
		          "running): pthread_create: %s; not trying again "
		          "for %d ms; check the limits on threads (ulimit -u, "
		          "docker --pids-limit, systemd TasksMax)",
		    pool_class_name(c), pc->pc_threads, pc->pc_max,
		    strerror(err), POOL_SPAWN_BACKOFF_MS);
		errno = err;
		return -1;
	}
	pc->pc_spawn_err = 0;
	pc->pc_spawn_retry = 0;
	pool.nworkers++;
	pc->pc_threads++;
	return 0;
}

/* pool_set_limit: refuse jobs of class c beyond max in flight (0: none). */
void
pool_set_limit(enum pool_class c, int max)
{
	if (c != POOL_AUTH)
		return;
	pthread_mutex_lock(&pool.lock);
	pool.cls[c].pc_limit = max > 0 ? max : 0;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * pool_submit: queue job in its class; its pj_done runs on the loop once
 * it is done. -1 with errno EAGAIN when the class is at its limit, or
 * with pthread_create's error when no worker of the class runs and none
 * could start (pc_nothread tells the two apart).
 */
int
pool_submit(struct pool_job *job)
{
	struct pool_class_state *c;

	if ((unsigned)job->pj_class >= POOL_NCLASSES)
		fatalx("%s: job class %d", __func__, (int)job->pj_class);
	c = &pool.cls[job->pj_class];
	pthread_mutex_lock(&pool.lock);
	if (c->pc_limit > 0 && c->pc_queued + c->pc_running >= c->pc_limit) {
		c->pc_refused++;
		pthread_mutex_unlock(&pool.lock);
		errno = EAGAIN;
		return -1;
	}
	/* More jobs waiting than workers to take them: one more worker. */
	if (c->pc_idle < c->pc_queued + 1 && c->pc_threads < c->pc_max &&
	    pool_spawn_locked(job->pj_class) == -1 && c->pc_threads == 0) {
		c->pc_refused++;
		c->pc_nothread++;
		errno = c->pc_spawn_err != 0 ? c->pc_spawn_err : EAGAIN;
		pthread_mutex_unlock(&pool.lock);
		return -1;
	}
	job->pj_state = POOL_JOB_QUEUED;
	TAILQ_INSERT_TAIL(&c->pc_waiting, job, pj_entry);
	c->pc_queued++;
	c->pc_submitted++;
	pool.pending++;
	pthread_cond_signal(&c->pc_cond);
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/*
 * pool_cancel: when no worker has taken job yet, move it to the done
 * queue without running pj_work (its pj_done follows from the loop) and
 * return 1; else 0.
 */
int
pool_cancel(struct pool_job *job)
{
	struct pool_class_state *c = &pool.cls[job->pj_class];
	int taken = 0;

	pthread_mutex_lock(&pool.lock);
	if (job->pj_state == POOL_JOB_QUEUED) {
		TAILQ_REMOVE(&c->pc_waiting, job, pj_entry);
		c->pc_queued--;
		c->pc_cancelled++;
		pool_finish_locked(job);
		taken = 1;
	}
	pthread_mutex_unlock(&pool.lock);
	return taken;
}

/* pool_pending: jobs submitted whose pj_done has not run yet. */
int
pool_pending(void)
{
	return pool.pending;
}

/* pool_stats: a consistent copy of class c's depths and counters. */
void
pool_stats(enum pool_class c, struct pool_stats *ps)
{
	struct pool_class_state *pc = &pool.cls[c];

	pthread_mutex_lock(&pool.lock);
	ps->ps_threads = pc->pc_threads;
	ps->ps_threads_max = pc->pc_max;
	ps->ps_queued = pc->pc_queued;
	ps->ps_running = pc->pc_running;
	ps->ps_limit = pc->pc_limit;
	ps->ps_submitted = pc->pc_submitted;
	ps->ps_refused = pc->pc_refused;
	ps->ps_refused_nothread = pc->pc_nothread;
	ps->ps_spawn_failed = pc->pc_spawn_failed;
	ps->ps_spawn_err = pc->pc_spawn_err;
	ps->ps_cancelled = pc->pc_cancelled;
	ps->ps_avg_work_us = pc->pc_avg_ns / 1000;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * pool_wait_estimate: the queue's depth times the average run time,
 * spread over the class's workers (those started: a class short of
 * threads has fewer than it may have), in whole seconds rounded up; 1 to
 * 3600.
 */
int
pool_wait_estimate(enum pool_class c)
{
	struct pool_stats ps;
	uint64_t us;

	pool_stats(c, &ps);
	if (ps.ps_threads < 1)
		return 1;
	us = ps.ps_avg_work_us * (uint64_t)(ps.ps_queued + ps.ps_running) /
	    (uint64_t)ps.ps_threads;
	if (us <= 1000000)
		return 1;
	return us >= 3600u * 1000000 ? 3600 : (int)((us + 999999) / 1000000);
}

/*
 * pool_stop: let the workers finish every queued job, join them, then run
 * the remaining pj_done callbacks so that owners can free their jobs.
 */
void
pool_stop(void)
{
	int c, i;

	if (!pool.started)
		return;
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	for (c = 0; c < POOL_NCLASSES; c++)
		pthread_cond_broadcast(&pool.cls[c].pc_cond);
	pthread_mutex_unlock(&pool.lock);
	for (i = 0; i < pool.nworkers; i++)
		pthread_join(pool.workers[i].pw_thread, NULL);
	pool.nworkers = 0;
	if (pool.efd != -1)
		pool_run_done();
	for (c = 0; c < POOL_NCLASSES; c++) {
		pthread_cond_destroy(&pool.cls[c].pc_cond);
		pool.cls[c].pc_threads = 0;
		pool.cls[c].pc_idle = 0;
	}
	pool.started = 0;
	if (pool.ev != NULL)
		event_free(pool.ev);
	pool.ev = NULL;
	if (pool.trim_ev != NULL)
		event_free(pool.trim_ev);
	pool.trim_ev = NULL;
	pool.trim_armed = 0;
	if (pool.efd != -1)
		close(pool.efd);
	pool.efd = -1;
}
