/*
 * gc.c: garbage collection and disk usage of a store, on any driver
 * (gc.h). Nothing here knows a path: a walk of the store (store_walk) is
 * the census, manifests are read as blobs and scanned by manifest.c, and
 * removals are store_link_delete and store_blob_delete.
 *
 * The order of removals is what makes a run safe to interrupt: untagged
 * manifests (revision links) before any blob, and per blob its layer
 * links before the blob itself. A blob removed while a link still named
 * it would be a broken image; a link removed while its blob stays is
 * only garbage, which the next run takes.
 *
 * Collecting while pushes run. A push may find an unreferenced blob
 * present (a blob HEAD, a mount, an upload of bytes the store already
 * has) and reference it from a manifest after the mark has read that
 * repository. So what a push uses is touched in the store
 * (store_link_write and store_link_touch set the time of the link and of
 * the blob), and the sweep keeps any blob or manifest the store says was
 * used since go_grace seconds before the run started: it asks again just
 * before removing it. The question and the removal happen under the
 * write side of gc_guard; a manifest push touches and then checks its
 * references, and writes its own blob and links, under the read side. So, in
 * one process, either the push touched first and the sweep keeps the blob, or
 * the sweep removed it first and the push finds it missing and fails
 * (MANIFEST_BLOB_UNKNOWN, never acknowledged). Between processes sharing a
 * store, the sweep dooms the blob in the store before its check and the
 * push asks after its touch whether it is doomed (store.h): one of the two
 * sees the other. go_grace covers what was found present before the
 * run started (a HEAD at minute 0, the manifest at minute 40). The cutoff
 * is taken once no push of this process is between its touch and its
 * revision link (gc_set_cutoff); a push in another process must take less
 * than go_grace between the two, which the default hour leaves no doubt
 * about, and the store's clock (file times, S3's Last-Modified) must
 * agree with this host's to within it.
 *
 * The referrers index (store.h) is a cache that its queries keep right:
 * a manifest removed here (--delete-untagged) drops out of it at the next
 * query of its subject, as after registry:2's delete; nothing here
 * touches it.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "digest.h"
#include "gc.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

#ifndef GC_STEP_ITEMS     /* a unit test takes smaller steps */
#define GC_STEP_ITEMS 256 /* reads or removals per step */
#endif
#define GC_MANIFEST_MAX (32 * 1024 * 1024) /* largest stored manifest read */
#define GC_LINE_MAX     512                /* one line of output */

/* Where a run is; gc_step does a bounded piece of one phase. */
enum gc_phase {
	GC_WALK,            /* the census: one walk of the store */
	GC_MARK,            /* read the manifests, repository by repository */
	GC_SWEEP_MANIFESTS, /* untagged manifests (go_delete_untagged) */
	GC_SWEEP_BLOBS,     /* unreferenced blobs and their layer links */
	GC_SWEEP_DANGLING,  /* layer links to blobs that are gone */
	GC_DONE,
	GC_FAILED,
};

/* A blob of the census. */
struct gc_blob {
	char gb_digest[DIGEST_BUFSZ];
	uint64_t gb_size;
	int gb_marked;         /* referenced by a kept manifest */
	unsigned int gb_repos; /* gc_du: repositories linking it */
};

/* A layer or revision link of the census. */
struct gc_link {
	size_t gl_repo; /* index in g_repos */
	enum store_link gl_kind;
	char gl_digest[DIGEST_BUFSZ];
	int gl_gone; /* removed by this run (or would be, dry) */
};

/* A tag's current link. */
struct gc_tag {
	size_t gt_repo;
	char gt_digest[DIGEST_BUFSZ];
	int gt_bad; /* unreadable: the repository keeps every manifest */
};

/* A repository name and the number the walk gave it. */
struct gc_name {
	char *gn_name;
	size_t gn_walk;
};

/* A revision of the repository being marked, once read. */
struct gc_rev {
	size_t gv_link; /* index in g_links */
	struct manifest gv_mf;
	int gv_keep;
};

/* One run; everything is owned by it. */
struct gc {
	struct store *g_store;
	struct gc_options g_opts;
	struct gc_result g_res;
	enum gc_phase g_phase;
	struct timespec g_cutoff; /* used at or after this: keep */
	char g_id[UUID_LEN + 1];  /* this run's name on doomed blobs */
	uint64_t g_start_ms;
	int g_nomem;         /* an allocation in the walk failed */
	atomic_int g_cancel; /* gc_cancel, from another thread */

	/* The census; g_repos sorted by store_repo_cmp after the walk. */
	struct gc_blob *g_blobs;
	size_t g_nblobs, g_capblobs;
	char **g_repos;
	size_t g_nrepos, g_caprepos;
	size_t *g_repo_map; /* the walk's repository numbers to g_repos' */
	struct gc_link *g_links;
	size_t g_nlinks, g_caplinks;
	struct gc_tag *g_tags;
	size_t g_ntags, g_captags;

	/* Mark: the repository being read and its revisions. */
	size_t g_repo;
	size_t g_link; /* first link of g_repo (links sorted by repo) */
	size_t g_tag;  /* first tag of g_repo */
	struct gc_rev *g_revs;
	size_t g_nrevs;
	size_t g_rev; /* revisions read so far */
	int g_loaded; /* g_revs is g_repo's */

	/* Untagged manifests to remove: indexes in g_links. */
	size_t *g_doomed;
	size_t g_ndoomed, g_capdoomed;

	size_t g_cursor; /* sweep position */
};

static pthread_rwlock_t gc_guard_lock = PTHREAD_RWLOCK_INITIALIZER;

