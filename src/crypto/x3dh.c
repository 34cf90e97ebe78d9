#include "crypto/x3dh.h"

#include <string.h>
#include <sodium.h>

#include "crypto/mlkem.h"
#include "crypto/ratchet.h"

_Static_assert(X3DH_KEM_EK_LEN == MLKEM768_EK_LEN && X3DH_KEM_DK_LEN == MLKEM768_DK_LEN &&
    X3DH_KEM_CT_LEN == MLKEM768_CT_LEN && X3DH_KEM_SS_LEN == MLKEM768_SS_LEN, "ML-KEM-768");

int
x3dh_keypair_generate(struct x3dh_keypair *kp, uint32_t id)
{
	kp->id = id;
	return dh_keypair(kp->pub, kp->sec);
}

void
x3dh_keypair_wipe(struct x3dh_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

void
x3dh_identity_wipe(struct x3dh_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

int
x3dh_sign_prekey(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_keypair *spk, uint8_t sig[static X3DH_SIG_LEN])
{
	return s->sign_prekey(sig, me, spk->id, spk->pub);
}

int
x3dh_bundle_make(const struct ratchet_suite *s, struct x3dh_bundle *b,
    const struct x3dh_identity *me, uint32_t registration_id, const struct x3dh_keypair *spk,
    const struct x3dh_keypair *opk)
{
	if (me->pub_len != s->ident_pub_len || me->pub_len > sizeof(b->ident_pub))
		return SOTTO_ERR_INVALID_ARG;
	memset(b, 0, sizeof(*b));
	memcpy(b->ident_pub, me->pub, me->pub_len);
	b->ident_pub_len = me->pub_len;
	b->registration_id = registration_id;
	b->spk_id = spk->id;
	memcpy(b->spk_pub, spk->pub, DH_PUBLIC_LEN);
	if (opk != NULL) {
		b->has_opk = 1;
		b->opk_id = opk->id;
		memcpy(b->opk_pub, opk->pub, DH_PUBLIC_LEN);
	}
	return x3dh_sign_prekey(s, me, spk, b->spk_sig);
}

/* Verifies b and gives its identity key's X25519 form, converted once (the conversion is
 * a field square root: about a tenth of a session setup). */
static int
bundle_verify_dh(const struct ratchet_suite *s, const struct x3dh_bundle *b,
    uint8_t ik[DH_PUBLIC_LEN])
{
	int r;

	if (b->ident_pub_len != s->ident_pub_len || b->ident_pub_len > sizeof(b->ident_pub))
		return SOTTO_ERR_BAD_KEY;
	if ((r = s->ident_to_dh(ik, b->ident_pub, b->ident_pub_len)) != 0)
		return r;
	/* Without this check the server could substitute its own signed prekey. */
	if ((r = s->verify_prekey(b->ident_pub, b->ident_pub_len, b->spk_id, b->spk_pub,
	    b->spk_sig)) != 0 || !b->has_kem)
		return r;
	if (s->kdf_pqxdh == NULL || s->verify_kem_prekey == NULL)
		return SOTTO_ERR_UNSUPPORTED;
	/* ... nor its own KEM prekey (which would give it SS). */
	return s->verify_kem_prekey(b->ident_pub, b->ident_pub_len, b->kem_id, b->kem_ek,
	    b->kem_sig);
}

/* X3DH's or PQXDH's KDF over ikm, whichever the message is. */
static int
derive(const struct ratchet_suite *s, int pq, uint8_t rk[32], uint8_t ck[32],
    const uint8_t *ikm, size_t len)
{
	return pq ? s->kdf_pqxdh(rk, ck, ikm, len) : s->kdf_x3dh(rk, ck, ikm, len);
}

int
x3dh_bundle_verify(const struct ratchet_suite *s, const struct x3dh_bundle *b)
{
	uint8_t ik[DH_PUBLIC_LEN];

	return bundle_verify_dh(s, b, ik);
}

int
x3dh_initiate(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_bundle *b, struct x3dh_init_info *info, uint8_t rk[static 32],
    uint8_t ck[static 32])
{
	uint8_t ikb[DH_PUBLIC_LEN];
	uint8_t ek[DH_SECRET_LEN];          /* SECRET: ephemeral, gone when we return */
	uint8_t dh[X3DH_IKM_MAX];           /* SECRET */
	size_t dh_len = 3 * DH_SHARED_LEN;
	int r;

	memset(info, 0, sizeof(*info));
	memset(rk, 0, 32);
	memset(ck, 0, 32);
	if (me->pub_len != s->ident_pub_len || me->pub_len > sizeof(info->ident_pub))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = bundle_verify_dh(s, b, ikb)) != 0)
		return r;
	if ((r = dh_keypair(info->base_pub, ek)) != 0)
		goto out;
	if ((r = dh_shared(dh, me->dh_sec, b->spk_pub)) != 0 ||          /* DH1 */
	    (r = dh_shared(dh + 32, ek, ikb)) != 0 ||                     /* DH2 */
	    (r = dh_shared(dh + 64, ek, b->spk_pub)) != 0)                /* DH3 */
		goto out;
	if (b->has_opk) {
		if ((r = dh_shared(dh + 96, ek, b->opk_pub)) != 0)        /* DH4 */
			goto out;
		dh_len += DH_SHARED_LEN;
	}
	if (b->has_kem) {
		/* SS after the DH outputs (PQXDH); the ciphertext goes to the responder. */
		if ((r = mlkem768_encaps(info->kem_ct, dh + dh_len, b->kem_ek,
		    X3DH_KEM_EK_LEN)) != 0)
			goto out;
		dh_len += X3DH_KEM_SS_LEN;
		info->has_kem = 1;
		info->kem_id = b->kem_id;
	}
	if ((r = derive(s, b->has_kem, rk, ck, dh, dh_len)) != 0)
		goto out;
	info->spk_id = b->spk_id;
	info->has_opk = b->has_opk;
	info->opk_id = b->has_opk ? b->opk_id : 0;
	memcpy(info->ident_pub, me->pub, me->pub_len);
	info->ident_pub_len = me->pub_len;
out:
	sodium_memzero(ek, sizeof(ek));
	sodium_memzero(dh, sizeof(dh));
	if (r != 0) {
		sodium_memzero(rk, 32);
		sodium_memzero(ck, 32);
		memset(info, 0, sizeof(*info));
	}
	return r;
}

