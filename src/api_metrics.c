/*
 * api_metrics.c: GET /metrics, in the Prometheus text format (0.0.4), on
 * the main listener (behind authentication when it is on: access.c) and
 * on the debug listener ([http] debug_addr, without).
 *
 * The answer is what metrics.c counts as requests finish, then gauges
 * read now from their owners: upload sessions (upload.c), repositories
 * and blobs as the catalog's last refresh walk counted them (catalog.c:
 * a scrape never walks the store), the worker pool's queues by class of
 * job (pool.c), and the process (/proc/self; its start time is what main
 * recorded: metrics.c). Everything is cheap enough for
 * the loop: the costliest step is counting /proc/self/fd.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "catalog.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "upload.h"

static void metrics_uploads(FILE *);
static void metrics_storage(FILE *);
static void metrics_pool_family(FILE *, const char *, const char *,
    const char *, const double[POOL_NCLASSES]);
static void metrics_pool(FILE *);
static void metrics_process(FILE *);
static int metrics_open_fds(void);

/* api_metrics_get: GET (and HEAD) /metrics; any query is ignored. */
void
api_metrics_get(struct request *req, const struct route_match *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int bad;

	(void)m;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		http_error(req, 500, "UNKNOWN", "open_memstream failed");
		return;
	}
	bad = metrics_write(f) == -1;
	metrics_uploads(f);
	metrics_storage(f);
	metrics_pool(f);
	metrics_process(f);
	bad |= ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		http_error(req, 500, "UNKNOWN", "cannot write the metrics");
		return;
	}
	http_add_header(req, "Cache-Control", "no-store");
	http_reply(req, 200, METRICS_CONTENT_TYPE, buf, len);
	free(buf);
}

/* Upload sessions open in this process. */
static void
metrics_uploads(FILE *f)
{
	size_t total, none;

	upload_count("", &total, &none);
	metrics_family(f, "registryd_uploads_in_progress", "gauge",
	    "Blob upload sessions open (started, neither committed nor "
	    "cancelled).");
	metrics_sample(f, "registryd_uploads_in_progress", NULL, (double)total);
}

/*
 * The store's size as the catalog knows it. The blob figures come from
 * its refresh walk; until the first one has finished they are left out
 * rather than reported as 0, which would read as an empty store.
 */
static void
metrics_storage(FILE *f)
{
	struct catalog_stats cs;

	catalog_stats(&cs);
	metrics_family(f, "registryd_storage_repositories", "gauge",
	    "Repositories with at least one manifest.");
	metrics_sample(f, "registryd_storage_repositories", NULL,
	    (double)cs.cs_repos);
	metrics_family(f, "registryd_storage_scan_failed_timestamp_seconds",
	    "gauge",
	    "When the last blob count failed, in seconds since the epoch, "
	    "if none has succeeded since (the log says why); 0 when no "
	    "count has failed since the last success.");
	metrics_sample(f, "registryd_storage_scan_failed_timestamp_seconds",
	    NULL, (double)cs.cs_fail_time);
	metrics_family(f, "registryd_storage_scan_failures_total", "counter",
	    "Blob counts (catalog refreshes) that failed since the server "
	    "started; the log says why.");
	metrics_sample(f, "registryd_storage_scan_failures_total", NULL,
	    (double)cs.cs_failures);
	if (cs.cs_scan_time == 0)
		return;
	metrics_family(f, "registryd_storage_blobs", "gauge",
	    "Blobs in the store (layers, configs and manifests; shared blobs "
	    "once), as of the last catalog refresh.");
	metrics_sample(f, "registryd_storage_blobs", NULL, (double)cs.cs_blobs);
	metrics_family(f, "registryd_storage_blob_bytes", "gauge",
	    "Bytes of blob data in the store, as of the last catalog "
	    "refresh; upload sessions in progress are not counted.");
	metrics_sample(f, "registryd_storage_blob_bytes", NULL,
	    (double)cs.cs_blob_bytes);
	metrics_family(f, "registryd_storage_scan_timestamp_seconds", "gauge",
	    "When the last catalog refresh counted the blobs, in seconds "
	    "since the epoch.");
	metrics_sample(f, "registryd_storage_scan_timestamp_seconds", NULL,
	    (double)cs.cs_scan_time);
	metrics_family(f, "registryd_storage_scan_duration_seconds", "gauge",
	    "How long the last catalog refresh walk took.");
	metrics_sample(f, "registryd_storage_scan_duration_seconds", NULL,
	    (double)cs.cs_scan_ms / 1000.0);
}

/* The pool's classes as labels; a class without a name is left out. */
static const char *const metrics_pool_classes[POOL_NCLASSES] = {
    [POOL_STORE] = "store",
    [POOL_AUTH] = "auth",
    [POOL_WALK] = "walk",
};

