/*
 * TICKET: a logged-in device asks for a resumption ticket (wire/ticket.h); each login,
 * full or resumed, may take a fresh one. The ticket key is the server's, loaded from
 * DATA/ticket.key at start.
 */
#include "server/server.h"

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

void
handle_ticket(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct ticket_contents tc;
	struct proto_msg resp;
	int r;

	if (s->ticket == NULL || s->cfg.ticket_lifetime == 0) {
		peer_respond(p, PROTO_TICKET, m->id, SOTTO_ERR_UNSUPPORTED);
		return;
	}
	proto_response(&resp, PROTO_TICKET, m->id, 0);
	r = ticket_issue(s->ticket, p->device_key, s->cfg.ticket_lifetime,
	    (uint64_t)time(NULL), resp.u.ticket.ticket, &tc);
	if (r != 0) {
		log_error("conn %llu: cannot issue a ticket: %s", (unsigned long long)p->id,
		    sotto_strerror(r));
		peer_respond(p, PROTO_TICKET, m->id, SOTTO_ERR_INTERNAL);
		return;
	}
	memcpy(resp.u.ticket.psk, tc.psk, TICKET_PSK_LEN);
	resp.u.ticket.expiry = tc.expiry;
	(void)peer_send(p, &resp);
	/* The psk was encoded into the shared buffer before sealing. */
	sodium_memzero(s->encbuf, s->encbuf_cap < 512 ? s->encbuf_cap : 512);
	sodium_memzero(&resp, sizeof(resp));
	ticket_contents_wipe(&tc);
}
