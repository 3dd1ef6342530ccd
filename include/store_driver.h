#ifndef REGISTRYD_STORE_DRIVER_H
#define REGISTRYD_STORE_DRIVER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"
#include "store.h"

/*
 * What a storage driver implements, and the helpers drivers share. Only
 * store.c (the dispatch) and the drivers include this header; the
 * registry sees store.h alone.
 *
 * A driver's store, reader and writer structs begin with the generic ones
 * below, so store.c can reach the ops from any handle. Each op has the
 * contract of the store.h function of the same name; store.c has already
 * checked nothing, the driver validates its own inputs.
 */

struct store_ops {
	const char *so_name; /* "filesystem", "memory" */
	void (*so_close)(struct store *);
	/* 1 when calls of that kind need not leave the loop (store_call). */
	int (*so_cheap)(enum store_call_kind);

	int (*so_blob_stat)(struct store *, const char *, uint64_t *);
	struct store_reader *(
	    *so_blob_open)(struct store *, const char *, uint64_t *);
	ssize_t (
	    *so_reader_read)(struct store_reader *, void *, size_t, uint64_t);
	void (*so_reader_close)(struct store_reader *);
	int (
	    *so_blob_write)(struct store *, const char *, const void *, size_t);
	int (*so_blob_delete)(struct store *, const char *);

	int (*so_link_exists)(struct store *, const char *, enum store_link,
	    const char *);
	int (*so_link_write)(struct store *, const char *, enum store_link,
	    const char *);
	int (*so_link_delete)(struct store *, const char *, enum store_link,
	    const char *);
	int (*so_link_list)(struct store *, const char *, enum store_link,
	    char ***, size_t *);

	int (*so_tag_get)(struct store *, const char *, const char *,
	    char[DIGEST_BUFSZ]);
	int (*so_tag_set)(struct store *, const char *, const char *,
	    const char *);
	int (*so_tag_delete)(struct store *, const char *, const char *);
	int (*so_tag_list)(struct store *, const char *, char ***, size_t *);
	/* Optional (NULL: store_tag_list_max lists them all). */
	int (*so_tag_list_max)(struct store *, const char *, size_t, char ***,
	    size_t *);

	int (*so_repo_exists)(struct store *, const char *);
	int (*so_repo_list)(struct store *, char ***, size_t *);

	struct store_writer *(
	    *so_upload_create)(struct store *, const char *, const char *);
	struct store_writer *(*so_upload_resume)(struct store *, const char *,
	    const char *, uint64_t *);
	/* Append at sw_size; store.c advances sw_size on success. */
	int (*so_writer_append)(struct store_writer *, const void *, size_t);
	/* Cut to size; store.c sets sw_size on success. */
	int (*so_writer_truncate)(struct store_writer *, uint64_t);
	void (*so_writer_idle)(struct store_writer *);
	int (*so_writer_hash)(struct store_writer *, char[DIGEST_BUFSZ]);
	int (*so_writer_stat)(struct store_writer *, uint64_t *);
	int (*so_writer_commit)(struct store_writer *, const char *);
	int (*so_writer_abort)(struct store_writer *);
	void (*so_writer_free)(struct store_writer *);
	int (*so_upload_purge)(struct store *, time_t, int);

	int (*so_referrer_put)(struct store *, const char *, const char *,
	    const char *, const void *, size_t, int);
	int (*so_referrer_get)(struct store *, const char *, const char *,
	    const char *, size_t, char **, size_t *);
	int (*so_referrer_list)(struct store *, const char *, const char *,
	    char ***, size_t *);
	int (*so_referrer_delete)(struct store *, const char *, const char *,
	    const char *);
	int (*so_referrer_stale)(struct store *, const char *, char ***,
	    size_t *, char ***, size_t *);

	int (*so_walk)(struct store *,
	    int (*)(const struct store_item *, void *), void *);

	int (*so_blob_used)(struct store *, const char *, struct timespec *);
	int (*so_link_used)(struct store *, const char *, enum store_link,
	    const char *, struct timespec *);
	int (*so_link_touch)(struct store *, const char *, enum store_link,
	    const char *);
	/* NULL: so_link_exists, then so_link_touch. */
	int (*so_link_use)(struct store *, const char *, enum store_link,
	    const char *);
	/* NULL: one process collects and pushes (store.h). */
	int (*so_blob_doom)(struct store *, const char *, const char *, int);
	int (*so_blob_doomed)(struct store *, const char *);
	int (*so_probe)(struct store *, enum store_probe_kind);

	/*
	 * For drivers whose loop-side calls start network requests (S3);
	 * NULL in the others, which never make the loop wait.
	 */
	void (*so_reader_set_wake)(struct store_reader *, void (*)(void *),
	    void *);
	int (*so_writer_busy)(struct store_writer *);
	void (*so_writer_set_wake)(struct store_writer *, void (*)(void *),
	    void *);
	int (*so_writer_flush)(struct store_writer *);
	int (*so_writer_refresh)(struct store_writer *);
	char *(*so_blob_url)(struct store *, const char *, int);
	int so_workers; /* store call workers it wants; 0: the pool's default */
};

/* The head of every driver's store. */
struct store {
	const struct store_ops *s_ops;
	char s_describe[128]; /* store_describe */
};

/* The head of every driver's blob reader. */
struct store_reader {
	struct store *sr_store;
};

/* The head of every driver's upload writer. */
struct store_writer {
	struct store *sw_store;
	uint64_t sw_size; /* bytes in the session; kept by store.c */
	/*
	 * Set by a driver that found the session's data at another size than
	 * sw_size when it reopened it (another instance wrote to it): it set
	 * sw_size to what is there. store_writer_rebased reads and clears it.
	 */
	int sw_rebased;
};

/* A growing array of malloc'd strings, handed out as char ** + count. */
struct store_list {
	char **sl_v;
	size_t sl_n;
	size_t sl_cap;
};

/* store_list_add: append a copy of str. 0, or -1 (ENOMEM). */
int store_list_add(struct store_list *, const char *str);
/* store_list_copy: copy from (strings too) into to. 0, or -1 (ENOMEM). */
int store_list_copy(const struct store_list *from, struct store_list *to);
/* store_list_sort: sort by strcmp, or by store_repo_cmp with repo_order. */
void store_list_sort(struct store_list *, int repo_order);

/*
 * store_name_ok, store_tag_ok, store_uuid_ok, store_digest_ok: a second
 * check of what router.c validated, so that no driver ever builds a key
 * or path from something else.
 */
int store_name_ok(const char *);
int store_tag_ok(const char *);
int store_uuid_ok(const char *);
int store_digest_ok(const char *);
/*
 * store_touch_fresh: 1 when a mark of time ts is younger than
 * STORE_TOUCH_FRESH_MS at now (store.h), or later than now: the collector
 * then counts it used at least as long as a touch now would.
 */
int store_touch_fresh(const struct timespec *ts, const struct timespec *now);

#endif /* REGISTRYD_STORE_DRIVER_H */
