/*
 * store_s3_upload.c: upload sessions of the S3 driver (store_s3.c).
 *
 * A session is a set of objects under
 * repositories/<name>/_uploads/<uuid>/:
 *
 *   startedat               RFC 3339, as registry:2 writes it (purging)
 *   _registryd/part-<w>-<n> a part of the data, each >= the chunk size,
 *                           named by the writer w that stored it
 *   _registryd/tail-<w>-<g> the bytes after the last part, written at
 *                           the end of each request (store_writer_flush)
 *                           by writer w for the state of generation g
 *   _registryd/state        JSON: {"owner", "gen", "next", "parts":
 *                           [[w, n, size], ...], "tail": size,
 *                           "tailkey": "tail-<w>-<g>"}
 *
 * The state PUT is the one commit point of a flush: the new tail is a
 * new object, and the one the previous state named goes only once the
 * new state is stored, so a state always names bytes that are there.
 * (A state without "tailkey" names _registryd/tail, as written before.)
 *
 * Why parts are objects of their own rather than the parts of one
 * multipart upload: S3 cannot read back the parts of an unfinished
 * multipart upload, and a session must be readable: to re-hash it when
 * it moved to another instance (OpenSSL 3 cannot export an EVP digest
 * state, and keeping EVP only is worth a re-read in that rare case), and
 * to cut it back when a request fails part-way. The commit assembles the
 * parts server-side (multipart UploadPartCopy), so the bytes cross the
 * network once more only inside the store.
 *
 * Appends run on the loop: they fill w_buf; a full chunk is sent as the
 * next part by s3_start while appends go on into a new w_buf; when that
 * one is full too the writer is busy (store_writer_busy) and the upload
 * handler pauses the client until the part is stored. So an upload holds
 * at most about two chunks in memory, whatever the client sends.
 *
 * What the loop and a worker share (a worker runs flush, hash, stat,
 * commit and abort while the request holds the session, and a part's
 * completion may arrive meanwhile) is under w_lock; the worker waits on
 * w_cond until no part is in flight.
 */

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "s3.h"
#include "store.h"
#include "store_driver.h"
#include "store_s3.h"
#include "store_s3_impl.h"
#include "util.h"

#define STORE_S3_STATE_MAX (1024 * 1024)     /* bytes of a state object */
#define STORE_S3_PIECE     (8 * 1024 * 1024) /* re-hash and copy GETs */
#define STORE_S3_TOKEN     16 /* hex digits of a writer's token */
#define STORE_S3_TAILNAME  48 /* "tail-<token>-<gen>" and its NUL */

/*
 * One part of the data: object part-<sg_owner>-<sg_n>, of which sg_size
 * bytes count. The writer's token in the name keeps two instances that
 * both think they continue a session from ever writing the same object.
 */
struct store_s3_seg {
	char sg_owner[STORE_S3_TOKEN + 1];
	uint32_t sg_n;
	uint64_t sg_size;
};

struct store_s3_writer {
	struct store_writer w_base;
	pthread_mutex_t w_lock;
	pthread_cond_t w_cond;
	char w_name[NAME_MAX_LEN + 1];
	char w_uuid[UUID_LEN + 1];
	char w_dir[STORE_S3_KEY_MAX]; /* ".../_uploads/<uuid>/" (whole key) */
	/* The state object as this writer last wrote or read it. */
	char w_owner[STORE_S3_TOKEN + 1]; /* this writer's: states, parts */
	uint64_t w_gen;
	/* The state as last read or written: another one is newer. */
	char w_seen_owner[STORE_S3_TOKEN + 1];
	uint64_t w_seen_gen;
	int w_stale; /* another writer's state is newer (writer_stat) */
	/* The parts stored, in order. */
	struct store_s3_seg *w_segs;
	size_t w_nsegs, w_capsegs;
	uint64_t w_segs_bytes;
	uint32_t w_next; /* next part number */
	/* The part in flight (the loop's), and what comes after it. */
	struct s3_request w_req;
	int w_active;
	char *w_fly;
	size_t w_flycap;
	/*
	 * A stored part's buffer, kept for the next one: two buffers of a
	 * chunk swap rather than a third growing while one is freed.
	 */
	char *w_spare;
	size_t w_spare_cap;
	size_t w_flylen;
	uint32_t w_flyn;
	char w_flykey[STORE_S3_KEY_MAX];
	int w_trunc_pending; /* a truncate below the part in flight */
	uint64_t w_trunc;
	char *w_buf;
	size_t w_len, w_cap;
	int w_tail_ok; /* w_buf is stored as the tail already */
	char w_tail[STORE_S3_TAILNAME]; /* the stored tail's name, or "" */
	/*
	 * An idle session whose tail is stored keeps no copy: w_buf is
	 * NULL and the w_len bytes are in w_tail only, read back (one GET)
	 * on a worker before the next request uses the session
	 * (store_s3_tail_in). w_fresh: just read back for the request
	 * about to start, so the idle that ends the refresh keeps it.
	 */
	int w_tail_out;
	int w_fresh;
	int w_idle; /* no request holds the session (store_writer_idle) */
	/*
	 * SHA-256 of w_buf as it fills (SigV4 signs a part's hash; s3.c
	 * would hash a whole part at once on the loop). w_bufhash_ok 0:
	 * w_buf was cut, hash it whole when sent.
	 */
	struct digest_ctx *w_bufhash;
	int w_bufhash_ok;
	char w_flysha[65];
	int w_err; /* a part failed: appends fail until a truncate */
	/* Who to wake when no longer busy; runs from w_wake_ev. */
	void (*w_wake)(void *);
	void *w_wake_arg;
	struct event *w_wake_ev;
	int w_freeing;      /* freed with a part in flight: its done frees */
	uint64_t w_counted; /* bytes of w_buf and w_fly in s_buffered */
	/*
	 * At the last sync with the store (load or flush): how many parts
	 * there were and the bytes of the tail in w_buf. What came after is
	 * this writer's own since then (store_s3_rebase).
	 */
	size_t w_sync_nsegs;
	uint64_t w_sync_tail;
};

static struct store_s3_writer *
store_s3_writer_new(struct store *, const char *, const char *);
static void store_s3_writer_destroy(struct store_s3_writer *);
static int
store_s3_seg_add(struct store_s3_writer *, const char *, uint32_t, uint64_t);
static void store_s3_trim(struct store_s3_writer *, uint64_t);
static void store_s3_send(struct store_s3_writer *);
static void store_s3_sent(struct s3_request *, void *);
static void store_s3_wake_cb(evutil_socket_t, short, void *);
static void store_s3_wait(struct store_s3_writer *);
static int store_s3_load(struct store_s3_writer *);
static int store_s3_save(struct store_s3_writer *, const char *);
static int store_s3_rebase(struct store_s3_writer *);
static int store_s3_part_key(struct store_s3_writer *, const char *, uint32_t,
    char *, size_t);

