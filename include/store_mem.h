#ifndef REGISTRYD_STORE_MEM_H
#define REGISTRYD_STORE_MEM_H

#include <time.h>

struct store;

/*
 * The memory storage driver: everything the registry keeps, in this
 * process only, gone at store_close. It has the semantics of the
 * filesystem driver (store.h) without a disk, for handler and contract
 * tests; every call is cheap (so_cheap is 1 for every kind), so
 * store_call completes before it returns, unless store_mem_defer says
 * otherwise.
 */

/*
 * store_mem_open: a new, empty store. The caller owns it and releases it
 * with store_close. NULL with errno ENOMEM.
 */
struct store *store_mem_open(void);
/*
 * store_mem_defer: with on = 1, so_cheap says 0 for every kind from
 * now on, so store_call runs the work on the worker pool and the done
 * later on the loop, as a driver that waits on the network would: tests
 * use it to check that no handler counts on its job finishing inside
 * store_call, and what happens when the client leaves first. It applies
 * to every memory store of the process; change it only while no call is
 * in flight.
 */
void store_mem_defer(int on);

/*
 * store_mem_age: make everything st holds seconds older (when it was
 * written or last used, store_blob_used and store_link_used), as time
 * passing would, for tests of what garbage collection keeps.
 */
void store_mem_age(struct store *st, time_t seconds);

/*
 * store_mem_on_blob_write: call fn(digest, arg) whenever a blob write
 * finds the blob already there (and so leaves it alone), on the thread
 * of the write: tests use it to run something at that very point of a
 * push. NULL turns it off. Process-wide; change it while no call is in
 * flight.
 */
void store_mem_on_blob_write(void (*fn)(const char *, void *), void *arg);

#endif /* REGISTRYD_STORE_MEM_H */
