/*
 * Idempotency records. Every SEND leaves a record keyed by (recipient, client message id),
 * store_idem_key, so that a retry is stored once; RECEIVED deletes it with its envelope.
 * What is left is kept for at most sent_retention seconds: a walk through
 * all of them in key order, started every PRUNE_EVERY_MS (or a quarter of the retention
 * if that is shorter), deletes the older ones, one chunk (prune_chunk) per writer
 * transaction between the group commits, so the table does not grow with every message
 * ever sent and no commit waits long behind it. A retry that comes later than that is
 * stored again; the recipient's client drops it by its message id.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"

#define PRUNE_CHUNK_MIN 1000
#define PRUNE_CHUNK_MAX 65536
#define PRUNE_EVERY_MS 3600000u

struct prune_job {
	struct commit_item ci;          /* first: the writer's item */
	struct server *s;
	int64_t before;
	struct store_sent_key cursor;
	size_t chunk;
	int done;
	size_t deleted;
};

static void prune_submit(struct server *s);

static int
prune_call(struct server_store *st, struct commit_item *it)
{
	struct prune_job *j = (struct prune_job *)(void *)it;

	return st->ops->sent_prune(st, j->before, j->chunk, &j->cursor, &j->done, &j->deleted);
}

static void
prune_finish(struct commit_item *it)
{
	struct prune_job *j = (struct prune_job *)(void *)it;
	struct server *s = j->s;

	s->prune_inflight = 0;
	s->prune_deleted += j->deleted;
	if (it->result != 0) {
		/* The walk starts again with the next tick. */
		log_warn("idempotency records: prune failed: %s", sotto_strerror(it->result));
		memset(&s->prune_cursor, 0, sizeof(s->prune_cursor));
	} else if (j->done) {
		if (s->prune_deleted > 0)
			log_info("idempotency records: %llu older than %u s deleted",
			    (unsigned long long)s->prune_deleted, s->cfg.sent_retention);
		s->prune_deleted = 0;
		memset(&s->prune_cursor, 0, sizeof(s->prune_cursor));
	} else {
		s->prune_cursor = j->cursor;
		free(j);
		prune_submit(s);
		return;
	}
	free(j);
}

/*
 * Records to walk in the next chunk: as many as the group commits since the last chunk
 * held items on average, at least PRUNE_CHUNK_MIN. A saturated writer commits tens of
 * thousands of SENDs per batch, and one chunk goes with each batch: chunks of that size
 * delete records as fast as they are made.
 */
static size_t
prune_chunk(struct server *s)
{
	uint64_t batches, items, db, di, avg;

	commit_stats(s->commit, &batches, &items);
	db = batches - s->prune_batches;
	di = items - s->prune_items;
	s->prune_batches = batches;
	s->prune_items = items;
	avg = db > 0 ? di / db : 0;
	if (avg < PRUNE_CHUNK_MIN)
		return PRUNE_CHUNK_MIN;
	return avg > PRUNE_CHUNK_MAX ? PRUNE_CHUNK_MAX : (size_t)avg;
}

static void
prune_submit(struct server *s)
{
	struct prune_job *j;

	if (s->prune_stopped || s->prune_inflight || s->draining || s->commit == NULL)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;                 /* tried again on the next tick */
	j->s = s;
	j->before = (int64_t)time(NULL) - (int64_t)s->cfg.sent_retention;
	j->cursor = s->prune_cursor;
	j->chunk = prune_chunk(s);
	j->ci.kind = COMMIT_CALL;
	j->ci.call = prune_call;
	j->ci.finish = prune_finish;
	s->prune_inflight = 1;
	commit_submit(s->commit, &j->ci);
}

/* Milliseconds to the next walk: read at every walk, so a reload (SIGHUP) applies. A
 * short retention (tests) is walked more often than once an hour. */
static uint64_t
prune_every(const struct server *s)
{
	uint64_t every = (uint64_t)s->cfg.sent_retention * 1000 / 4;

	if (every > PRUNE_EVERY_MS)
		return PRUNE_EVERY_MS;
	return every > 0 ? every : 1;
}

static void
on_prune_tick(uv_timer_t *t)
{
	struct server *s = t->data;

	prune_submit(s);
	uv_timer_start(&s->prune_timer, on_prune_tick, prune_every(s), 0);
}

void
sent_prune_init(struct server *s)
{
	uv_timer_init(s->loop, &s->prune_timer);
	s->prune_timer.data = s;
	uv_unref((uv_handle_t *)&s->prune_timer);
	uv_timer_start(&s->prune_timer, on_prune_tick, prune_every(s), 0);
	s->prune_ready = 1;
}

void
sent_prune_stop(struct server *s)
{
	if (!s->prune_ready || s->prune_stopped)
		return;
	s->prune_stopped = 1;
	uv_close((uv_handle_t *)&s->prune_timer, NULL);
}
