/*
 * Unit tests for pool.c: jobs of different classes do not queue behind
 * each other (a store job submitted after many password checks finishes
 * before them), the password-check class is bounded and the others are
 * not, cancelled jobs never run but are handed back, the depths that
 * pool_stats reports, and pool_stop running what is queued.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../src/pool.c"
#include "tap.h"

static struct event_base *base;

/* The order in which pj_work calls ended, across all workers. */
static atomic_int finish_seq;

/* A gate: jobs that wait on it hold their worker until it opens. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1};

struct tjob {
	struct pool_job tj_job; /* first: the pool hands this pointer back */
	int tj_usleep;          /* pj_work sleeps this long */
	int tj_gated;           /* pj_work waits for the gate */
	atomic_int tj_ran;      /* pj_work ran */
	atomic_int tj_seq;      /* finish_seq when pj_work ended */
	int tj_done;            /* pj_done ran (the loop's) */
};

static void
gate_set(int open)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = open;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

static void
tjob_work(struct pool_job *pj)
{
	struct tjob *t = (struct tjob *)pj;

	if (t->tj_gated) {
		pthread_mutex_lock(&gate.lock);
		while (!gate.open)
			pthread_cond_wait(&gate.cond, &gate.lock);
		pthread_mutex_unlock(&gate.lock);
	}
	if (t->tj_usleep > 0)
		usleep((useconds_t)t->tj_usleep);
	atomic_store(&t->tj_seq, atomic_fetch_add(&finish_seq, 1) + 1);
	atomic_store(&t->tj_ran, 1);
}

static void
tjob_done(struct pool_job *pj)
{
	((struct tjob *)pj)->tj_done = 1;
}

static void
tjob_init(struct tjob *t, enum pool_class c, int us, int gated)
{
	memset(t, 0, sizeof(*t));
	t->tj_job.pj_work = tjob_work;
	t->tj_job.pj_done = tjob_done;
	t->tj_job.pj_class = c;
	t->tj_usleep = us;
	t->tj_gated = gated;
}

/* Run the loop until *flag is set or ~10 s passed; 1 when it was set. */
static int
loop_until(const int *flag)
{
	int i;

	for (i = 0; i < 100000 && !*flag; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (!*flag)
			usleep(100);
	}
	return *flag;
}

/* Run the loop until no job is in flight; 1 when it got there. */
static int
loop_idle(void)
{
	int i;

	for (i = 0; i < 100000 && pool_pending() > 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (pool_pending() > 0)
			usleep(100);
	}
	return pool_pending() == 0;
}

/* Wait (on the workers, not the loop) until class c runs n jobs. */
static int
wait_running(enum pool_class c, int n)
{
	struct pool_stats ps;
	int i;

	for (i = 0; i < 100000; i++) {
		pool_stats(c, &ps);
		if (ps.ps_running == n)
			return 1;
		usleep(100);
	}
	return 0;
}

/*
 * N slow password checks, then a commit: the commit must not wait for
 * them. With one FIFO (before) it finished after all N.
 */
static void
test_store_not_behind_auth(void)
{
	enum { N = 8 };
	struct tjob auth[N], store;
	int i, done_before;

	atomic_store(&finish_seq, 0);
	for (i = 0; i < N; i++) {
		tjob_init(&auth[i], POOL_AUTH, 30000, 0);
		ok(pool_submit(&auth[i].tj_job) == 0, "password check %d queued",
		    i + 1);
	}
	tjob_init(&store, POOL_STORE, 0, 0);
	ok(pool_submit(&store.tj_job) == 0, "then a store job");
	ok(loop_until(&store.tj_done), "the store job is done");
	for (done_before = 0, i = 0; i < N; i++)
		done_before += auth[i].tj_done;
	/* Finished k-th of all N + 1 jobs: k - 1 checks were done before. */
	ok(atomic_load(&store.tj_seq) <= N,
	    "it finished before the last password check (as job %d of %d)",
	    atomic_load(&store.tj_seq), N + 1);
	ok(done_before < N, "%d of %d checks were done before it", done_before,
	    N);
	ok(loop_idle(), "the checks finish too");
	for (i = 0; i < N; i++)
		if (!auth[i].tj_done || !atomic_load(&auth[i].tj_ran))
			break;
	is_int(i, N, "every check ran and was handed back");
}

/*
 * With the password worker held, a store job and a walk still run, and
 * a walk held does not stop store jobs.
 */
static void
test_classes_independent(void)
{
	struct tjob held, store, walk, walkheld, store2;

	gate_set(0);
	tjob_init(&held, POOL_AUTH, 0, 1);
	ok(pool_submit(&held.tj_job) == 0, "a password check holds its worker");
	ok(wait_running(POOL_AUTH, 1), "and runs");
	tjob_init(&store, POOL_STORE, 0, 0);
	tjob_init(&walk, POOL_WALK, 0, 0);
	ok(pool_submit(&store.tj_job) == 0 && pool_submit(&walk.tj_job) == 0,
	    "store job and walk submitted");
	ok(loop_until(&store.tj_done) && loop_until(&walk.tj_done),
	    "both done while the check is held");
	ok(!held.tj_done, "the check is still held");

	tjob_init(&walkheld, POOL_WALK, 0, 1);
	ok(pool_submit(&walkheld.tj_job) == 0 && wait_running(POOL_WALK, 1),
	    "a walk holds the walk worker");
	tjob_init(&store2, POOL_STORE, 0, 0);
	ok(pool_submit(&store2.tj_job) == 0 && loop_until(&store2.tj_done),
	    "a store job is done meanwhile");
	gate_set(1);
	ok(loop_idle() && held.tj_done && walkheld.tj_done,
	    "the held jobs finish when let go");
}

