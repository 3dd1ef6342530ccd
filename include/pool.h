#ifndef REGISTRYD_POOL_H
#define REGISTRYD_POOL_H

#include <sys/queue.h>

struct event_base;

/*
 * A small pool of worker threads for the few syscalls that may block for
 * long (fsync of a finished blob, directory walks, bcrypt). The job queue is
 * the only state shared with the workers: pj_work runs on a worker and must
 * touch only what the job owns; pj_done runs afterwards on the event loop.
 * The job is embedded in its owner's struct and owned by it; the pool never
 * frees it.
 */
struct pool_job {
	void (*pj_work)(struct pool_job *);
	void (*pj_done)(struct pool_job *);
	TAILQ_ENTRY(pool_job) pj_entry;
};

/* pool_start: nthreads workers reporting to base. 0, or -1. */
int pool_start(struct event_base *base, int nthreads);
/* pool_submit: queue a job; pj_done will run on the loop later. */
void pool_submit(struct pool_job *);
/* pool_pending: jobs queued or running (shutdown waits for 0). */
int pool_pending(void);
/* pool_stop: finish queued jobs, join the workers. */
void pool_stop(void);

#endif /* REGISTRYD_POOL_H */
