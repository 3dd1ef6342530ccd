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

#endif /* REGISTRYD_PRIV_H */
