#ifndef REGISTRYD_PRIV_H
#define REGISTRYD_PRIV_H

#include <stddef.h>

/*
 * priv_drop: become user (its uid, its primary group and its
 * supplementary groups from the group database) for good, and check that
 * the way back to root is closed. For `registryd serve` started as root by
 * an init system without systemd's User=: it runs after the listeners are
 * bound and before anything else is opened. Already running as that user
 * is fine; as another user that is not root, it fails. Returns 0, or -1
 * with a message in err.
 */
int priv_drop(const char *user, char *err, size_t errlen);

/*
 * priv_own_tree: for [server] chown_root, as root before priv_drop: when
 * path, or the registry:2 directories under it (docker/registry/v2, its
 * blobs and repositories), are not owned by user, make user and its group
 * own path and everything under it (no symlink followed, one file
 * system). That is what a volume the registry:2 image wrote as root
 * needs before an unprivileged registryd can push into it. A missing
 * path is left to the store to create. Returns how many entries changed
 * owner (0: none needed it), or -1 with a message in err.
 */
long
priv_own_tree(const char *path, const char *user, char *err, size_t errlen);

#endif /* REGISTRYD_PRIV_H */
