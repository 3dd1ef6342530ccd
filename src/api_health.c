/*
 * api_health.c: the probes beside the /v2/ API, answered without
 * authentication (a kubelet or `registryd healthcheck` has no password):
 *
 *   GET /healthz  200 while the event loop answers: the process is alive.
 *   GET /readyz   200 when the registry should get traffic: not draining
 *                 for a shutdown, and the storage takes a write now, or
 *                 in read_only mode (a replica, maybe on a read-only
 *                 mount) answers a read (store_probe on the worker pool:
 *                 a hung disk must not hang the loop); 503 with the
 *                 reason otherwise.
 *
 * Bodies are one line of text for people with curl; the status is what
 * probes read. Neither says anything about the registry's content.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "store.h"

#define API_CT_TEXT "text/plain; charset=utf-8"

/* A readiness check: the probe on the pool, the answer on the loop. */
struct api_ready {
	struct api_job ar_job;          /* first */
	enum store_probe_kind ar_probe; /* chosen on the loop */
	int ar_result;                  /* store_probe's */
	int ar_errno;
};

static int api_health_draining_flag;

static void ready_work(struct store_call *);
static void ready_done(struct store_call *);

/*
 * api_health_draining: from now on /readyz says 503 (main calls it when a
 * graceful shutdown starts).
 */
void
api_health_draining(void)
{
	api_health_draining_flag = 1;
}

/* api_health_live: GET /healthz. */
void
api_health_live(struct request *req, const struct route_match *m)
{
	(void)m;
	http_reply(req, 200, API_CT_TEXT, "ok\n", 3);
}

/* api_health_ready: GET /readyz. */
void
api_health_ready(struct request *req, const struct route_match *m)
{
	static const char draining[] = "not ready: draining for shutdown\n";
	struct api_ready *r;

	if (api_health_draining_flag) {
		http_reply(req, 503, API_CT_TEXT, draining,
		    sizeof(draining) - 1);
		return;
	}
	if ((r = api_job_new(req, m, sizeof(*r), STORE_CALL_DURABLE, ready_work,
	         ready_done)) == NULL)
		return;
	/* A read-only replica may sit on a read-only mount: read. */
	r->ar_probe =
	    api_config()->cf_read_only ? STORE_PROBE_READ : STORE_PROBE_WRITE;
	api_job_start(&r->ar_job);
}

static void
ready_work(struct store_call *c)
{
	struct api_ready *r = (struct api_ready *)(void *)c;

	r->ar_result = store_probe(api_store(), r->ar_probe);
	r->ar_errno = errno;
}

static void
ready_done(struct store_call *c)
{
	struct api_ready *r = (struct api_ready *)(void *)c;
	struct request *req = api_job_detach(&r->ar_job);
	const char *what;
	char body[256];
	int n;

	if (req != NULL) {
		what = r->ar_probe == STORE_PROBE_READ ? "answers no reads"
		                                       : "does not take writes";
		if (r->ar_result == 0)
			http_reply(req, 200, API_CT_TEXT, "ready\n", 6);
		else {
			log_warnx("readyz: storage %s: %s", what,
			    strerror(r->ar_errno));
			n = snprintf(body, sizeof(body),
			    "not ready: storage %s: %s\n", what,
			    strerror(r->ar_errno));
			http_reply(req, 503, API_CT_TEXT, body,
			    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0);
		}
	}
	free(r);
}