/* The part size. */
static inline uint64_t
store_s3_chunk(const struct store_s3_writer *w)
{
	return ((const struct store_s3 *)w->w_base.sw_store)->s_chunk;
}

/*
 * Count what the writer holds in memory now (the buffers it allocated:
 * w_buf, w_fly, w_spare) in the store's s_buffered, which caps all
 * uploads together.
 */
static void
store_s3_account(struct store_s3_writer *w)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	uint64_t now = (w->w_buf != NULL ? w->w_cap : 0) +
	    (w->w_fly != NULL ? w->w_flycap : 0) +
	    (w->w_spare != NULL ? w->w_spare_cap : 0);

	if (now >= w->w_counted)
		__atomic_add_fetch(&s->s_buffered, now - w->w_counted,
		    __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&s->s_buffered, w->w_counted - now,
		    __ATOMIC_RELAXED);
	w->w_counted = now;
}

static struct store_s3_writer *
store_s3_writer_new(struct store *st, const char *name, const char *uuid)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_s3_writer *w;
	unsigned char rnd[16];
	int i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_base.sw_store = st;
	pthread_mutex_init(&w->w_lock, NULL);
	pthread_cond_init(&w->w_cond, NULL);
	(void)util_strlcpy(w->w_name, name, sizeof(w->w_name));
	(void)util_strlcpy(w->w_uuid, uuid, sizeof(w->w_uuid));
	if (store_s3_key(s, w->w_dir, sizeof(w->w_dir),
	        "repositories/%s/_uploads/%s/", name, uuid) == -1) {
		store_s3_writer_destroy(w);
		return NULL;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		store_s3_writer_destroy(w);
		errno = EIO;
		return NULL;
	}
	for (i = 0; i < STORE_S3_TOKEN / 2; i++)
		snprintf(w->w_owner + 2 * i, 3, "%02x", rnd[i]);
	w->w_next = 1;
	if ((w->w_bufhash = digest_ctx_new()) == NULL) {
		store_s3_writer_destroy(w);
		errno = ENOMEM;
		return NULL;
	}
	w->w_bufhash_ok = 1;
	return w;
}

static void
store_s3_writer_destroy(struct store_s3_writer *w)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;

	__atomic_sub_fetch(&s->s_buffered, w->w_counted, __ATOMIC_RELAXED);
	if (w->w_wake_ev != NULL)
		event_free(w->w_wake_ev);
	digest_ctx_free(w->w_bufhash);
	free(w->w_spare);
	free(w->w_fly);
	free(w->w_buf);
	free(w->w_segs);
	pthread_mutex_destroy(&w->w_lock);
	pthread_cond_destroy(&w->w_cond);
	free(w);
}

/* The key of the tail object called name ("tail-<w>-<g>"). */
static int
store_s3_tail_key(struct store_s3_writer *w, const char *name, char *buf,
    size_t size)
{
	if (snprintf(buf, size, "%s_registryd/%s", w->w_dir, name) >=
	    (int)size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A tail name read from a state: "tail" or "tail-<hex>-<digits>". */
static int
store_s3_tail_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, "tail") == 0)
		return 1;
	return n > 5 && n < STORE_S3_TAILNAME &&
	    strncmp(name, "tail-", 5) == 0 &&
	    strspn(name + 5, "0123456789abcdef-") == n - 5;
}

