#ifndef REGISTRYD_STORE_MEM_H
#define REGISTRYD_STORE_MEM_H

struct store;

/*
 * The memory storage driver: everything the registry keeps, in this
 * process only, gone at store_close. It has the semantics of the
 * filesystem driver (store.h) without a disk, for handler and contract
 * tests; every call is cheap (store_cheap is 1 for every kind), so
 * store_call completes before it returns.
 */

/*
 * store_mem_open: a new, empty store. The caller owns it and releases it
 * with store_close. NULL with errno ENOMEM.
 */
struct store *store_mem_open(void);

#endif /* REGISTRYD_STORE_MEM_H */
