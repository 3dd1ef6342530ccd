#ifndef REGISTRYD_NOTIFY_H
#define REGISTRYD_NOTIFY_H

/*
 * The service manager's two protocols, spoken without libsystemd:
 * readiness notification over $NOTIFY_SOCKET (sd_notify(3)) and socket
 * activation through $LISTEN_FDS and $LISTEN_PID (sd_listen_fds(3)).
 * Outside systemd both are no-ops.
 */

#define NOTIFY_LISTEN_FDS_START 3 /* SD_LISTEN_FDS_START */
#define NOTIFY_LISTEN_FDS_MAX   8 /* as many as server.c listens on */

/*
 * notify_init: remember $NOTIFY_SOCKET (a path, or "@name" for an
 * abstract socket) and open the datagram socket that talks to it, before
 * privileges are dropped. Unsets the variable. 0, or -1 with a logged
 * reason when it is set but unusable (messages are then not sent).
 */
int notify_init(void);

/*
 * notify_send: send one message ("READY=1", "STOPPING=1", ...,
 * newline-separated assignments) to the service manager; nothing without
 * $NOTIFY_SOCKET. A failure is logged once, never fatal.
 */
void notify_send(const char *);

/* READY=1 with a STATUS= line: started, or a reload finished. */
void notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, which systemd 253 wants). */
void notify_reloading(void);
/* STOPPING=1: a graceful shutdown began. */
void notify_stopping(void);

/* notify_shutdown: close the socket. */
void notify_shutdown(void);

/*
 * notify_listen_fds: the listening sockets systemd passed when
 * $LISTEN_PID is this process: up to max descriptors from fd 3 on are
 * stored in fds, made close-on-exec and non-blocking. Unsets LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES. Returns how many (0: not
 * socket-activated), or -1 with a logged reason (a descriptor that is not
 * a listening stream socket, or more than max).
 */
int notify_listen_fds(int *fds, int max);

#endif /* REGISTRYD_NOTIFY_H */
