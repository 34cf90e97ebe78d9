/*
 * Group commit. The loop thread submits SENDs, RECEIVED deletes and other writes
 * (registration, prekeys) so that the loop never waits for the disk. Submitted items wait
 * on the loop until the writer thread is idle; then everything waiting is handed over as
 * one batch, which the writer stores with one transaction per kind (one fsync under
 * durability=full) on its own store handle, then wakes the loop (an eventfd) so that
 * acknowledgements go out only after the data is durable. Until it is handed over an item
 * still belongs to the loop (commit_item_handed) and may be changed. A failed transaction
 * fails every item in it: nothing is acknowledged that is not stored.
 */
#ifndef SOTTO_SERVER_COMMIT_H
#define SOTTO_SERVER_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server/store.h"

enum commit_kind {
	COMMIT_SEND = 1, COMMIT_DELETE = 2, COMMIT_CALL = 3, COMMIT_LOGIN = 4, COMMIT_GROUP = 5
};

struct commit_item {
	struct commit_item *next;
	int kind;
	struct store_send send;        /* COMMIT_SEND: inputs and, when done, outputs */
	struct store_del *dels;        /* COMMIT_DELETE: owned by the caller */
	size_t n_dels;
	/* COMMIT_LOGIN: a batch's LOGINs share one transaction; finish as for COMMIT_CALL. */
	struct store_login login;
	/* COMMIT_GROUP: a group write (store.h); a batch's share one transaction (one fsync),
	 * applied in submission order; finish as for COMMIT_CALL. */
	struct store_group_op group;
	/* COMMIT_CALL: any other write, run on the writer thread with its store handle, after
	 * the batch's SENDs and deletes; its return value becomes result. */
	int (*call)(struct server_store *s, struct commit_item *it);
	/* COMMIT_CALL: run on the loop thread when done (instead of the done callback's
	 * SEND/DELETE handling); owns freeing the item. */
	void (*finish)(struct commit_item *it);
	int result;                    /* 0 or the error of the transaction */
	void *owner;                   /* the caller's (e.g. the session); may be cleared */
	uint64_t tag;                  /* the caller's (e.g. the request id) */
	uint64_t seq;                  /* commit.c: submission order */
};

/* Called on the loop thread once the item is committed or failed; the caller owns it again. */
typedef void (*commit_done_fn)(void *ud, struct commit_item *item);

struct commit;

/* Takes ownership of store (used only by the writer thread from now on). */
int commit_start(struct commit **out, uv_loop_t *loop, struct server_store *store,
    commit_done_fn done, void *ud) SOTTO_MUST_CHECK;
/* Loop thread only. */
void commit_submit(struct commit *c, struct commit_item *item);
/*
 * Loop thread only: an item that nobody waits for (the idempotency record of a SEND already
 * answered). It goes with the next batch, or alone once the oldest such item has waited
 * 20 ms or COMMIT_DEFER_MAX of them wait, so that the writer does not commit (and fsync)
 * for each of them. Items still reach the writer in the order they were submitted.
 */
#define COMMIT_DEFER_MAX 128
void commit_submit_deferred(struct commit *c, struct commit_item *item);
/* Loop thread only, when the server stops: what waits goes with the next batch, and
 * nothing is deferred from now on. */
void commit_defer_off(struct commit *c);
/* 1 once item is the writer's (read-only to the loop until done), 0 while it waits. */
int commit_item_handed(const struct commit *c, const struct commit_item *item);
/* Items submitted and not yet returned through done. */
size_t commit_pending(const struct commit *c);
/*
 * Loop thread only: hands over what is queued, waits for the writer to finish it, delivers
 * every done callback, stops the thread, closes the store and frees c. The loop must then
 * run once more (uv_run) to close the handles.
 */
void commit_stop(struct commit *c);

/* Loop thread only: the least time between the starts of two group commits (0: start one
 * as soon as the writer is idle). */
void commit_set_min_gap(struct commit *c, uint32_t us);

/* Batches committed and their items, for logs and the benchmark. */
void commit_stats(const struct commit *c, uint64_t *batches, uint64_t *items);

/*
 * How long the recent group commits of SENDs and deletes took in the store (the
 * transaction with its fsync under durability=full), for `sottod status` and the metrics:
 * the last COMMIT_LATENCY_KEPT, and how many of all of them failed.
 */
#define COMMIT_LATENCY_KEPT 1024
struct commit_latency {
	size_t n;                      /* samples below (at most COMMIT_LATENCY_KEPT) */
	uint32_t us[COMMIT_LATENCY_KEPT]; /* microseconds, oldest first */
	uint64_t total;                /* group commits since the start */
	uint64_t failed;               /* of which failed (nothing of them was stored) */
	int last_failed;               /* the latest one failed */
	double sum_seconds;            /* of all of them */
};
void commit_latency(const struct commit *c, struct commit_latency *out);

#endif
