/*
 * catalog.c: the repository index behind /v2/_catalog.
 *
 * A sorted array of repository names (catalog order, store_repo_cmp), so a
 * page is a binary search and a copy of pointers. Walking the store is
 * slow on a big root, so it is a STORE_CALL_WALK (the filesystem driver
 * runs it on the worker pool): once synchronously at
 * start (before serving, so the first answer is not empty), then every
 * refresh seconds, which picks up repositories that another process
 * sharing the root created. Pushes through this process add their
 * repository at once with catalog_add.
 *
 * The refresh walk also counts the blobs and their bytes (the first part
 * of a store_walk, which lists blobs before anything else), for
 * /metrics: a scrape reads the figures of the last count and never walks
 * the store itself. Counting stats every blob, which on a large store
 * takes far longer than listing repositories (about a second for 20000
 * blobs), so a refresh counts only once CATALOG_BLOB_DUTY times the last
 * count's duration has passed: every refresh on a small store, less
 * often on a large one, never more than 1/CATALOG_BLOB_DUTY of a
 * worker's time. The first refresh runs on the pool right after start,
 * so serving does not wait for a walk of every blob; when the index was
 * just listed at start, that refresh only counts: listing the
 * repositories again would hold a second copy of every name for nothing.
 *
 * Ownership: cat.names and every string in it belong to this module. A
 * refresh job owns the list its walk returns until sc_done swaps it in;
 * names added while a walk runs are remembered in cat.added and merged
 * into the fresh list, since the walk may have passed them already. One
 * job is in flight at most. If catalog_shutdown runs while a job is out,
 * the job is orphaned and frees itself in sc_done (pool_stop runs it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "bounds.h"
#include "catalog.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* A refresh walk. Owned by itself once orphaned. */
struct catalog_job {
	struct store_call cj_call; /* a STORE_CALL_WALK */
	struct store *cj_store;    /* the job's own copy for the worker */
	char **cj_names;           /* the walk's result, owned */
	size_t cj_n;
	int cj_result;
	int cj_errno;
	int cj_orphan; /* catalog shut down: free in sc_done */
	int cj_list;   /* list the repositories (0: count the blobs only) */
	/* The blob count of the same job (catalog_blob_cb), if asked. */
	int cj_count;        /* count the blobs */
	int cj_blobs_result; /* 0, or -1: the figures are not complete */
	int cj_blobs_errno;  /* why, when -1 */
	uint64_t cj_blobs;
	uint64_t cj_blob_bytes;
	uint64_t cj_ms; /* how long the count took */
};

/* A sorted, duplicate-free array of malloc'd names. */
struct catalog_list {
	char **cl_names;
	size_t cl_n;
	size_t cl_cap;
};

static struct {
	struct store *store;
	int refresh;               /* seconds; <= 0: never */
	struct catalog_list index; /* what catalog_page serves */
	struct catalog_list added; /* catalog_add during a walk */
	struct event *timer;
	struct catalog_job *job; /* in flight, or NULL */
	int running;
	struct catalog_stats stats; /* of the last walk that counted blobs */
	uint64_t count_next_ms;     /* no blob count before (util_now_ms) */
} cat;

static size_t catalog_search(const struct catalog_list *, const char *);
static int catalog_insert(struct catalog_list *, const char *);
static void catalog_list_free(struct catalog_list *);
static int catalog_list_adopt(struct catalog_list *, char **, size_t);
static int catalog_sort_cmp(const void *, const void *);
static void catalog_timer_cb(evutil_socket_t, short, void *);
static void catalog_refresh(int);
static int catalog_blob_cb(const struct store_item *, void *);
static void catalog_work(struct store_call *);
static void catalog_done(struct store_call *);

