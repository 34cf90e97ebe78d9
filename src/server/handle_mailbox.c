/*
 * Mailboxes: SEND, PUSH of queued envelopes to the recipient's connection, RECEIVED.
 *
 * A SEND gets its envelope id on arrival and is pushed at once to its recipient's
 * connection if that one is caught up (no backlog, room in the push window and in the
 * output), while its commit runs. Its sender is answered once the envelope is durable
 * somewhere: when the commit holding it is done, or earlier when the recipient's RECEIVED
 * names it (the client stores a message before it sends RECEIVED). A RECEIVED that comes
 * while the SEND still waits on the loop for the writer leaves only its idempotency record
 * to be written: the envelope is never stored, so never deleted either.
 *
 * Until its commit is done a SEND stays in s->mailq, so that the pump pushes, in id order,
 * first what the store holds and then what is still on its way there: an envelope that
 * could not be pushed early is never overtaken by a later one.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/log.h"

#define PUMP_BATCH 64

enum { DUP_UNKNOWN, DUP_NO, DUP_YES };

struct mail_item {
	struct commit_item ci;
	struct mail_item *qprev, *qnext; /* SEND: its bucket of s->mailq */
	struct mail_item *id_next;      /* SEND: chain of s->mailq_ids */
	struct mail_item *key_next;     /* SEND: chain of s->mailq_keys */
	uint64_t key_hash;              /* SEND: keyed hash of (recipient, cmid) */
	int64_t id;                     /* SEND: the envelope id given on arrival */
	uint8_t queued;                 /* SEND: in s->mailq */
	uint8_t received;               /* SEND: its recipient RECEIVED it */
	uint8_t acked;                  /* SEND: the sender has its answer */
	uint8_t dup;                    /* SEND: DUP_*: a retry of a SEND already accepted */
	uint8_t held;                   /* SEND: in s->held, not yet submitted */
	uint8_t req_type;               /* SEND: PROTO_SEND or PROTO_SEND_SEALED, for the answer */
	struct mail_item *hprev, *hnext; /* SEND: s->held */
	uint64_t hold_until;            /* SEND: uv_now at which it goes to the writer */
	/* SEND: the envelope; RECEIVED: the store_del array (hence aligned) */
	_Alignas(16) uint8_t data[];
};

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct mail_bucket *
bucket_of(struct server *s, int64_t recipient)
{
	uint64_t h = (uint64_t)recipient * 0x9e3779b97f4a7c15ull;

	return &s->mailq[(h >> 32) & (MAILQ_BUCKETS - 1)];
}

/*
 * Two hash indexes over s->mailq, so that a SEND's retry check and a RECEIVED's lookup
 * cost the same however many SENDs wait for the writer (tens of thousands when it is
 * saturated): by envelope id, which the server gives, and by (recipient, client message
 * id), which a client chooses, hence hashed with a key of this process
 * (SipHash-2-4) so that no client can make one chain long. Chains, not probing: each is
 * kept at about one entry per slot by doubling.
 */
#define MAILQ_INDEX_MIN 1024

_Static_assert(sizeof(((struct server *)0)->mailq_hash_key) == crypto_shorthash_KEYBYTES,
    "mailq_hash_key is a SipHash key");

static size_t
id_slot(const struct server *s, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 20) & s->mailq_mask;
}