/* Only the password checks are bounded; cancel takes back queued jobs. */
static void
test_limit_and_cancel(void)
{
	enum { NS = 300 };
	static struct tjob store[NS];
	struct tjob a[5];
	struct pool_stats ps;
	int i, refused = 0;

	pool_set_limit(POOL_AUTH, 3);
	pool_set_limit(POOL_STORE, 1); /* ignored: store jobs never refused */
	gate_set(0);
	for (i = 0; i < 5; i++)
		tjob_init(&a[i], POOL_AUTH, 0, 1);
	ok(pool_submit(&a[0].tj_job) == 0 && wait_running(POOL_AUTH, 1),
	    "check 1 runs (held)");
	ok(pool_submit(&a[1].tj_job) == 0 && pool_submit(&a[2].tj_job) == 0,
	    "checks 2 and 3 queued");
	errno = 0;
	ok(pool_submit(&a[3].tj_job) == -1 && errno == EAGAIN,
	    "check 4 refused: 3 in flight is the limit");
	pool_stats(POOL_AUTH, &ps);
	is_int(ps.ps_queued, 2, "stats: 2 queued");
	is_int(ps.ps_running, 1, "stats: 1 running");
	is_int(ps.ps_limit, 3, "stats: limit 3");
	is_int(ps.ps_refused, 1, "stats: 1 refused");
	ok(pool_wait_estimate(POOL_AUTH) >= 1, "a wait estimate of >= 1 s");

	for (i = 0; i < NS; i++) {
		tjob_init(&store[i], POOL_STORE, 0, 0);
		if (pool_submit(&store[i].tj_job) == -1)
			refused++;
	}
	is_int(refused, 0, "%d store jobs: none refused", NS);
	pool_stats(POOL_STORE, &ps);
	is_int(ps.ps_limit, 0, "the store class has no limit");

	ok(pool_cancel(&a[2].tj_job) == 1, "a queued check is taken back");
	ok(pool_submit(&a[4].tj_job) == 0, "which makes room for another");
	ok(pool_cancel(&a[0].tj_job) == 0, "a running check is not");
	ok(loop_until(&a[2].tj_done), "the cancelled check is handed back");
	ok(!atomic_load(&a[2].tj_ran), "without running");
	pool_stats(POOL_AUTH, &ps);
	is_int(ps.ps_cancelled, 1, "stats: 1 cancelled");
	gate_set(1);
	ok(loop_idle(), "everything finishes");
	ok(atomic_load(&a[0].tj_ran) && atomic_load(&a[1].tj_ran) &&
	        atomic_load(&a[4].tj_ran) && !atomic_load(&a[3].tj_ran),
	    "the accepted checks ran, the refused one did not");
	for (i = 0; i < NS && store[i].tj_done; i++)
		;
	is_int(i, NS, "every store job ran");
	ok(pool_cancel(&a[1].tj_job) == 0, "a finished job is not taken back");
	pool_set_limit(POOL_AUTH, 0);
}

int
main(void)
{
	struct tjob late[3];
	int i;

	if ((base = event_base_new()) == NULL)
		return 2;
	ok(pool_start(base, (const int[POOL_NCLASSES]){0, 0, 0}) == 0,
	    "pool with the minimum, one thread per class");
	test_store_not_behind_auth();
	test_classes_independent();
	test_limit_and_cancel();

	/* pool_stop runs what is still queued, then every pj_done. */
	gate_set(0);
	for (i = 0; i < 3; i++) {
		tjob_init(&late[i], i == 0 ? POOL_STORE : POOL_AUTH, 0, i == 0);
		(void)pool_submit(&late[i].tj_job);
	}
	gate_set(1);
	pool_stop();
	ok(late[0].tj_done && late[1].tj_done && late[2].tj_done &&
	        atomic_load(&late[2].tj_ran),
	    "pool_stop ran the queued jobs and their pj_done");
	is_int(pool_pending(), 0, "nothing pending after pool_stop");

	ok(pool_start(base, NULL) == 0, "restart with the defaults");
	ok(pool.cls[POOL_STORE].pc_threads == POOL_STORE_THREADS &&
	        pool.cls[POOL_WALK].pc_threads == POOL_WALK_THREADS &&
	        pool.cls[POOL_AUTH].pc_threads >= 1 &&
	        pool.cls[POOL_AUTH].pc_threads <= POOL_AUTH_THREADS_MAX,
	    "default threads: store %d, walk %d, password checks %d",
	    pool.cls[POOL_STORE].pc_threads, pool.cls[POOL_WALK].pc_threads,
	    pool.cls[POOL_AUTH].pc_threads);
	pool_stop();
	event_base_free(base);
	return done_testing();
}
