#ifndef REGISTRYD_API_H
#define REGISTRYD_API_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"
#include "router.h"
#include "store.h"

/*
 * What the endpoint handlers (api_*.c, access.c) share, and the handlers
 * registry.c's route table points at. Internal to those files and
 * registry.c; main.c uses registry.h.
 */

struct auth_pending;
struct config;
struct event_base;
struct json_t;
struct manifest;
struct request;
struct store;
struct upload;

/* A handler of one (route, method); see http.h for what it must do. */
typedef void (*api_handler)(struct request *, const struct route_match *);

/*
 * The head of every storage job of a handler (a blob read in
 * api_blobs.c, a commit or mount in api_uploads.c, a manifest in
 * api_manifests.c): a store_call whose work runs where the driver wants
 * it and whose done answers on the loop. The job is owned by itself and
 * frees itself in its sc_done; it reaches its request only through
 * aj_req, which the request's cleanup clears when the client goes away
 * first.
 */
struct api_job {
	struct store_call aj_call; /* first: sc_work and sc_done get this */
	struct request *aj_req;    /* NULL once the request is gone */
};

/*
 * Per-request handler state (http_set_ctx), made by api_ctx_new and freed
 * with the request, replied or not.
 */
struct api_ctx {
	struct route_match ac_match; /* copy of the routed path */
	/*
	 * The upload this request holds acquired, or NULL. Released by the
	 * cleanup, unless a job took it over (then NULL here); rolled back
	 * first, to its offset when acquired, unless ac_upload_kept: a
	 * request that ends without success (a malformed chunk or trailer
	 * after good chunks, a client gone mid-body) keeps none of its
	 * bytes, since its client cannot know how many were.
	 */
	struct upload *ac_upload;
	int ac_upload_kept; /* the request succeeded: its bytes stay */
	char ac_digest[DIGEST_BUFSZ]; /* ?digest= */
	int ac_has_range;             /* Content-Range was given */
	uint64_t ac_range_end;        /* its last byte index */
	/* Manifest body, owned; counted by api_manifests.c while held. */
	char *ac_buf;
	size_t ac_len;
	size_t ac_cap;
	struct api_job *ac_job; /* job that will reply, or NULL */
	/* A credential check on the pool, and the handler to run after. */
	struct auth_pending *ac_auth;
	api_handler ac_handler;
};

/* ---- state shared by the handlers (api.c) ---- */

/*
 * api_start: the handlers may run: keep cfg and store (owned by main).
 * api_stop: they may not; jobs finishing and requests freed after it must
 * not touch the upload table or the catalog, which are gone then
 * (api_running says 0).
 */
void api_start(const struct config *, struct store *);
void api_stop(void);
int api_running(void);
const struct config *api_config(void);
struct store *api_store(void);
/* When api_start ran (wall clock), and the milliseconds since. */
time_t api_started(void);
uint64_t api_uptime_ms(void);

/*
 * api_ctx_new: the request's handler state, allocated on first use (the
 * auth check may have made it already) with m copied in; it is freed when
 * the request is. NULL on allocation failure (nothing installed).
 */
struct api_ctx *api_ctx_new(struct request *, const struct route_match *m);

/*
 * api_job_init: set up job (the head of a zeroed job) to run work, a
 * store call of kind, then done on the loop for req, which has ctx; the
 * request's cleanup will detach the job if the request goes first.
 * api_job_start: run it (store_call). done may have run, and freed the
 * job, before this returns: do not touch the job afterwards.
 * api_job_detach: in done, the request the job is for, or NULL when it
 * is gone; either way the job is no longer the request's.
 */
void api_job_init(struct api_job *, struct request *, struct api_ctx *,
    enum store_call_kind, void (*work)(struct store_call *),
    void (*done)(struct store_call *));
void api_job_start(struct api_job *);
struct request *api_job_detach(struct api_job *);
/*
 * api_job_new: api_ctx_new for req and m, then a zeroed job of size bytes
 * (a struct headed by its struct api_job) set up by api_job_init; the
 * caller fills in its fields and calls api_job_start. The job is owned as
 * api_job_init says. NULL after answering 500 when memory is short.
 */
void *api_job_new(struct request *, const struct route_match *m, size_t size,
    enum store_call_kind, void (*work)(struct store_call *),
    void (*done)(struct store_call *));

/* ---- replies (api.c) ---- */

/*
 * api_storage_error: answer a failed storage operation what, err being
 * the errno: 507 when the disk is full, 503 when a network store is out
 * of reach (api_storage_unavailable), else 500.
 */
void api_storage_error(struct request *, int err, const char *what);
/* api_storage_unavailable: 1 when err is a store out of reach for now. */
int api_storage_unavailable(int err);
/*
 * api_reply_json: serialise root (consumed, may be NULL) and send it with
 * status and type; 500 when that fails.
 */
void api_reply_json(struct request *, int status, const char *type,
    struct json_t *root);
