/*
 * Our prekeys on the server: the signed prekey and its rotation, one-time X25519 prekeys,
 * and the signed ML-KEM-768 prekeys of PQXDH (a last-resort one, rotated with the signed
 * prekey, and one-time ones). Private halves are stored before the public ones are
 * uploaded.
 */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kem_prekey.h"
#include "crypto/mlkem.h"
#include "crypto/suite_native.h"
#include "wire/proto.h"

_Static_assert(MLKEM768_EK_LEN == PROTO_KEM_EK_LEN, "ML-KEM-768 encapsulation keys");
_Static_assert(MLKEM768_DK_LEN == STORE_KEM_DK_LEN, "ML-KEM-768 decapsulation keys");
_Static_assert(STORE_KEM_EK_OFFSET == 384 * MLKEM768_K, "dk = dk_PKE || ek || H(ek) || z");

/* The public halves of the ML-KEM prekeys of one upload (the request borrows them). */
struct kem_batch {
	uint8_t ek[PROTO_MAX_KEM_OTPK + 1][MLKEM768_EK_LEN];
	uint8_t sig[PROTO_MAX_KEM_OTPK + 1][PROTO_SIG_LEN];
};

static int
new_spk(struct sotto *s, struct store_spk *spk)
{
	struct x3dh_keypair kp;
	uint32_t id;
	int r;

	if ((r = store_prekey_next_id(s->st, STORE_PREKEY_SIGNED, 1, &id)) != 0)
		return r;
	if ((r = x3dh_keypair_generate(&kp, id)) != 0)
		return r;
	memset(spk, 0, sizeof(*spk));
	spk->id = id;
	spk->created = client_now();
	memcpy(spk->pk, kp.pub, 32);
	memcpy(spk->sk, kp.sec, 32);
	if ((r = x3dh_sign_prekey(&suite_native, &s->k->xid, &kp, spk->sig)) == 0)
		r = store_spk_put(s->st, spk);
	x3dh_keypair_wipe(&kp);
	return r;
}

/* A new ML-KEM prekey with id: stored (decapsulation key and signature), its
 * encapsulation key and signature in ek and sig. */
static int
new_kem(struct sotto *s, uint32_t id, int last_resort, uint8_t ek[MLKEM768_EK_LEN],
    uint8_t sig[PROTO_SIG_LEN])
{
	struct store_kem_prekey k;
	int r;

	memset(&k, 0, sizeof(k));
	k.id = id;
	k.last_resort = last_resort;
	k.created = client_now();
	if ((r = mlkem768_keygen(ek, k.dk)) == 0 &&
	    (r = kem_prekey_sign(k.sig, id, ek, s->k->id.identity_sk)) == 0) {
		memcpy(sig, k.sig, PROTO_SIG_LEN);
		r = store_kem_prekey_put(s->st, &k);
	}
	store_kem_prekey_wipe(&k);
	return r;
}

/* Generates, stores and puts into u: n one-time X25519 prekeys, n_kem one-time ML-KEM
 * prekeys and, if new_lr, a last-resort ML-KEM prekey. One transaction. */
static int
stock_prekeys(struct sotto *s, struct proto_upload_prekeys *u, struct kem_batch *kb,
    uint32_t n, uint32_t n_kem, int new_lr)
{
	struct x3dh_keypair kp;
	uint32_t first = 0, i, n_ids = n_kem + (new_lr ? 1 : 0);
	int r;

	if ((r = store_begin(s->st)) != 0)
		return r;
	if (n > 0 && (r = store_prekey_next_id(s->st, STORE_PREKEY_ONETIME, n, &first)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = x3dh_keypair_generate(&kp, first + i)) != 0)
			goto out;
		r = store_otpk_put(s->st, first + i, kp.pub, kp.sec);
		u->otpk[i].id = first + i;
		memcpy(u->otpk[i].pub, kp.pub, 32);
		x3dh_keypair_wipe(&kp);
		if (r != 0)
			goto out;
	}
	u->n_otpk = n;
	if (n_ids > 0 &&
	    (r = store_prekey_next_id(s->st, STORE_PREKEY_KEM, n_ids, &first)) != 0)
		goto out;
	for (i = 0; i < n_kem; i++) {
		if ((r = new_kem(s, first + i, 0, kb->ek[i], kb->sig[i])) != 0)
			goto out;
		u->kem[i].id = first + i;
		u->kem[i].ek = kb->ek[i];
		u->kem[i].sig = kb->sig[i];
	}
	u->n_kem = n_kem;
	if (new_lr) {
		if ((r = new_kem(s, first + n_kem, 1, kb->ek[n_kem], kb->sig[n_kem])) != 0)
			goto out;
		u->has_kem_last_resort = 1;
		u->kem_last_resort.id = first + n_kem;
		u->kem_last_resort.ek = kb->ek[n_kem];
		u->kem_last_resort.sig = kb->sig[n_kem];
	}
	r = store_commit(s->st);
