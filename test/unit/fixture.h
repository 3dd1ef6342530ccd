#ifndef REGISTRYD_FIXTURE_H
#define REGISTRYD_FIXTURE_H

/*
 * Fixtures several unit tests share: writing, reading and removing
 * files, and capturing what a call prints on one of the standard descriptors. A test that does
 * not use one of them must still build with -Werror, hence "unused".
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FIXTURE_UNUSED	__attribute__((unused))

/* Write len bytes of text to path; text NULL removes path. */
static FIXTURE_UNUSED void
put_file(const char *path, const char *text, size_t len)
{
	FILE *fp;

	if (text == NULL) {
		(void)unlink(path);
		return;
	}
	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
		perror(path);
		exit(2);
	}
}

/* The file dir/rel (its first 4095 bytes) in a static buffer; NULL when
 * it cannot be read. */
static FIXTURE_UNUSED const char *
slurp_at(const char *dir, const char *rel)
{
	static char buf[4096];
	char path[PATH_MAX * 2];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* dir/rel exists (a dangling link counts). */
static FIXTURE_UNUSED int
exists_at(const char *dir, const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

static int
fixture_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove the tree at path (a throw-away root), without a shell. */
static FIXTURE_UNUSED void
rm_tree(const char *path)
{
	if (nftw(path, fixture_rm_cb, 16, FTW_DEPTH | FTW_PHYS) == -1)
		perror(path);
}

/* One redirection of a descriptor into a file, from start to end. */
struct capture {
	int		 cap_fd;	/* 1 or 2 */
	int		 cap_saved;	/* the descriptor before */
	const char	*cap_file;
};

/* Send fd to file (emptied) until capture_end. */
static FIXTURE_UNUSED void
capture_start(struct capture *c, int fd, const char *file)
{
	int tmp;

	fflush(fd == 1 ? stdout : stderr);
	c->cap_fd = fd;
	c->cap_file = file;
	if ((c->cap_saved = dup(fd)) == -1 ||
	    (tmp = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(tmp, fd) == -1) {
		perror("capture");
		exit(2);
	}
	close(tmp);
}

/* Give the descriptor back; what was written is in buf, NUL-terminated. */
static FIXTURE_UNUSED void
capture_end(struct capture *c, char *buf, size_t size)
{
	FILE *fp;
	size_t n;

	fflush(c->cap_fd == 1 ? stdout : stderr);
	if (dup2(c->cap_saved, c->cap_fd) == -1) {
		perror("restore");
		exit(2);
	}
	close(c->cap_saved);
	if ((fp = fopen(c->cap_file, "r")) == NULL) {
		perror(c->cap_file);
		exit(2);
	}
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

#endif /* REGISTRYD_FIXTURE_H */