static void gc_say(struct gc *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int gc_grow(void **, size_t *, size_t, size_t);
static int gc_walk_cb(const struct store_item *, void *);
static size_t gc_repo_add(struct gc *, const char *);
static int gc_census(struct gc *);
static int gc_census_finish(struct gc *);
static struct gc_blob *gc_blob_find(struct gc *, const char *);
static void gc_set_cutoff(struct gc *);
static int gc_recent(const struct gc *, const struct timespec *);
static int gc_read(struct gc *, size_t, const char *, struct manifest *);
static void
gc_mark_manifest(struct gc *, const char *, const struct manifest *);
static int gc_mark_step(struct gc *);
static int gc_mark_load(struct gc *);
static int gc_mark_repo(struct gc *);
static struct gc_rev *gc_rev_find(struct gc *, const char *);
static void gc_revs_free(struct gc *);
static int gc_sweep_manifests(struct gc *);
static int gc_sweep_blobs(struct gc *);
static void gc_sweep_blob(struct gc *, struct gc_blob *, size_t, size_t);
static int gc_sweep_dangling(struct gc *);
static void gc_lock_all(void);
static void gc_unlock_all(void);
static int gc_link_cmp_repo(const void *, const void *);
static int gc_link_cmp_digest(const void *, const void *);
static int gc_blob_cmp(const void *, const void *);
static int gc_tag_cmp(const void *, const void *);
static int gc_name_cmp(const void *, const void *);
static int gc_du_cmp(const void *, const void *);

/* ---- output ---- */

/*
 * gc_say: one line about what the run does. warn: a finding or failure
 * (counted by the caller), logged as a warning when there is no output
 * file; removals go to the debug log then.
 */
static void
gc_say(struct gc *g, int warn, const char *fmt, ...)
{
	char line[GC_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->g_opts.go_out != NULL)
		fprintf(g->g_opts.go_out, "%s%s\n", warn ? "warning: " : "",
		    line);
	else if (warn)
		log_warnx("garbage collection: %s", line);
	else
		log_debug("garbage collection: %s", line);
}

void
gc_summary(const struct gc_result *r, int dry_run, char *buf, size_t size)
{
	(void)snprintf(buf, size,
	    "%s %zu manifests, %zu links, %zu blobs, %" PRIu64
	    " bytes; kept %zu recently used blobs (%" PRIu64 " bytes)",
	    dry_run ? "would remove" : "removed", r->gr_manifests_removed,
	    r->gr_links_removed, r->gr_blobs_removed, r->gr_bytes_removed,
	    r->gr_recent, r->gr_bytes_recent);
}

/* ---- the guard ---- */

void
gc_guard_enter(void)
{
	(void)pthread_rwlock_rdlock(&gc_guard_lock);
}

void
gc_guard_leave(void)
{
	(void)pthread_rwlock_unlock(&gc_guard_lock);
}

static void
gc_lock_all(void)
{
	(void)pthread_rwlock_wrlock(&gc_guard_lock);
}

static void
gc_unlock_all(void)
{
	(void)pthread_rwlock_unlock(&gc_guard_lock);
}

/* ---- the census ---- */

/* gc_grow: room for one more of size bytes in *v (count n, cap *cap). */
static int
gc_grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap > 0 ? *cap * 2 : 64;
	if ((nv = reallocarray(*v, ncap, size)) == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/*
 * gc_repo_add: the walk's number of repository name. The walk reports a
 * repository's items together as far as the drivers go, so comparing with
 * the last name finds it; if a driver does not, the name gets a second
 * number and gc_census_finish maps both to one.
 */
static size_t
gc_repo_add(struct gc *g, const char *name)
{
	char *copy;

	if (g->g_nrepos > 0 && strcmp(g->g_repos[g->g_nrepos - 1], name) == 0)
		return g->g_nrepos - 1;
	if (gc_grow((void **)&g->g_repos, &g->g_caprepos, g->g_nrepos,
	        sizeof(*g->g_repos)) == -1 ||
	    (copy = strdup(name)) == NULL) {
		g->g_nomem = 1;
		return 0;
	}
	g->g_repos[g->g_nrepos] = copy;
	return g->g_nrepos++;
}

/* gc_walk_cb: one item of the census walk. */
static int
gc_walk_cb(const struct store_item *it, void *arg)
{
	struct gc *g = arg;
	struct gc_blob *b;
	struct gc_link *l;
	struct gc_tag *t;
	size_t repo;

	switch (it->si_kind) {
	case STORE_ITEM_BLOB:
		if (gc_grow((void **)&g->g_blobs, &g->g_capblobs, g->g_nblobs,
		        sizeof(*b)) == -1) {
			g->g_nomem = 1;
			break;
		}
		b = &g->g_blobs[g->g_nblobs++];
		memset(b, 0, sizeof(*b));
		(void)util_strlcpy(b->gb_digest, it->si_digest,
		    sizeof(b->gb_digest));
		b->gb_size = it->si_size;
		break;
	case STORE_ITEM_REPO:
		(void)gc_repo_add(g, it->si_name);
		break;
	case STORE_ITEM_LINK:
		/*
		 * By the digest it is filed under, whatever it holds: a
		 * broken revision still counts as one, so its blobs stay.
		 */
		repo = gc_repo_add(g, it->si_name);
		if (g->g_nomem ||
		    gc_grow((void **)&g->g_links, &g->g_caplinks, g->g_nlinks,
		        sizeof(*l)) == -1) {
			g->g_nomem = 1;
			break;
		}
		l = &g->g_links[g->g_nlinks++];
		memset(l, 0, sizeof(*l));
		l->gl_repo = repo;
		l->gl_kind = it->si_link;
		(void)util_strlcpy(l->gl_digest, it->si_digest,
		    sizeof(l->gl_digest));
		break;
	case STORE_ITEM_TAG:
		repo = gc_repo_add(g, it->si_name);
		if (g->g_nomem ||
		    gc_grow((void **)&g->g_tags, &g->g_captags, g->g_ntags,
		        sizeof(*t)) == -1) {
			g->g_nomem = 1;
			break;
		}
		t = &g->g_tags[g->g_ntags++];
		memset(t, 0, sizeof(*t));
		t->gt_repo = repo;
		if (it->si_target_state == STORE_TARGET_OK &&
		    digest_is_valid(it->si_target, it->si_target_len)) {
			memcpy(t->gt_digest, it->si_target, it->si_target_len);
			t->gt_digest[it->si_target_len] = '\0';
		} else if (it->si_target_state != STORE_TARGET_MISSING)
			t->gt_bad = 1;
		else
			g->g_ntags--; /* no current link: no tag (crash) */
		break;
	case STORE_ITEM_TAG_INDEX:
	case STORE_ITEM_UPLOAD:
	case STORE_ITEM_REFERRER:
	case STORE_ITEM_ODD:
		break;
	}
	return g->g_nomem || atomic_load(&g->g_cancel) ? -1 : 0;
}

/* gc_census: walk the store; 0, or -1 with errno. */
static int
gc_census(struct gc *g)
{
	if (store_walk(g->g_store, gc_walk_cb, g) == -1) {
		if (g->g_nomem)
			errno = ENOMEM;
		else if (atomic_load(&g->g_cancel))
			errno = ECANCELED;
		return -1;
	}
	return gc_census_finish(g);
}

/*
 * gc_census_finish: sort what the walk found: blobs by digest,
 * repositories in catalog order (one number each), links by repository,
 * kind and digest, tags by repository.
 */
static int
gc_census_finish(struct gc *g)
{
	struct gc_name *v;
	size_t i, n;

	if (g->g_nblobs > 1)
		qsort(g->g_blobs, g->g_nblobs, sizeof(*g->g_blobs),
		    gc_blob_cmp);
	/* Number the repositories in catalog order, once each. */
	if (g->g_nrepos > 0) {
		if ((v = calloc(g->g_nrepos, sizeof(*v))) == NULL ||
		    (g->g_repo_map = calloc(g->g_nrepos,
		         sizeof(*g->g_repo_map))) == NULL) {
			free(v);
			return -1;
		}
		for (i = 0; i < g->g_nrepos; i++) {
			v[i].gn_name = g->g_repos[i];
			v[i].gn_walk = i;
		}
		qsort(v, g->g_nrepos, sizeof(*v), gc_name_cmp);
		for (i = 0, n = 0; i < g->g_nrepos; i++) {
			if (n > 0 &&
			    strcmp(g->g_repos[n - 1], v[i].gn_name) == 0)
				free(v[i].gn_name);
			else
				g->g_repos[n++] = v[i].gn_name;
			g->g_repo_map[v[i].gn_walk] = n - 1;
		}
		free(v);
		g->g_nrepos = n;
	}
	for (i = 0; i < g->g_nlinks; i++)
		g->g_links[i].gl_repo = g->g_repo_map[g->g_links[i].gl_repo];
	for (i = 0; i < g->g_ntags; i++)
		g->g_tags[i].gt_repo = g->g_repo_map[g->g_tags[i].gt_repo];
	if (g->g_nlinks > 1)
		qsort(g->g_links, g->g_nlinks, sizeof(*g->g_links),
		    gc_link_cmp_repo);
	if (g->g_ntags > 1)
		qsort(g->g_tags, g->g_ntags, sizeof(*g->g_tags), gc_tag_cmp);
	g->g_res.gr_blobs = g->g_nblobs;
	g->g_res.gr_repos = g->g_nrepos;
	return 0;
}

static int
gc_name_cmp(const void *a, const void *b)
{
	const struct gc_name *x = a, *y = b;
	int c;

	if ((c = store_repo_cmp(x->gn_name, y->gn_name)) != 0)
		return c;
	return x->gn_walk < y->gn_walk ? -1 : x->gn_walk > y->gn_walk;
}

static int
gc_du_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
gc_blob_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gc_blob *)a)->gb_digest,
	    ((const struct gc_blob *)b)->gb_digest);
}