/* json_object_set_new / json_array_append_new that fail on NULL. 0, -1. */
int api_json_set(struct json_t *obj, const char *key, struct json_t *val);
int api_json_append(struct json_t *arr, struct json_t *val);
/*
 * api_name_or_manifest_unknown: 404 NAME_UNKNOWN when repo_exists is 0,
 * else MANIFEST_UNKNOWN. repo_exists is store_repo_exists(...) == 1 as
 * the job's work found it, right after the lookup that failed.
 */
void api_name_or_manifest_unknown(struct request *, int repo_exists);

/* ---- handlers (see registry.c's route table) ---- */

/* api_listings.c: /v2/, _catalog, tags/list */
void api_listing_base_get(struct request *, const struct route_match *);
void api_listing_catalog_get(struct request *, const struct route_match *);
void api_listing_tags_get(struct request *, const struct route_match *);

/* api_blobs.c: /v2/<name>/blobs/<digest> */
void api_blob_get(struct request *, const struct route_match *);
void api_blob_delete(struct request *, const struct route_match *);

/* api_uploads.c: /v2/<name>/blobs/uploads/[<uuid>] */
void api_upload_post(struct request *, const struct route_match *);
void api_upload_get(struct request *, const struct route_match *);
void api_upload_patch(struct request *, const struct route_match *);
void api_upload_put(struct request *, const struct route_match *);
void api_upload_delete(struct request *, const struct route_match *);

/*
 * api_sweep.c: api_sweep_start: on base, close idle upload sessions once a
 * minute and, as cfg says (upload_purge*), purge stale ones from store at
 * once and every interval (STORE_CALL_WALKs: the pool must be running,
 * store must outlive them). 0, or -1. api_sweep_stop: stop that.
 */
int api_sweep_start(struct event_base *, const struct config *, struct store *);
void api_sweep_stop(void);

/*
 * api_metrics.c: GET /metrics, the Prometheus text format: what
 * metrics.c counts, and the gauges read at each scrape (uploads, the
 * catalog's figures, the worker pool, the process).
 */
void api_metrics_get(struct request *, const struct route_match *);

/* api_manifests.c: /v2/<name>/manifests/<ref> */
void api_manifest_get(struct request *, const struct route_match *);
void api_manifest_put(struct request *, const struct route_match *);
void api_manifest_delete(struct request *, const struct route_match *);
/*
 * api_manifest_body_free: free ctx's manifest body (ac_buf) and stop
 * counting it against [http] manifest_buffer_max; the request's cleanup
 * calls it. api_manifest_body_held: the bytes counted now, all requests
 * and manifest jobs together.
 */
void api_manifest_body_free(struct api_ctx *);
size_t api_manifest_body_held(void);

/*
 * api_health.c: GET /healthz (alive) and GET /readyz (not draining, the
 * storage takes writes), without authentication. api_health_draining:
 * /readyz says 503 from now on.
 */
void api_health_live(struct request *, const struct route_match *);
void api_health_ready(struct request *, const struct route_match *);
void api_health_draining(void);

/* api_referrers.c: /v2/<name>/referrers/<digest> */
void api_referrers_get(struct request *, const struct route_match *);
/*
 * api_referrers_index: from a store call's work, after the revision link
 * of digest in name was written: index the manifest (mf, parsed; len
 * bytes) when it has a subject. api_referrers_unindex: after the
 * revision link was removed: take it out of the index. Neither fails:
 * what they cannot do, the next referrers query of the repository
 * repairs (api_referrers.c).
 */
void api_referrers_index(struct store *, const char *name, const char *digest,
    const struct manifest *mf, size_t len);
void
api_referrers_unindex(struct store *, const char *name, const char *digest);

/*
 * api_ui.c: the web interface: GET / and /ui (a redirect to /ui/), its
 * files under /ui/ (built in), GET /ui/api/status (authenticated like a
 * pull), whose blob counts are the catalog's (catalog_stats).
 */
void api_ui_root_get(struct request *, const struct route_match *);
void api_ui_file_get(struct request *, const struct route_match *);
void api_ui_status_get(struct request *, const struct route_match *);

/*
 * api_search.c: docker search: GET /v1/_ping (anyone), GET /v1/search
 * (authenticated like a pull).
 */
void api_search_ping_get(struct request *, const struct route_match *);
void api_search_get(struct request *, const struct route_match *);

/*
 * api_gc.c: online garbage collection. api_gc_start: keep base, cfg and
 * store (which must outlive it) and collect every gc_interval when set
 * (STORE_CALL_WALKs: the pool must be running). api_gc_stop: no more.
 * api_gc_run: collect now unless one runs; why is for the log.
 * api_gc_reloaded: after SIGHUP, the next timed run warns again.
 */
int api_gc_start(struct event_base *, const struct config *, struct store *);
void api_gc_stop(void);
void api_gc_run(const char *why);
void api_gc_reloaded(void);
/* api_gc_cancel: shutting down: a run under way stops soon. */
void api_gc_cancel(void);

#endif /* REGISTRYD_API_H */
