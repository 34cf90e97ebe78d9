/*
 * Delivery of group logs to a member's newest connection (as for its mailbox). Per group
 * the connection keeps what it pushed and what was acknowledged; the Welcome of a new
 * member goes first, then every entry after the Commit that added it, in seq order, up
 * to the Commit that removed it (flagged PROTO_GROUP_FLAG_REMOVED), and nothing after.
 * Entries dropped from a full log before the member read them (store_group_log_low) are
 * one PROTO_GROUP_MISSED push in their place, with their number.
 *
 * An entry is pushed only once it is durable (group_push_deliver runs when its write is
 * done): straight from memory to a connection that is caught up in that group, otherwise
 * read from the store by group_pump. Pushes and unacknowledged entries of all groups
 * share one window of push_window, and stop at the output's low-water mark like PUSH.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include "server/log.h"

#define GROUP_PUMP_BATCH 64
#define GROUP_LOAD_CHUNK 32             /* memberships read at a time at login */

struct pgroup {
	int64_t grp;
	uint8_t id[STORE_GROUP_ID_MAX];
	size_t id_len;
	uint64_t acked;                 /* acknowledged up to here (its read position) */
	uint64_t pushed;                /* pushed up to here on this connection */
	uint64_t left_seq;              /* 0: a member; else the last seq it gets */
	uint8_t welcome;                /* its Welcome is not acknowledged yet */
	uint8_t welcome_pushed;
	uint8_t backlog;                /* the store may hold entries above pushed */
	uint64_t missed;                /* seqs a MISSED push stood for beyond its own, */
	uint64_t missed_seq;            /* up to this one, not acknowledged yet */
};

struct peer_groups {
	struct pgroup *g;
	size_t n, cap;
	uint32_t inflight;              /* pushed and not yet acknowledged */
};

void
group_push_free(struct peer *p)
{
	if (p->groups == NULL)
		return;
	free(p->groups->g);
	free(p->groups);
	p->groups = NULL;
}

uint32_t
group_push_inflight(const struct peer *p)
{
	return p->groups != NULL ? p->groups->inflight : 0;
}

static struct pgroup *
pg_find(struct peer_groups *pg, int64_t grp)
{
	for (size_t i = 0; i < pg->n; i++)
		if (pg->g[i].grp == grp)
			return &pg->g[i];
	return NULL;
}

static struct pgroup *
pg_find_id(struct peer_groups *pg, const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < pg->n; i++)
		if (pg->g[i].id_len == len && memcmp(pg->g[i].id, id, len) == 0)
			return &pg->g[i];
	return NULL;
}

static struct pgroup *
pg_add(struct peer_groups *pg, int64_t grp, const uint8_t *id, size_t len)
{
	struct pgroup *ng;
	size_t cap;

	if (pg->n == pg->cap) {
		cap = pg->cap ? 2 * pg->cap : 8;
		if ((ng = realloc(pg->g, cap * sizeof(*ng))) == NULL)
			return NULL;
		pg->g = ng;
		pg->cap = cap;
	}
	ng = &pg->g[pg->n++];
	memset(ng, 0, sizeof(*ng));
	ng->grp = grp;
	memcpy(ng->id, id, len);
	ng->id_len = len;
	return ng;
}

/* (Re)starts a group at the member's read position: what it pushed before is pushed again. */
static void
pg_reset(struct pgroup *g, uint64_t read_seq, uint64_t left_seq, int welcome)
{
	g->acked = g->pushed = read_seq;
	g->left_seq = left_seq;
	g->welcome = (uint8_t)welcome;
	g->welcome_pushed = 0;
	g->backlog = 1;
	g->missed = g->missed_seq = 0;
}

/* Reads the account's memberships (the groups this connection does not know yet), a
 * chunk at a time. */
static int
group_push_load(struct peer *p)
{
	struct server *s = p->srv;
	struct store_membership ms[GROUP_LOAD_CHUNK];
	struct pgroup *g;
	int64_t after = 0;
	size_t n;
	int r;

	do {
		if ((r = s->store->ops->group_memberships(s->store, p->acct->id, after, ms,
		    GROUP_LOAD_CHUNK, &n)) != 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			after = ms[i].grp;
			if (pg_find(p->groups, ms[i].grp) != NULL)
				continue;
			if ((g = pg_add(p->groups, ms[i].grp, ms[i].group, ms[i].group_len)) == NULL)
				return SOTTO_ERR_NOMEM;
			pg_reset(g, ms[i].read_seq, ms[i].left_seq, ms[i].welcome);
		}
	} while (n == GROUP_LOAD_CHUNK);
	return 0;
}