static int
gc_link_cmp_repo(const void *a, const void *b)
{
	const struct gc_link *x = a, *y = b;

	if (x->gl_repo != y->gl_repo)
		return x->gl_repo < y->gl_repo ? -1 : 1;
	if (x->gl_kind != y->gl_kind)
		return x->gl_kind < y->gl_kind ? -1 : 1;
	return strcmp(x->gl_digest, y->gl_digest);
}

static int
gc_link_cmp_digest(const void *a, const void *b)
{
	const struct gc_link *x = a, *y = b;
	int c;

	if ((c = strcmp(x->gl_digest, y->gl_digest)) != 0)
		return c;
	if (x->gl_repo != y->gl_repo)
		return x->gl_repo < y->gl_repo ? -1 : 1;
	return x->gl_kind < y->gl_kind ? -1 : x->gl_kind > y->gl_kind;
}

static int
gc_tag_cmp(const void *a, const void *b)
{
	const struct gc_tag *x = a, *y = b;

	if (x->gt_repo != y->gt_repo)
		return x->gt_repo < y->gt_repo ? -1 : 1;
	return strcmp(x->gt_digest, y->gt_digest);
}

static struct gc_blob *
gc_blob_find(struct gc *g, const char *digest)
{
	struct gc_blob key;

	if (g->g_nblobs == 0 ||
	    util_strlcpy(key.gb_digest, digest, sizeof(key.gb_digest)) >=
	        sizeof(key.gb_digest))
		return NULL;
	return bsearch(&key, g->g_blobs, g->g_nblobs, sizeof(*g->g_blobs),
	    gc_blob_cmp);
}

