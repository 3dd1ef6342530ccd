/*
 * Unit tests for upload.c: sessions over a real store in a throw-away
 * directory (create, write, verify, commit, cancel, reopen after a
 * restart, digest mismatch, expiry).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/upload.c"
#include "store_fs.h"
#include "fixture.h"
#include "tap.h"

static char root[PATH_MAX];

/* The registry:2 tree below root, where the store keeps its files. */
static char v2root[PATH_MAX + 32];

static const char *
slurp(const char *rel)
{
	return slurp_at(v2root, rel);
}

static int
exists(const char *rel)
{
	return exists_at(v2root, rel);
}

static int
table_len(void)
{
	struct upload *u;
	int n = 0;

	TAILQ_FOREACH (u, &upload_table, u_entry)
		n++;
	return n;
}

static struct store *st;

/* A new session of name, as api_uploads.c makes one: NULL on failure. */
static struct upload *
create(const char *name)
{
	struct store_writer *w;
	struct upload *u;
	char uuid[UUID_LEN + 1];

	if (util_uuid(uuid) == -1 ||
	    (w = store_upload_create(st, name, uuid)) == NULL)
		return NULL;
	store_writer_idle(w);
	if ((u = upload_adopt(name, uuid, "127.0.0.1", w, 1)) == NULL)
		store_writer_free(w);
	return u;
}

/* The session uuid of name: from the table, or resumed from the store. */
static struct upload *
find(const char *name, const char *uuid)
{
	struct store_writer *w;
	struct upload *u;
	uint64_t size;

	if ((u = upload_lookup(name, uuid)) != NULL)
		return u;
	if ((w = store_upload_resume(st, name, uuid, &size)) == NULL)
		return NULL;
	if ((u = upload_adopt(name, uuid, "127.0.0.1", w, 0)) == NULL)
		store_writer_free(w);
	return u;
}

/* Cancel: remove the data, then the session. */
static void
cancel(struct upload *u)
{
	if (u == NULL)
		return;
	(void)upload_abort_work(u);
	upload_close(u);
}

static void
test_commit(void)
{
	char d[DIGEST_BUFSZ], path[PATH_MAX], uuid[UUID_LEN + 1];
	struct upload *u;

	digest_buf("hello world", 11, d);
	u = create("demo/app");
	ok(u != NULL, "upload create");
	if (u == NULL)
		return;
	is_int(strlen(upload_uuid(u)), UUID_LEN, "uuid length");
	is_str(upload_name(u), "demo/app", "name");
	snprintf(uuid, sizeof(uuid), "%s", upload_uuid(u));
	snprintf(path, sizeof(path), "repositories/demo/app/_uploads/%s/data",
	    uuid);
	ok(exists(path), "data file at the layout path");
	ok(find("demo/app", uuid) == u, "find by uuid and name");
	ok(find("demo/other", uuid) == NULL && errno == ENOENT,
	    "uuid of another repository not found");
	ok(upload_acquire(u) == 0, "acquire");
	ok(upload_acquire(u) == -1 && errno == EBUSY, "acquire twice: EBUSY");
	ok(upload_write(u, "hello ", 6) == 0 &&
	        upload_write(u, "world", 5) == 0,
	    "write");
	is_int(upload_offset(u), 11, "offset");
	digest_buf("hello", 5, path);
	is_int(upload_commit_work(u, path), -2, "commit, another digest: -2");
	snprintf(path, sizeof(path), "repositories/demo/app/_uploads/%s/data",
	    uuid);
	ok(exists(path), "a mismatch keeps the data");
	is_int(upload_commit_work(u, d), 0, "commit");
	ok(upload_write(u, "x", 1) == -1 && errno == EBADF,
	    "no write after commit");
	upload_release(u);
	upload_close(u);
	is_int(table_len(), 0, "closed");
	snprintf(path, sizeof(path), "blobs/sha256/%.2s/%s/data", digest_hex(d),
	    digest_hex(d));
	is_str(slurp(path), "hello world", "blob bytes");
	snprintf(path, sizeof(path),
	    "repositories/demo/app/_layers/sha256/%s"
	    "/link",
	    digest_hex(d));
	is_str(slurp(path), d, "layer link, no newline");
	snprintf(path, sizeof(path), "repositories/demo/app/_uploads/%s", uuid);
	ok(!exists(path), "upload directory gone");
}

