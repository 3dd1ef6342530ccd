#ifndef REGISTRYD_GC_H
#define REGISTRYD_GC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct store;

/*
 * Garbage collection (registryd garbage-collect, and the server's online
 * collection), mark and sweep over the storage interface only, so it
 * works on every driver:
 *
 *   mark    every manifest revision of every repository is read; the
 *           blobs it references (config, layers, other descriptors, the
 *           manifest itself, index children) are in use. With
 *           go_delete_untagged only the manifests a tag reaches count,
 *           with the children of a kept index and the referrers (a
 *           "subject") of a kept manifest, recursively, per repository;
 *           the others are removed.
 *   sweep   per unreferenced blob: its layer links in every repository,
 *           then the blob. Untagged manifests (their revision links) go
 *           before any blob. Each step leaves a tree a reader can serve,
 *           so the run may be interrupted at any point.
 *
 * What was used within go_grace seconds before the run started, or
 * since, is kept: a blob or link the store says was written or touched
 * then (store_blob_used, store_link_used), checked again just before it
 * is removed, under the guard (gc_guard_enter) a manifest push holds
 * while it touches and checks what it references. That is what makes
 * collecting while pushes run safe (see gc.c).
 */

struct gc_options {
	int go_dry_run;         /* report what would go, remove nothing */
	int go_delete_untagged; /* also manifests no tag reaches */
	time_t go_grace;        /* seconds: keep what was used this recently */
	/*
	 * The store may be written by other instances (the s3 driver) and
	 * this run is to say, when go_grace is below GC_SHARED_GRACE, that
	 * it is safe only with one (GC_SHARED_WARNING). The caller decides
	 * which runs say it: not every timed one.
	 */
	int go_warn_shared;
	/* One line per removal and finding; NULL: the debug log. */
	FILE *go_out;
};

/*
 * Below this grace, a push on another instance sharing the store can
 * lose layers to a collection: its touches must be younger than the
 * grace when the census runs, and a push of many layers takes seconds of
 * requests (review G2). One instance alone is safe at any grace (the
 * cutoff is taken under the write guard).
 */
#define GC_SHARED_GRACE 60
/* What is said then; its arguments: the grace (long long), GC_SHARED_GRACE. */
#define GC_SHARED_WARNING                                                      \
	"gc_grace %lld s on a shared (s3) store is safe only while a single "  \
	"instance writes the bucket; with several, a push on another one "     \
	"can lose layers: set gc_grace to %d s or more"

struct gc_result {
	size_t gr_blobs;             /* blobs in the store (its walk) */
	size_t gr_repos;             /* repositories */
	size_t gr_manifests;         /* manifest revisions read */
	size_t gr_manifests_removed; /* untagged, revision link removed */
	size_t gr_links_removed;     /* layer links removed */
	size_t gr_blobs_removed;     /* blobs removed */
	uint64_t gr_bytes_removed;   /* their bytes */
	size_t gr_recent;            /* unreferenced, kept: used recently */
	uint64_t gr_bytes_recent;    /* their bytes */
	size_t gr_warnings;          /* manifests not understood, ... */
	size_t gr_errors;            /* removals that failed */
	uint64_t gr_ms;              /* how long the run took */
};

struct gc;

/*
 * gc_new: a collection of store with opts, started now (go_grace counts
 * back from here). The caller owns it (gc_free). NULL with errno.
 */
struct gc *gc_new(struct store *, const struct gc_options *);
/*
 * gc_step: do the next bounded piece of the work (a walk of the store,
 * a few hundred manifest reads or removals). Returns 1 while there is
 * more, 0 when the run is complete, -1 with errno when it failed (then
 * nothing more is removed; what was removed stays removed). May block:
 * a STORE_CALL_WALK's work. Only one thread at a time may step a gc.
 */
int gc_step(struct gc *);
const struct gc_result *gc_result(const struct gc *);
/*
 * gc_cancel: make the step under way (from any thread) and every later
 * one stop soon with ECANCELED; what was removed stays removed.
 */
void gc_cancel(struct gc *);
void gc_free(struct gc *);

/*
 * gc_run: gc_new, gc_step until done, gc_free. 0, or -1 with errno; the
 * counts in *res either way.
 */
int gc_run(struct store *, const struct gc_options *, struct gc_result *res);

/*
 * gc_summary: the one-line summary of a run into buf, "removed 2
 * manifests, 3 links, 4 blobs, 5678 bytes; kept 1 recently used blobs
 * (12 bytes)" ("would remove" with dry_run).
 */
void gc_summary(const struct gc_result *, int dry_run, char *buf, size_t size);

/*
 * gc_guard_enter, gc_guard_leave: around a push's touch and check of the
 * blobs and manifests it references (store_link_touch, then
 * store_link_exists) and the writes of its own blob and links, so that
 * no collection in this process decides on one of them in between
 * (its own blob may be an old one, present since a delete). Shared: pushes
 * never wait for each other, only, for a moment, for a collection removing one
 * blob.
 */
void gc_guard_enter(void);
void gc_guard_leave(void);

/*
 * gc_du: bytes per repository (the blobs linked in it: layers and
 * manifests), "<bytes>\t<blobs>\t<repository>" per line in catalog
 * order, then "(total)" (blobs linked anywhere, each counted once),
 * "(shared)" (linked in more than one repository), "(unlinked)" (in no
 * repository: garbage or an upload that just finished) and "(store)"
 * (every blob). A walk of the store. 0, or -1 with errno.
 */
int gc_du(struct store *, FILE *out);

#endif /* REGISTRYD_GC_H */
