#ifndef REGISTRYD_STORE_FS_H
#define REGISTRYD_STORE_FS_H

#include <stddef.h>

struct store;
struct store_reader;

/*
 * The filesystem storage driver: registry:2's tree under root, byte for
 * byte (docker/registry/v2/...), so an existing registry:2 volume is
 * served as it is and the other way round.
 */

#define STORE_FS_READONLY 0x01 /* create nothing, need no write access */

/*
 * store_fs_open: the store under root, creating root/docker/registry/v2
 * when missing (unless STORE_FS_READONLY). The caller owns the result
 * (store_close); NULL with a message in err on failure (missing
 * permissions, not a directory).
 */
struct store *
store_fs_open(const char *root, int flags, char *err, size_t errlen);

/*
 * store_fs_reader_take_fd: a blob reader of this driver gives up its open
 * file to the caller, who then owns (and closes) the descriptor: the HTTP
 * layer sends it with sendfile. -1 when the reader is another driver's;
 * close the reader either way.
 */
int store_fs_reader_take_fd(struct store_reader *);

#endif /* REGISTRYD_STORE_FS_H */
