/* This device's MLS signature key and credential, and our KeyPackages: made here, their
 * private keys stored until a Welcome uses them. */
#include "client/client_int.h"
#include "client/group.h"

#include <string.h>

#include <sodium.h>

#include "base/cursor.h"
#include "crypto/sign.h"
#include "mls/credential.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/welcome.h"

#define SIGNER_SETTING "mls_signer"
#define SIGNER_VERSION 1
#define SIGNER_LEN (1 + 64 + 4)

_Static_assert(MLS_CRED_ENCODED_MAX <= sizeof(((struct client_signer *)0)->cred), "credential fits");
_Static_assert(STORE_KP_REF_LEN == MLS_HASH_LEN, "KeyPackageRef");

void
client_signer_wipe(struct client_signer *sg)
{
	sodium_memzero(sg, sizeof(*sg));
}

/* setting: u8 version || Ed25519 secret key (64) || u32 device id */
static int
signer_decode(const uint8_t *p, size_t n, struct client_signer *sg)
{
	struct cur c;

	cur_init(&c, p, n);
	if (cur_u8(&c) != SIGNER_VERSION)
		cur_fail(&c, SOTTO_ERR_CORRUPT);
	cur_copy(&c, sg->sec, sizeof(sg->sec));
	sg->device_id = cur_u32(&c);
	return cur_finish(&c) == 0 ? 0 : SOTTO_ERR_CORRUPT;
}

static int
signer_new(struct sotto *s, struct client_signer *sg)
{
	uint8_t pub[SIGN_PUBLIC_LEN], rec[SIGNER_LEN];   /* rec SECRET */
	struct buf b;
	int r;

	if ((r = sign_keypair(pub, sg->sec)) != 0)
		return r;
	sg->device_id = CLIENT_DEVICE_ID;
	buf_init_fixed(&b, rec, sizeof(rec));
	buf_u8(&b, SIGNER_VERSION);
	buf_put(&b, sg->sec, sizeof(sg->sec));
	buf_u32(&b, sg->device_id);
	if ((r = buf_status(&b)) == 0)
		r = store_setting_put(s->st, SIGNER_SETTING, rec, b.len);
	sodium_memzero(rec, sizeof(rec));
	return r;
}

int
client_signer_load(struct sotto *s, struct client_signer *out)
{
	uint8_t *v = NULL;
	size_t n = 0;
	struct buf cred;
	int r, own_tx;

	memset(out, 0, sizeof(*out));
	if (!s->have_id)
		return SOTTO_ERR_NO_ACCOUNT;
	/* Made once: under the write lock, so two processes cannot make two. */
	if ((r = client_tx_begin(s, &own_tx)) != 0)
		return r;
	if ((r = store_setting_get(s->st, SIGNER_SETTING, &v, &n)) == 0)
		r = signer_decode(v, n, out);
	else if (r == SOTTO_ERR_NOT_FOUND)
		r = signer_new(s, out);
	store_blob_free(v, n);
	if ((r = client_tx_end(s, own_tx, r)) != 0)
		goto out;
	buf_init_fixed(&cred, out->cred, sizeof(out->cred));
	r = mls_credential_create(&cred, s->k->id.identity_sk, s->k->id.address, out->device_id,
	    out->sec + 32);
	out->cred_len = cred.len;
out:
	if (r != 0)
		client_signer_wipe(out);
	return r;
}

int
client_key_packages_prune(struct sotto *s)
{
	uint64_t now = client_now();
	size_t n = 0;
	int r;

	/* not_after = created + CLIENT_KP_LIFETIME */
	if (now <= CLIENT_KP_LIFETIME)
		return 0;
	if ((r = store_key_package_prune(s->st, now - CLIENT_KP_LIFETIME, &n)) != 0)
		return r;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int
client_key_package_new(struct sotto *s, int last_resort, struct buf *out)
{
	struct client_signer sg;
	struct mls_key_package_secrets ks;
	struct store_key_package k;
	uint64_t now = client_now();
	struct buf kp;
	int r;

	memset(&k, 0, sizeof(k));
	memset(&ks, 0, sizeof(ks));
	buf_init_dyn(&kp, STORE_KEY_PACKAGE_MAX);
	if ((r = client_signer_load(s, &sg)) != 0)
		return r;
	if ((r = mls_key_package_create(&kp, &ks, sg.sec, sg.cred, sg.cred_len,
	    now - CLIENT_KP_BACKDATE, now + CLIENT_KP_LIFETIME)) != 0 ||
	    (r = mls_key_package_ref(k.ref, kp.p, kp.len)) != 0)
		goto out;
	k.last_resort = last_resort != 0;
	k.created = now;
	memcpy(k.init_sec, ks.init_sec, sizeof(k.init_sec));
	memcpy(k.enc_sec, ks.enc_sec, sizeof(k.enc_sec));
	k.kp = kp.p;
	k.kp_len = kp.len;
	/* Its private keys are durable before anyone can have the KeyPackage. */
	if ((r = store_key_package_put(s->st, &k)) != 0)
		goto out;
	buf_put(out, kp.p, kp.len);
	r = buf_status(out);
out:
	sodium_memzero(&k, sizeof(k));
	mls_key_package_secrets_wipe(&ks);
	client_signer_wipe(&sg);
	buf_free(&kp);
	return r;
}