/*
 * catalog_init: build the index with one walk of the tree, synchronously
 * (this runs at start, before the server accepts; a network store's
 * first walk runs on the pool like the refreshes), and schedule a
 * refresh on the pool every refresh seconds (none when refresh <= 0).
 * A failed first walk is logged and leaves the index empty until the
 * next refresh. Returns 0, or -1 when the timer cannot be set up.
 */
int
catalog_init(struct event_base *base, struct store *store, int refresh)
{
	struct timeval tv;
	char **names = NULL;
	size_t n = 0;
	int listed = 0;

	memset(&cat, 0, sizeof(cat));
	cat.store = store;
	cat.refresh = refresh;
	/*
	 * A store whose calls wait on the network (S3) cannot list on the
	 * loop: the first refresh, at once below, fills the index.
	 */
	if (store_workers(store) > 0)
		;
	else if (store_repo_list(store, &names, &n) == -1)
		log_warn("%s: listing repositories", __func__);
	else if (catalog_list_adopt(&cat.index, names, n) == -1)
		log_warnx("%s: out of memory", __func__);
	else
		listed = 1;
	if (refresh > 0) {
		tv.tv_sec = refresh;
		tv.tv_usec = 0;
		cat.timer =
		    event_new(base, -1, EV_PERSIST, catalog_timer_cb, NULL);
		if (cat.timer == NULL || event_add(cat.timer, &tv) == -1) {
			log_warnx("%s: cannot start the refresh timer",
			    __func__);
			if (cat.timer != NULL)
				event_free(cat.timer);
			cat.timer = NULL;
			catalog_list_free(&cat.index);
			return -1;
		}
	}
	cat.running = 1;
	/* The blobs are counted by the first refresh, on the pool. */
	if (cat.timer != NULL)
		catalog_refresh(!listed);
	return 0;
}

/*
 * catalog_shutdown: stop refreshing and free the index. A walk still in
 * flight is orphaned: its sc_done frees it without touching the index.
 */
void
catalog_shutdown(void)
{
	if (!cat.running)
		return;
	cat.running = 0;
	if (cat.timer != NULL)
		event_free(cat.timer);
	cat.timer = NULL;
	if (cat.job != NULL)
		cat.job->cj_orphan = 1;
	cat.job = NULL;
	catalog_list_free(&cat.index);
	catalog_list_free(&cat.added);
}

/*
 * catalog_stats: the repositories in the index now, the blobs as the
 * last refresh counted them (cs_scan_time 0: none has yet), and whether
 * the counts since failed (cs_fail_time).
 */
void
catalog_stats(struct catalog_stats *cs)
{
	*cs = cat.stats;
	cs->cs_repos = cat.index.cl_n;
}

/*
 * catalog_add: note that name now has a manifest. Inserted at once; while
 * a walk is in flight it is remembered too, so that swapping in the
 * walk's list cannot lose it. Allocation failures only delay the name
 * until the next refresh.
 */
void
catalog_add(const char *name)
{
	if (!cat.running)
		return;
	if (catalog_insert(&cat.index, name) == -1)
		log_warnx("%s: out of memory", __func__);
	if (cat.job != NULL && catalog_insert(&cat.added, name) == -1)
		log_warnx("%s: out of memory", __func__);
}

/* catalog_count: the names in the index, the most a page can hold. */
size_t
catalog_count(void)
{
	return cat.index.cl_n;
}

/*
 * catalog_page: up to n names strictly after last (NULL: from the
 * start), in catalog order, into out. The pointers stay valid until the
 * next return to the event loop. *more is 1 when names follow the page.
 */
size_t
catalog_page(const char *last, size_t n, const char **out, int *more)
{
	size_t start = 0, k, i;

	*more = 0;
	if (last != NULL) {
		start = catalog_search(&cat.index, last);
		if (start < cat.index.cl_n &&
		    store_repo_cmp(cat.index.cl_names[start], last) == 0)
			start++;
	}
	if (start >= cat.index.cl_n)
		return 0;
	k = cat.index.cl_n - start < n ? cat.index.cl_n - start : n;
	for (i = 0; i < k; i++)
		out[i] = cat.index.cl_names[start + i];
	*more = start + k < cat.index.cl_n;
	return k;
}