/* ---- mark ---- */

/* 1 when ts is at or after the cutoff: used recently, keep it. */
static int
gc_recent(const struct gc *g, const struct timespec *ts)
{
	if (ts->tv_sec != g->g_cutoff.tv_sec)
		return ts->tv_sec > g->g_cutoff.tv_sec;
	return ts->tv_nsec >= g->g_cutoff.tv_nsec;
}

/*
 * gc_read: read and scan manifest digest of repository repo into *m.
 * A missing blob or bytes that are not JSON reference nothing (a
 * warning); anything else stops the run: a manifest we cannot read could
 * reference any blob. 0, or -1 with errno.
 */
static int
gc_read(struct gc *g, size_t repo, const char *digest, struct manifest *m)
{
	char err[128], *buf;
	size_t len;

	memset(m, 0, sizeof(*m));
	g->g_res.gr_manifests++;
	if (store_blob_read(g->g_store, digest, GC_MANIFEST_MAX, &buf, &len) ==
	    -1) {
		if (errno != ENOENT) {
			gc_say(g, 1, "manifest %s@%s: read: %s: stopping",
			    g->g_repos[repo], digest, strerror(errno));
			return -1;
		}
		g->g_res.gr_warnings++;
		gc_say(g, 1, "manifest %s@%s: blob missing", g->g_repos[repo],
		    digest);
		return 0;
	}
	if (manifest_scan(buf, len, m, err, sizeof(err)) == -1) {
		free(buf);
		if (errno == ENOMEM)
			return -1;
		g->g_res.gr_warnings++;
		gc_say(g, 1, "manifest %s@%s: %s: references nothing",
		    g->g_repos[repo], digest, err);
		return 0;
	}
	free(buf);
	return 0;
}

/* gc_mark_manifest: manifest digest (scanned into m) and what it uses. */
static void
gc_mark_manifest(struct gc *g, const char *digest, const struct manifest *m)
{
	struct gc_blob *b;
	size_t i;

	if ((b = gc_blob_find(g, digest)) != NULL)
		b->gb_marked = 1;
	for (i = 0; i < m->m_nrefs; i++)
		if ((b = gc_blob_find(g, m->m_refs[i].mr_digest)) != NULL)
			b->gb_marked = 1;
}

/*
 * gc_mark_step: read up to GC_STEP_ITEMS manifests of the current
 * repository; once all of one are read, decide and mark (gc_mark_repo).
 */
static int
gc_mark_step(struct gc *g)
{
	struct gc_rev *v;
	int budget = GC_STEP_ITEMS;

	while (budget > 0) {
		if (g->g_repo >= g->g_nrepos) {
			g->g_phase = GC_SWEEP_MANIFESTS;
			g->g_cursor = 0;
			return 0;
		}
		if (!g->g_loaded && gc_mark_load(g) == -1)
			return -1;
		while (g->g_rev < g->g_nrevs && budget > 0) {
			v = &g->g_revs[g->g_rev];
			if (gc_read(g, g->g_repo,
			        g->g_links[v->gv_link].gl_digest,
			        &v->gv_mf) == -1)
				return -1;
			g->g_rev++;
			budget--;
		}
		if (g->g_rev < g->g_nrevs)
			break;
		if (gc_mark_repo(g) == -1)
			return -1;
		gc_revs_free(g);
		g->g_repo++;
	}
	return 0;
}

/* gc_mark_load: the revisions of repository g_repo, not yet read. */
static int
gc_mark_load(struct gc *g)
{
	size_t i, n = 0;

	while (g->g_link < g->g_nlinks &&
	    g->g_links[g->g_link].gl_repo < g->g_repo)
		g->g_link++;
	for (i = g->g_link;
	     i < g->g_nlinks && g->g_links[i].gl_repo == g->g_repo; i++)
		if (g->g_links[i].gl_kind == STORE_LINK_REVISION)
			n++;
	if (n > 0 && (g->g_revs = calloc(n, sizeof(*g->g_revs))) == NULL)
		return -1;
	for (i = g->g_link;
	     i < g->g_nlinks && g->g_links[i].gl_repo == g->g_repo; i++)
		if (g->g_links[i].gl_kind == STORE_LINK_REVISION)
			g->g_revs[g->g_nrevs++].gv_link = i;
	g->g_rev = 0;
	g->g_loaded = 1;
	return 0;
}

