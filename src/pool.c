/*
 * The worker pool: POOL_THREADS threads that run the few jobs which may
 * block for long (fsync of a finished blob, a walk of the tree, bcrypt).
 * The queues and their mutex are the only state shared with the workers;
 * a finished job is handed back through an eventfd and its pj_done runs on
 * the event loop, where all registry state lives.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounds.h"
#include "log.h"
#include "pool.h"

TAILQ_HEAD(pool_queue, pool_job);

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_queue todo; /* waiting for a worker */
	struct pool_queue done; /* waiting for pj_done */
	pthread_t threads[8];
	int nthreads;
	int stopping;
	int pending; /* submitted, pj_done not run */
	int efd;     /* eventfd: done queue non-empty */
	struct event *ev;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .efd = -1,
};

static void *pool_worker(void *);
static void pool_done_cb(evutil_socket_t, short, void *);
static void pool_run_done(void);

/* A worker: take a job, run it, queue it for the loop, wake the loop. */
static void *
pool_worker(void *arg)
{
	struct pool_job *job;
	uint64_t one = 1;

	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (TAILQ_EMPTY(&pool.todo) && !pool.stopping)
			pthread_cond_wait(&pool.cond, &pool.lock);
		if ((job = TAILQ_FIRST(&pool.todo)) == NULL)
			break; /* stopping and nothing left */
		TAILQ_REMOVE(&pool.todo, job, pj_entry);
		pthread_mutex_unlock(&pool.lock);

		job->pj_work(job);

		pthread_mutex_lock(&pool.lock);
		TAILQ_INSERT_TAIL(&pool.done, job, pj_entry);
		/* A full eventfd counter cannot happen with 64 bits. */
		if (write(pool.efd, &one, sizeof(one)) != sizeof(one))
			log_warn("%s: eventfd write", __func__);
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
		pool.pending--;
		/* pj_done may free the job: nothing touches it afterwards. */
		job->pj_done(job);
	}
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

/*
 * pool_start: start nthreads workers (at most 8) whose finished jobs are
 * reported on base. Returns 0, or -1 with a logged reason.
 */
int
pool_start(struct event_base *base, int nthreads)
{
	int i;

	TAILQ_INIT(&pool.todo);
	TAILQ_INIT(&pool.done);
	if (nthreads < 1 || nthreads > 8)
		nthreads = POOL_THREADS;
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
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(&pool.threads[i], NULL, pool_worker,
		         NULL)) != 0) {
			log_warn("pthread_create");
			break;
		}
		pool.nthreads++;
	}
	return pool.nthreads > 0 ? 0 : -1;
}

/* pool_submit: queue job; its pj_done runs on the loop once it is done. */
void
pool_submit(struct pool_job *job)
{
	pthread_mutex_lock(&pool.lock);
	TAILQ_INSERT_TAIL(&pool.todo, job, pj_entry);
	pool.pending++;
	pthread_cond_signal(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
}

/* pool_pending: jobs submitted whose pj_done has not run yet. */
int
pool_pending(void)
{
	return pool.pending;
}

/*
 * pool_stop: let the workers finish every queued job, join them, then run
 * the remaining pj_done callbacks so that owners can free their jobs.
 */
void
pool_stop(void)
{
	int i;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	for (i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nthreads = 0;
	pool_run_done();
	if (pool.ev != NULL)
		event_free(pool.ev);
	pool.ev = NULL;
	if (pool.efd != -1)
		close(pool.efd);
	pool.efd = -1;
}
