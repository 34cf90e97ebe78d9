/*
 * REGISTER (open, or with a one-time invite token) and SENDER_CERTIFICATE.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/log.h"
#include "wire/cert.h"

struct register_job {
	struct commit_item ci;          /* first: the job is freed through it */
	struct store_account a;
	int has_token;
	uint8_t token_hash[STORE_TOKEN_HASH_LEN];
};

/* Writer thread: the account, and the invite consumed in the same transaction. */
static int
register_write(struct server_store *st, struct commit_item *it)
{
	struct register_job *j = (struct register_job *)it;

	return st->ops->account_create(st, j->a.name, j->a.identity_key, j->a.device_key,
	    j->has_token ? j->token_hash : NULL, &j->a.id);
}

/* Loop thread, after the write. */
static void
register_done(struct commit_item *it)
{
	struct register_job *j = (struct register_job *)it;
	struct peer *p = it->owner;
	int r = it->result;

	if (p->state == PEER_CLOSED) {
		/* Registered or not, this connection is gone; the device can connect again. */
	} else if (r != 0) {
		log_info("conn %llu: registration refused: %s", (unsigned long long)p->id,
		    sotto_strerror(r));
		peer_respond(p, PROTO_REGISTER, (uint32_t)it->tag, r);
	} else {
		if (log_get_level() >= LOG_DEBUG)
			log_debug("conn %llu: registered %s@%s", (unsigned long long)p->id,
			    j->a.name, p->srv->cfg.domain);
		else
			log_info("conn %llu: registered an account", (unsigned long long)p->id);
		peer_respond(p, PROTO_REGISTER, (uint32_t)it->tag, 0);
		if (p->state == PEER_GUEST)
			peer_become_member(p, &j->a);
	}
	sodium_memzero(j->token_hash, sizeof(j->token_hash));
	free(j);
}

void
handle_register(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_register *rg = &m->u.reg;
	struct register_job *j = NULL;
	char name[STORE_NAME_MAX + 1];
	int r;

	if (p->state == PEER_MEMBER) {
		r = SOTTO_ERR_EXISTS;
		goto fail;
	}
	if ((r = server_local_name(s, rg->address, name)) != 0)
		goto fail;
	/* The account's device must be the one that completed this handshake. */
	if (memcmp(rg->device_pk, p->device_key, sizeof(p->device_key)) != 0) {
		r = SOTTO_ERR_AUTH;
		goto fail;
	}
	if ((r = proto_register_verify(rg)) != 0)
		goto fail;
	if (s->cfg.registration == CONFIG_REG_INVITE && rg->invite_len == 0) {
		r = SOTTO_ERR_AUTH;
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto fail;
	}
	memcpy(j->a.name, name, sizeof(name));
	memcpy(j->a.identity_key, rg->identity_pk, 32);
	memcpy(j->a.device_key, rg->device_pk, 32);
	/* With open registration a token is needed only for a name a reset reserved. */
	if (s->cfg.registration == CONFIG_REG_INVITE || rg->invite_len > 0) {
		/* Only the token's hash is stored: a database leak grants no registrations. */
		crypto_generichash(j->token_hash, sizeof(j->token_hash), rg->invite,
		    rg->invite_len, NULL, 0);
		j->has_token = 1;
	}
	peer_submit_call(p, &j->ci, register_write, register_done, m->id);
	return;
fail:
	log_info("conn %llu: registration refused: %s", (unsigned long long)p->id,
	    sotto_strerror(r));
	peer_respond(p, m->type, m->id, r);
}

void
handle_sender_certificate(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct proto_msg resp;
	char address[ADDRESS_MAX + 1];
	uint64_t expiry = (uint64_t)time(NULL) + s->cfg.cert_ttl;
	int r;

	memset(&resp, 0, sizeof(resp));
	if ((size_t)snprintf(address, sizeof(address), "%s@%s", p->acct->name, s->cfg.domain) >=
	    sizeof(address)) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_INTERNAL);
		return;
	}
	proto_response(&resp, m->type, m->id, 0);
	r = cert_make(address, p->acct->identity_key, expiry, s->sk, resp.u.cert.cert,
	    sizeof(resp.u.cert.cert), &resp.u.cert.len);
	if (r != 0) {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	(void)peer_send(p, &resp);
}

/*
 * LOOKUP: whether an address on this server has an account, so that a mail client hears
 * of an unknown recipient at RCPT time. It tells a registered user nothing FETCH_BUNDLE
 * would not, costs no prekey, and is rate limited like every request.
 */
void
handle_lookup(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct store_account acct;
	char name[STORE_NAME_MAX + 1];
	int r;

	if ((r = server_local_name(s, m->u.lookup.address, name)) == 0 &&
	    (r = s->store->ops->account_by_name(s->store, name, &acct)) == SOTTO_ERR_NOT_FOUND)
		r = SOTTO_ERR_UNKNOWN_USER;
	sodium_memzero(&acct, sizeof(acct));
	peer_respond(p, m->type, m->id, r);
}
