/*
 * The prekey directory: UPLOAD_PREKEYS by an account, FETCH_BUNDLE by anyone registered,
 * each one-time prekey handed out once, and a PREKEY_LOW notice to the owner when its
 * stock runs low.
 */
#include "server/server.h"

#include <string.h>

#include "server/log.h"

void
prekeys_check_low(struct peer *p, int64_t account, int force)
{
	struct server *s = p->srv;
	struct proto_msg n;
	uint32_t count = 0;

	if (s->store->ops->prekey_count(s->store, account, &count) != 0)
		return;
	if (!force && count >= s->cfg.prekey_low)
		return;
	memset(&n, 0, sizeof(n));
	n.type = PROTO_PREKEY_LOW;
	n.id = 0;
	n.u.prekey_low.count = count;
	(void)peer_send(p, &n);
}

void
handle_upload_prekeys(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	const struct proto_upload_prekeys *u = &m->u.upload;
	struct store_signed_prekey spk;
	struct store_prekey otpk[PROTO_MAX_OTPK];
	int r;

	/* The signed prekey's signature is checked by whoever fetches the bundle (X3DH);
	 * the server stores keys as given by the authenticated owner. */
	spk.id = u->spk.id;
	memcpy(spk.key, u->spk.pub, sizeof(spk.key));
	memcpy(spk.sig, u->spk.sig, sizeof(spk.sig));
	for (size_t i = 0; i < u->n_otpk; i++) {
		otpk[i].id = u->otpk[i].id;
		memcpy(otpk[i].key, u->otpk[i].pub, sizeof(otpk[i].key));
	}
	r = s->store->ops->prekeys_put(s->store, p->acct->id, &spk, otpk, u->n_otpk,
	    s->cfg.prekey_max);
	peer_respond(p, m->type, m->id, r);
}

void
handle_fetch_bundle(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct store_account owner;
	struct store_bundle b;
	struct proto_msg resp;
	struct acct *a;
	char name[STORE_NAME_MAX + 1];
	int r;

	if ((r = server_local_name(s, m->u.fetch.address, name)) != 0 ||
	    (r = s->store->ops->account_by_name(s->store, name, &owner)) != 0 ||
	    (r = s->store->ops->bundle_take(s->store, owner.id, &b)) != 0) {
		peer_respond(p, m->type, m->id, r);
		return;
	}
	memset(&resp, 0, sizeof(resp));
	proto_response(&resp, m->type, m->id, 0);
	memcpy(resp.u.bundle.identity_pk, b.account.identity_key, 32);
	resp.u.bundle.spk.id = b.spk.id;
	memcpy(resp.u.bundle.spk.pub, b.spk.key, 32);
	memcpy(resp.u.bundle.spk.sig, b.spk.sig, 64);
	resp.u.bundle.has_otpk = b.has_otpk;
	if (b.has_otpk) {
		resp.u.bundle.otpk.id = b.otpk.id;
		memcpy(resp.u.bundle.otpk.pub, b.otpk.key, 32);
	}
	(void)peer_send(p, &resp);
	if (b.remaining < s->cfg.prekey_low && (a = server_acct_find(s, owner.id)) != NULL &&
	    a->peers != NULL && (b.has_otpk || b.remaining == 0)) {
		log_debug("prekeys of %s low: %u left", owner.name, b.remaining);
		prekeys_check_low(a->peers, owner.id, 1);
	}
}
