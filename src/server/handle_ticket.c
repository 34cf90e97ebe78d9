/*
 * TICKET: a logged-in device asks for a resumption ticket (wire/ticket.h); each login,
 * full or resumed, may take a fresh one. The ticket key is the server's, loaded from
 * DATA/ticket.key at start.
 *
 * LOGIN: the same ticket, and the device's login generation checked and advanced
 * (store_login in store.h): a copy of a device's store that comes back after the other
 * copy moved on is refused with SOTTO_ERR_DEVICE_CLONED.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/log.h"

int
server_set_ticket_key(struct server *s, const uint8_t key[TICKET_KEY_LEN])
{
	if (s->ticket == NULL && (s->ticket = sodium_malloc(sizeof(*s->ticket))) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(s->ticket->key, key, TICKET_KEY_LEN);
	memcpy(s->ticket->server_pk, s->pk, sizeof(s->ticket->server_pk));
	sodium_mprotect_readonly(s->ticket);
	return 0;
}

/* A fresh ticket for p's device into t (t->psk is secret). */
static int
ticket_fill(struct peer *p, struct proto_ticket_result *t)
{
	struct server *s = p->srv;
	struct ticket_contents tc;
	int r;

	r = ticket_issue(s->ticket, p->device_key, s->cfg.ticket_lifetime,
	    (uint64_t)time(NULL), t->ticket, &tc);
	if (r != 0) {
		log_error("conn %llu: cannot issue a ticket: %s", (unsigned long long)p->id,
		    sotto_strerror(r));
		return SOTTO_ERR_INTERNAL;
	}
	memcpy(t->psk, tc.psk, TICKET_PSK_LEN);
	t->expiry = tc.expiry;
	ticket_contents_wipe(&tc);
	return 0;
}

static int
tickets_on(const struct server *s)
{
	return s->ticket != NULL && s->cfg.ticket_lifetime > 0;
}

/* Sends resp, which holds a psk, and wipes it and its encoding. */
static void
send_secret(struct peer *p, struct proto_msg *resp)
{
	struct server *s = p->srv;

	(void)peer_send(p, resp);
	/* The psk was encoded into the shared buffer before sealing. */
	sodium_memzero(s->encbuf, s->encbuf_cap < 512 ? s->encbuf_cap : 512);
	sodium_memzero(resp, sizeof(*resp));
}

void
handle_ticket(struct peer *p, const struct proto_msg *m)
{
	struct proto_msg resp;
	int r;

	if (!tickets_on(p->srv)) {
		peer_respond(p, PROTO_TICKET, m->id, SOTTO_ERR_UNSUPPORTED);
		return;
	}
	proto_response(&resp, PROTO_TICKET, m->id, 0);
	if ((r = ticket_fill(p, &resp.u.ticket)) != 0) {
		peer_respond(p, PROTO_TICKET, m->id, r);
		return;
	}
	send_secret(p, &resp);
}

/* Loop thread, after the batch with this LOGIN is stored. */
static void
login_done(struct commit_item *it)
{
	struct peer *p = it->owner;
	struct proto_msg resp;
	int r = it->result != 0 ? it->result : it->login.result;

	if (p->state == PEER_CLOSED) {
		free(it);
		return;
	}
	if (r == SOTTO_ERR_DEVICE_CLONED) {
		if (log_get_level() >= LOG_DEBUG)
			log_warn("conn %llu: %s@%s: refused a copy of the device's store (login "
			    "generation %llu is no longer valid)", (unsigned long long)p->id,
			    p->acct->name, p->srv->cfg.domain,
			    (unsigned long long)it->login.presented);
		else
			log_warn("conn %llu: refused a copy of the device's store (login "
			    "generation %llu is no longer valid)", (unsigned long long)p->id,
			    (unsigned long long)it->login.presented);
		peer_respond(p, PROTO_LOGIN, (uint32_t)it->tag, r);
		peer_close_flushed(p, "device cloned");
	} else if (r != 0) {
		peer_respond(p, PROTO_LOGIN, (uint32_t)it->tag, r);
	} else {
		proto_response(&resp, PROTO_LOGIN, (uint32_t)it->tag, 0);
		resp.u.logged_in.generation = it->login.next;
		if (tickets_on(p->srv)) {
			resp.u.logged_in.has_ticket = 1;
			r = ticket_fill(p, &resp.u.logged_in.ticket);
		}
		if (r == 0)
			send_secret(p, &resp);
		else
			peer_respond(p, PROTO_LOGIN, (uint32_t)it->tag, r);
	}
	free(it);
}

void
handle_login(struct peer *p, const struct proto_msg *m)
{
	struct commit_item *it;

	if ((it = calloc(1, sizeof(*it))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	it->kind = COMMIT_LOGIN;
	it->finish = login_done;
	it->owner = p;
	it->tag = m->id;
	it->login.account = p->acct->id;
	it->login.presented = m->u.login.generation;
	p->commits++;
	commit_submit(p->srv->commit, it);
}
