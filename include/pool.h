#ifndef REGISTRYD_POOL_H
#define REGISTRYD_POOL_H

#include <sys/queue.h>

#include <stdint.h>

struct event_base;

/*
 * Worker threads for the few things that may block for long: fsync of a
 * finished blob and its directories, walks of the whole tree, bcrypt.
 * Jobs are queued by class, each class with threads of its own, so a
 * commit never waits behind queued password checks (see pool.c for why
 * the threads are split this way). The queues are the only state shared
 * with the workers: pj_work runs on a worker and must touch only what
 * the job owns; pj_done runs afterwards on the event loop, always from
 * the loop's own callback (never inside pool_submit or pool_cancel).
 * The job is embedded in its owner's struct and owned by it; the pool
 * never frees it.
 */
enum pool_class {
	POOL_STORE, /* storage calls (commits, fsync); never refused */
	POOL_AUTH,  /* password checks; refused beyond the class limit */
	POOL_WALK,  /* walks of the whole store (catalog, purge) */
	POOL_NCLASSES,
};

struct pool_job {
	void (*pj_work)(struct pool_job *);
	void (*pj_done)(struct pool_job *);
	enum pool_class pj_class; /* set before pool_submit; 0 is STORE */
	int pj_state;             /* private to pool.c */
	TAILQ_ENTRY(pool_job) pj_entry;
};

/* One class as pool_stats sees it (for logs and /metrics). */
struct pool_stats {
	int ps_threads;        /* workers of the class started */
	int ps_threads_max;    /* workers the class may have */
	int ps_queued;         /* jobs waiting for a worker */
	int ps_running;        /* jobs a worker runs now */
	int ps_limit;          /* queued + running refused beyond; 0: none */
	uint64_t ps_submitted; /* jobs accepted since start */
	/* pool_submit calls refused: at the limit, or for want of a thread */
	uint64_t ps_refused;
	/* of those, refused because no worker ran and none could start */
	uint64_t ps_refused_nothread;
	uint64_t ps_spawn_failed; /* pthread_create failures */
	int ps_spawn_err; /* pthread_create's last error; 0 after a success */
	uint64_t ps_cancelled;   /* jobs cancelled before they ran */
	uint64_t ps_avg_work_us; /* moving average of pj_work's run time */
};

/* pool_start flags */
#define POOL_START_AUTH 0x1 /* password checks will come: a worker now */

/*
 * pool_start: set up the workers, up to nthreads[class] of each (each at
 * least 1; NULL: the defaults of bounds.h, with one password-check worker
 * per CPU but one), whose finished jobs are reported on base. One store
 * and one walk worker start now, and one password-check worker with
 * POOL_START_AUTH; the others with the jobs that find no worker idle
 * (after a failed pthread_create, not again for POOL_SPAWN_BACKOFF_MS).
 * The workers share one malloc arena (M_ARENA_MAX, unless
 * MALLOC_ARENA_MAX is set), and the free memory of every arena is
 * trimmed once jobs pause (see pool.c). Returns 0, or -1 with a logged
 * reason (a worker that must start now could not).
 */
int pool_start(struct event_base *base, const int nthreads[POOL_NCLASSES],
    int flags);
/* pool_default_threads: the workers of class c with nthreads NULL. */
int pool_default_threads(enum pool_class c);
/*
 * pool_set_limit: refuse jobs of class c beyond max queued + running
 * (0: no limit, the default). Only POOL_AUTH may be limited: store work
 * and walks carry commits and cleanups nobody may drop.
 */
void pool_set_limit(enum pool_class c, int max);
/*
 * pool_submit: queue job in its pj_class; its pj_done runs on the loop
 * once pj_work has run. 0, or -1 when the class is at its limit (errno
 * EAGAIN) or has no worker and none could start (pthread_create's error;
 * counted in ps_refused_nothread): the job is not queued, the caller
 * still owns it.
 */
int pool_submit(struct pool_job *);
/*
 * pool_cancel: take job back if no worker has started it: pj_work will
 * not run, pj_done still will (from the loop) so that the owner frees
 * it. 1 when it was taken back, 0 when it runs or has run already.
 */
int pool_cancel(struct pool_job *);
/* pool_pending: jobs submitted whose pj_done has not run yet. */
int pool_pending(void);
/* pool_stats: the depths and counters of class c, for /metrics. */
void pool_stats(enum pool_class c, struct pool_stats *);
/*
 * pool_wait_estimate: seconds a job of class c submitted now would wait
 * for a worker, from the queue's depth and the recent run times; at
 * least 1 (Retry-After).
 */
int pool_wait_estimate(enum pool_class c);
/* pool_stop: run the queued jobs, join the workers, run the pj_dones. */
void pool_stop(void);

#endif /* REGISTRYD_POOL_H */