static int
store_s3_part_key(struct store_s3_writer *w, const char *owner, uint32_t n,
    char *buf, size_t size)
{
	if (snprintf(buf, size, "%s_registryd/part-%.*s-%u", w->w_dir,
	        STORE_S3_TOKEN, owner, n) >= (int)size)
		goto toolong;
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

static int
store_s3_seg_add(struct store_s3_writer *w, const char *owner, uint32_t n,
    uint64_t size)
{
	struct store_s3_seg *v;
	size_t cap;

	if (w->w_nsegs == w->w_capsegs) {
		cap = w->w_capsegs ? w->w_capsegs * 2 : 16;
		if ((v = realloc(w->w_segs, cap * sizeof(*v))) == NULL)
			return -1;
		w->w_segs = v;
		w->w_capsegs = cap;
	}
	(void)util_strlcpy(w->w_segs[w->w_nsegs].sg_owner, owner,
	    sizeof(w->w_segs[w->w_nsegs].sg_owner));
	w->w_segs[w->w_nsegs].sg_n = n;
	w->w_segs[w->w_nsegs].sg_size = size;
	w->w_nsegs++;
	w->w_segs_bytes += size;
	if (n >= w->w_next)
		w->w_next = n + 1;
	return 0;
}

/* Cut the stored parts back to size bytes (size <= w_segs_bytes). */
static void
store_s3_trim(struct store_s3_writer *w, uint64_t size)
{
	uint64_t at = 0;
	size_t i;

	for (i = 0; i < w->w_nsegs; i++) {
		if (at + w->w_segs[i].sg_size >= size) {
			w->w_segs[i].sg_size = size - at;
			w->w_nsegs = w->w_segs[i].sg_size > 0 ? i + 1 : i;
			break;
		}
		at += w->w_segs[i].sg_size;
	}
	w->w_segs_bytes = size < w->w_segs_bytes ? size : w->w_segs_bytes;
}

/* ---- the state object ---- */

/*
 * Serialise the writer's view and PUT it (gen + 1), naming tail (the
 * object holding w_buf, "" when empty). Unlocked, a worker.
 */
static int
store_s3_save(struct store_s3_writer *w, const char *tail)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	char key[STORE_S3_KEY_MAX];
	json_t *root, *parts;
	char *txt;
	size_t i;
	int rv;

	if ((root = json_object()) == NULL || (parts = json_array()) == NULL) {
		json_decref(root);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < w->w_nsegs; i++)
		json_array_append_new(parts,
		    json_pack("[siI]", w->w_segs[i].sg_owner,
		        (int)w->w_segs[i].sg_n,
		        (json_int_t)w->w_segs[i].sg_size));
	json_object_set_new(root, "owner", json_string(w->w_owner));
	json_object_set_new(root, "gen",
	    json_integer((json_int_t)w->w_gen + 1));
	json_object_set_new(root, "next", json_integer(w->w_next));
	json_object_set_new(root, "parts", parts);
	json_object_set_new(root, "tail", json_integer((json_int_t)w->w_len));
	if (w->w_len > 0)
		json_object_set_new(root, "tailkey", json_string(tail));
	txt = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (txt == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (snprintf(key, sizeof(key), "%s_registryd/state", w->w_dir) >=
	    (int)sizeof(key)) {
		free(txt);
		errno = ENAMETOOLONG;
		return -1;
	}
	rv = store_s3_put(s, key, txt, strlen(txt));
	free(txt);
	if (rv == 0) {
		w->w_gen++;
		(void)util_strlcpy(w->w_seen_owner, w->w_owner,
		    sizeof(w->w_seen_owner));
		w->w_seen_gen = w->w_gen;
	}
	return rv;
}

/*
 * Read the state object (and the tail) into the writer, replacing its
 * view; without apply (writer_stat), only *size and whether the state is
 * another writer's than this one (w_stale). ENOENT when
 * the session is gone. A session without a state (one registry:2
 * started, or a crash right after startedat) is an empty one.
 */
static int
store_s3_read_state(struct store_s3_writer *w, int apply, uint64_t *size)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	char key[STORE_S3_KEY_MAX];
	json_t *root, *parts, *p;
	json_error_t jerr;
	const char *owner, *po, *tailkey = "tail";
	json_int_t gen, next, tail, n, sz;
	char *txt, *tb;
	size_t len, i, tlen;
	uint64_t total = 0;

	if (snprintf(key, sizeof(key), "%s_registryd/state", w->w_dir) >=
	    (int)sizeof(key)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_get(s, key, 0, 0, STORE_S3_STATE_MAX, &txt, &len) == -1) {
		if (errno != ENOENT)
			return -1;
		if (snprintf(key, sizeof(key), "%sstartedat", w->w_dir) >=
		        (int)sizeof(key) ||
		    store_s3_head(s, key, NULL, NULL) == -1)
			return -1;
		*size = 0;
		if (apply) {
			w->w_nsegs = 0;
			w->w_segs_bytes = 0;
			w->w_len = 0;
			w->w_gen = 0;
			w->w_seen_owner[0] = '\0';
			w->w_seen_gen = 0;
			w->w_tail[0] = '\0';
		} else
			w->w_stale = w->w_seen_owner[0] != '\0';
		return 0;
	}
	root = json_loadb(txt, len, 0, &jerr);
	free(txt);
	if (root == NULL ||
	    json_unpack(root, "{s:s, s:I, s:I, s:o, s:I, s?s}", "owner", &owner,
	        "gen", &gen, "next", &next, "parts", &parts, "tail", &tail,
	        "tailkey", &tailkey) == -1 ||
	    !json_is_array(parts) || tail < 0 || next < 1 ||
	    next > UINT32_MAX || !store_s3_tail_name_ok(tailkey)) {
		log_warnx("%s: %s: invalid upload state", __func__, w->w_dir);
		json_decref(root);
		errno = EIO;
		return -1;
	}
	if (!apply) {
		for (i = 0; i < json_array_size(parts); i++) {
			p = json_array_get(parts, i);
			if (json_unpack(p, "[sII]", &po, &n, &sz) == 0 &&
			    sz > 0)
				total += (uint64_t)sz;
		}
		*size = total + (uint64_t)tail;
		w->w_stale = strcmp(owner, w->w_seen_owner) != 0 ||
		    (uint64_t)gen != w->w_seen_gen;
		json_decref(root);
		return 0;
	}
	w->w_nsegs = 0;
	w->w_segs_bytes = 0;
	for (i = 0; i < json_array_size(parts); i++) {
		p = json_array_get(parts, i);
		if (json_unpack(p, "[sII]", &po, &n, &sz) == -1 || n < 1 ||
		    n > UINT32_MAX || sz < 0 || strlen(po) != STORE_S3_TOKEN ||
		    strspn(po, "0123456789abcdef") != STORE_S3_TOKEN ||
		    store_s3_seg_add(w, po, (uint32_t)n, (uint64_t)sz) == -1) {
			json_decref(root);
			errno = EIO;
			return -1;
		}
	}
	/* Ours stays ours: the next state says who wrote it. */
	(void)util_strlcpy(w->w_seen_owner, owner, sizeof(w->w_seen_owner));
	w->w_seen_gen = (uint64_t)gen;
	w->w_gen = (uint64_t)gen;
	if ((uint32_t)next > w->w_next)
		w->w_next = (uint32_t)next;
	if (tail > 0)
		(void)util_strlcpy(w->w_tail, tailkey, sizeof(w->w_tail));
	else
		w->w_tail[0] = '\0';
	json_decref(root);
	free(w->w_buf);
	w->w_buf = NULL;
	w->w_len = w->w_cap = 0;
	w->w_tail_out = 0;
	if (tail > 0) {
		if (store_s3_tail_key(w, w->w_tail, key, sizeof(key)) == -1 ||
		    store_s3_get(s, key, 0, (uint64_t)tail, (size_t)tail, &tb,
		        &tlen) == -1)
			return -1;
		if (tlen != (size_t)tail) {
			free(tb);
			errno = EIO;
			return -1;
		}
		w->w_buf = tb;
		w->w_len = w->w_cap = tlen;
	}
	w->w_bufhash_ok = w->w_len == 0;
	digest_ctx_reset(w->w_bufhash);
	store_s3_account(w);
	w->w_tail_ok = 1;
	w->w_stale = 0;
	w->w_sync_nsegs = w->w_nsegs;
	w->w_sync_tail = w->w_len;
	*size = w->w_segs_bytes + w->w_len;
	return 0;
}

static int
store_s3_load(struct store_s3_writer *w)
{
	uint64_t size;

	if (store_s3_read_state(w, 1, &size) == -1)
		return -1;
	w->w_base.sw_size = size;
	return 0;
}

/* ---- sessions ---- */

struct store_writer *
store_s3_upload_create(struct store *st, const char *name, const char *uuid)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_s3_writer *w;
	char key[STORE_S3_KEY_MAX], now[32];
	int saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = store_s3_writer_new(st, name, uuid)) == NULL)
		return NULL;
	if (snprintf(key, sizeof(key), "%sstartedat", w->w_dir) >=
	    (int)sizeof(key)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (store_s3_head(s, key, NULL, NULL) == 0) {
		errno = EEXIST; /* another session's: leave it alone */
		goto fail;
	}
	if (errno != ENOENT)
		goto fail;
	util_rfc3339(time(NULL), now, sizeof(now));
	if (store_s3_put(s, key, now, strlen(now)) == -1 ||
	    store_s3_save(w, "") == -1)
		goto fail;
	w->w_tail_ok = 1;
	return &w->w_base;
fail:
	saved = errno;
	store_s3_writer_destroy(w);
	errno = saved;
	return NULL;
}

struct store_writer *
store_s3_upload_resume(struct store *st, const char *name, const char *uuid,
    uint64_t *size)
{
	struct store_s3_writer *w;
	int saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = store_s3_writer_new(st, name, uuid)) == NULL)
		return NULL;
	if (store_s3_load(w) == -1) {
		saved = errno;
		store_s3_writer_destroy(w);
		errno = saved;
		return NULL;
	}
	*size = w->w_base.sw_size;
	return &w->w_base;
}

/* ---- the loop side: appends and parts in flight ---- */