void
group_push_start(struct peer *p)
{
	int r;

	if (p->state != PEER_MEMBER || p->groups != NULL)
		return;
	if ((p->groups = calloc(1, sizeof(*p->groups))) == NULL) {
		peer_close(p, "out of memory");
		return;
	}
	if ((r = group_push_load(p)) != 0) {
		log_error("conn %llu: group memberships: %s", (unsigned long long)p->id,
		    sotto_strerror(r));
		return;
	}
	group_pump(p);
}

/* 0 if it went out; else the pump waits (output room) or p is closed. */
static int
push_entry(struct peer *p, struct pgroup *g, int kind, uint64_t seq, uint64_t epoch,
    uint64_t ts, const uint8_t *data, size_t len)
{
	struct proto_msg n;
	int r;

	memset(&n, 0, sizeof(n));
	n.type = PROTO_GROUP_PUSH;
	n.u.group_push.kind = (uint8_t)kind;
	n.u.group_push.flags = g->left_seq != 0 && seq == g->left_seq &&
	    kind != PROTO_GROUP_WELCOME ? PROTO_GROUP_FLAG_REMOVED : 0;
	memcpy(n.u.group_push.group.id, g->id, g->id_len);
	n.u.group_push.group.len = g->id_len;
	n.u.group_push.seq = seq;
	n.u.group_push.epoch = epoch;
	n.u.group_push.timestamp = ts;
	n.u.group_push.data.p = data;
	n.u.group_push.data.len = len;
	if ((r = peer_push(p, &n)) != 0) {
		if (r == PEER_WOULD_BLOCK)
			p->gpush_wait = 1;
		return r;
	}
	if (p->groups->inflight++ == 0 && p->push_inflight == 0)
		server_push_progress(p);
	return 0;
}

static int
pump_welcome(struct peer *p, struct pgroup *g)
{
	struct server *s = p->srv;
	struct store_group_entry e;
	int r;

	r = s->store->ops->group_welcome(s->store, g->grp, p->acct->id, &e);
	if (r == SOTTO_ERR_NOT_FOUND) {
		g->welcome = 0;         /* acknowledged on another connection */
		return 0;
	}
	if (r != 0)
		return r;
	r = push_entry(p, g, PROTO_GROUP_WELCOME, e.seq, e.epoch, e.ts, e.data, e.len);
	store_group_entries_free(&e, 1);
	if (r == 0)
		g->welcome_pushed = 1;
	return r;
}

/* The entries after pushed up to last are gone from the log: one MISSED push says so. */
static int
push_missed(struct peer *p, struct pgroup *g, uint64_t last)
{
	uint8_t n[PROTO_GROUP_MISSED_LEN];
	uint64_t count = last - g->pushed;
	int r;

	for (size_t i = 0; i < sizeof(n); i++)
		n[i] = (uint8_t)(count >> (8 * (sizeof(n) - 1 - i)));
	if ((r = push_entry(p, g, PROTO_GROUP_MISSED, last, 0, server_now_ms(p->srv), n,
	    sizeof(n))) != 0)
		return r;
	log_debug("conn %llu: %llu group entries missed", (unsigned long long)p->id,
	    (unsigned long long)count);
	g->missed += count - 1;
	g->missed_seq = last;
	g->pushed = last;
	return 0;
}

