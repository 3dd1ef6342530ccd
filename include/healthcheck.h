#ifndef REGISTRYD_HEALTHCHECK_H
#define REGISTRYD_HEALTHCHECK_H

struct config;

/*
 * healthcheck_run: `registryd healthcheck`: ask the server that cfg
 * describes, on this host, for /healthz (or /readyz with ready), over
 * HTTPS when cfg has a certificate (not verified: it is our own server on
 * the loopback), within timeout seconds. What a container's HEALTHCHECK
 * runs, since the image has no curl. Prints one line on stdout; returns
 * the exit status, 0 when the answer was 200, else 1.
 */
int healthcheck_run(const struct config *cfg, int ready, int timeout);

#endif /* REGISTRYD_HEALTHCHECK_H */