static void
test_cancel(void)
{
	char path[PATH_MAX], uuid[UUID_LEN + 1];
	struct upload *u;

	u = create("demo/app");
	ok(u != NULL && upload_write(u, "abc", 3) == 0, "create + write");
	if (u == NULL)
		return;
	snprintf(uuid, sizeof(uuid), "%s", upload_uuid(u));
	snprintf(path, sizeof(path), "repositories/demo/app/_uploads/%s", uuid);
	cancel(u);
	ok(!exists(path), "cancel removes the directory");
	ok(find("demo/app", uuid) == NULL && errno == ENOENT,
	    "cancelled upload is unknown");
}

static void
test_restart(void)
{
	char d[DIGEST_BUFSZ], bad[DIGEST_BUFSZ], path[PATH_MAX];
	char uuid[UUID_LEN + 1];
	struct upload *u;

	digest_buf("resumed blob", 12, d);
	digest_buf("something else", 14, bad);
	u = create("demo/r");
	ok(u != NULL && upload_write(u, "resumed ", 8) == 0, "first part");
	if (u == NULL)
		return;
	snprintf(uuid, sizeof(uuid), "%s", upload_uuid(u));

	/* A restart: the table is gone, the data stays. */
	upload_shutdown();
	is_int(table_len(), 0, "shutdown empties the table");
	u = find("demo/r", uuid);
	ok(u != NULL, "reopened after restart");
	if (u == NULL)
		return;
	is_int(upload_offset(u), 8, "offset from the stored size");
	ok(upload_write(u, "blob", 4) == 0, "second part");
	is_int(upload_commit_work(u, bad), -2, "rehash mismatch: -2");
	snprintf(path, sizeof(path), "repositories/demo/r/_uploads/%s", uuid);
	ok(exists(path), "mismatch keeps the upload");
	is_int(upload_commit_work(u, d), 0, "commit with rehash");
	upload_close(u);
	snprintf(path, sizeof(path), "blobs/sha256/%.2s/%s/data", digest_hex(d),
	    digest_hex(d));
	is_str(slurp(path), "resumed blob", "resumed blob bytes");
}

static void
test_mismatch(void)
{
	char bad[DIGEST_BUFSZ], path[PATH_MAX];
	struct upload *u;

	digest_buf("not it", 6, bad);
	u = create("demo/m");
	ok(u != NULL && upload_write(u, "data", 4) == 0, "write");
	if (u == NULL)
		return;
	is_int(upload_commit_work(u, bad), -2, "running hash mismatch: -2");
	snprintf(path, sizeof(path), "blobs/sha256/%.2s/%s/data",
	    digest_hex(bad), digest_hex(bad));
	ok(!exists(path), "no blob on mismatch");
	cancel(u);
}

static void
test_expire(void)
{
	struct upload *a, *b;
	char uuid[UUID_LEN + 1];

	a = create("demo/e");
	b = create("demo/e");
	ok(a != NULL && b != NULL, "two sessions");
	if (a == NULL || b == NULL)
		return;
	snprintf(uuid, sizeof(uuid), "%s", upload_uuid(a));
	ok(upload_acquire(b) == 0, "hold one");
	a->u_last_used -= 100;
	b->u_last_used -= 100;
	upload_expire(50);
	is_int(table_len(), 1, "idle free session expired, held one kept");
	ok(TAILQ_FIRST(&upload_table) == b, "the held one remains");
	a = find("demo/e", uuid);
	ok(a != NULL && upload_offset(a) == 0, "expired session reopens");
	upload_release(b);
	cancel(a);
	cancel(b);
	upload_close(NULL);
	ok(find("demo/e", "../../etc") == NULL, "bad uuid not found");
	ok(create("") == NULL, "bad name refused");
}

int
main(void)
{
	char err[256], cmd[PATH_MAX + 16];

	snprintf(root, sizeof(root), "%s/upload-test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(v2root, sizeof(v2root), "%s/docker/registry/v2", root);
	if ((st = store_fs_open(root, 0, err, sizeof(err))) == NULL) {
		printf("# store_fs_open: %s\n", err);
		return 1;
	}
	test_commit();
	test_cancel();
	test_restart();
	test_mismatch();
	test_expire();
	upload_shutdown();
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return done_testing();
}