/* Start sending w_buf as the next part. On the loop, w_lock held. */
static void
store_s3_send(struct store_s3_writer *w)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	uint32_t n = w->w_next;
	char d[DIGEST_BUFSZ];

	if (store_s3_part_key(w, w->w_owner, n, w->w_flykey,
	        sizeof(w->w_flykey)) == -1) {
		w->w_err = errno;
		return;
	}
	if (w->w_bufhash_ok && digest_ctx_peek(w->w_bufhash, d) == 0)
		(void)util_strlcpy(w->w_flysha, digest_hex(d),
		    sizeof(w->w_flysha));
	else
		store_s3_body_sha256(w->w_buf, w->w_len, w->w_flysha);
	memset(&w->w_req, 0, sizeof(w->w_req));
	w->w_req.rq_method = "PUT";
	w->w_req.rq_key = w->w_flykey;
	w->w_req.rq_body = w->w_buf;
	w->w_req.rq_body_len = w->w_len;
	w->w_req.rq_body_sha256 = w->w_flysha;
	if (s3_start(s->s_s3, &w->w_req, store_s3_sent, w) == -1) {
		w->w_err = store_s3_errno(0, NULL, errno);
		log_warn("%s: %s", __func__, w->w_flykey);
		return;
	}
	w->w_next = n + 1;
	w->w_flyn = n;
	w->w_fly = w->w_buf;
	w->w_flylen = w->w_len;
	w->w_flycap = w->w_cap;
	w->w_buf = w->w_spare;
	w->w_cap = w->w_spare_cap;
	w->w_len = 0;
	w->w_spare = NULL;
	w->w_spare_cap = 0;
	w->w_tail_ok = 0;
	w->w_active = 1;
	digest_ctx_reset(w->w_bufhash);
	w->w_bufhash_ok = 1;
}

/* A part is stored (or not). On the loop. */
static void
store_s3_sent(struct s3_request *rq, void *arg)
{
	struct store_s3_writer *w = arg;
	uint64_t keep;
	char *nb;
	int ok = rq->rs_status == 200, wake;

	pthread_mutex_lock(&w->w_lock);
	w->w_active = 0;
	if (w->w_freeing) {
		pthread_mutex_unlock(&w->w_lock);
		s3_request_reset(rq);
		store_s3_writer_destroy(w);
		return;
	}
	if (ok && store_s3_seg_add(w, w->w_owner, w->w_flyn, w->w_flylen) == -1)
		ok = 0;
	if (ok) {
		if (w->w_idle && w->w_len == 0)
			free(w->w_fly); /* nobody appends to an idle one */
		else if (w->w_buf == NULL) {
			w->w_buf = w->w_fly;
			w->w_cap = w->w_flycap;
		} else if (w->w_spare == NULL) {
			w->w_spare = w->w_fly;
			w->w_spare_cap = w->w_flycap;
		} else
			free(w->w_fly);
		if (w->w_trunc_pending)
			store_s3_trim(w, w->w_trunc);
	} else {
		/*
		 * Keep the bytes: they go back in front of w_buf, so a
		 * truncate (the request's rollback) finds them, and a retry
		 * after it sends them again.
		 */
		w->w_err =
		    store_s3_errno(rq->rs_status, rq->rs_code, rq->rs_errno);
		log_warnx("%s: PUT %s: %ld %s: %s", __func__, w->w_flykey,
		    rq->rs_status, rq->rs_code, strerror(w->w_err));
		keep = w->w_flylen;
		if (w->w_trunc_pending) {
			keep = w->w_trunc > w->w_segs_bytes
			    ? w->w_trunc - w->w_segs_bytes
			    : 0;
			if (keep > w->w_flylen)
				keep = w->w_flylen;
			if (w->w_trunc < w->w_segs_bytes)
				store_s3_trim(w, w->w_trunc);
		}
		if ((nb = malloc(keep + w->w_len + 1)) == NULL) {
			/* Lost: nothing sane is left but to fail. */
			w->w_err = ENOMEM;
			free(w->w_fly);
		} else {
			memcpy(nb, w->w_fly, keep);
			if (w->w_len > 0)
				memcpy(nb + keep, w->w_buf, w->w_len);
			free(w->w_fly);
			free(w->w_buf);
			w->w_bufhash_ok = 0;
			w->w_buf = nb;
			w->w_len += keep;
			w->w_cap = w->w_len + 1;
		}
	}
	w->w_fly = NULL;
	w->w_flylen = 0;
	w->w_trunc_pending = 0;
	s3_request_reset(rq);
	if (w->w_err == 0 && w->w_len >= store_s3_chunk(w))
		store_s3_send(w);
	wake = w->w_wake != NULL &&
	    (w->w_err != 0 || !w->w_active || w->w_len < store_s3_chunk(w));
	store_s3_account(w);
	pthread_cond_broadcast(&w->w_cond);
	pthread_mutex_unlock(&w->w_lock);
	if (wake && w->w_wake_ev != NULL)
		event_active(w->w_wake_ev, EV_TIMEOUT, 1);
}

static void
store_s3_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_s3_writer *w = arg;
	void (*fn)(void *) = w->w_wake;

	(void)fd;
	(void)what;
	/* Once: the handler sets it again if it pauses again. */
	w->w_wake = NULL;
	if (fn != NULL)
		fn(w->w_wake_arg);
}

/*
 * store_s3_writer_append: keep the bytes; a full chunk goes out as the
 * next part. Never waits: on the loop.
 */
int
store_s3_writer_append(struct store_writer *sw, const void *buf, size_t len)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;
	size_t cap;
	char *nb;

	pthread_mutex_lock(&w->w_lock);
	if (w->w_err != 0) {
		errno = w->w_err;
		goto fail;
	}
	if (w->w_tail_out) {
		/* Refreshed before any request: never here. */
		log_warnx("%s: %s/%s: tail not read back", __func__, w->w_name,
		    w->w_uuid);
		errno = EIO;
		goto fail;
	}
	w->w_idle = 0;
	if (len > SIZE_MAX / 2 - w->w_len) {
		errno = EFBIG;
		goto fail;
	}
	/*
	 * All uploads together hold at most STORE_S3_BUFFERED_MAX: beyond,
	 * the request fails (503) rather than the process growing without
	 * bound when the store is slower than many clients together.
	 */
	if (__atomic_load_n(&s->s_buffered, __ATOMIC_RELAXED) + len >
	    STORE_S3_BUFFERED_MAX) {
		log_warnx("%s: uploads hold %d MiB in memory already", __func__,
		    STORE_S3_BUFFERED_MAX >> 20);
		errno = EAGAIN;
		goto fail;
	}
	if (w->w_len + len > w->w_cap) {
		cap = w->w_cap > 0 ? w->w_cap : 64 * 1024;
		while (cap < w->w_len + len)
			cap *= 2;
		if (cap < store_s3_chunk(w) && w->w_len + len > 1024 * 1024)
			cap = store_s3_chunk(w) + 256 * 1024;
		if ((nb = realloc(w->w_buf, cap)) == NULL)
			goto fail;
		w->w_buf = nb;
		w->w_cap = cap;
	}
	memcpy(w->w_buf + w->w_len, buf, len);
	w->w_len += len;
	w->w_tail_ok = 0;
	if (w->w_bufhash_ok)
		digest_ctx_update(w->w_bufhash, buf, len);
	if (!w->w_active && w->w_len >= store_s3_chunk(w))
		store_s3_send(w);
	store_s3_account(w);
	pthread_mutex_unlock(&w->w_lock);
	return 0;
