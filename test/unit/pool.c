/*
 * Unit tests for pool.c: jobs of different classes do not queue behind
 * each other (a store job submitted after many password checks finishes
 * before them), the password-check class is bounded and the others are
 * not, cancelled jobs never run but are handed back, the depths that
 * pool_stats reports, and pool_stop running what is queued; a thread
 * that fails to start (pool_thread_create swapped for one that fails):
 * refused at pool_start for a class that must run, not tried again
 * within the back-off, and the classes with a worker go on. Memory: the
 * workers share one malloc arena, and what their jobs freed is given
 * back to the kernel once they are over.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	int tj_churn;           /* pj_work mallocs and frees this many */
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

/* churn's last block, still allocated: it pins the arena's top. */
static _Atomic(char *) pin;

/*
 * What a listing does to malloc: many small blocks (JSON strings), all
 * freed at the end, while one allocated after them lives on (the next
 * request's, say). Freed small blocks stay in the arena's fast bins, and
 * the live one keeps them from going back as the arena's top.
 */
static void
churn(int n)
{
	char **v, *p;
	int i;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++)
		if ((v[i] = malloc(64)) != NULL)
			memset(v[i], 'x', 64);
	if ((p = malloc(64)) != NULL)
		free(atomic_exchange(&pin, p));
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The threads of this process, from /proc. */
static int
thread_count(void)
{
	FILE *f;
	char line[256];
	int n = -1;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
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
	if (t->tj_churn > 0)
		churn(t->tj_churn);
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
		ok(pool_submit(&auth[i].tj_job) == 0,
		    "password check %d queued", i + 1);
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

/* A timer that sets *arg. */
static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* malloc arenas in the process: malloc_info's <heap> elements. */
static int
arena_count(void)
{
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *f;
	int n = 0;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	(void)malloc_info(0, f);
	fclose(f);
	for (p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(buf);
	return n;
}

/* RssAnon of this process in KiB, or -1. */
static long
rss_anon_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * With the default threads: jobs that malloc on every store and walk
 * worker at once make one arena besides the main thread's, not one per
 * worker; and the ~12 MiB a job allocated and freed in small blocks
 * leaves the process's resident memory once the jobs are over (the
 * trim timer), while a job is still in flight it stays.
 */
/*
 * Workers start with the jobs that need them: right after pool_start,
 * one store and one walk worker (their jobs cannot be refused), no
 * password-check worker; then no more workers of a class than jobs of
 * it were in flight at once, up to the class's number. Idle workers
 * cost RssAnon (pool_spawn_locked).
 */
static void
test_lazy_workers(void)
{
	struct tjob j[POOL_STORE_THREADS + 2];
	struct pool_stats ps;
	int t0 = thread_count(), i;

	ok(pool.cls[POOL_STORE].pc_threads == 1 &&
	        pool.cls[POOL_WALK].pc_threads == 1 &&
	        pool.cls[POOL_AUTH].pc_threads == 0,
	    "at start: 1 store, 1 walk, 0 password-check workers (%d %d %d)",
	    pool.cls[POOL_STORE].pc_threads, pool.cls[POOL_WALK].pc_threads,
	    pool.cls[POOL_AUTH].pc_threads);
	pool_stats(POOL_STORE, &ps);
	ok(ps.ps_threads == 1 && ps.ps_threads_max == POOL_STORE_THREADS,
	    "stats: store threads started 1, may have %d (%d, %d)",
	    POOL_STORE_THREADS, ps.ps_threads, ps.ps_threads_max);
	tjob_init(&j[0], POOL_AUTH, 0, 0);
	(void)pool_submit(&j[0].tj_job);
	ok(loop_idle(), "a password check ran");
	tjob_init(&j[0], POOL_AUTH, 0, 0);
	(void)pool_submit(&j[0].tj_job);
	ok(loop_idle(), "another one ran");
	is_int(pool.cls[POOL_AUTH].pc_threads, 1,
	    "one password-check worker for jobs one at a time");
	gate_set(0);
	for (i = 0; i < POOL_STORE_THREADS + 2; i++) {
		tjob_init(&j[i], POOL_STORE, 0, 1);
		(void)pool_submit(&j[i].tj_job);
	}
	ok(wait_running(POOL_STORE, POOL_STORE_THREADS),
	    "%d store jobs at once: every store worker runs one",
	    POOL_STORE_THREADS + 2);
	gate_set(1);
	ok(loop_idle(), "they ran");
	is_int(pool.cls[POOL_STORE].pc_threads, POOL_STORE_THREADS,
	    "store workers started up to the class's number");
	is_int(thread_count() - t0, POOL_STORE_THREADS - 1 + 1,
	    "threads in /proc: the store workers and a password-check one");
}

static void
test_memory(void)
{
	struct tjob j[POOL_STORE_THREADS + POOL_WALK_THREADS], big;
	long before, after;
	int i, n = POOL_STORE_THREADS + POOL_WALK_THREADS, flag = 0;
	struct event *ev;
	struct timeval tv = {0, 3 * POOL_TRIM_DELAY_MS * 1000};

	gate_set(0);
	for (i = 0; i < n; i++) {
		tjob_init(&j[i],
		    i < POOL_STORE_THREADS ? POOL_STORE : POOL_WALK, 0, 1);
		j[i].tj_churn = 100;
		(void)pool_submit(&j[i].tj_job);
	}
	ok(wait_running(POOL_STORE, POOL_STORE_THREADS) &&
	        wait_running(POOL_WALK, POOL_WALK_THREADS),
	    "every store and walk worker holds a job");
	gate_set(1);
	ok(loop_idle(), "the jobs ended");
	ok(arena_count() <= POOL_MALLOC_ARENAS,
	    "%d workers made no arena of their own: %d arenas", n,
	    arena_count());

	tjob_init(&big, POOL_STORE, 0, 0);
	big.tj_churn = 150000;
	(void)pool_submit(&big.tj_job);
	ok(loop_idle(), "a job freed 150000 small blocks");
	before = rss_anon_kib();
	ev = evtimer_new(base, flag_cb, &flag);
	(void)evtimer_add(ev, &tv);
	(void)loop_until(&flag);
	event_free(ev);
	after = rss_anon_kib();
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator keeps freed memory in quarantine: no trim. */
	ok(1,
	    "# skip their pages went back to the kernel (ASan build: "
	    "RssAnon %ld -> %ld KiB)",
	    before, after);
#else
	ok(before > 0 && after >= 0 && before - after > 6 * 1024,
	    "their pages went back to the kernel: RssAnon %ld -> %ld KiB",
	    before, after);
#endif
	free(atomic_exchange(&pin, NULL));
}

/* pool_thread_create's stand-in: fails after fake_ok successes. */
static int fake_calls, fake_ok;

static int
fake_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
    void *arg)
{
	fake_calls++;
	if (fake_ok <= 0)
		return EAGAIN;
	fake_ok--;
	return pthread_create(t, a, fn, arg);
}