/* The revision digest of the repository being marked, or NULL. */
static struct gc_rev *
gc_rev_find(struct gc *g, const char *digest)
{
	size_t lo = 0, hi = g->g_nrevs, mid;
	int c;

	/* g_revs follow g_links, so they are sorted by digest. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(digest,
		    g->g_links[g->g_revs[mid].gv_link].gl_digest);
		if (c == 0)
			return &g->g_revs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * gc_mark_repo: every revision of the repository is read: decide which
 * stay and mark what they use. Without go_delete_untagged all stay. With
 * it: what a tag names, what was used recently (a push under way: its
 * children and its referrers come before it), and then, until nothing
 * changes, the children of what stays and the referrers of what stays
 * (registry:2 2.8 removes both). The rest is doomed.
 */
static int
gc_mark_repo(struct gc *g)
{
	struct gc_rev *v, *c;
	struct gc_tag *t;
	struct timespec ts;
	const char *name = g->g_repos[g->g_repo];
	size_t i, j, end;
	int all = !g->g_opts.go_delete_untagged, changed;

	while (g->g_tag < g->g_ntags && g->g_tags[g->g_tag].gt_repo < g->g_repo)
		g->g_tag++;
	for (end = g->g_tag;
	     end < g->g_ntags && g->g_tags[end].gt_repo == g->g_repo; end++)
		if (g->g_tags[end].gt_bad && !all) {
			g->g_res.gr_warnings++;
			gc_say(g, 1,
			    "repository %s: a tag is unreadable: keeping "
			    "every manifest",
			    name);
			all = 1;
		}
	for (i = 0; i < g->g_nrevs; i++)
		g->g_revs[i].gv_keep = all;
	if (!all) {
		for (i = g->g_tag; i < end; i++) {
			t = &g->g_tags[i];
			if ((v = gc_rev_find(g, t->gt_digest)) != NULL)
				v->gv_keep = 1;
		}
		for (i = 0; i < g->g_nrevs; i++) {
			v = &g->g_revs[i];
			if (v->gv_keep)
				continue;
			if (store_link_used(g->g_store, name,
			        STORE_LINK_REVISION,
			        g->g_links[v->gv_link].gl_digest, &ts) == 0) {
				v->gv_keep = gc_recent(g, &ts);
			} else if (errno != ENOENT)
				return -1;
		}
		do {
			changed = 0;
			for (i = 0; i < g->g_nrevs; i++) {
				v = &g->g_revs[i];
				if (!v->gv_keep && v->gv_mf.m_has_subject &&
				    (c = gc_rev_find(g, v->gv_mf.m_subject)) !=
				        NULL &&
				    c->gv_keep)
					v->gv_keep = changed = 1;
				if (!v->gv_keep)
					continue;
				for (j = 0; j < v->gv_mf.m_nrefs; j++) {
					if (v->gv_mf.m_refs[j].mr_kind !=
					    MANIFEST_REF_CHILD)
						continue;
					c = gc_rev_find(g,
					    v->gv_mf.m_refs[j].mr_digest);
					if (c != NULL && !c->gv_keep)
						c->gv_keep = changed = 1;
				}
			}
		} while (changed);
	}
	for (i = 0; i < g->g_nrevs; i++) {
		v = &g->g_revs[i];
		if (v->gv_keep) {
			gc_mark_manifest(g, g->g_links[v->gv_link].gl_digest,
			    &v->gv_mf);
			continue;
		}
		if (gc_grow((void **)&g->g_doomed, &g->g_capdoomed,
		        g->g_ndoomed, sizeof(*g->g_doomed)) == -1)
			return -1;
		g->g_doomed[g->g_ndoomed++] = v->gv_link;
	}
	return 0;
}

static void
gc_revs_free(struct gc *g)
{
	size_t i;

	for (i = 0; i < g->g_nrevs; i++)
		manifest_free(&g->g_revs[i].gv_mf);
	free(g->g_revs);
	g->g_revs = NULL;
	g->g_nrevs = g->g_rev = 0;
	g->g_loaded = 0;
}

/* ---- sweep ---- */

/*
 * gc_sweep_manifests: remove the revision links of doomed manifests,
 * each unless it was used since the cutoff (a push re-tagged it, or an
 * index pushed meanwhile names it): then it stays, with what it uses.
 */
static int
gc_sweep_manifests(struct gc *g)
{
	struct gc_link *l;
	struct manifest m;
	struct timespec ts;
	const char *name;
	int budget = GC_STEP_ITEMS, rc, keep;

	while (g->g_cursor < g->g_ndoomed && budget-- > 0) {
		l = &g->g_links[g->g_doomed[g->g_cursor++]];
		name = g->g_repos[l->gl_repo];
		gc_lock_all();
		rc = store_link_used(g->g_store, name, STORE_LINK_REVISION,
		    l->gl_digest, &ts);
		keep = rc == 0 && gc_recent(g, &ts);
		if (rc == -1 && errno == ENOENT) {
			l->gl_gone = 1; /* removed meanwhile */
		} else if (rc == -1) {
			g->g_res.gr_errors++;
			gc_say(g, 1, "manifest %s@%s: %s: kept", name,
			    l->gl_digest, strerror(errno));
		} else if (!keep && g->g_opts.go_dry_run) {
			l->gl_gone = 1;
			g->g_res.gr_manifests_removed++;
			gc_say(g, 0, "would remove manifest %s@%s (untagged)",
			    name, l->gl_digest);
		} else if (!keep) {
			if (store_link_delete(g->g_store, name,
			        STORE_LINK_REVISION, l->gl_digest) == 0) {
				l->gl_gone = 1;
				g->g_res.gr_manifests_removed++;
				gc_say(g, 0, "remove manifest %s@%s (untagged)",
				    name, l->gl_digest);
			} else if (errno == ENOENT)
				l->gl_gone = 1;
			else {
				g->g_res.gr_errors++;
				gc_say(g, 1, "manifest %s@%s: remove: %s", name,
				    l->gl_digest, strerror(errno));
			}
		}
		gc_unlock_all();
		if (!keep)
			continue;
		/* Used since the run began: it stays, and so does its use. */
		gc_say(g, 0, "keep manifest %s@%s: used recently", name,
		    l->gl_digest);
		if (gc_read(g, l->gl_repo, l->gl_digest, &m) == -1)
			return -1;
		gc_mark_manifest(g, l->gl_digest, &m);
		manifest_free(&m);
	}
	if (g->g_cursor < g->g_ndoomed)
		return 0;
	/* From here on, links by digest: the sweep goes blob by blob. */
	if (g->g_nlinks > 1)
		qsort(g->g_links, g->g_nlinks, sizeof(*g->g_links),
		    gc_link_cmp_digest);
	g->g_phase = GC_SWEEP_BLOBS;
	g->g_cursor = 0;
	return 0;
}

/*
 * gc_sweep_blobs: each blob nothing kept references, with the links
 * [lo, hi) of g_links that name it.
 */
static int
gc_sweep_blobs(struct gc *g)
{
	struct gc_blob *b;
	struct gc_link key;
	size_t lo, hi, n;
	int budget = GC_STEP_ITEMS;

	while (g->g_cursor < g->g_nblobs && budget > 0) {
		b = &g->g_blobs[g->g_cursor++];
		if (b->gb_marked)
			continue;
		budget--;
		/* The first link naming b: a binary search over g_links. */
		memset(&key, 0, sizeof(key));
		(void)util_strlcpy(key.gl_digest, b->gb_digest,
		    sizeof(key.gl_digest));
		lo = 0;
		n = g->g_nlinks;
		while (n > 0) {
			if (strcmp(g->g_links[lo + n / 2].gl_digest,
			        b->gb_digest) < 0) {
				lo += n / 2 + 1;
				n -= n / 2 + 1;
			} else
				n /= 2;
		}
		for (hi = lo; hi < g->g_nlinks &&
		     strcmp(g->g_links[hi].gl_digest, b->gb_digest) == 0;
		     hi++)
			continue;
		gc_sweep_blob(g, b, lo, hi);
	}
	if (g->g_cursor < g->g_nblobs)
		return 0;
	g->g_phase = GC_SWEEP_DANGLING;
	g->g_cursor = 0;
	return 0;
}

/*
 * gc_blob_recent: 1 when the store says blob b or one of its layer links
 * [lo, hi) was used since the cutoff, 0 when not (*gone when the blob is
 * no more), -1 with errno.
 */
static int
gc_blob_recent(struct gc *g, struct gc_blob *b, size_t lo, size_t hi, int *gone)
{
	struct gc_link *l;
	struct timespec ts;
	size_t i;
	int recent = 0;

	*gone = 0;
	if (store_blob_used(g->g_store, b->gb_digest, &ts) == 0)
		recent = gc_recent(g, &ts);
	else if (errno == ENOENT)
		*gone = 1;
	else
		return -1;
	for (i = lo; i < hi && recent == 0; i++) {
		l = &g->g_links[i];
		if (l->gl_kind != STORE_LINK_LAYER)
			continue;
		if (store_link_used(g->g_store, g->g_repos[l->gl_repo],
		        STORE_LINK_LAYER, b->gb_digest, &ts) == 0)
			recent = gc_recent(g, &ts);
		else if (errno != ENOENT)
			return -1;
	}
	return recent;
}

/*
 * gc_sweep_blob: remove blob b and its layer links [lo, hi), unless the
 * store says it or one of them was used since the cutoff. The check and
 * the removal are one step under the guard (see the top of the file).
 * For pushes in other processes, a blob that looks unused is doomed in
 * the store and checked again (store.h); its removal comes within
 * STORE_DOOM_HOLD seconds of the doom, or it stays.
 */
static void
gc_sweep_blob(struct gc *g, struct gc_blob *b, size_t lo, size_t hi)
{
	struct gc_link *l;
	const char *name;
	uint64_t doomed_at = 0;
	size_t i;
	int recent, gone, doomed = 0;

	for (i = lo; i < hi; i++) {
		l = &g->g_links[i];
		if (l->gl_kind == STORE_LINK_REVISION && !l->gl_gone) {
			/* A manifest that stays, unread: never its blob. */
			g->g_res.gr_warnings++;
			gc_say(g, 1, "blob %s: manifest of %s not read: kept",
			    b->gb_digest, g->g_repos[l->gl_repo]);
			return;
		}
	}
	gc_lock_all();
	recent = gc_blob_recent(g, b, lo, hi, &gone);
	if (recent == 0 && !gone && !g->g_opts.go_dry_run) {
		if (store_blob_doom(g->g_store, b->gb_digest, g->g_id, 1) ==
		    -1) {
			g->g_res.gr_errors++;
			gc_say(g, 1, "blob %s: doom: %s: kept", b->gb_digest,
			    strerror(errno));
			goto done;
		}
		doomed = 1;
		doomed_at = util_now_ms();
		/* A push touching it from now on finds it doomed. */
		recent = gc_blob_recent(g, b, lo, hi, &gone);
	}
	if (recent == -1) {
		g->g_res.gr_errors++;
		gc_say(g, 1, "blob %s: %s: kept", b->gb_digest,
		    strerror(errno));
		goto done;
	}
	if (recent) {
		g->g_res.gr_recent++;
		g->g_res.gr_bytes_recent += b->gb_size;
		gc_say(g, 0, "keep blob %s (%" PRIu64 " bytes): used recently",
		    b->gb_digest, b->gb_size);
		goto done;
	}
	for (i = lo; i < hi; i++) {
		l = &g->g_links[i];
		if (l->gl_kind != STORE_LINK_LAYER)
			continue;
		name = g->g_repos[l->gl_repo];
		if (!g->g_opts.go_dry_run &&
		    store_link_delete(g->g_store, name, STORE_LINK_LAYER,
		        b->gb_digest) == -1) {
			if (errno == ENOENT)
				continue;
			g->g_res.gr_errors++;
			gc_say(g, 1, "layer link %s@%s: remove: %s: blob kept",
			    name, b->gb_digest, strerror(errno));
			goto done;
		}
		l->gl_gone = 1;
		g->g_res.gr_links_removed++;
		gc_say(g, 0, "%s layer link %s@%s",
		    g->g_opts.go_dry_run ? "would remove" : "remove", name,
		    b->gb_digest);
	}
	if (gone)
		goto done;
	if (doomed && util_now_ms() - doomed_at >= STORE_DOOM_HOLD * 1000) {
		/* A push elsewhere may no longer see the doom: keep. */
		g->g_res.gr_warnings++;
		gc_say(g, 1,
		    "blob %s: the store took over %d s to answer: kept",
		    b->gb_digest, STORE_DOOM_HOLD);
		goto done;
	}
	if (!g->g_opts.go_dry_run &&
	    store_blob_delete(g->g_store, b->gb_digest) == -1) {
		if (errno != ENOENT) {
			g->g_res.gr_errors++;
			gc_say(g, 1, "blob %s: remove: %s", b->gb_digest,
			    strerror(errno));
		}
		goto done;
	}
	doomed = 0; /* the marks went with the blob */
	g->g_res.gr_blobs_removed++;
	g->g_res.gr_bytes_removed += b->gb_size;
	gc_say(g, 0, "%s blob %s (%" PRIu64 " bytes)",
	    g->g_opts.go_dry_run ? "would remove" : "remove", b->gb_digest,
	    b->gb_size);
done:
	/* Kept: no longer doomed. A mark left behind expires (store.h). */
	if (doomed &&
	    store_blob_doom(g->g_store, b->gb_digest, g->g_id, 0) == -1) {
		g->g_res.gr_warnings++;
		gc_say(g, 1, "blob %s: undoom: %s", b->gb_digest,
		    strerror(errno));
	}
	gc_unlock_all();
}

/*
 * gc_sweep_dangling: layer links whose blob the walk did not find (a
 * registry:2 collection leaves them; fsck calls them problems), unless
 * the blob is there now (an upload committed since the walk) or the
 * link was used recently.
 */
static int
gc_sweep_dangling(struct gc *g)
{
	struct gc_link *l;
	struct timespec ts;
	uint64_t size;
	const char *name;
	int budget = GC_STEP_ITEMS;

	while (g->g_cursor < g->g_nlinks && budget > 0) {
		l = &g->g_links[g->g_cursor++];
		if (l->gl_kind != STORE_LINK_LAYER || l->gl_gone ||
		    gc_blob_find(g, l->gl_digest) != NULL)
			continue;
		budget--;
		name = g->g_repos[l->gl_repo];
		gc_lock_all();
		if (store_blob_stat(g->g_store, l->gl_digest, &size) == 0 ||
		    errno != ENOENT ||
		    (store_link_used(g->g_store, name, STORE_LINK_LAYER,
		         l->gl_digest, &ts) == 0 &&
		        gc_recent(g, &ts))) {
			gc_unlock_all();
			continue;
		}
		if (g->g_opts.go_dry_run ||
		    store_link_delete(g->g_store, name, STORE_LINK_LAYER,
		        l->gl_digest) == 0) {
			l->gl_gone = 1;
			g->g_res.gr_links_removed++;
			gc_say(g, 0, "%s layer link %s@%s (blob missing)",
			    g->g_opts.go_dry_run ? "would remove" : "remove",
			    name, l->gl_digest);
		} else if (errno != ENOENT) {
			g->g_res.gr_errors++;
			gc_say(g, 1, "layer link %s@%s: remove: %s", name,
			    l->gl_digest, strerror(errno));
		}
		gc_unlock_all();
	}
	if (g->g_cursor >= g->g_nlinks)
		g->g_phase = GC_DONE;
	return 0;
}

/* ---- the run ---- */

struct gc *
gc_new(struct store *s, const struct gc_options *opts)
{
	struct gc *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->g_store = s;
	g->g_opts = *opts;
	if (g->g_opts.go_grace < 0)
		g->g_opts.go_grace = 0;
	g->g_phase = GC_WALK;
	g->g_start_ms = util_now_ms();
	if (util_uuid(g->g_id) == -1) {
		free(g);
		return NULL;
	}
	/* The caller chose the runs that say it (gc.h). */
	if (g->g_opts.go_warn_shared && g->g_opts.go_grace < GC_SHARED_GRACE)
		gc_say(g, 1, GC_SHARED_WARNING, (long long)g->g_opts.go_grace,
		    GC_SHARED_GRACE);
	return g;
}

/*
 * gc_set_cutoff: "used recently" means used since now, less the grace,
 * once no push of this process is between touching what it references
 * and writing its revision link (the write side of the guard waits for
 * them). A push that touched before and linked after would otherwise
 * be missed twice: its manifest is not in the census that follows, and
 * its touches are older than the cutoff whenever it took longer than
 * the grace (gc_grace 0, and a score of S3 requests under load, is a
 * second). Those that finished are in the census; those that start now
 * touch after the cutoff. The clock is the one the kernel stamps files
 * with, and S3 servers their Last-Modified; one second more than the
 * grace, for stores that keep whole seconds and for touches skipped while
 * a mark is fresh (STORE_TOUCH_FRESH_MS, store.h).
 */
static void
gc_set_cutoff(struct gc *g)
{
	gc_lock_all();
	(void)clock_gettime(CLOCK_REALTIME_COARSE, &g->g_cutoff);
	gc_unlock_all();
	g->g_cutoff.tv_sec -= g->g_opts.go_grace + 1;
}

/*
 * The second gc_set_cutoff adds also covers a touch left undone while the
 * mark was fresh (store.h): that mark is at most STORE_TOUCH_FRESH_MS
 * older than the use it stands for.
 */
_Static_assert(STORE_TOUCH_FRESH_MS <= 1000 / 2,
    "a fresh mark must stay within the cutoff's second");

int
gc_step(struct gc *g)
{
	int rc = 0;

	if (atomic_load(&g->g_cancel) && g->g_phase != GC_DONE) {
		g->g_phase = GC_FAILED;
		g->g_res.gr_ms = util_now_ms() - g->g_start_ms;
		errno = ECANCELED;
		return -1;
	}
	switch (g->g_phase) {
	case GC_WALK:
		gc_set_cutoff(g);
		rc = gc_census(g);
		g->g_phase = GC_MARK;
		break;
	case GC_MARK:
		rc = gc_mark_step(g);
		break;
	case GC_SWEEP_MANIFESTS:
		rc = gc_sweep_manifests(g);
		break;
	case GC_SWEEP_BLOBS:
		rc = gc_sweep_blobs(g);
		break;
	case GC_SWEEP_DANGLING:
		rc = gc_sweep_dangling(g);
		break;
	case GC_DONE:
		return 0;
	case GC_FAILED:
		errno = EINVAL;
		return -1;
	}
	if (rc == -1) {
		g->g_phase = GC_FAILED;
		g->g_res.gr_ms = util_now_ms() - g->g_start_ms;
		return -1;
	}
	if (g->g_phase == GC_DONE) {
		g->g_res.gr_ms = util_now_ms() - g->g_start_ms;
		return 0;
	}
	return 1;
}

const struct gc_result *
gc_result(const struct gc *g)
{
	return &g->g_res;
}

void
gc_cancel(struct gc *g)
{
	atomic_store(&g->g_cancel, 1);
}

void
gc_free(struct gc *g)
{
	size_t i;

	if (g == NULL)
		return;
	gc_revs_free(g);
	free(g->g_blobs);
	for (i = 0; i < g->g_nrepos; i++)
		free(g->g_repos[i]);
	free(g->g_repos);
	free(g->g_repo_map);
	free(g->g_links);
	free(g->g_tags);
	free(g->g_doomed);
	free(g);
}

int
gc_run(struct store *s, const struct gc_options *opts, struct gc_result *res)
{
	struct gc *g;
	int rc, saved;

	memset(res, 0, sizeof(*res));
	if ((g = gc_new(s, opts)) == NULL)
		return -1;
	while ((rc = gc_step(g)) == 1)
		continue;
	saved = errno;
	*res = g->g_res;
	gc_free(g);
	errno = saved;
	return rc;
}

/* ---- disk usage ---- */

int
gc_du(struct store *s, FILE *out)
{
	struct gc_options opts;
	struct gc *g;
	struct gc_blob *b;
	char **digests = NULL;
	size_t i, j, k, n, nd;
	uint64_t bytes, tb[4] = {0, 0, 0, 0};
	size_t tn[4] = {0, 0, 0, 0};
	int rv = -1;

	memset(&opts, 0, sizeof(opts));
	if ((g = gc_new(s, &opts)) == NULL)
		return -1;
	if (gc_census(g) == -1)
		goto done;
	if (g->g_nlinks > 0 &&
	    (digests = calloc(g->g_nlinks, sizeof(*digests))) == NULL)
		goto done;
	/* Links are by repository: one range each, digests made unique. */
	for (i = 0, j = 0; i < g->g_nrepos; i++) {
		for (nd = 0; j < g->g_nlinks && g->g_links[j].gl_repo == i; j++)
			digests[nd++] = g->g_links[j].gl_digest;
		if (nd > 1)
			qsort(digests, nd, sizeof(*digests), gc_du_cmp);
		bytes = 0;
		for (k = 0, n = 0; k < nd; k++) {
			if (k > 0 && strcmp(digests[k - 1], digests[k]) == 0)
				continue;
			if ((b = gc_blob_find(g, digests[k])) == NULL)
				continue;
			b->gb_repos++;
			bytes += b->gb_size;
			n++;
		}
		fprintf(out, "%" PRIu64 "\t%zu\t%s\n", bytes, n, g->g_repos[i]);
	}
	for (i = 0; i < g->g_nblobs; i++) {
		b = &g->g_blobs[i];
		k = b->gb_repos == 0 ? 2 : 0;
		tb[k] += b->gb_size;
		tn[k]++;
		if (b->gb_repos > 1) {
			tb[1] += b->gb_size;
			tn[1]++;
		}
		tb[3] += b->gb_size;
		tn[3]++;
	}
	fprintf(out,
	    "%" PRIu64 "\t%zu\t(total)\n%" PRIu64 "\t%zu\t(shared)\n"
	    "%" PRIu64 "\t%zu\t(unlinked)\n%" PRIu64 "\t%zu\t(store)\n",
	    tb[0], tn[0], tb[1], tn[1], tb[2], tn[2], tb[3], tn[3]);
	rv = 0;
done:
	free(digests);
	gc_free(g);
	return rv;
}