fail:
	pthread_mutex_unlock(&w->w_lock);
	return -1;
}

/*
 * store_s3_writer_truncate: cut back to size. Bytes still in memory go
 * at once; stored parts are cut in the writer's list (the objects stay
 * until the session ends: the commit copies only what counts); below a
 * part in flight, the cut waits for its outcome. Clears a failure: the
 * request that saw it is undone, the next one may try again.
 */
int
store_s3_writer_truncate(struct store_writer *sw, uint64_t size)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	uint64_t below;

	pthread_mutex_lock(&w->w_lock);
	w->w_idle = 0;
	below = w->w_segs_bytes + (w->w_active ? w->w_flylen : 0);
	if (size >= below) {
		if (size - below < w->w_len) {
			w->w_len = (size_t)(size - below);
			w->w_bufhash_ok = 0;
		}
	} else {
		w->w_len = 0;
		w->w_bufhash_ok = 0;
		if (w->w_active) {
			w->w_trunc_pending = 1;
			w->w_trunc = size;
		} else
			store_s3_trim(w, size);
	}
	w->w_tail_ok = 0;
	w->w_err = 0;
	store_s3_account(w);
	pthread_mutex_unlock(&w->w_lock);
	return 0;
}

int
store_s3_writer_busy(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	int busy;

	pthread_mutex_lock(&w->w_lock);
	busy = w->w_err == 0 && w->w_active && w->w_len >= store_s3_chunk(w);
	pthread_mutex_unlock(&w->w_lock);
	return busy;
}

void
store_s3_writer_set_wake(struct store_writer *sw, void (*fn)(void *), void *arg)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;

	if (fn != NULL && w->w_wake_ev == NULL &&
	    (w->w_wake_ev = event_new(s->s_evbase, -1, 0, store_s3_wake_cb,
	         w)) == NULL) {
		log_warn("%s: event_new", __func__);
		return;
	}
	w->w_wake = fn;
	w->w_wake_arg = arg;
	if (fn == NULL && w->w_wake_ev != NULL)
		event_del(w->w_wake_ev);
}

/* The request is over: nobody to wake. The part in flight goes on. */
void
store_s3_writer_idle(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	char *nb;

	store_s3_writer_set_wake(sw, NULL, NULL);
	/*
	 * An idle session keeps no spare buffer, and no room to spare; a
	 * part still in flight frees its buffer when stored (store_s3_sent).
	 */
	pthread_mutex_lock(&w->w_lock);
	w->w_idle = 1;
	free(w->w_spare);
	w->w_spare = NULL;
	w->w_spare_cap = 0;
	if (w->w_fresh)
		w->w_fresh = 0; /* the request it was read back for comes */
	else if (w->w_len > 0 && w->w_tail_ok && w->w_tail[0] != '\0' &&
	    !w->w_active && w->w_err == 0 && !w->w_tail_out) {
		/*
		 * Stored already: many idle sessions must not hold the
		 * global cap (R5), so the tail is read back when needed.
		 */
		free(w->w_buf);
		w->w_buf = NULL;
		w->w_cap = 0;
		w->w_tail_out = 1;
	} else if (w->w_len == 0) {
		free(w->w_buf);
		w->w_buf = NULL;
		w->w_cap = 0;
	} else if (w->w_cap > w->w_len + 64 * 1024 &&
	    (nb = realloc(w->w_buf, w->w_len)) != NULL) {
		w->w_buf = nb;
		w->w_cap = w->w_len;
	}
	store_s3_account(w);
	pthread_mutex_unlock(&w->w_lock);
}

/*
 * On a worker, nothing in flight: read the tail an idle session let go
 * of back into w_buf (its first w_len bytes: a truncate may have cut).
 */
static int
store_s3_tail_in(struct store_s3_writer *w)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	char key[STORE_S3_KEY_MAX];
	char *tb;
	size_t tlen;

	if (!w->w_tail_out)
		return 0;
	if (w->w_len > 0) {
		if (store_s3_tail_key(w, w->w_tail, key, sizeof(key)) == -1 ||
		    store_s3_get(s, key, 0, w->w_len, w->w_len, &tb, &tlen) ==
		        -1)
			return -1;
		if (tlen != w->w_len) {
			free(tb);
			errno = EIO;
			return -1;
		}
	} else
		tb = NULL;
	pthread_mutex_lock(&w->w_lock);
	w->w_buf = tb;
	w->w_cap = tb != NULL ? w->w_len : 0;
	w->w_tail_out = 0;
	store_s3_account(w);
	pthread_mutex_unlock(&w->w_lock);
	return 0;
}

/* On a worker: wait until no part is in flight; w_lock held. */
static void
store_s3_wait(struct store_s3_writer *w)
{
	while (w->w_active)
		pthread_cond_wait(&w->w_cond, &w->w_lock);
}

/*
 * store_s3_writer_flush: at the end of a request, on a worker: once the
 * part in flight is stored, the tail and the state, so that any instance
 * can take the next request of the upload.
 */
