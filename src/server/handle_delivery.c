/*
 * Delivery tokens (issue 15, docs/PROTOCOL-wire.md DELIVERY_TOKEN and SEND_SEALED): a
 * member sets the verifier of its token; a SEND_SEALED on an unidentified connection is
 * taken only with a token that matches its recipient's verifier, and only at the
 * recipient mailbox's sealed rate. The server keeps the verifier, never the token, and
 * never learns who holds it.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/log.h"

struct delivery_job {
	struct commit_item ci;          /* first: the job is freed through it */
	int64_t account;
	int has_verifier;
	uint8_t verifier[SERVER_STORE_KEY_LEN];
};

/* Writer thread. */
static int
delivery_write(struct server_store *st, struct commit_item *it)
{
	struct delivery_job *j = (struct delivery_job *)(void *)it;

	return st->ops->delivery_set(st, j->account, j->has_verifier ? j->verifier : NULL);
}

/* Loop thread, after the write: the online entry follows the store. */
static void
delivery_done(struct commit_item *it)
{
	struct delivery_job *j = (struct delivery_job *)(void *)it;
	struct peer *p = it->owner;
	struct acct *a;

	if (it->result == 0 && (a = server_acct_find(p->srv, j->account)) != NULL) {
		a->has_delivery = j->has_verifier;
		memcpy(a->delivery, j->verifier, sizeof(a->delivery));
	}
	if (p->state != PEER_CLOSED)
		peer_respond(p, PROTO_DELIVERY_TOKEN, (uint32_t)it->tag, it->result);
	free(j);
}

void
handle_delivery_token(struct peer *p, const struct proto_msg *m)
{
	static const uint8_t none[PROTO_TOKEN_LEN];
	struct delivery_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	j->account = p->acct->id;
	j->has_verifier = sodium_memcmp(m->u.delivery.verifier, none, sizeof(none)) != 0;
	memcpy(j->verifier, m->u.delivery.verifier, sizeof(j->verifier));
	peer_submit_call(p, &j->ci, delivery_write, delivery_done, m->id);
}

int
delivery_admit(struct server *s, int64_t recipient, int has_verifier,
    const uint8_t verifier[SERVER_STORE_KEY_LEN], const uint8_t token[PROTO_TOKEN_LEN])
{
	uint8_t v[PROTO_TOKEN_LEN], key[RATELIMIT_ADDR_LEN];
	int ok;

	proto_delivery_verifier(v, token);
	ok = has_verifier && sodium_memcmp(v, verifier, sizeof(v)) == 0;
	sodium_memzero(v, sizeof(v));
	if (!ok)
		return SOTTO_ERR_AUTH;
	/* The mailbox's key: its account id in the first 8 bytes (ratelimit.h). */
	memset(key, 0, sizeof(key));
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)((uint64_t)recipient >> (8 * (7 - i)));
	if (!ratelimit_key_take(s->sealed_mailboxes, key, s->cfg.sealed_rate, s->cfg.sealed_burst,
	    server_now_ms(s))) {
		log_debug("a mailbox's sealed rate exceeded");
		return SOTTO_ERR_LIMIT;
	}
	return 0;
}
