#include "server/commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/log.h"

static void on_gap(uv_timer_t *h);

#define DEFER_NS (20 * 1000000ull)

struct list {
	struct commit_item *head, *tail;
};

struct commit {
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle;
	/* The writer wakes the loop through an eventfd of its own rather than uv_async_send:
	 * with both threads on one core, the woken loop preempts the writer inside
	 * uv_async_send and then spins in libuv until the writer runs again. */
	int wake_fd;
	uv_poll_t wake;
	/* Group commits start at most once per min_gap: a commit without an fsync is short,
	 * and without a gap the writer would take batches of one or two SENDs, paying a
	 * transaction, its WAL pages and two wake-ups for each. Pushes do not wait for it. */
	uv_timer_t gap_timer;
	uint64_t min_gap_ns;           /* loop thread */
	/* Deferred items (commit_submit_deferred) ride along with the next batch; alone, they
	 * are handed over once the oldest has waited DEFER_NS or COMMIT_DEFER_MAX of them wait. */
	uv_timer_t defer_timer;
	struct list deferred;          /* loop thread */
	size_t n_deferred;             /* loop thread */
	uint64_t deferred_since_ns;    /* loop thread: uv_hrtime of the oldest deferred */
	int defer_off;                 /* loop thread: commit_defer_off was called */
	uint64_t last_hand_ns;         /* loop thread: uv_hrtime of the last hand-over */
	pthread_t thread;
	int thread_started;

	struct server_store *store;           /* writer thread only */
	commit_done_fn done;
	void *ud;

	struct list turn;              /* loop thread: submitted, not yet handed over */
	size_t pending;                /* loop thread */
	uint64_t submit_seq;           /* loop thread: seq of the last item submitted */
	uint64_t handed_seq;           /* loop thread: seq of the last item handed over */
	uint64_t batches_handed;       /* loop thread */
	uint64_t batches_back;         /* loop thread: handed batches delivered back */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct list queue;             /* mu: for the writer */
	struct list finished;          /* mu: for the loop */
	int stopping;                  /* mu */
	int wake_sent;                 /* mu: wake_fd written, finished not yet taken */
	uint64_t batches_done;         /* mu: batches the writer has finished */
	int writer_idle;               /* mu */

	/* writer thread scratch */
	struct store_send *sends;
	size_t sends_cap;
	struct store_del *dels;
	size_t dels_cap;
	struct store_login *logins;
	size_t logins_cap;
	struct store_group_op *groups;
	size_t groups_cap;

	uint64_t batches, items;
	int closed;                    /* handles closed by commit_stop */

	/* writer thread: the duration and result of write_batch's group commit, if any */
	uint64_t apply_ns;
	int apply_done, apply_failed;
	/* mu: the recent group commits' durations (a ring), for commit_latency */
	uint32_t lat_us[COMMIT_LATENCY_KEPT];
	size_t lat_next, lat_n;
	uint64_t lat_total, lat_failed;
	int lat_last_failed;
	double lat_sum;
};

static void
list_push(struct list *l, struct commit_item *it)
{
	it->next = NULL;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
}

static void
list_splice(struct list *dst, struct list *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	src->head = src->tail = NULL;
}

/* Moves src into dst, both in submission order, keeping that order: the writer stores a
 * retry after the SEND it repeats, and finds that one's record. */