int
store_s3_writer_flush(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;
	char key[STORE_S3_KEY_MAX];
	char tail[STORE_S3_TAILNAME], old[STORE_S3_TAILNAME];
	uint64_t stored;
	int err;

	pthread_mutex_lock(&w->w_lock);
	store_s3_wait(w);
	err = w->w_err;
	pthread_mutex_unlock(&w->w_lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	if (store_s3_tail_in(w) == -1)
		return -1;
	/*
	 * Another instance wrote to the session since this writer last saw
	 * it (the client went back and forth between instances): what this
	 * one holds does not follow what is stored, and writing its state
	 * would lose the other's bytes. The bytes of this request go after
	 * what is stored instead (as the filesystem driver appends at the
	 * data's end), and the running hash no longer holds (sw_rebased).
	 */
	if (store_s3_read_state(w, 0, &stored) == -1)
		return -1;
	if (w->w_stale && store_s3_rebase(w) == -1)
		return -1;
	/*
	 * The request holds the session: the loop touches nothing now. A
	 * tail big enough to be a part (S3's minimum) becomes one, so that
	 * an idle session keeps less than that in memory.
	 */
	if (w->w_len >= STORE_S3_CHUNK_MIN) {
		if (store_s3_part_key(w, w->w_owner, w->w_next, key,
		        sizeof(key)) == -1 ||
		    store_s3_put(s, key, w->w_buf, w->w_len) == -1 ||
		    store_s3_seg_add(w, w->w_owner, w->w_next, w->w_len) == -1)
			return -1;
		pthread_mutex_lock(&w->w_lock);
		free(w->w_buf);
		w->w_buf = NULL;
		w->w_len = w->w_cap = 0;
		digest_ctx_reset(w->w_bufhash);
		w->w_bufhash_ok = 1;
		store_s3_account(w);
		pthread_mutex_unlock(&w->w_lock);
	}
	/*
	 * A new tail is a new object, named for the state about to name it;
	 * the old one stays until that state is stored (the commit point),
	 * so a failed state PUT leaves the old state naming the old bytes.
	 */
	(void)util_strlcpy(old, w->w_tail, sizeof(old));
	(void)util_strlcpy(tail, w->w_tail, sizeof(tail));
	if (w->w_len == 0)
		tail[0] = '\0';
	else if (!w->w_tail_ok) {
		if (snprintf(tail, sizeof(tail), "tail-%s-%llu", w->w_owner,
		        (unsigned long long)w->w_gen + 1) >=
		    (int)sizeof(tail)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (store_s3_tail_key(w, tail, key, sizeof(key)) == -1 ||
		    store_s3_put(s, key, w->w_buf, w->w_len) == -1)
			return -1;
	}
	if (store_s3_save(w, tail) == -1)
		return -1;
	(void)util_strlcpy(w->w_tail, tail, sizeof(w->w_tail));
	/* Litter at worst (the session's end removes its prefix). */
	if (old[0] != '\0' && strcmp(old, tail) != 0 &&
	    (store_s3_tail_key(w, old, key, sizeof(key)) == -1 ||
	        store_s3_delete(s, key) == -1))
		log_warn("%s: %s/%s: remove %s", __func__, w->w_name, w->w_uuid,
		    old);
	w->w_tail_ok = 1;
	w->w_sync_nsegs = w->w_nsegs;
	w->w_sync_tail = w->w_len;
	return 0;
}

/* Add len bytes to t's tail; a full chunk is stored as t's next part. */
static int
store_s3_rebase_add(struct store_s3_writer *t, const char *buf, size_t len)
{
	struct store_s3 *s = (struct store_s3 *)t->w_base.sw_store;
	char key[STORE_S3_KEY_MAX];
	char *nb;

	if (t->w_len + len > t->w_cap) {
		if ((nb = realloc(t->w_buf, t->w_len + len)) == NULL)
			return -1;
		t->w_buf = nb;
		t->w_cap = t->w_len + len;
	}
	memcpy(t->w_buf + t->w_len, buf, len);
	t->w_len += len;
	if (t->w_len < store_s3_chunk(t))
		return 0;
	if (store_s3_part_key(t, t->w_owner, t->w_next, key, sizeof(key)) ==
	        -1 ||
	    store_s3_put(s, key, t->w_buf, t->w_len) == -1 ||
	    store_s3_seg_add(t, t->w_owner, t->w_next, t->w_len) == -1)
		return -1;
	t->w_len = 0;
	return 0;
}

/*
 * store_s3_rebase: on a worker, with nothing in flight: the session as
 * stored now (another instance's) followed by what this writer got since
 * its last sync, which is read back from its own parts (named with its
 * token: the other instance never wrote them) and w_buf, and stored in
 * new parts; this writer then holds that view. Rare (a client alternating
 * between instances within one upload), so the bytes may cross the
 * network again.
 */
static int
store_s3_rebase(struct store_s3_writer *w)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	struct store_s3_writer *t;
	char key[STORE_S3_KEY_MAX];
	uint64_t skip = w->w_sync_tail, off, want, stored, mine = 0;
	size_t i, got, n;
	char *buf;
	int rv = -1, saved;

	if ((t = store_s3_writer_new(&s->s_base, w->w_name, w->w_uuid)) == NULL)
		return -1;
	if (store_s3_read_state(t, 1, &stored) == -1)
		goto done;
	for (i = w->w_sync_nsegs < w->w_nsegs ? w->w_sync_nsegs : w->w_nsegs;
	     i < w->w_nsegs; i++) {
		if (store_s3_part_key(w, w->w_segs[i].sg_owner,
		        w->w_segs[i].sg_n, key, sizeof(key)) == -1)
			goto done;
		for (off = 0; off < w->w_segs[i].sg_size; off += got) {
			want = w->w_segs[i].sg_size - off;
			if (want > STORE_S3_PIECE)
				want = STORE_S3_PIECE;
			if (store_s3_get(s, key, off, want, (size_t)want, &buf,
			        &got) == -1)
				goto done;
			if (got == 0) {
				free(buf);
				errno = EIO;
				goto done;
			}
			n = skip < got ? (size_t)skip : got;
			skip -= n;
			if (store_s3_rebase_add(t, buf + n, got - n) == -1) {
				free(buf);
				goto done;
			}
			mine += got - n;
			free(buf);
		}
	}
	n = skip < w->w_len ? (size_t)skip : w->w_len;
	if (store_s3_rebase_add(t, w->w_buf + n, w->w_len - n) == -1)
		goto done;
	mine += w->w_len - n;
	log_info("%s: %s/%s: %llu bytes go after the %llu another instance "
	         "stored",
	    __func__, w->w_name, w->w_uuid, (unsigned long long)mine,
	    (unsigned long long)stored);
	/* Take t's view; the states this writer writes stay its own. */
	pthread_mutex_lock(&w->w_lock);
	free(w->w_segs);
	w->w_segs = t->w_segs;
	w->w_nsegs = t->w_nsegs;
	w->w_capsegs = t->w_capsegs;
	w->w_segs_bytes = t->w_segs_bytes;
	t->w_segs = NULL;
	free(w->w_buf);
	w->w_buf = t->w_buf;
	w->w_len = t->w_len;
	w->w_cap = t->w_cap;
	t->w_buf = NULL;
	t->w_len = t->w_cap = 0;
	if (t->w_next > w->w_next)
		w->w_next = t->w_next;
	(void)util_strlcpy(w->w_seen_owner, t->w_seen_owner,
	    sizeof(w->w_seen_owner));
	w->w_seen_gen = t->w_seen_gen;
	w->w_gen = t->w_gen;
	/* The other's tail: superseded once this writer's state is stored. */
	(void)util_strlcpy(w->w_tail, t->w_tail, sizeof(w->w_tail));
	w->w_stale = 0;
	w->w_tail_ok = 0;
	w->w_bufhash_ok = 0;
	w->w_base.sw_size = w->w_segs_bytes + w->w_len;
	w->w_base.sw_rebased = 1;
	store_s3_account(w);
	pthread_mutex_unlock(&w->w_lock);
	store_s3_account(t);
	rv = 0;
done:
	saved = errno;
	store_s3_writer_destroy(t);
	errno = saved;
	return rv;
}

/*
 * store_s3_writer_refresh: on a worker, before a request uses this
 * writer: when the stored state is not the one it last saw (another
 * instance wrote since), take the store's view, size included. ENOENT
 * when the session is gone.
 */
int
store_s3_writer_refresh(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	uint64_t stored, before = sw->sw_size;

	pthread_mutex_lock(&w->w_lock);
	store_s3_wait(w);
	pthread_mutex_unlock(&w->w_lock);
	if (store_s3_read_state(w, 0, &stored) == -1)
		return -1;
	if (!w->w_stale) {
		if (store_s3_tail_in(w) == -1)
			return -1;
		pthread_mutex_lock(&w->w_lock);
		w->w_fresh = 1;
		pthread_mutex_unlock(&w->w_lock);
		return 0;
	}
	pthread_mutex_lock(&w->w_lock);
	w->w_err = 0;
	pthread_mutex_unlock(&w->w_lock);
	if (store_s3_load(w) == -1)
		return -1;
	pthread_mutex_lock(&w->w_lock);
	w->w_fresh = 1;
	pthread_mutex_unlock(&w->w_lock);
	log_debug("%s: %s/%s: %llu bytes here, %llu in the store", __func__,
	    w->w_name, w->w_uuid, (unsigned long long)before,
	    (unsigned long long)sw->sw_size);
	sw->sw_rebased = 1;
	return 0;
}

/*
 * store_s3_writer_stat: the size the state object says, which differs
 * from this writer's when another instance wrote to the session since.
 */
int
store_s3_writer_stat(struct store_writer *sw, uint64_t *size)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	uint64_t stored;

	pthread_mutex_lock(&w->w_lock);
	store_s3_wait(w);
	pthread_mutex_unlock(&w->w_lock);
	if (store_s3_read_state(w, 0, &stored) == -1)
		return -1;
	*size = w->w_stale ? stored : w->w_base.sw_size;
	return 0;
}