int
x3dh_respond(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_keypair *spk, const struct x3dh_keypair *opk, const uint8_t *kem_dk,
    const struct x3dh_init_info *info, uint8_t rk[static 32], uint8_t ck[static 32])
{
	uint8_t ika[DH_PUBLIC_LEN];
	uint8_t dh[X3DH_IKM_MAX];           /* SECRET */
	size_t dh_len = 3 * DH_SHARED_LEN;
	int r;

	memset(rk, 0, 32);
	memset(ck, 0, 32);
	if (spk == NULL || spk->id != info->spk_id)
		return SOTTO_ERR_NOT_FOUND;
	if (info->has_opk ? (opk == NULL || opk->id != info->opk_id) : opk != NULL)
		return SOTTO_ERR_NOT_FOUND;
	if ((info->has_kem != 0) != (kem_dk != NULL))
		return SOTTO_ERR_NOT_FOUND;
	if (info->has_kem && (s->kdf_pqxdh == NULL))
		return SOTTO_ERR_UNSUPPORTED;
	if (info->ident_pub_len != s->ident_pub_len || info->ident_pub_len > sizeof(info->ident_pub))
		return SOTTO_ERR_BAD_KEY;
	if ((r = s->ident_to_dh(ika, info->ident_pub, info->ident_pub_len)) != 0)
		return r;
	if ((r = dh_shared(dh, spk->sec, ika)) != 0 ||                    /* DH1 */
	    (r = dh_shared(dh + 32, me->dh_sec, info->base_pub)) != 0 ||  /* DH2 */
	    (r = dh_shared(dh + 64, spk->sec, info->base_pub)) != 0)      /* DH3 */
		goto out;
	if (info->has_opk) {
		if ((r = dh_shared(dh + 96, opk->sec, info->base_pub)) != 0) /* DH4 */
			goto out;
		dh_len += DH_SHARED_LEN;
	}
	if (info->has_kem) {
		/* A ciphertext not made for this key gives FIPS 203's implicit-rejection
		 * secret: the keys then differ and the first message does not decrypt. */
		if ((r = mlkem768_decaps(dh + dh_len, kem_dk, X3DH_KEM_DK_LEN, info->kem_ct,
		    X3DH_KEM_CT_LEN)) != 0)
			goto out;
		dh_len += X3DH_KEM_SS_LEN;
	}
	r = derive(s, info->has_kem, rk, ck, dh, dh_len);
out:
	sodium_memzero(dh, sizeof(dh));
	if (r != 0) {
		sodium_memzero(rk, 32);
		sodium_memzero(ck, 32);
	}
	return r;
}
