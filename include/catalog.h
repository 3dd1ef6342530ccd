#ifndef REGISTRYD_CATALOG_H
#define REGISTRYD_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct store;

/*
 * The repository index behind /v2/_catalog: a sorted in-memory list, built
 * by a walk of the tree on the worker pool at start and again every
 * refresh seconds, so repositories written by another process sharing the
 * root appear within that time. Pushes through this process add their
 * repository at once (catalog_add). It is a cache: a refresh replaces it.
 */
int catalog_init(struct event_base *, struct store *, int refresh);
void catalog_shutdown(void);
/*
 * What the index knows of the store's size, for /metrics and the web
 * interface's status.
 */
struct catalog_stats {
	size_t cs_repos;        /* repositories in the index now */
	uint64_t cs_blobs;      /* blobs the last refresh counted */
	uint64_t cs_blob_bytes; /* their bytes */
	time_t cs_scan_time;    /* when it finished; 0: none has yet */
	uint64_t cs_scan_ms;    /* how long that refresh's walk took */
	/*
	 * When the last count failed, if none has succeeded since (0: it
	 * did not), and why; so that a store that can never be counted
	 * (credentials that cannot list blobs/) does not read as "not
	 * counted yet" for ever.
	 */
	time_t cs_fail_time;
	char cs_fail_error[128];
	uint64_t cs_failures; /* counts that failed since start */
};

/*
 * catalog_stats: the figures now. Blobs are counted by a refresh, every
 * refresh on a small store and less often on a large one (at most
 * 1/CATALOG_BLOB_DUTY of a worker's time: catalog.c).
 */
void catalog_stats(struct catalog_stats *);
/* catalog_add: note a repository that now has a manifest. */
void catalog_add(const char *name);
/*
 * catalog_page: up to n names strictly after last (NULL: from the start)
 * in catalog order. Returns pointers into the index, valid until the next
 * return to the event loop; *more is 1 when names follow the page.
 */
size_t catalog_page(const char *last, size_t n, const char **out, int *more);
/* catalog_count: the names in the index, the most a page can hold. */
size_t catalog_count(void);

#endif /* REGISTRYD_CATALOG_H */
