/*
 * The prekey directory: UPLOAD_PREKEYS by an account, FETCH_BUNDLE by anyone registered,
 * each one-time prekey (X25519 and ML-KEM) handed out once, and a PREKEY_LOW notice to the
 * owner when its stock runs low. Both writes run on the writer thread.
 */
#include "server/server.h"

#include <stdlib.h>
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

struct upload_job {
	struct commit_item ci;          /* first */
	int64_t account;
	uint32_t max;
	size_t n;
	struct store_signed_prekey spk;
	struct store_prekey otpk[PROTO_MAX_OTPK];
	int has_kem;
	struct store_kem_prekey kem_lr;
	struct store_kem_upload kem;
	struct store_kem_prekey kem_otpk[PROTO_MAX_KEM_OTPK];
};

_Static_assert(STORE_KEM_KEY_LEN == PROTO_KEM_EK_LEN, "ML-KEM-768 keys");

static int
upload_write(struct server_store *st, struct commit_item *it)
{
	struct upload_job *j = (struct upload_job *)it;

	return st->ops->prekeys_put(st, j->account, &j->spk, j->otpk, j->n,
	    j->has_kem ? &j->kem : NULL, j->max);
}

static void
upload_done(struct commit_item *it)
{
	struct peer *p = it->owner;

	if (p->state != PEER_CLOSED)
		peer_respond(p, PROTO_UPLOAD_PREKEYS, (uint32_t)it->tag, it->result);
	free(it);
}

static void
kem_copy(struct store_kem_prekey *to, const struct proto_kem_prekey *from)
{
	to->id = from->id;
	memcpy(to->key, from->ek, sizeof(to->key));
	memcpy(to->sig, from->sig, sizeof(to->sig));
}

void
handle_upload_prekeys(struct peer *p, const struct proto_msg *m)
{
	const struct proto_upload_prekeys *u = &m->u.upload;
	struct upload_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	/* The signed prekey's signature is checked by whoever fetches the bundle (X3DH);
	 * the server stores keys as given by the authenticated owner. */
	j->account = p->acct->id;
	j->max = p->srv->cfg.prekey_max;
	j->spk.id = u->spk.id;
	memcpy(j->spk.key, u->spk.pub, sizeof(j->spk.key));
	memcpy(j->spk.sig, u->spk.sig, sizeof(j->spk.sig));
	j->n = u->n_otpk;
	for (size_t i = 0; i < u->n_otpk; i++) {
		j->otpk[i].id = u->otpk[i].id;
		memcpy(j->otpk[i].key, u->otpk[i].pub, sizeof(j->otpk[i].key));
	}
	/* ML-KEM prekeys: signatures are the fetcher's to check, like the signed prekey's. */
	j->has_kem = u->has_kem_last_resort || u->n_kem > 0;
	if (u->has_kem_last_resort) {
		kem_copy(&j->kem_lr, &u->kem_last_resort);
		j->kem.last_resort = &j->kem_lr;
	}
	for (size_t i = 0; i < u->n_kem; i++)
		kem_copy(&j->kem_otpk[i], &u->kem[i]);
	j->kem.onetime = j->kem_otpk;
	j->kem.n = u->n_kem;
	peer_submit_call(p, &j->ci, upload_write, upload_done, m->id);
}

struct fetch_job {
	struct commit_item ci;          /* first */
	int64_t owner;
	struct store_bundle b;
};

static int
fetch_write(struct server_store *st, struct commit_item *it)
{
	struct fetch_job *j = (struct fetch_job *)it;

	return st->ops->bundle_take(st, j->owner, &j->b);
}

static void
fetch_done(struct commit_item *it)
{
	struct fetch_job *j = (struct fetch_job *)it;
	struct peer *p = it->owner;
	struct server *s = p->srv;
	struct proto_msg resp;
	struct acct *a;

	if (it->result != 0) {
		if (p->state != PEER_CLOSED)
			peer_respond(p, PROTO_FETCH_BUNDLE, (uint32_t)it->tag, it->result);
		free(j);
		return;
	}
	if (p->state != PEER_CLOSED) {
		memset(&resp, 0, sizeof(resp));
		proto_response(&resp, PROTO_FETCH_BUNDLE, (uint32_t)it->tag, 0);
		memcpy(resp.u.bundle.identity_pk, j->b.account.identity_key, 32);
		resp.u.bundle.spk.id = j->b.spk.id;
		memcpy(resp.u.bundle.spk.pub, j->b.spk.key, 32);
		memcpy(resp.u.bundle.spk.sig, j->b.spk.sig, 64);
		resp.u.bundle.has_otpk = j->b.has_otpk;
		if (j->b.has_otpk) {
			resp.u.bundle.otpk.id = j->b.otpk.id;
			memcpy(resp.u.bundle.otpk.pub, j->b.otpk.key, 32);
		}
		resp.u.bundle.has_kem = j->b.has_kem;
		if (j->b.has_kem) {
			resp.u.bundle.kem_id = j->b.kem.id;
			memcpy(resp.u.bundle.kem_ek, j->b.kem.key, PROTO_KEM_EK_LEN);
			memcpy(resp.u.bundle.kem_sig, j->b.kem.sig, PROTO_SIG_LEN);
		}
		(void)peer_send(p, &resp);
	}
	/* The owner hears of every fetch that leaves its stock under the threshold; an owner
	 * that is offline hears it when it next connects. */
	if (j->b.remaining < s->cfg.prekey_low && (a = server_acct_find(s, j->owner)) != NULL &&
	    a->peers != NULL) {
		log_debug("prekeys of %s low: %u left", j->b.account.name, j->b.remaining);
		prekeys_check_low(a->peers, j->owner, 1);
	}
	free(j);
}

void
handle_fetch_bundle(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct store_account owner;
	struct fetch_job *j;
	char name[STORE_NAME_MAX + 1];
	int r;

	if ((r = server_local_name(s, m->u.fetch.address, name)) != 0 ||
	    (r = s->store->ops->account_by_name(s->store, name, &owner)) != 0) {
		peer_respond(p, m->type, m->id,
		    r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_UNKNOWN_USER : r);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	j->owner = owner.id;
	peer_submit_call(p, &j->ci, fetch_write, fetch_done, m->id);
}