/* One family with a sample per class of job, v[class]. */
static void
metrics_pool_family(FILE *f, const char *name, const char *type,
    const char *help, const double v[POOL_NCLASSES])
{
	const char *l[3] = {"class", NULL, NULL};
	int c;

	metrics_family(f, name, type, help);
	for (c = 0; c < POOL_NCLASSES; c++) {
		if ((l[1] = metrics_pool_classes[c]) != NULL)
			metrics_sample(f, name, l, v[c]);
	}
}

/*
 * The worker pool, by class of job (pool.h): its threads, started and
 * allowed, what waits for them and what they run now, and since start
 * the jobs taken, those refused (password checks beyond their limit or
 * without a thread, answered 429) and the threads that failed to start;
 * and the jobs of every class whose completion has not run yet.
 */
static void
metrics_pool(FILE *f)
{
	double threads[POOL_NCLASSES], tmax[POOL_NCLASSES];
	double tfail[POOL_NCLASSES], queued[POOL_NCLASSES];
	double running[POOL_NCLASSES], taken[POOL_NCLASSES];
	double refused[POOL_NCLASSES], work[POOL_NCLASSES];
	struct pool_stats ps;
	int c;

	for (c = 0; c < POOL_NCLASSES; c++) {
		pool_stats((enum pool_class)c, &ps);
		threads[c] = ps.ps_threads;
		tmax[c] = ps.ps_threads_max;
		tfail[c] = (double)ps.ps_spawn_failed;
		queued[c] = ps.ps_queued;
		running[c] = ps.ps_running;
		taken[c] = (double)ps.ps_submitted;
		refused[c] = (double)ps.ps_refused;
		work[c] = (double)ps.ps_avg_work_us / 1e6;
	}
	metrics_pool_family(f, "registryd_pool_threads", "gauge",
	    "Worker threads of the class started (they start with its jobs).",
	    threads);
	metrics_pool_family(f, "registryd_pool_threads_max", "gauge",
	    "Worker threads the class may have.", tmax);
	metrics_pool_family(f, "registryd_pool_thread_start_failures_total",
	    "counter",
	    "Worker threads of the class that failed to start "
	    "(pthread_create: a limit on threads).",
	    tfail);
	metrics_pool_family(f, "registryd_pool_queued_jobs", "gauge",
	    "Jobs of the class waiting for a worker.", queued);
	metrics_pool_family(f, "registryd_pool_running_jobs", "gauge",
	    "Jobs of the class a worker runs now.", running);
	metrics_pool_family(f, "registryd_pool_jobs_total", "counter",
	    "Jobs of the class taken since start.", taken);
	metrics_pool_family(f, "registryd_pool_refused_total", "counter",
	    "Jobs of the class refused at its limit, or because no worker "
	    "of the class could start (password checks: 429).",
	    refused);
	metrics_pool_family(f, "registryd_pool_work_seconds_average", "gauge",
	    "Moving average of how long a job of the class runs.", work);
	metrics_family(f, "registryd_pool_pending_jobs", "gauge",
	    "Jobs handed to the worker threads whose completion has not run "
	    "yet, all classes.");
	metrics_sample(f, "registryd_pool_pending_jobs", NULL,
	    (double)pool_pending());
}

/*
 * The process, under the names every Prometheus client library uses
 * (process_*), read from /proc/self.
 */
static void
metrics_process(FILE *f)
{
	unsigned long utime, stime, vsize;
	long rss;
	struct rlimit rl;
	double start, tick = (double)sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	char line[1024], *p;
	FILE *st;
	int fds, n = 0;

	if ((st = fopen("/proc/self/stat", "r")) != NULL) {
		if (fgets(line, sizeof(line), st) != NULL &&
		    (p = strrchr(line, ')')) != NULL)
			n = sscanf(p + 1,
			    " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu "
			    "%lu %*d %*d %*d %*d %*d %*d %*u %lu %ld",
			    &utime, &stime, &vsize, &rss);
		fclose(st);
	}
	if (n == 4 && tick > 0 && page > 0) {
		metrics_family(f, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		metrics_sample(f, "process_cpu_seconds_total", NULL,
		    (double)(utime + stime) / tick);
		metrics_family(f, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.");
		metrics_sample(f, "process_virtual_memory_bytes", NULL,
		    (double)vsize);
		metrics_family(f, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		metrics_sample(f, "process_resident_memory_bytes", NULL,
		    (double)rss * (double)page);
	}
	if ((fds = metrics_open_fds()) >= 0) {
		metrics_family(f, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		metrics_sample(f, "process_open_fds", NULL, (double)fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		metrics_family(f, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		metrics_sample(f, "process_max_fds", NULL, (double)rl.rlim_cur);
	}
	if ((start = metrics_start_time()) > 0) {
		metrics_family(f, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.");
		metrics_sample(f, "process_start_time_seconds", NULL, start);
	}
}

/* Descriptors open now (not counting the one that lists them), or -1. */
static int
metrics_open_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;
}