/*
 * A failed pthread_create (a thread limit): pool_start refuses when a
 * class that must run cannot (POOL_START_AUTH); afterwards a failure is
 * not tried again for POOL_SPAWN_BACKOFF_MS, jobs of a class that has a
 * worker still run, and a class without any refuses, counted apart.
 */
static void
test_spawn_failure(void)
{
	struct tjob s[3], a[2];
	struct pool_stats ps;
	int i, calls;

	pool_thread_create = fake_create;
	fake_calls = 0;
	fake_ok = 2; /* store and walk start, the password worker not */
	ok(pool_start(base, NULL, POOL_START_AUTH) == -1,
	    "pool_start refuses when the password worker cannot start");
	is_int(fake_calls, 3, "it tried store, walk and password workers");
	pool_stop();

	fake_calls = 0;
	fake_ok = 3;
	ok(pool_start(base, (const int[POOL_NCLASSES]){3, 3, 3},
	       POOL_START_AUTH) == 0,
	    "with threads to spare: started");
	is_int(pool.cls[POOL_AUTH].pc_threads, 1,
	    "one password worker from the start");
	/* From now on every pthread_create fails. */
	fake_calls = 0;
	gate_set(0);
	for (i = 0; i < 3; i++) {
		tjob_init(&s[i], POOL_STORE, 0, 1);
		ok(pool_submit(&s[i].tj_job) == 0, "store job %d taken", i + 1);
	}
	is_int(fake_calls, 1,
	    "one pthread_create tried for 3 jobs: none within the back-off");
	pool_stats(POOL_STORE, &ps);
	ok(ps.ps_spawn_failed == 1 && ps.ps_spawn_err == EAGAIN &&
	        ps.ps_threads == 1 && ps.ps_threads_max == 3,
	    "stats: 1 failure (EAGAIN), 1 of 3 threads (%d %d %d of %d)",
	    (int)ps.ps_spawn_failed, ps.ps_spawn_err, ps.ps_threads,
	    ps.ps_threads_max);
	tjob_init(&a[0], POOL_AUTH, 0, 0);
	ok(pool_submit(&a[0].tj_job) == 0 && loop_until(&a[0].tj_done),
	    "a password check runs on the worker started with the pool");
	gate_set(1);
	ok(loop_idle() && s[0].tj_done && s[1].tj_done && s[2].tj_done,
	    "the store jobs all ran on the one store worker");

	/* The window is over: the next job that needs a worker tries. */
	pool.cls[POOL_STORE].pc_spawn_retry = 1;
	calls = fake_calls;
	fake_ok = 1;
	gate_set(0);
	tjob_init(&s[0], POOL_STORE, 0, 1);
	tjob_init(&s[1], POOL_STORE, 0, 1);
	(void)pool_submit(&s[0].tj_job);
	(void)pool_submit(&s[1].tj_job);
	ok(fake_calls > calls && pool.cls[POOL_STORE].pc_threads == 2,
	    "after the back-off, a worker starts again (%d threads)",
	    pool.cls[POOL_STORE].pc_threads);
	gate_set(1);
	ok(loop_idle(), "and the jobs ran");
	pool_stop();

	/* No password worker at start: the first check is refused. */
	fake_calls = 0;
	fake_ok = 2;
	ok(pool_start(base, (const int[POOL_NCLASSES]){1, 1, 1}, 0) == 0,
	    "without POOL_START_AUTH, no password worker needed");
	tjob_init(&a[0], POOL_AUTH, 0, 0);
	tjob_init(&a[1], POOL_AUTH, 0, 0);
	errno = 0;
	ok(pool_submit(&a[0].tj_job) == -1 && errno == EAGAIN,
	    "a check with no worker and none startable is refused");
	ok(pool_submit(&a[1].tj_job) == -1 && fake_calls == 3,
	    "so is the next, without another pthread_create (%d calls)",
	    fake_calls);
	pool_stats(POOL_AUTH, &ps);
	ok(ps.ps_refused == 2 && ps.ps_refused_nothread == 2 &&
	        ps.ps_spawn_failed == 1,
	    "stats: 2 refused, both for want of a thread; 1 failure");
	pool_stop();
	pool_thread_create = pthread_create;
}

int
main(void)
{
	struct tjob late[3];
	int i;

	if ((base = event_base_new()) == NULL)
		return 2;
	ok(pool_start(base, (const int[POOL_NCLASSES]){0, 0, 0}, 0) == 0,
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

	ok(pool_start(base, NULL, 0) == 0, "restart with the defaults");
	ok(pool.cls[POOL_STORE].pc_max == POOL_STORE_THREADS &&
	        pool.cls[POOL_WALK].pc_max == POOL_WALK_THREADS &&
	        pool.cls[POOL_AUTH].pc_max >= 1 &&
	        pool.cls[POOL_AUTH].pc_max <= POOL_AUTH_THREADS_MAX,
	    "default threads: store %d, walk %d, password checks %d",
	    pool.cls[POOL_STORE].pc_max, pool.cls[POOL_WALK].pc_max,
	    pool.cls[POOL_AUTH].pc_max);
	test_lazy_workers();
	test_memory();
	pool_stop();
	test_spawn_failure();
	event_base_free(base);
	return done_testing();
}