/* The index of the first name not less than name (lower bound). */
static size_t
catalog_search(const struct catalog_list *l, const char *name)
{
	size_t lo = 0, hi = l->cl_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (store_repo_cmp(l->cl_names[mid], name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Insert a copy of name in order unless present; the array grows
 * geometrically. 0, or -1 on allocation failure (list unchanged).
 */
static int
catalog_insert(struct catalog_list *l, const char *name)
{
	size_t pos, ncap;
	char **nn, *copy;

	pos = catalog_search(l, name);
	if (pos < l->cl_n && store_repo_cmp(l->cl_names[pos], name) == 0)
		return 0;
	if (l->cl_n == l->cl_cap) {
		ncap = l->cl_cap > 0 ? l->cl_cap * 2 : 64;
		if ((nn = reallocarray(l->cl_names, ncap, sizeof(*nn))) == NULL)
			return -1;
		l->cl_names = nn;
		l->cl_cap = ncap;
	}
	if ((copy = strdup(name)) == NULL)
		return -1;
	memmove(&l->cl_names[pos + 1], &l->cl_names[pos],
	    (l->cl_n - pos) * sizeof(*l->cl_names));
	l->cl_names[pos] = copy;
	l->cl_n++;
	return 0;
}

static void
catalog_list_free(struct catalog_list *l)
{
	store_list_free(l->cl_names, l->cl_n);
	memset(l, 0, sizeof(*l));
}

static int
catalog_sort_cmp(const void *a, const void *b)
{
	return store_repo_cmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Make the list from store_repo_list's result l (taking ownership of it
 * in every case): sorted, without duplicates. The store sorts already;
 * checking is cheap and keeps binary search correct whatever it returns.
 * 0, or -1 on allocation failure (l freed, *dst untouched).
 */
static int
catalog_list_adopt(struct catalog_list *dst, char **l, size_t n)
{
	size_t i, j;

	if (l == NULL && n > 0)
		return -1;
	/* The index feeds _catalog, search and the web interface. */
	n = store_list_showable(l, n, 0);
	for (i = 1; i < n; i++)
		if (store_repo_cmp(l[i - 1], l[i]) >= 0)
			break;
	if (i < n) {
		qsort(l, n, sizeof(*l), catalog_sort_cmp);
		for (i = j = 0; i < n; i++) {
			if (j > 0 && store_repo_cmp(l[j - 1], l[i]) == 0)
				free(l[i]);
			else
				l[j++] = l[i];
		}
		n = j;
	}
	catalog_list_free(dst);
	dst->cl_names = l;
	dst->cl_n = dst->cl_cap = n;
	return 0;
}

/* Every refresh seconds: start a walk unless one is still running. */
static void
catalog_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	catalog_refresh(1);
}

/*
 * Start a walk that lists the repositories when list is set, and counts
 * the blobs when that is due; unless one is still running.
 */
static void
catalog_refresh(int list)
{
	struct catalog_job *job;

	if (!cat.running || cat.job != NULL)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return;
	}
	job->cj_call.sc_kind = STORE_CALL_WALK;
	job->cj_call.sc_work = catalog_work;
	job->cj_call.sc_done = catalog_done;
	job->cj_store = cat.store;
	job->cj_list = list;
	job->cj_count = util_now_ms() >= cat.count_next_ms;
	if (!job->cj_list && !job->cj_count) {
		free(job);
		return;
	}
	cat.job = job;
	catalog_list_free(&cat.added);
	store_call(cat.store, &job->cj_call);
}

/*
 * On a worker: walk the tree into the job's own list, and count the
 * blobs: store_walk reports every blob before anything else, so the
 * walk stops at the first item that is not a blob (or an odd finding
 * among them) and reads no link.
 */
static void
catalog_work(struct store_call *sc)
{
	struct catalog_job *job = (struct catalog_job *)sc;
	uint64_t start;

	if (job->cj_list) {
		job->cj_result =
		    store_repo_list(job->cj_store, &job->cj_names, &job->cj_n);
		job->cj_errno = errno;
	}
	if (!job->cj_count)
		return;
	start = util_now_ms();
	job->cj_blobs_result = 0;
	if (store_walk(job->cj_store, catalog_blob_cb, job) == -1 &&
	    errno != ECANCELED) {
		job->cj_blobs_result = -1;
		job->cj_blobs_errno = errno;
	}
	job->cj_ms = util_now_ms() - start;
}

/* A blob walk item: count blobs, stop at the first item past them. */
static int
catalog_blob_cb(const struct store_item *it, void *arg)
{
	struct catalog_job *job = arg;

	switch (it->si_kind) {
	case STORE_ITEM_BLOB:
		job->cj_blobs++;
		job->cj_blob_bytes += it->si_size;
		return 0;
	case STORE_ITEM_ODD:
		return 0;
	default:
		return -1;
	}
}

/*
 * On the loop: swap the walk's list in, plus the names catalog_add saw
 * meanwhile. A failed walk keeps the old index.
 */
static void
catalog_done(struct store_call *sc)
{
	struct catalog_job *job = (struct catalog_job *)sc;
	struct catalog_list fresh;
	size_t i;

	if (job->cj_orphan || !cat.running) {
		if (job->cj_list && job->cj_result == 0)
			store_list_free(job->cj_names, job->cj_n);
		free(job);
		return;
	}
	cat.job = NULL;
	if (job->cj_count && job->cj_blobs_result == 0) {
		cat.stats.cs_blobs = job->cj_blobs;
		cat.stats.cs_blob_bytes = job->cj_blob_bytes;
		cat.stats.cs_scan_time = time(NULL);
		cat.stats.cs_scan_ms = job->cj_ms;
		cat.stats.cs_fail_time = 0;
		cat.stats.cs_fail_error[0] = '\0';
		cat.count_next_ms =
		    util_now_ms() + CATALOG_BLOB_DUTY * job->cj_ms;
	} else if (job->cj_count) {
		/*
		 * Said in the status and /metrics too: a count that fails
		 * every time must not look like one still to come.
		 */
		(void)util_strlcpy(cat.stats.cs_fail_error,
		    job->cj_blobs_errno != 0 ? strerror(job->cj_blobs_errno)
		                             : "the walk failed",
		    sizeof(cat.stats.cs_fail_error));
		cat.stats.cs_fail_time = time(NULL);
		cat.stats.cs_failures++;
		log_warnx("%s: counting blobs failed: %s; the status and "
		          "/metrics show %s",
		    __func__, cat.stats.cs_fail_error,
		    cat.stats.cs_scan_time != 0 ? "the last count"
		                                : "no count");
	}
	if (!job->cj_list)
		; /* a count only: the index stays */
	else if (job->cj_result == -1) {
		errno = job->cj_errno;
		log_warn("%s: listing repositories", __func__);
	} else {
		memset(&fresh, 0, sizeof(fresh));
		if (catalog_list_adopt(&fresh, job->cj_names, job->cj_n) == -1)
			log_warnx("%s: out of memory", __func__);
		else {
			for (i = 0; i < cat.added.cl_n; i++)
				if (catalog_insert(&fresh,
				        cat.added.cl_names[i]) == -1)
					break;
			if (i < cat.added.cl_n) {
				/* Keep the old index rather than lose names. */
				log_warnx("%s: out of memory", __func__);
				catalog_list_free(&fresh);
			} else {
				catalog_list_free(&cat.index);
				cat.index = fresh;
			}
		}
	}
	catalog_list_free(&cat.added);
	free(job);
}
