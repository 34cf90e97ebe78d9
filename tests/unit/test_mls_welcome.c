/*
 * Joining by Welcome (src/mls/welcome.c, key_schedule.c) on welcome.json: the
 * KeyPackage's reference finds the member's EncryptedGroupSecrets, the init key decrypts
 * them, the welcome secret decrypts the GroupInfo, its signature verifies under the
 * signer's key, and the confirmation tag verifies under the confirmation key of the epoch
 * the joiner computes. Then the rejects: another init key, another reference, a changed
 * encrypted GroupInfo, another signer.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "mls/key_schedule.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/transcript.h"
#include "mls/welcome.h"

static int
welcome_entry(const json_t *e, size_t idx)
{
	uint8_t init_sec[MLS_KEM_SECRET_LEN], init_pub[MLS_KEM_PUBLIC_LEN], ref[MLS_HASH_LEN];
	uint8_t signer[MLS_SIG_PUBLIC_LEN], psk_secret[MLS_HASH_LEN] = { 0 };
	uint8_t welcome_secret[MLS_HASH_LEN], gc_mem[1024];
	size_t kp_len, w_len;
	uint8_t *kp_bytes = mls_vec_hex(e, "key_package", &kp_len);
	uint8_t *w_bytes = mls_vec_hex(e, "welcome", &w_len);
	struct mls_message kp, w;
	struct mls_group_secrets gs;
	struct mls_group_info gi;
	struct mls_epoch_secrets epoch;
	struct buf secrets_plain, gi_plain, gc;
	int ok = kp_bytes != NULL && w_bytes != NULL &&
	    mls_vec_hex_fixed(e, "init_priv", init_sec, sizeof(init_sec)) == 0 &&
	    mls_vec_hex_fixed(e, "signer_pub", signer, sizeof(signer)) == 0;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	buf_init_dyn(&secrets_plain, MLS_MESSAGE_MAX);
	buf_init_dyn(&gi_plain, MLS_MESSAGE_MAX);
	if (!ok)
		goto out;
	VCHECK(ok, mls_vec_message(&kp, kp_bytes, kp_len, MLS_WIRE_KEY_PACKAGE));
	VCHECK(ok, mls_vec_message(&w, w_bytes, w_len, MLS_WIRE_WELCOME));
	if (!ok)
		goto out;
	/* The init key is the KeyPackage's. */
	VCHECK(ok, dh_public(init_pub, init_sec) == 0 &&
	    memcmp(init_pub, kp.key_package.init_key, MLS_KEM_PUBLIC_LEN) == 0);
	VCHECK(ok, mls_key_package_ref(ref, kp.key_package.encoding, kp.key_package.encoding_len) == 0);
	VCHECK(ok, mls_welcome_open_secrets(&w.welcome, ref, init_sec, &secrets_plain, &gs) == 0);
	if (!ok)
		goto out;
	VCHECK(ok, gs.psks_len == 0);    /* no PSK here: psk_secret is zero */
	VCHECK(ok, mls_welcome_secret(welcome_secret, gs.joiner_secret, psk_secret) == 0);
	VCHECK(ok, mls_welcome_open_group_info(&w.welcome, welcome_secret, &gi_plain, &gi) == 0);
	if (!ok)
		goto out;
	VCHECK(ok, mls_group_info_verify(&gi, signer) == 0);
	buf_init_fixed(&gc, gc_mem, sizeof(gc_mem));
	mls_group_context_write(&gc, &gi.gc);
	VCHECK(ok, buf_status(&gc) == 0 && gi.gc.confirmed_transcript_hash_len == MLS_HASH_LEN);
	VCHECK(ok, ok && mls_key_schedule_join(&epoch, gs.joiner_secret, psk_secret, gc.p, gc.len) == 0);
	VCHECK(ok, ok && mls_confirmation_tag_verify(gi.confirmation_tag, MLS_HASH_LEN,
	    epoch.confirmation_key, gi.gc.confirmed_transcript_hash) == 0);

	/* Rejects. */
	init_sec[1] ^= 1;    /* byte 0's low bits are clamped away */
	VCHECK(ok, mls_welcome_open_secrets(&w.welcome, ref, init_sec, &secrets_plain, &gs) ==
	    SOTTO_ERR_DECRYPT);
	init_sec[1] ^= 1;
	ref[0] ^= 1;
	VCHECK(ok, mls_welcome_open_secrets(&w.welcome, ref, init_sec, &secrets_plain, &gs) ==
	    SOTTO_ERR_NOT_FOUND);
	ref[0] ^= 1;
	signer[0] ^= 1;
	VCHECK(ok, mls_group_info_verify(&gi, signer) == SOTTO_ERR_BAD_SIGNATURE);
	/* A changed byte of the encrypted GroupInfo breaks both: it is the secrets' HPKE
	 * context and the GroupInfo's ciphertext. */
	((uint8_t *)w.welcome.encrypted_group_info)[5] ^= 1;
	VCHECK(ok, mls_welcome_open_group_info(&w.welcome, welcome_secret, &gi_plain, &gi) ==
	    SOTTO_ERR_DECRYPT);
	VCHECK(ok, mls_welcome_open_secrets(&w.welcome, ref, init_sec, &secrets_plain, &gs) ==
	    SOTTO_ERR_DECRYPT);
	mls_epoch_secrets_wipe(&epoch);
out:
	sodium_memzero(init_sec, sizeof(init_sec));
	sodium_memzero(welcome_secret, sizeof(welcome_secret));
	buf_wipe_free(&secrets_plain);
	buf_wipe_free(&gi_plain);
	free(kp_bytes);
	free(w_bytes);
	return ok;
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("welcome.json", 1, welcome_entry);
	return check_summary();
}