out:
	if (r != 0)
		store_rollback(s->st);
	return r;
}

/*
 * The upload; if the server refuses it for its cap (one kind's stock is full while the
 * other ran low: PREKEY_LOW reports the smaller), the ML-KEM part alone and then the
 * X25519 part alone, so that the low kind is still refilled.
 */
static int
send_upload(struct sotto *s, struct proto_msg *req, int timeout_ms)
{
	struct proto_upload_prekeys *u = &req->u.upload;
	struct proto_msg resp;
	size_t n = u->n_otpk, n_kem = u->n_kem;
	int r, r2;

	r = client_request(s, req, &resp, timeout_ms);
	if (r != SOTTO_ERR_LIMIT || n == 0 || (n_kem == 0 && !u->has_kem_last_resort))
		return r;
	u->n_otpk = 0;
	r = client_request(s, req, &resp, timeout_ms);
	u->n_otpk = n;
	u->n_kem = 0;
	u->has_kem_last_resort = 0;
	r2 = client_request(s, req, &resp, timeout_ms);
	u->n_kem = n_kem;
	return r != 0 ? r : r2;
}

int
client_upload_prekeys(struct sotto *s, int want_new_spk, uint32_t n, uint32_t n_kem,
    int timeout_ms)
{
	struct proto_msg *req = NULL;
	struct kem_batch *kb = NULL;
	struct store_spk spk;
	int r;

	memset(&spk, 0, sizeof(spk));
	if (n > PROTO_MAX_OTPK)
		n = PROTO_MAX_OTPK;
	if (n_kem > PROTO_MAX_KEM_OTPK)
		n_kem = PROTO_MAX_KEM_OTPK;
	if ((req = calloc(1, sizeof(*req))) == NULL || (kb = malloc(sizeof(*kb))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	r = want_new_spk ? new_spk(s, &spk) : store_spk_latest(s->st, &spk);
	if (r != 0)
		goto out;
	req->type = PROTO_UPLOAD_PREKEYS;
	req->u.upload.spk.id = spk.id;
	memcpy(req->u.upload.spk.pub, spk.pk, 32);
	memcpy(req->u.upload.spk.sig, spk.sig, 64);
	/* A new last-resort ML-KEM prekey comes with each new signed prekey. */
	if ((r = stock_prekeys(s, &req->u.upload, kb, n, n_kem, want_new_spk)) != 0)
		goto out;
	r = send_upload(s, req, timeout_ms);
out:
	store_spk_wipe(&spk);
	free(kb);
	free(req);
	return r;
}

/*
 * Rotates the signed prekey (and the last-resort ML-KEM prekey with it) when it is due;
 * the old ones go after the grace period. A store from before ML-KEM prekeys (no
 * last-resort one) rotates at once and uploads a batch of one-time ML-KEM prekeys, so
 * that peers' new sessions with us are PQXDH from then on.
 */
int
client_maintain_spk(struct sotto *s, int timeout_ms)
{
	struct store_spk spk;
	struct store_kem_prekey lr;
	uint64_t now = client_now(), created;
	int r, have_lr;

	if ((r = store_spk_latest(s->st, &spk)) != 0)
		return r;
	created = spk.created;
	store_spk_wipe(&spk);
	r = store_kem_last_resort_latest(s->st, &lr);
	store_kem_prekey_wipe(&lr);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		return r;
	have_lr = r == 0;
	s->next_maintain = now + CLIENT_MAINTAIN_EVERY;
	if (have_lr && created + s->spk_rotate > now)
		return 0;
	if ((r = client_upload_prekeys(s, 1, 0, have_lr ? 0 : CLIENT_OTPK_BATCH,
	    timeout_ms)) != 0)
		return r;
	if (now > (uint64_t)s->spk_rotate + s->spk_grace) {
		if ((r = store_spk_prune(s->st, now - s->spk_rotate - s->spk_grace)) != 0)
			return r;
		return store_kem_last_resort_prune(s->st, now - s->spk_rotate - s->spk_grace);
	}
	return 0;
}

int
client_bundle_kem_check(const struct proto_bundle *pb)
{
	if (!pb->has_kem)
		return 0;
	return kem_prekey_verify(pb->kem_sig, pb->kem_id, pb->kem_ek, pb->identity_pk);
}
