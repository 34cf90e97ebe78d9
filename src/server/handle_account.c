/*
 * REGISTER (open, or with a one-time invite token) and SENDER_CERTIFICATE.
 */
#include "server/server.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/log.h"
#include "wire/cert.h"

void
handle_register(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_register *rg = &m->u.reg;
	uint8_t token_hash[STORE_TOKEN_HASH_LEN];
	const uint8_t *th = NULL;
	struct store_account a;
	char name[STORE_NAME_MAX + 1];
	int64_t id = 0;
	int r;

	if (p->state == PEER_MEMBER) {
		r = SOTTO_ERR_EXISTS;
		goto out;
	}
	if ((r = server_local_name(s, rg->address, name)) != 0)
		goto out;
	/* The account's device must be the one that completed this handshake. */
	if (memcmp(rg->device_pk, p->device_key, sizeof(p->device_key)) != 0) {
		r = SOTTO_ERR_AUTH;
		goto out;
	}
	if ((r = proto_register_verify(rg)) != 0)
		goto out;
	if (s->cfg.registration == CONFIG_REG_INVITE) {
		if (rg->invite_len == 0) {
			r = SOTTO_ERR_AUTH;
			goto out;
		}
		/* Only the token's hash is stored: a database leak grants no registrations. */
		crypto_generichash(token_hash, sizeof(token_hash), rg->invite, rg->invite_len,
		    NULL, 0);
		th = token_hash;
	}
	r = s->store->ops->account_create(s->store, name, rg->identity_pk, rg->device_pk, th, &id);
	sodium_memzero(token_hash, sizeof(token_hash));
	if (r != 0)
		goto out;
	log_info("conn %llu: registered %s@%s", (unsigned long long)p->id, name, s->cfg.domain);
	peer_respond(p, m->type, m->id, 0);
	memset(&a, 0, sizeof(a));
	a.id = id;
	memcpy(a.name, name, sizeof(name));
	memcpy(a.identity_key, rg->identity_pk, 32);
	memcpy(a.device_key, rg->device_pk, 32);
	if (p->state != PEER_CLOSED)
		peer_become_member(p, &a);
	return;
out:
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