/* Before hash and commit: the part in flight stored, the view current. */
static int
store_s3_settle(struct store_s3_writer *w)
{
	int err;

	pthread_mutex_lock(&w->w_lock);
	store_s3_wait(w);
	err = w->w_err;
	pthread_mutex_unlock(&w->w_lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	if (w->w_stale)
		return store_s3_load(w);
	return store_s3_tail_in(w);
}

/* store_s3_writer_hash: SHA-256 of the parts (range GETs) and w_buf. */
int
store_s3_writer_hash(struct store_writer *sw, char digest[DIGEST_BUFSZ])
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;
	struct digest_ctx *ctx;
	char key[STORE_S3_KEY_MAX];
	uint64_t off, want;
	size_t i, got;
	char *buf;
	int saved;

	if (store_s3_settle(w) == -1)
		return -1;
	if ((ctx = digest_ctx_new()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < w->w_nsegs; i++) {
		if (store_s3_part_key(w, w->w_segs[i].sg_owner,
		        w->w_segs[i].sg_n, key, sizeof(key)) == -1)
			goto fail;
		for (off = 0; off < w->w_segs[i].sg_size; off += got) {
			want = w->w_segs[i].sg_size - off;
			if (want > STORE_S3_PIECE)
				want = STORE_S3_PIECE;
			if (store_s3_get(s, key, off, want, (size_t)want, &buf,
			        &got) == -1)
				goto fail;
			digest_ctx_update(ctx, buf, got);
			free(buf);
			if (got == 0) {
				errno = EIO;
				goto fail;
			}
		}
	}
	if (w->w_len > 0)
		digest_ctx_update(ctx, w->w_buf, w->w_len);
	if (digest_ctx_peek(ctx, digest) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	digest_ctx_free(ctx);
	return 0;
fail:
	saved = errno;
	digest_ctx_free(ctx);
	errno = saved;
	return -1;
}

/* ---- commit: the parts become the blob ---- */

/*
 * The parts as parts of the blob: copied server-side where they are
 * big enough to be a part (S3: >= 5 MiB but for the last); what is not
 * (a part cut back by a truncate, and the tail) is read and uploaded.
 */
static int
store_s3_assemble(struct store_s3_writer *w, struct store_s3_mpu *m)
{
	struct store_s3 *s = (struct store_s3 *)w->w_base.sw_store;
	char key[STORE_S3_KEY_MAX];
	uint64_t off, size, want;
	size_t i, got;
	char *buf;
	int rv;

	for (i = 0; i < w->w_nsegs; i++) {
		if (store_s3_part_key(w, w->w_segs[i].sg_owner,
		        w->w_segs[i].sg_n, key, sizeof(key)) == -1)
			return -1;
		size = w->w_segs[i].sg_size;
		for (off = 0; off < size;) {
			if (m->m_acclen == 0 &&
			    size - off >= STORE_S3_CHUNK_MIN) {
				if (store_s3_mpu_copy(m, key, off,
				        size - off) == -1)
					return -1;
				off = size;
				continue;
			}
			want = size - off;
			if (want > STORE_S3_CHUNK_MIN - m->m_acclen)
				want = STORE_S3_CHUNK_MIN - m->m_acclen;
			if (store_s3_get(s, key, off, want, (size_t)want, &buf,
			        &got) == -1)
				return -1;
			if (got == 0) {
				free(buf);
				errno = EIO;
				return -1;
			}
			rv = store_s3_mpu_acc(m, buf, got);
			free(buf);
			if (rv == -1)
				return -1;
			off += got;
		}
	}
	/* The last part: the rest of the parts and the tail, any size. */
	if (w->w_len > 0 &&
	    (m->m_acclen + w->w_len < STORE_S3_CHUNK_MIN || m->m_acclen > 0)) {
		if ((buf = realloc(m->m_acc, m->m_acclen + w->w_len + 1)) ==
		    NULL)
			return -1;
		m->m_acc = buf;
		memcpy(m->m_acc + m->m_acclen, w->w_buf, w->w_len);
		m->m_acclen += w->w_len;
	} else if (w->w_len > 0)
		return store_s3_mpu_part(m, w->w_buf, w->w_len);
	if (m->m_acclen > 0 || json_array_size(m->m_etags) == 0)
		return store_s3_mpu_part(m, m->m_acc != NULL ? m->m_acc : "",
		    m->m_acclen);
	return 0;
}

/*
 * A Complete that failed with NoSuchUpload: an earlier attempt of it
 * (whose answer was lost, and which s3.c retried) may have completed
 * the upload. It did if the blob key holds the expected size; the
 * digest was verified by the caller and S3 shows an object only whole.
 */
static int
store_s3_completed(struct store_s3 *s, const struct store_s3_mpu *m,
    const char *key, uint64_t want)
{
	uint64_t size;
	int saved = errno;

	if (!m->m_nosuch)
		return 0;
	if (store_s3_head(s, key, &size, NULL) == -1 || size != want) {
		errno = saved;
		return 0;
	}
	log_info("%s: %s: completed by an earlier attempt (%llu bytes)",
	    __func__, key, (unsigned long long)size);
	return 1;
}

/*
 * store_s3_writer_commit: the data becomes blob digest (verified by the
 * caller): one PUT when it is all in memory, else a multipart upload of
 * the parts onto the blob key; S3 shows the blob only whole, at the PUT
 * or at CompleteMultipartUpload. Then the layer link, then the session's
 * objects go.
 */
int
store_s3_writer_commit(struct store_writer *sw, const char *digest)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;
	struct store_s3_mpu m;
	char key[STORE_S3_KEY_MAX], prefix[STORE_S3_KEY_MAX];
	const char *hex;
	int saved;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_s3_settle(w) == -1)
		return -1;
	hex = digest_hex(digest);
	if (store_s3_key(s, key, sizeof(key), "blobs/sha256/%.2s/%s/data", hex,
	        hex) == -1)
		return -1;
	if (store_s3_head(s, key, NULL, NULL) == -1) {
		if (errno != ENOENT)
			return -1;
		if (w->w_nsegs == 0) {
			if (store_s3_put(s, key,
			        w->w_buf != NULL ? w->w_buf : "",
			        w->w_len) == -1)
				return -1;
		} else {
			memset(&m, 0, sizeof(m));
			m.m_store = s;
			m.m_key = key;
			if ((m.m_etags = json_array()) == NULL)
				return -1;
			if (store_s3_mpu_create(&m) == -1) {
				json_decref(m.m_etags);
				return -1;
			}
			if (store_s3_assemble(w, &m) == -1 ||
			    (store_s3_mpu_complete(&m) == -1 &&
			        !store_s3_completed(s, &m, key,
			            w->w_segs_bytes + w->w_len))) {
				saved = errno;
				(void)store_s3_mpu_abort(&m);
				json_decref(m.m_etags);
				free(m.m_acc);
				errno = saved;
				return -1;
			}
			json_decref(m.m_etags);
			free(m.m_acc);
		}
	}
	if (store_s3_link_put(s, w->w_name, STORE_LINK_LAYER, digest) == -1)
		return -1;
	/* The blob is safe now; leftover session objects are litter. */
	if (snprintf(prefix, sizeof(prefix), "repositories/%s/_uploads/%s/",
	        w->w_name, w->w_uuid) < (int)sizeof(prefix) &&
	    store_s3_delete_prefix(s, prefix, NULL) == -1)
		log_warn("%s: remove %s", __func__, prefix);
	return 0;
}

