#ifndef REGISTRYD_REGISTRY_H
#define REGISTRYD_REGISTRY_H

struct config;
struct event_base;
struct request;
struct store;

/*
 * The /v2/ endpoint handlers. reg_init keeps pointers to cfg and store
 * (both owned by main and alive until reg_shutdown) and starts the catalog
 * index and the upload expiry timer on base.
 */
int reg_init(struct event_base *, const struct config *, struct store *);
void reg_shutdown(void);
/* reg_drain: a graceful shutdown has begun (/readyz answers 503). */
void reg_drain(void);

/*
 * reg_dispatch: route a request whose headers are complete and start its
 * handler (see http.h for what a handler must do). Never closes the conn.
 */
void reg_dispatch(struct request *);
/*
 * reg_debug_dispatch: the dispatcher of the debug listener ([http]
 * debug_addr): /metrics, /healthz and /readyz without authentication,
 * 404 for anything else.
 */
void reg_debug_dispatch(struct request *);

/*
 * reg_collect_garbage: start an online garbage collection now, unless one
 * runs (why says who asked, for the log). On the loop.
 */
void reg_collect_garbage(const char *why);
/*
 * reg_reloaded: SIGHUP reloaded what it reloads: say again what a timed
 * collection says once (api_gc_reloaded). On the loop.
 */
void reg_reloaded(void);

/*
 * reg_drain: the server is shutting down: background work that would
 * hold the worker pool for long (an online garbage collection) stops
 * early. On the loop.
 */
void reg_drain(void);

#endif /* REGISTRYD_REGISTRY_H */