/* Computed once, when the SEND enters s->mailq. */
static uint64_t
key_hash(const struct server *s, const struct store_send *sd)
{
	uint8_t in[8 + STORE_CMID_LEN], h[crypto_shorthash_BYTES];
	uint64_t v, rcpt = (uint64_t)sd->recipient;

	memcpy(in, &rcpt, 8);
	memcpy(in + 8, sd->cmid, STORE_CMID_LEN);
	crypto_shorthash(h, in, sizeof(in), s->mailq_hash_key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static size_t
key_slot(const struct server *s, const struct mail_item *mi)
{
	return (size_t)mi->key_hash & s->mailq_mask;
}

static void
index_link(struct server *s, struct mail_item *mi)
{
	size_t i = id_slot(s, mi->id), k = key_slot(s, mi);

	mi->id_next = s->mailq_ids[i];
	s->mailq_ids[i] = mi;
	mi->key_next = s->mailq_keys[k];
	s->mailq_keys[k] = mi;
}

static void
index_unlink(struct server *s, struct mail_item *mi)
{
	struct mail_item **pp;

	for (pp = &s->mailq_ids[id_slot(s, mi->id)]; *pp != mi; pp = &(*pp)->id_next)
		;
	*pp = mi->id_next;
	for (pp = &s->mailq_keys[key_slot(s, mi)]; *pp != mi; pp = &(*pp)->key_next)
		;
	*pp = mi->key_next;
}

/* Rebuilds both indexes with slots slots (a power of two); on error the old ones stay. */
static int
index_resize(struct server *s, size_t slots)
{
	struct mail_item **ids, **keys;

	if ((ids = calloc(slots, sizeof(*ids))) == NULL ||
	    (keys = calloc(slots, sizeof(*keys))) == NULL) {
		free(ids);
		return SOTTO_ERR_NOMEM;
	}
	/* Every SEND in the indexes is in s->mailq: relink from there. */
	free(s->mailq_ids);
	free(s->mailq_keys);
	s->mailq_ids = ids;
	s->mailq_keys = keys;
	s->mailq_mask = slots - 1;
	for (size_t b = 0; b < MAILQ_BUCKETS; b++)
		for (struct mail_item *mi = s->mailq[b].head; mi; mi = mi->qnext)
			index_link(s, mi);
	return 0;
}

static void
mailq_add(struct server *s, struct mail_item *mi)
{
	struct mail_bucket *b = bucket_of(s, mi->ci.send.recipient);
	size_t slots;

	/* Ids grow with every SEND, so appending keeps each bucket in id order. */
	mi->qnext = NULL;
	mi->qprev = b->tail;
	if (b->tail)
		b->tail->qnext = mi;
	else
		b->head = mi;
	b->tail = mi;
	mi->queued = 1;
	mi->key_hash = key_hash(s, &mi->ci.send);
	/* Linked after the bucket so that a resize relinks it with the rest. */
	slots = s->mailq_mask + 1;
	if (++s->mailq_n > 2 * slots && index_resize(s, 4 * slots) == 0)
		return;
	index_link(s, mi);
}

static void
mailq_remove(struct server *s, struct mail_item *mi)
{
	struct mail_bucket *b = bucket_of(s, mi->ci.send.recipient);

	if (!mi->queued)
		return;
	index_unlink(s, mi);
	s->mailq_n--;
	if (mi->qprev)
		mi->qprev->qnext = mi->qnext;
	else
		b->head = mi->qnext;
	if (mi->qnext)
		mi->qnext->qprev = mi->qprev;
	else
		b->tail = mi->qprev;
	mi->qprev = mi->qnext = NULL;
	mi->queued = 0;
}

static struct mail_item *
mailq_find(struct server *s, int64_t recipient, int64_t id)
{
	for (struct mail_item *mi = s->mailq_ids[id_slot(s, id)]; mi; mi = mi->id_next)
		if (mi->id == id && mi->ci.send.recipient == recipient)
			return mi;
	return NULL;
}

/*
 * Whether mi repeats a SEND still in flight to the same recipient with the same client
 * message id (whoever sends it: the server keeps no sender to compare); such a retry is answered by its commit and not pushed again.
 * A retry of a SEND already committed is not looked up here: reading the idempotency
 * records on the loop costs a read transaction per SEND, while such a retry is rare and
 * harmless: its commit finds the record and stores nothing, and the recipient's client
 * drops the copy pushed from memory by its message id.
 */
static int
duplicate_state(struct server *s, struct mail_item *mi)
{
	const struct store_send *sd = &mi->ci.send;

	if (mi->dup != DUP_UNKNOWN)
		return mi->dup;
	for (struct mail_item *o = s->mailq_keys[key_slot(s, mi)]; o; o = o->key_next)
		if (o->key_hash == mi->key_hash && o->id < mi->id &&
		    o->ci.send.recipient == sd->recipient &&
		    o->dup != DUP_YES &&
		    memcmp(o->ci.send.cmid, sd->cmid, STORE_CMID_LEN) == 0)
			return mi->dup = DUP_YES;
	return mi->dup = DUP_NO;
}

/*
 * Queues one push; 0 if it went out, else nonzero and the envelope stays for a later read
 * of the store (the pump is then waiting for the output to drain, or the peer is closed).
 */
static int
push_one(struct peer *p, int64_t id, uint64_t ts, const uint8_t *data, size_t len)
{
	struct proto_msg n;
	int r;

	memset(&n, 0, sizeof(n));
	n.type = PROTO_PUSH;
	n.u.push.envelope_id = (uint64_t)id;
	n.u.push.timestamp = ts;
	n.u.push.envelope = data;
	n.u.push.envelope_len = len;
	if ((r = peer_push(p, &n)) != 0) {
		if (r == PEER_WOULD_BLOCK) {
			p->backlog = 1;
			p->push_wait = 1;
		}
		return r;
	}
	p->last_pushed = id;
	p->recent[p->recent_next++ % PEER_RECENT_PUSHES] = id;
	if (p->push_inflight++ == 0)
		server_push_progress(p);
	return 0;
}

static int
pushed_recently(const struct peer *p, int64_t id)
{
	for (size_t i = 0; i < PEER_RECENT_PUSHES; i++)
		if (p->recent[i] == id)
			return 1;
	return 0;
}

/*
 * Pushes, in id order, the recipient's SENDs not yet done (s->mailq) above last_pushed:
 * they all come after what the store holds (ids are given in commit order) or are in
 * both. 0 when all are pushed; nonzero when the pump must stop (window full, output
 * above the mark).
 */
static int
pump_pending(struct peer *p)
{
	struct server *s = p->srv;
	int64_t rcpt = p->acct->id;

	for (struct mail_item *mi = bucket_of(s, rcpt)->head; mi; mi = mi->qnext) {
		if (mi->ci.send.recipient != rcpt || mi->id <= p->last_pushed || mi->received)
			continue;
		if (duplicate_state(s, mi) == DUP_YES)
			continue;
		if (p->push_inflight >= s->cfg.push_window)
			return 1;
		if (push_one(p, mi->id, mi->ci.send.ts, mi->ci.send.data, mi->ci.send.len) != 0)
			return 1;
	}
	return 0;
}

/*
 * Pushes the mailbox in id order from the last envelope pushed on, while the push window
 * and the output's low-water mark allow. Envelopes not pushed stay in the store and are
 * read again when the window opens (RECEIVED) or the output drains (peer.c).
 */
void
mailbox_pump(struct peer *p)
{
	struct server *s = p->srv;
	struct store_envelope env[PUMP_BATCH];
	size_t n, want, i, low, unsent, fit;
	int r;

	p->push_wait = 0;
	/* wake_due: the restart waits for what is in flight; nothing new meanwhile. */
	while (p->state == PEER_MEMBER && p->backlog && !p->wake_due &&
	    p->push_inflight < s->cfg.push_window) {
		low = peer_push_low_water(&s->cfg);
		if ((unsent = peer_unsent(p)) >= low) {
			p->push_wait = 1;
			return;
		}
		want = s->cfg.push_window - p->push_inflight;
		if (want > PUMP_BATCH)
			want = PUMP_BATCH;
		/* Read no more than the room below the mark can take of the largest envelopes,
		 * so big ones are not read from the store only to be dropped again. */
		fit = (low - unsent) / s->cfg.max_envelope + 1;
		if (want > fit)
			want = fit;
		r = s->store->ops->envelopes_list(s->store, p->acct->id, p->last_pushed, env, want,
		    &n);
		if (r != 0) {
			log_error("conn %llu: mailbox read failed: %s", (unsigned long long)p->id,
			    sotto_strerror(r));
			return;
		}
		for (i = 0; i < n; i++)
			if (push_one(p, env[i].id, env[i].ts, env[i].data, env[i].len) != 0)
				break;
		store_envelopes_free(env, n);
		if (i < n)
			return;
		if (n < want) {
			/* The store is read to its end: what follows is still on its way there. */
			if (pump_pending(p) == 0)
				p->backlog = 0;
			return;
		}
	}
}

/*
 * Envelopes another node stored for p's account (wake.c), read by their ids, in id order.
 * Their ids come from that node's ranges, so they may sort below what p has pushed: they
 * are pushed at once, without moving last_pushed (the pump's position in this node's
 * order). If p cannot take them all now (a restart waits, the window or the output is
 * full), its pushes restart instead (server_acct_wake), which reads the mailbox from its
 * start once nothing is in flight: never lost, at worst pushed twice, which the client
 * drops as a repeat. One among the last PEER_RECENT_PUSHES pushed (by the pump, which read
 * it from the store after its commit) is not pushed again.
 */
void
mailbox_push_stored(struct peer *p, const struct store_envelope *env, size_t n)
{
	struct server *s = p->srv;
	int64_t last = p->last_pushed;
	size_t i = 0;

	if (p->state != PEER_MEMBER)
		return;
	if (!p->wake_due && p->push_inflight + n <= s->cfg.push_window &&
	    peer_unsent(p) < peer_push_low_water(&s->cfg))
		for (; i < n; i++) {
			/* The pump may have read it from the store meanwhile. */
			if (pushed_recently(p, env[i].id))
				continue;
			if (push_one(p, env[i].id, env[i].ts, env[i].data, env[i].len) != 0)
				break;
			p->last_pushed = last;
		}
	s->counters.wake_pushed += i;
	if (i < n && p->state == PEER_MEMBER) {
		s->counters.wake_restarts++;
		server_acct_wake(p, 0);
	}
}

/* A SEND is done: if its recipient's connection has a backlog, the store may now hold
 * what the pump waits for. */
static void
deliver_new(struct server *s, int64_t recipient)
{
	struct acct *a = server_acct_find(s, recipient);
	struct peer *p;

	if (a == NULL || (p = a->peers) == NULL || p->state != PEER_MEMBER)
		return;
	if (p->backlog)
		mailbox_pump(p);
}

static void
answer_send(struct mail_item *mi, int status)
{
	struct peer *p = mi->ci.owner;
	struct proto_msg resp;

	mi->acked = 1;
	if (p->state == PEER_CLOSED)
		return;
	memset(&resp, 0, sizeof(resp));
	proto_response(&resp, mi->req_type, (uint32_t)mi->ci.tag, status);
	resp.u.sent.timestamp = mi->ci.send.ts;
	(void)peer_send(p, &resp);
}

void
mailbox_commit_done(void *ud, struct commit_item *it)
{
	struct server *s = ud;
	struct mail_item *mi = (struct mail_item *)(void *)it;
	struct peer *p = it->owner;
	int r;

	if (it->kind == COMMIT_CALL || it->kind == COMMIT_LOGIN || it->kind == COMMIT_GROUP) {
		it->finish(it);         /* frees it */
		if (p != NULL)          /* NULL: the server's own (sent_prune.c) */
			peer_commit_released(p);
		return;
	}
	if (it->kind == COMMIT_SEND) {
		r = it->result != 0 ? it->result : it->send.result;
		mailq_remove(s, mi);
		if (!mi->acked)
			answer_send(mi, r);
		else if (r != 0)
			/* Answered already: durable on the recipient, which RECEIVED it. */
			log_debug("commit of a SEND received before it failed: %s", sotto_strerror(r));
		deliver_new(s, it->send.recipient);
	} else if (p->state != PEER_CLOSED) {
		peer_respond(p, PROTO_RECEIVED, (uint32_t)it->tag, it->result);
	}
	free(it);
	peer_commit_released(p);
}

/*
 * Envelope ids come from ranges of ENV_ID_RANGE reserved in the store, so that several
 * nodes of one database never give the same id. Each range lies above every id used or
 * reserved before and above the clock's share, so that a RECEIVED repeated after a restart
 * can never name a newer envelope.
 */
static int
next_env_id(struct server *s, int64_t *id)
{
	int64_t floor = (int64_t)(wall_ms() << 20), first;
	int r;

	if (s->last_env_id == 0 || s->next_env_id > s->last_env_id) {
		if (s->last_env_id > floor)
			floor = s->last_env_id;
		if ((r = s->store->ops->envelope_ids_reserve(s->store, floor, ENV_ID_RANGE,
		    &first)) != 0) {
			log_error("envelope ids: %s", sotto_strerror(r));
			return r;
		}
		s->next_env_id = first;
		s->last_env_id = first + ENV_ID_RANGE - 1;
	}
	*id = s->next_env_id++;
	return 0;
}

/* Pushes a new SEND at once if its recipient's connection is caught up (1 if pushed);
 * otherwise marks that connection's backlog so that the pump gets to it in order. */
static int
push_early(struct server *s, struct acct *a, struct mail_item *mi)
{
	struct peer *rp;

	if (a == NULL || (rp = a->peers) == NULL || rp->state != PEER_MEMBER || rp->backlog)
		return 0;
	if (rp->wake_due) {
		rp->backlog = 1;        /* the restart reads it from the store */
		return 0;
	}
	if (rp->push_inflight >= s->cfg.push_window) {
		rp->backlog = 1;
		return 0;
	}
	if (duplicate_state(s, mi) == DUP_YES)
		return 0;
	/* On PEER_WOULD_BLOCK push_one marks the backlog itself. */
	return push_one(rp, mi->id, mi->ci.send.ts, mi->ci.send.data, mi->ci.send.len) == 0;
}

/*
 * Held SENDs. One pushed early usually comes back RECEIVED within a millisecond or two; if
 * it waits on the loop until then, it is never stored (only its idempotency record is),
 * which saves the writer the envelope's insert and delete. It goes to the writer when its
 * RECEIVED comes, when received_wait_ms have passed, or before any later SEND to the same
 * recipient is submitted: each mailbox reaches the store in id order, which the pump
 * relies on. Its sender is answered on RECEIVED or after the commit, as any other.
 */
static void on_hold_timer(uv_timer_t *t);

static void
hold_timer_arm(struct server *s)
{
	uint64_t now = uv_now(s->loop);

	if (s->held_head == NULL) {
		uv_timer_stop(&s->hold_timer);
		return;
	}
	uv_timer_start(&s->hold_timer, on_hold_timer,
	    s->held_head->hold_until > now ? s->held_head->hold_until - now : 0, 0);
}

static void
hold(struct server *s, struct mail_item *mi)
{
	int was_empty = s->held_head == NULL;

	mi->held = 1;
	mi->hold_until = uv_now(s->loop) + s->cfg.received_wait_ms;
	mi->hnext = NULL;
	mi->hprev = s->held_tail;
	if (s->held_tail)
		s->held_tail->hnext = mi;
	else
		s->held_head = mi;
	s->held_tail = mi;
	if (was_empty)
		hold_timer_arm(s);
}

static void
held_unlink(struct server *s, struct mail_item *mi)
{
	if (mi->hprev)
		mi->hprev->hnext = mi->hnext;
	else
		s->held_head = mi->hnext;
	if (mi->hnext)
		mi->hnext->hprev = mi->hprev;
	else
		s->held_tail = mi->hprev;
	mi->hprev = mi->hnext = NULL;
	mi->held = 0;
}

static void
held_submit(struct server *s, struct mail_item *mi)
{
	held_unlink(s, mi);
	commit_submit(s->commit, &mi->ci);
}

static void
held_flush_recipient(struct server *s, int64_t recipient)
{
	struct mail_item *mi;

	/* s->mailq holds every SEND to recipient not yet done, in id order. */
	for (mi = bucket_of(s, recipient)->head; mi; mi = mi->qnext)
		if (mi->held && mi->ci.send.recipient == recipient)
			held_submit(s, mi);
}

static void
on_hold_timer(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t now = uv_now(s->loop);

	while (s->held_head != NULL && s->held_head->hold_until <= now)
		held_submit(s, s->held_head);
	hold_timer_arm(s);
}

int
mailbox_init(struct server *s)
{
	uv_timer_init(s->loop, &s->hold_timer);
	s->hold_timer.data = s;
	uv_unref((uv_handle_t *)&s->hold_timer);
	randombytes_buf(s->mailq_hash_key, sizeof(s->mailq_hash_key));
	return index_resize(s, MAILQ_INDEX_MIN);
}

void
mailbox_flush_held(struct server *s)
{
	while (s->held_head != NULL)
		held_submit(s, s->held_head);
	uv_timer_stop(&s->hold_timer);
	commit_defer_off(s->commit);
}

void
mailbox_close(struct server *s)
{
	uv_close((uv_handle_t *)&s->hold_timer, NULL);
}

/* A SEND's recipient, as the loop knows it. */
struct send_rcpt {
	int64_t id;
	struct acct *online;            /* NULL: not connected */
	int has_delivery;
	uint8_t delivery[SERVER_STORE_KEY_LEN];
};

/* The recipient of a SEND or SEND_SEALED, and the checks that need no token: 0 or the
 * status to answer. */
static int
send_recipient(struct server *s, const struct proto_send *sd, int sealed,
    struct send_rcpt *out)
{
	struct store_account rcpt;
	const uint8_t *ik;
	char name[STORE_NAME_MAX + 1];
	int r;

	if (sd->envelope_len == 0 || sd->envelope_len > s->cfg.max_envelope)
		return sd->envelope_len == 0 ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((r = server_local_name(s, sd->recipient, name)) != 0)
		return r;
	/* An online account needs no read of the store (a reset, `sottod accounts reset`,
	 * ends its connections: server_accts_revalidate). */
	if ((out->online = server_acct_find_name(s, name)) != NULL) {
		out->id = out->online->id;
		ik = out->online->identity_key;
		out->has_delivery = out->online->has_delivery;
		memcpy(out->delivery, out->online->delivery, sizeof(out->delivery));
	} else if ((!sealed && rcpt_cache_get(s, name, &rcpt) == 0) ||
	    (r = s->store->ops->account_by_name(s->store, name, &rcpt)) == 0) {
		/* A SEND_SEALED reads the store: the delivery token's verifier is checked. */
		rcpt_cache_put(s, &rcpt);
		out->id = rcpt.id;
		ik = rcpt.identity_key;
		out->has_delivery = rcpt.has_delivery;
		memcpy(out->delivery, rcpt.delivery, sizeof(out->delivery));
	} else {
		return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_UNKNOWN_USER : r;
	}
	/* Sealed to an identity the name no longer has: nobody could ever read it. */
	if (sd->has_identity && memcmp(sd->identity_pk, ik, sizeof(sd->identity_pk)) != 0)
		return SOTTO_ERR_IDENTITY_CHANGED;
	return 0;
}

static void send_accept(struct peer *p, const struct proto_msg *m, const struct send_rcpt *rc);

void
handle_send(struct peer *p, const struct proto_msg *m)
{
	struct send_rcpt rc;
	int r;

	if ((r = send_recipient(p->srv, &m->u.send, 0, &rc)) != 0) {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	send_accept(p, m, &rc);
}

/* A SEND on an unidentified connection: the same, once the recipient's delivery token
 * and its mailbox's sealed rate allow it. */
void
handle_send_sealed(struct peer *p, const struct proto_msg *m)
{
	struct send_rcpt rc;
	int r;

	if ((r = send_recipient(p->srv, &m->u.send, 1, &rc)) != 0 ||
	    (r = delivery_admit(p->srv, rc.id, rc.has_delivery, rc.delivery,
	    m->u.send.token)) != 0) {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	send_accept(p, m, &rc);
}

/* Takes the SEND: an envelope id now, an early push if its recipient is caught up, and
 * its commit. */
static void
send_accept(struct peer *p, const struct proto_msg *m, const struct send_rcpt *rc)
{
	struct server *s = p->srv;
	const struct proto_send *sd = &m->u.send;
	struct mail_item *mi;
	int64_t rcpt_id = rc->id, id;
	int r;

	if ((r = next_env_id(s, &id)) != 0) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_STORAGE);
		return;
	}
	if ((mi = calloc(1, sizeof(*mi) + sd->envelope_len)) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	memcpy(mi->data, sd->envelope, sd->envelope_len);
	mi->id = id;
	mi->req_type = m->type;
	mi->ci.kind = COMMIT_SEND;
	mi->ci.owner = p;
	mi->ci.tag = m->id;
	mi->ci.send.recipient = rcpt_id;
	mi->ci.send.env_id = id;
	memcpy(mi->ci.send.cmid, sd->client_msg_id, sizeof(mi->ci.send.cmid));
	mi->ci.send.data = mi->data;
	mi->ci.send.len = sd->envelope_len;
	mi->ci.send.ts = wall_ms();
	/* Checked by the commit against counters it reads once per mailbox and batch. */
	mi->ci.send.mailbox_max = s->cfg.mailbox_max;
	mi->ci.send.mailbox_max_bytes = (uint64_t)s->cfg.mailbox_max_mib << 20;
	p->commits++;
	s->counters.sends++;
	mailq_add(s, mi);
	if (push_early(s, rc->online, mi) && s->cfg.received_wait_ms > 0 && !s->draining) {
		hold(s, mi);
		return;
	}
	held_flush_recipient(s, rcpt_id);
	commit_submit(s->commit, &mi->ci);
}

/*
 * A RECEIVED naming a SEND not yet done: its envelope is durable on the recipient, so its
 * sender is answered now. If the writer does not have it yet, only its idempotency
 * record will be written (returns 1: nothing to delete); otherwise it is being stored and
 * the delete follows in a later batch (returns 0).
 */
static int
received_pending(struct server *s, struct mail_item *mi)
{
	int skip = 0;

	if (mi->received)
		return 0;
	mi->received = 1;
	if (mi->held) {
		/* Only its idempotency record is left to write, and its sender is answered
		 * below: nothing waits for that commit. */
		mi->ci.send.skip_envelope = 1;
		held_unlink(s, mi);
		commit_submit_deferred(s->commit, &mi->ci);
		skip = 1;
	} else if (!commit_item_handed(s->commit, &mi->ci)) {
		mi->ci.send.skip_envelope = 1;
		skip = 1;
	}
	if (!mi->acked)
		answer_send(mi, 0);
	return skip;
}

void
handle_received(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_received *rc = &m->u.received;
	struct store_del *dels;
	struct mail_item *mi, *pend;
	size_t nd = 0;
	/* Answering a sender below may close p (a SEND to oneself whose answer does not fit):
	 * its account is read once, here. */
	int64_t me = p->acct->id, id;

	if ((mi = calloc(1, sizeof(*mi) + rc->n * sizeof(struct store_del))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	s->counters.received += rc->n;
	dels = (struct store_del *)(void *)mi->data;
	for (size_t i = 0; i < rc->n; i++) {
		id = (int64_t)(rc->ids[i] & INT64_MAX);
		/* Only the caller's own mailbox is searched. */
		if ((pend = mailq_find(s, me, id)) != NULL && received_pending(s, pend))
			continue;
		dels[nd].recipient = me;
		dels[nd].id = id;
		if (pend != NULL) {
			/* Being stored now: the writer need not read its record's key back. */
			dels[nd].known = 1;
			dels[nd].len = pend->ci.send.len;
			memcpy(dels[nd].cmid, pend->ci.send.cmid, STORE_CMID_LEN);
		}
		nd++;
	}
	if (nd == 0) {
		free(mi);
		peer_respond(p, m->type, m->id, 0);
	} else {
		mi->ci.kind = COMMIT_DELETE;
		mi->ci.owner = p;
		mi->ci.tag = m->id;
		mi->ci.dels = dels;
		mi->ci.n_dels = nd;
		p->commits++;
		commit_submit(s->commit, &mi->ci);
	}
	p->push_inflight = p->push_inflight > rc->n ? p->push_inflight - (uint32_t)rc->n : 0;
	server_push_progress(p);
	mailbox_pump(p);
	server_acct_wake_due(p);
}