/* store_s3_writer_abort: every object of the session; ENOENT if none. */
int
store_s3_writer_abort(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;
	char prefix[STORE_S3_KEY_MAX];
	size_t n;

	pthread_mutex_lock(&w->w_lock);
	store_s3_wait(w);
	pthread_mutex_unlock(&w->w_lock);
	if (snprintf(prefix, sizeof(prefix), "repositories/%s/_uploads/%s/",
	        w->w_name, w->w_uuid) >= (int)sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (store_s3_delete_prefix(s, prefix, &n) == -1)
		return -1;
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * store_s3_writer_free: on the loop. A part still in flight is cancelled
 * and its completion frees the writer.
 */
void
store_s3_writer_free(struct store_writer *sw)
{
	struct store_s3_writer *w = (struct store_s3_writer *)sw;
	struct store_s3 *s = (struct store_s3 *)sw->sw_store;

	store_s3_writer_set_wake(sw, NULL, NULL);
	pthread_mutex_lock(&w->w_lock);
	if (w->w_active) {
		w->w_freeing = 1;
		pthread_mutex_unlock(&w->w_lock);
		s3_cancel(s->s_s3, &w->w_req);
		return;
	}
	pthread_mutex_unlock(&w->w_lock);
	store_s3_writer_destroy(w);
}

/* ---- purging ---- */

struct store_s3_purge {
	struct store_list p_old; /* "repositories/<name>/_uploads/<uuid>/" */
	time_t p_now;
	time_t p_max_age;
};

static int
store_s3_purge_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_purge *p = arg;
	const char *u, *end;
	char dir[STORE_S3_KEY_MAX];
	size_t len = strlen(o->so_key);

	/* ".../_uploads/<uuid>/startedat": S3 keeps when it was written. */
	if (len < 10 || strcmp(o->so_key + len - 10, "/startedat") != 0 ||
	    (u = strstr(o->so_key, "/_uploads/")) == NULL)
		return 0;
	end = o->so_key + len - 10;
	if (strchr(u + 10, '/') != end || o->so_mtime == 0 ||
	    p->p_now < o->so_mtime || p->p_now - o->so_mtime <= p->p_max_age)
		return 0;
	if ((size_t)(end - o->so_key) + 2 > sizeof(dir))
		return 0;
	memcpy(dir, o->so_key, (size_t)(end - o->so_key) + 1);
	dir[end - o->so_key + 1] = '\0';
	return store_list_add(&p->p_old, dir);
}

/*
 * store_s3_upload_purge: every session whose startedat object is older
 * than max_age (by its Last-Modified): the delimited walk of
 * repositories/ finds the _uploads/ prefixes, one listing of each finds
 * the startedat objects, rather than a listing of every link of every
 * repository (review R12). Then the multipart uploads left behind.
 */
int
store_s3_upload_purge(struct store *st, time_t max_age, int dryrun)
{
	struct store_s3 *s = (struct store_s3 *)st;
	struct store_list dirs = {NULL, 0, 0};
	struct store_s3_purge p;
	const char *what;
	size_t i;
	int removed = 0, saved, wlen;

	memset(&p, 0, sizeof(p));
	p.p_now = time(NULL);
	p.p_max_age = max_age < 0 ? 0 : max_age;
	if (store_s3_upload_dirs(s, &dirs) == -1)
		goto fail;
	for (i = 0; i < dirs.sl_n; i++)
		if (store_s3_list_walk(s, dirs.sl_v[i], 0, store_s3_purge_cb,
		        &p) == -1)
			goto fail;
	for (i = 0; i < p.p_old.sl_n; i++) {
		/* Named as the filesystem driver names them: name/_uploads/uuid
		 */
		what = p.p_old.sl_v[i] + strlen("repositories/");
		wlen = (int)strlen(what) - 1;
		if (dryrun) {
			log_info("would purge upload %.*s (dry run)", wlen,
			    what);
			removed++;
			continue;
		}
		if (store_s3_delete_prefix(s, p.p_old.sl_v[i], NULL) == -1) {
			log_warn("%s: %.*s", __func__, wlen, what);
			continue;
		}
		log_info("purged upload %.*s", wlen, what);
		removed++;
	}
	store_list_free(dirs.sl_v, dirs.sl_n);
	store_list_free(p.p_old.sl_v, p.p_old.sl_n);
	/* Not younger than s_mpu_age: it may be a commit (R6-2). */
	if (store_s3_mpu_orphans(s, p.p_now,
	        p.p_max_age > s->s_mpu_age ? p.p_max_age : s->s_mpu_age,
	        dryrun) == -1)
		log_warn("%s: multipart uploads left behind", __func__);
	return removed;
fail:
	saved = errno;
	store_list_free(dirs.sl_v, dirs.sl_n);
	store_list_free(p.p_old.sl_v, p.p_old.sl_n);
	errno = saved;
	return -1;
}