/* Pushes g's stored entries above pushed; nonzero when the pump must stop. */
static int
pump_group(struct peer *p, struct pgroup *g)
{
	struct server *s = p->srv;
	struct store_group_entry e[GROUP_PUMP_BATCH];
	size_t n, want, i;
	uint64_t upto;
	int r;

	if (g->welcome && !g->welcome_pushed) {
		if (p->groups->inflight >= s->cfg.push_window)
			return 1;
		if ((r = pump_welcome(p, g)) != 0)
			return r;
	}
	while (g->backlog) {
		upto = g->left_seq != 0 ? g->left_seq : UINT64_MAX;
		if (g->pushed >= upto) {
			g->backlog = 0;
			break;
		}
		if (p->groups->inflight >= s->cfg.push_window)
			return 1;
		want = s->cfg.push_window - p->groups->inflight;
		if (want > GROUP_PUMP_BATCH)
			want = GROUP_PUMP_BATCH;
		if ((r = s->store->ops->group_entries(s->store, g->grp, g->pushed, upto, e, want,
		    &n)) != 0) {
			log_error("conn %llu: group log read failed: %s", (unsigned long long)p->id,
			    sotto_strerror(r));
			return r;
		}
		/* Entries are contiguous above every read position unless a full log dropped
		 * them: a hole before the first, or none left up to the removing Commit. */
		r = 0;
		if (n > 0 && e[0].seq > g->pushed + 1)
			r = push_missed(p, g, e[0].seq - 1);
		else if (n == 0 && g->left_seq != 0)
			r = push_missed(p, g, g->left_seq);
		if (r != 0) {
			store_group_entries_free(e, n);
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (push_entry(p, g, e[i].kind, e[i].seq, e[i].epoch, e[i].ts, e[i].data,
			    e[i].len) != 0)
				break;
			g->pushed = e[i].seq;
		}
		store_group_entries_free(e, n);
		if (i < n)
			return 1;
		if (n < want)
			g->backlog = 0;
	}
	return 0;
}

void
group_pump(struct peer *p)
{
	struct peer_groups *pg = p->groups;

	if (p->state != PEER_MEMBER || pg == NULL || p->acct == NULL || p->acct->peers != p)
		return;
	p->gpush_wait = 0;
	for (size_t i = 0; i < pg->n && p->state == PEER_MEMBER; i++) {
		if (peer_unsent(p) >= peer_push_low_water(&p->srv->cfg)) {
			p->gpush_wait = 1;
			return;
		}
		if (pump_group(p, &pg->g[i]) != 0)
			return;
	}
}

/* The entry at op->seq to one member's newest connection. */
static void
deliver_one(struct server *s, const struct store_group_op *op,
    const struct store_group_member *m, int kind)
{
	struct acct *a = server_acct_find(s, m->account);
	struct peer *p;
	struct pgroup *g;

	if (a == NULL || (p = a->peers) == NULL || p->state != PEER_MEMBER || p->groups == NULL)
		return;
	if ((g = pg_find(p->groups, op->grp)) == NULL) {
		if (!m->added) {
			/* A group this connection did not read at its start: read it now. */
			if (group_push_load(p) == 0)
				group_pump(p);
			return;
		}
		if ((g = pg_add(p->groups, op->grp, op->group, op->group_len)) == NULL) {
			peer_close(p, "out of memory");
			return;
		}
		pg_reset(g, op->seq, 0, 1);
		g->backlog = 0;
	} else if (m->added) {
		pg_reset(g, op->seq, 0, 1);
		g->backlog = 0;
	} else if (m->left_seq != 0) {
		g->left_seq = m->left_seq;
	}
	if (!m->added) {
		/* Caught up: straight from memory, in order; else the pump reads the store. */
		if (!g->backlog && g->pushed + 1 == op->seq && (!g->welcome || g->welcome_pushed) &&
		    p->groups->inflight < s->cfg.push_window && !p->gpush_wait &&
		    push_entry(p, g, kind, op->seq, op->cur_epoch - (kind ==
		    PROTO_GROUP_COMMIT_ENTRY), op->ts, op->data.p, op->data.len) == 0) {
			g->pushed = op->seq;
			return;
		}
		if (p->state != PEER_MEMBER)
			return;
		g->backlog = 1;
	}
	group_pump(p);
}

void
group_push_deliver(struct server *s, const struct store_group_op *op, int kind)
{
	for (size_t i = 0; i < op->n_members; i++)
		deliver_one(s, op, &op->members[i], kind);
}

void
group_push_acked(struct peer *p, const struct proto_group_ack *a)
{
	struct peer_groups *pg = p->groups;
	struct pgroup *g;
	uint64_t to, done;

	if (pg == NULL || (g = pg_find_id(pg, a->group.id, a->group.len)) == NULL ||
	    a->seq < g->acked)
		return;
	if (g->welcome && g->welcome_pushed) {
		g->welcome = 0;
		pg->inflight -= pg->inflight > 0;
	}
	to = a->seq < g->pushed ? a->seq : g->pushed;
	done = to > g->acked ? to - g->acked : 0;
	if (g->missed != 0 && to >= g->missed_seq) {
		done -= done > g->missed ? g->missed : done;
		g->missed = 0;
	}
	server_push_progress(p);
	pg->inflight = pg->inflight > done ? pg->inflight - (uint32_t)done : 0;
	if (to > g->acked)
		g->acked = to;
}
