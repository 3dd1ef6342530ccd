#ifndef REGISTRYD_FSCK_H
#define REGISTRYD_FSCK_H

#include <stddef.h>
#include <stdio.h>

struct store;

/*
 * fsck: a read-only check of a store (registryd fsck), on any driver. It
 * goes through the store's walk (store_walk) and readers and writes one
 * line per finding to out:
 *
 *   problem   "<what>: <why>"            the tree serves wrong or missing
 *                                        content (a blob whose bytes do not
 *                                        hash to its name, a link to a
 *                                        missing blob, a malformed link)
 *   warning   "warning: <what>: <why>"   suspicious but harmless to
 *                                        clients (an untagged manifest
 *                                        with missing blobs)
 *   info      "info: <what>: <why>"      expected after a crash and ignored
 *                                        by readers (stray *.tmp files,
 *                                        upload directories, a blob or link
 *                                        directory without its file)
 *
 * and a summary "fsck: N blobs, M repositories, K problems (W warnings,
 * I info)". Nothing is ever written to the tree.
 */

/* Counts of one fsck_run. */
struct fsck_result {
	size_t fr_blobs;    /* blob data files checked */
	size_t fr_repos;    /* repositories (directories with _manifests) */
	size_t fr_problems; /* findings that need repair */
	size_t fr_warnings; /* suspicious, harmless to clients */
	size_t fr_info;     /* crash litter, ignored by readers */
};

/*
 * fsck_run: check the tree of s, writing findings and the summary to out
 * (which may be NULL to only count). Returns 0 when the check ran (look
 * at res->fr_problems), -1 with errno when it could not (out of memory);
 * unreadable parts of the tree are problems, not failures.
 */
int fsck_run(struct store *s, FILE *out, struct fsck_result *res);

#endif /* REGISTRYD_FSCK_H */
