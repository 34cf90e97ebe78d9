/*
 * Mailboxes: SEND (acknowledged only once the group commit holding it is durable),
 * PUSH of queued envelopes to the recipient's connection (on connect, and as they are
 * committed), RECEIVED (deletes them, also through the writer thread).
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"

#define PUMP_BATCH 64

struct mail_item {
	struct commit_item ci;
	uint8_t data[];                 /* SEND: the envelope; RECEIVED: the store_del array */
};

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
	p->push_inflight++;
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
	while (p->state == PEER_MEMBER && p->backlog && p->push_inflight < s->cfg.push_window) {
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
		if (n < want)
			p->backlog = 0;
	}
}

static void
deliver_new(struct server *s, const struct commit_item *it)
{
	struct acct *a = server_acct_find(s, it->send.recipient);
	struct peer *p;

	if (a == NULL || (p = a->peers) == NULL || p->state != PEER_MEMBER)
		return;
	if (it->send.env_id <= p->last_pushed)
		return;                 /* already pushed by a read of the store */
	if (!p->backlog && p->push_inflight < s->cfg.push_window) {
		/* No room: push_one marks the backlog and the store has it for the pump. */
		(void)push_one(p, it->send.env_id, it->send.ts, it->send.data, it->send.len);
		return;
	}
	p->backlog = 1;
	mailbox_pump(p);
}

void
mailbox_commit_done(void *ud, struct commit_item *it)
{
	struct server *s = ud;
	struct peer *p = it->owner;
	struct proto_msg resp;
	int r;

	if (it->kind == COMMIT_CALL) {
		it->finish(it);         /* frees it */
		peer_commit_released(p);
		return;
	}
	if (it->kind == COMMIT_SEND) {
		r = it->result != 0 ? it->result : it->send.result;
		if (p->state != PEER_CLOSED) {
			memset(&resp, 0, sizeof(resp));
			proto_response(&resp, PROTO_SEND, (uint32_t)it->tag, r);
			resp.u.sent.timestamp = it->send.ts;
			(void)peer_send(p, &resp);
		}
		if (r == 0 && !it->send.duplicate)
			deliver_new(s, it);
	} else if (p->state != PEER_CLOSED) {
		peer_respond(p, PROTO_RECEIVED, (uint32_t)it->tag, it->result);
	}
	free(it);
	peer_commit_released(p);
}

void
handle_send(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_send *sd = &m->u.send;
	struct store_account rcpt;
	struct mail_item *mi;
	struct acct *online;
	char name[STORE_NAME_MAX + 1];
	int64_t rcpt_id;
	int r;

	if (sd->envelope_len == 0 || sd->envelope_len > s->cfg.max_envelope) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_TOO_LARGE);
		return;
	}
	if ((r = server_local_name(s, sd->recipient, name)) != 0) {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	/* Accounts are never deleted: an online one needs no read of the store. */
	if ((online = server_acct_find_name(s, name)) != NULL) {
		rcpt_id = online->id;
	} else if ((r = s->store->ops->account_by_name(s->store, name, &rcpt)) == 0) {
		rcpt_id = rcpt.id;
	} else {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	if ((mi = calloc(1, sizeof(*mi) + sd->envelope_len)) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	memcpy(mi->data, sd->envelope, sd->envelope_len);
	mi->ci.kind = COMMIT_SEND;
	mi->ci.owner = p;
	mi->ci.tag = m->id;
	mi->ci.send.recipient = rcpt_id;
	memcpy(mi->ci.send.sender_device, p->device_key, sizeof(p->device_key));
	memcpy(mi->ci.send.cmid, sd->client_msg_id, sizeof(mi->ci.send.cmid));
	mi->ci.send.data = mi->data;
	mi->ci.send.len = sd->envelope_len;
	mi->ci.send.ts = wall_ms();
	mi->ci.send.mailbox_max = s->cfg.mailbox_max;
	p->commits++;
	commit_submit(s->commit, &mi->ci);
}

void
handle_received(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_received *rc = &m->u.received;
	struct store_del *dels;
	struct mail_item *mi;

	if ((mi = calloc(1, sizeof(*mi) + rc->n * sizeof(struct store_del))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	dels = (struct store_del *)(void *)mi->data;
	for (size_t i = 0; i < rc->n; i++) {
		dels[i].recipient = p->acct->id;
		dels[i].id = (int64_t)(rc->ids[i] & INT64_MAX);
	}
	mi->ci.kind = COMMIT_DELETE;
	mi->ci.owner = p;
	mi->ci.tag = m->id;
	mi->ci.dels = dels;
	mi->ci.n_dels = rc->n;
	p->commits++;
	commit_submit(s->commit, &mi->ci);
	p->push_inflight = p->push_inflight > rc->n ? p->push_inflight - (uint32_t)rc->n : 0;
	mailbox_pump(p);
}