static void
list_merge(struct list *dst, struct list *src)
{
	struct commit_item *a = dst->head, *b = src->head, **pp;
	struct list out = { NULL, NULL };

	pp = &out.head;
	while (a != NULL && b != NULL) {
		if (a->seq < b->seq) {
			*pp = a;
			a = a->next;
		} else {
			*pp = b;
			b = b->next;
		}
		out.tail = *pp;
		pp = &(*pp)->next;
	}
	*pp = a != NULL ? a : b;
	if (*pp != NULL)
		out.tail = a != NULL ? dst->tail : src->tail;
	*dst = out;
	src->head = src->tail = NULL;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return SOTTO_ERR_NOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/*
 * Stores a batch; returns how many items it held. A saturated writer takes tens of
 * thousands of items at once, each a cache miss to visit, so the list is walked three
 * times: to count, to gather the SENDs and deletes, and to hand back results and run the
 * other writes.
 */
static uint64_t
write_batch(struct commit *c, struct commit_item *head)
{
	size_t ns = 0, nd = 0, is = 0, id = 0, nl = 0, il = 0, ng = 0, ig = 0;
	uint64_t n = 0;
	int rs = 0, rd = 0, rl = 0, rg = 0, gather_s = 0, gather_d = 0;

	for (struct commit_item *it = head; it; it = it->next, n++) {
		if (it->kind == COMMIT_SEND)
			ns++;
		else if (it->kind == COMMIT_DELETE)
			nd += it->n_dels;
		else if (it->kind == COMMIT_LOGIN)
			nl++;
		else if (it->kind == COMMIT_GROUP)
			ng++;
	}
	/* Without room to gather them, the SENDs (or deletes) fail and the rest goes on. */
	if (ns > 0 && (gather_s = grow((void **)&c->sends, &c->sends_cap, ns,
	    sizeof(*c->sends))) != 0)
		ns = 0;
	if (nd > 0 && (gather_d = grow((void **)&c->dels, &c->dels_cap, nd,
	    sizeof(*c->dels))) != 0)
		nd = 0;
	if (ns > 0 || nd > 0) {
		for (struct commit_item *it = head; it; it = it->next)
			if (it->kind == COMMIT_SEND && ns > 0) {
				c->sends[is++] = it->send;
			} else if (it->kind == COMMIT_DELETE && nd > 0) {
				memcpy(&c->dels[id], it->dels, it->n_dels * sizeof(*c->dels));
				id += it->n_dels;
			}
		/* The turn's deletes and sends share one transaction (one fsync). */
		c->apply_ns = uv_hrtime();
		rs = c->store->ops->envelopes_apply(c->store, c->dels, nd, c->sends, ns, &rd);
		c->apply_ns = uv_hrtime() - c->apply_ns;
		c->apply_done = 1;
		c->apply_failed = rs != 0 || rd != 0;
		if (ns > 0 && rs != 0)
			log_error("commit: %zu envelopes not stored: %s", ns, sotto_strerror(rs));
		if (nd > 0 && rd != 0)
			log_error("commit: %zu deletes failed: %s", nd, sotto_strerror(rd));
	}
	/* The LOGINs: one small transaction for all of them (one fsync). */
	if (nl > 0 && (rl = grow((void **)&c->logins, &c->logins_cap, nl,
	    sizeof(*c->logins))) == 0) {
		for (struct commit_item *it = head; it; it = it->next)
			if (it->kind == COMMIT_LOGIN)
				c->logins[il++] = it->login;
		rl = c->store->ops->logins_commit(c->store, c->logins, nl);
		if (rl != 0)
			log_error("commit: %zu logins not stored: %s", nl, sotto_strerror(rl));
	}
	/* The group writes: one transaction, each checked on its own. */
	if (ng > 0 && (rg = grow((void **)&c->groups, &c->groups_cap, ng,
	    sizeof(*c->groups))) == 0) {
		for (struct commit_item *it = head; it; it = it->next)
			if (it->kind == COMMIT_GROUP)
				c->groups[ig++] = it->group;
		rg = c->store->ops->groups_apply(c->store, c->groups, ng);
		if (rg != 0)
			log_error("commit: %zu group writes not stored: %s", ng, sotto_strerror(rg));
	}
	is = 0;
	il = 0;
	ig = 0;
	for (struct commit_item *it = head; it; it = it->next) {
		if (it->kind == COMMIT_GROUP) {
			if (rg == 0)
				it->group = c->groups[ig++];
			it->result = rg;
		} else if (it->kind == COMMIT_LOGIN) {
			if (rl == 0)
				it->login = c->logins[il++];
			it->result = rl;
		} else if (it->kind == COMMIT_SEND) {
			if (gather_s == 0)
				it->send = c->sends[is++];
			else
				it->send.result = gather_s;
			it->result = gather_s != 0 ? gather_s : rs;
		} else if (it->kind == COMMIT_DELETE) {
			it->result = gather_d != 0 ? gather_d : rd;
		} else if (it->kind == COMMIT_CALL) {
			it->result = it->call(c->store, it);
		}
	}
	return n;
}

static void
wake_loop(struct commit *c)
{
	uint64_t one = 1;

	while (write(c->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* mu held: write_batch's group commit into the ring. */
static void
latency_add(struct commit *c)
{
	uint64_t us = c->apply_ns / 1000;

	c->lat_us[c->lat_next] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	c->lat_next = (c->lat_next + 1) % COMMIT_LATENCY_KEPT;
	if (c->lat_n < COMMIT_LATENCY_KEPT)
		c->lat_n++;
	c->lat_total++;
	c->lat_failed += c->apply_failed != 0;
	c->lat_last_failed = c->apply_failed;
	c->lat_sum += (double)c->apply_ns / 1e9;
}

static void *
writer_main(void *arg)
{
	struct commit *c = arg;
	struct list batch;
	uint64_t n;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->queue.head == NULL && !c->stopping) {
			c->writer_idle = 1;
			pthread_cond_broadcast(&c->cv);
			pthread_cond_wait(&c->cv, &c->mu);
		}
		if (c->queue.head == NULL && c->stopping)
			break;
		c->writer_idle = 0;
		batch = c->queue;
		c->queue.head = c->queue.tail = NULL;
		pthread_mutex_unlock(&c->mu);

		c->apply_done = 0;
		n = write_batch(c, batch.head);
		pthread_mutex_lock(&c->mu);
		if (c->apply_done)
			latency_add(c);
		c->items += n;
		c->batches++;
		c->batches_done++;
		list_splice(&c->finished, &batch);
		if (!c->wake_sent) {
			c->wake_sent = 1;
			pthread_mutex_unlock(&c->mu);
			wake_loop(c);
			pthread_mutex_lock(&c->mu);
		}
	}
	c->writer_idle = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void
deliver_finished(struct commit *c)
{
	struct list l;
	struct commit_item *it, *next;

	pthread_mutex_lock(&c->mu);
	l = c->finished;
	c->finished.head = c->finished.tail = NULL;
	c->batches_back = c->batches_done;
	c->wake_sent = 0;
	pthread_mutex_unlock(&c->mu);
	for (it = l.head; it; it = next) {
		next = it->next;
		it->next = NULL;
		if (--c->pending == 0)
			uv_unref((uv_handle_t *)&c->wake);
		c->done(c->ud, it);
	}
}

static void
hand_over(struct commit *c)
{
	/* Every item submitted so far is handed over, so handed_seq covers them all. */
	if (c->deferred.head != NULL) {
		list_merge(&c->turn, &c->deferred);
		c->n_deferred = 0;
		uv_timer_stop(&c->defer_timer);
	}
	if (c->turn.head == NULL)
		return;
	c->handed_seq = c->submit_seq;
	c->batches_handed++;
	c->last_hand_ns = uv_hrtime();
	pthread_mutex_lock(&c->mu);
	list_splice(&c->queue, &c->turn);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/*
 * Items are handed over only while the writer is idle: while it commits (and fsyncs) one
 * batch, the next accumulates here on the loop, where a SEND can still be changed (its
 * recipient's RECEIVED makes storing its envelope unnecessary). Every finished batch is
 * delivered by on_wake, which then hands over what accumulated, so nothing waits longer
 * than the batch in front of it.
 */
static void
hand_over_if_idle(struct commit *c)
{
	uint64_t since, wait_ms, waited;

	if (c->turn.head == NULL) {
		/* Only deferred items: they wait for company, up to a point. */
		if (c->deferred.head == NULL)
			return;
		waited = uv_hrtime() - c->deferred_since_ns;
		if (!c->defer_off && c->n_deferred < COMMIT_DEFER_MAX && waited < DEFER_NS) {
			if (!uv_is_active((uv_handle_t *)&c->defer_timer))
				uv_timer_start(&c->defer_timer, on_gap,
				    (DEFER_NS - waited + 999999) / 1000000, 0);
			return;
		}
	}
	/* Runs after every loop turn: the common case, a busy writer, reads no clock. */
	if (c->batches_handed != c->batches_back)
		return;
	since = uv_hrtime() - c->last_hand_ns;
	if (since >= c->min_gap_ns) {
		hand_over(c);
		return;
	}
	if (uv_is_active((uv_handle_t *)&c->gap_timer))
		return;
	wait_ms = (c->min_gap_ns - since + 999999) / 1000000;
	uv_timer_start(&c->gap_timer, on_gap, wait_ms, 0);
}

static void
on_gap(uv_timer_t *h)
{
	hand_over_if_idle(h->data);
}

void
commit_set_min_gap(struct commit *c, uint32_t us)
{
	c->min_gap_ns = (uint64_t)us * 1000;
}

static void
on_wake(uv_poll_t *h, int status, int events)
{
	struct commit *c = h->data;
	uint64_t n;

	(void)status, (void)events;
	/* Cleared before the finished list is taken: a wake written after that is kept. */
	while (read(c->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	deliver_finished(c);
	hand_over_if_idle(c);
}

/* Runs after the I/O callbacks of each loop turn. */
static void
on_check(uv_check_t *h)
{
	struct commit *c = h->data;

	hand_over_if_idle(c);
	uv_idle_stop(&c->idle);
}

/* For items submitted outside an I/O callback: keeps the loop from blocking in poll. */
static void
on_idle(uv_idle_t *h)
{
	struct commit *c = h->data;

	hand_over_if_idle(c);
	uv_idle_stop(&c->idle);
}

int
commit_start(struct commit **out, uv_loop_t *loop, struct server_store *store, commit_done_fn done,
    void *ud)
{
	struct commit *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	c->loop = loop;
	c->store = store;
	c->done = done;
	c->ud = ud;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	uv_check_init(loop, &c->check);
	c->check.data = c;
	uv_check_start(&c->check, on_check);
	uv_unref((uv_handle_t *)&c->check);
	uv_idle_init(loop, &c->idle);
	c->idle.data = c;
	uv_timer_init(loop, &c->gap_timer);
	c->gap_timer.data = c;
	uv_timer_init(loop, &c->defer_timer);
	c->defer_timer.data = c;
	if ((c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    uv_poll_init(loop, &c->wake, c->wake_fd) != 0) {
		/* c is freed only after the handles close: leak it on this fatal path. */
		uv_close((uv_handle_t *)&c->check, NULL);
		uv_close((uv_handle_t *)&c->idle, NULL);
		uv_close((uv_handle_t *)&c->gap_timer, NULL);
		uv_close((uv_handle_t *)&c->defer_timer, NULL);
		return SOTTO_ERR_IO;
	}
	c->wake.data = c;
	uv_poll_start(&c->wake, UV_READABLE, on_wake);
	uv_unref((uv_handle_t *)&c->wake);
	if (pthread_create(&c->thread, NULL, writer_main, c) != 0) {
		uv_close((uv_handle_t *)&c->check, NULL);
		uv_close((uv_handle_t *)&c->idle, NULL);
		uv_close((uv_handle_t *)&c->gap_timer, NULL);
		uv_close((uv_handle_t *)&c->wake, NULL);
		uv_close((uv_handle_t *)&c->defer_timer, NULL);
		/* c is freed only after the handles close: leak it on this fatal path. */
		return SOTTO_ERR_INTERNAL;
	}
	c->thread_started = 1;
	*out = c;
	return 0;
}

void
commit_submit(struct commit *c, struct commit_item *item)
{
	item->result = 0;
	/* While anything is in flight the wake handle keeps the loop alive. */
	if (c->pending++ == 0)
		uv_ref((uv_handle_t *)&c->wake);
	if (c->turn.head == NULL)
		uv_idle_start(&c->idle, on_idle);
	item->seq = ++c->submit_seq;
	list_push(&c->turn, item);
}

void
commit_submit_deferred(struct commit *c, struct commit_item *item)
{
	if (c->defer_off) {
		commit_submit(c, item);
		return;
	}
	item->result = 0;
	if (c->pending++ == 0)
		uv_ref((uv_handle_t *)&c->wake);
	if (c->deferred.head == NULL) {
		c->deferred_since_ns = uv_hrtime();
		uv_idle_start(&c->idle, on_idle);
	}
	item->seq = ++c->submit_seq;
	list_push(&c->deferred, item);
	c->n_deferred++;
}

void
commit_defer_off(struct commit *c)
{
	c->defer_off = 1;
	if (c->deferred.head != NULL)
		uv_idle_start(&c->idle, on_idle);
}

int
commit_item_handed(const struct commit *c, const struct commit_item *item)
{
	return item->seq <= c->handed_seq;
}

size_t
commit_pending(const struct commit *c)
{
	return c->pending;
}

void
commit_stats(const struct commit *c, uint64_t *batches, uint64_t *items)
{
	pthread_mutex_lock((pthread_mutex_t *)&c->mu);
	*batches = c->batches;
	*items = c->items;
	pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
}

void
commit_latency(const struct commit *c, struct commit_latency *out)
{
	size_t first;

	pthread_mutex_lock((pthread_mutex_t *)&c->mu);
	out->n = c->lat_n;
	first = (c->lat_next + COMMIT_LATENCY_KEPT - c->lat_n) % COMMIT_LATENCY_KEPT;
	for (size_t i = 0; i < c->lat_n; i++)
		out->us[i] = c->lat_us[(first + i) % COMMIT_LATENCY_KEPT];
	out->total = c->lat_total;
	out->failed = c->lat_failed;
	out->last_failed = c->lat_last_failed;
	out->sum_seconds = c->lat_sum;
	pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
}

static void
on_closed(uv_handle_t *h)
{
	struct commit *c = h->data;

	/* The last of the three handles frees c. */
	if (++c->closed == 5) {
		close(c->wake_fd);
		free(c->sends);
		free(c->dels);
		free(c->logins);
		free(c->groups);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
	}
}

void
commit_stop(struct commit *c)
{
	hand_over(c);
	pthread_mutex_lock(&c->mu);
	c->stopping = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	deliver_finished(c);
	server_store_close(c->store);
	c->store = NULL;
	uv_close((uv_handle_t *)&c->check, on_closed);
	uv_close((uv_handle_t *)&c->idle, on_closed);
	uv_close((uv_handle_t *)&c->wake, on_closed);
	uv_close((uv_handle_t *)&c->gap_timer, on_closed);
	uv_close((uv_handle_t *)&c->defer_timer, on_closed);
}
