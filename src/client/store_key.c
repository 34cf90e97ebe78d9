/*
 * The store's key hierarchy:
 *   passphrase --Argon2id(salt, ops, mem)--> wrapping key (transient)
 *   wrapping key --XChaCha20-Poly1305--> data key (random, 32 bytes, wrapped in meta)
 *   data key --crypto_kdf--> record key (seals rows), lookup key (keys row hashes)
 * A passphrase change rewraps the data key only. A wrong passphrase fails to unwrap:
 * SOTTO_ERR_PASSPHRASE. A data key that unwraps but does not open the check record means
 * the meta table was tampered with: SOTTO_ERR_CORRUPT.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "client/store_int.h"

#define KDF_SALT_LEN crypto_pwhash_SALTBYTES
#define KDF_BLOB_LEN (1 + 8 + 8 + KDF_SALT_LEN)
#define WRAP_LEN (1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + STORE_KEY_LEN + \
	crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define WRAP_VERSION 1
/* Caps on what a (possibly hostile) file may ask of Argon2id. */
#define KDF_OPS_MAX 16
#define KDF_MEM_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

_Static_assert(KDF_SALT_LEN == 16, "salt");

static const char wrap_domain[] = "sotto.store.wrap.v1";
static const char check_text[] = "sotto store key check v1";
static const char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "sottostr";

static void
level_limits(enum store_kdf_level level, uint64_t *ops, uint64_t *mem)
{
	switch (level) {
	case STORE_KDF_TEST_MIN:
		*ops = crypto_pwhash_argon2id_OPSLIMIT_MIN;
		*mem = crypto_pwhash_argon2id_MEMLIMIT_MIN;
		break;
	case STORE_KDF_MODERATE:
		*ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
		break;
	case STORE_KDF_INTERACTIVE:
	default:
		*ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
		break;
	}
}

/* Argon2id runs in this process (store_kdf_runs). */
static atomic_ulong kdf_runs;

unsigned long
store_kdf_runs(void)
{
	return atomic_load(&kdf_runs);
}

/* wkey is secret. */
static int
derive_wrapping_key(uint8_t wkey[STORE_KEY_LEN], const uint8_t *pass, size_t pass_len,
    const uint8_t kdf[KDF_BLOB_LEN])
{
	const uint8_t *salt;
	uint64_t ops, mem;
	struct cur c;
	uint8_t alg;

	cur_init(&c, kdf, KDF_BLOB_LEN);
	alg = cur_u8(&c);
	ops = cur_u64(&c);
	mem = cur_u64(&c);
	salt = cur_ref(&c, KDF_SALT_LEN);
	if (cur_finish(&c) != 0 || salt == NULL || alg != crypto_pwhash_ALG_ARGON2ID13 ||
	    ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > KDF_OPS_MAX ||
	    mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > KDF_MEM_MAX)
		return SOTTO_ERR_CORRUPT;
	atomic_fetch_add(&kdf_runs, 1);
	if (crypto_pwhash(wkey, STORE_KEY_LEN, (const char *)pass, pass_len, salt,
	    (unsigned long long)ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return SOTTO_ERR_NOMEM;
	return 0;
}

static void
wrap_ad(uint8_t ad[sizeof(wrap_domain) + KDF_BLOB_LEN], const uint8_t kdf[KDF_BLOB_LEN])
{
	memcpy(ad, wrap_domain, sizeof(wrap_domain));
	memcpy(ad + sizeof(wrap_domain), kdf, KDF_BLOB_LEN);
}

static int
derive_subkeys(struct store_keys *k)
{
	if (crypto_kdf_derive_from_key(k->record, sizeof(k->record), 1, kdf_context,
	    k->data) != 0 ||
	    crypto_kdf_derive_from_key(k->lookup, sizeof(k->lookup), 2, kdf_context,
	    k->data) != 0)
		return SOTTO_ERR_CRYPTO;
	return 0;
}

int
store_key_wrap(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level)
{
	uint8_t kdf[KDF_BLOB_LEN], wrapped[WRAP_LEN], ad[sizeof(wrap_domain) + KDF_BLOB_LEN];
	uint8_t wkey[STORE_KEY_LEN];    /* secret */
	uint64_t ops, mem;
	uint8_t *salt;
	struct buf b;
	int r;

	level_limits(level, &ops, &mem);
	buf_init_fixed(&b, kdf, sizeof(kdf));
	buf_u8(&b, crypto_pwhash_ALG_ARGON2ID13);
	buf_u64(&b, ops);
	buf_u64(&b, mem);
	salt = buf_reserve(&b, KDF_SALT_LEN);
	if ((r = buf_status(&b)) != 0 || salt == NULL)
		return r != 0 ? r : SOTTO_ERR_INTERNAL;
	randombytes_buf(salt, KDF_SALT_LEN);
	if ((r = derive_wrapping_key(wkey, pass, pass_len, kdf)) != 0)
		goto out;
	wrapped[0] = WRAP_VERSION;
	randombytes_buf(wrapped + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	wrap_ad(ad, kdf);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    wrapped + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
	    st->keys->data, STORE_KEY_LEN, ad, sizeof(ad), NULL, wrapped + 1, wkey);
	if ((r = store_meta_put_blob(st, "kdf", kdf, sizeof(kdf))) != 0 ||
	    (r = store_meta_put_blob(st, "wrapped", wrapped, sizeof(wrapped))) != 0)
		goto out;
	r = 0;
out:
	sodium_memzero(wkey, sizeof(wkey));
	return r;
}

int
store_key_new(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level)
{
	uint8_t *check = NULL;
	size_t check_len = 0;
	int r;

	sodium_mprotect_readwrite(st->keys);
	randombytes_buf(st->keys->data, sizeof(st->keys->data));
	r = derive_subkeys(st->keys);
	sodium_mprotect_readonly(st->keys);
	if (r != 0)
		return r;
	if ((r = store_key_wrap(st, pass, pass_len, level)) != 0)
		return r;
	if ((r = store_rec_seal(st->keys->record, "meta", (const uint8_t *)"check", 5,
	    (const uint8_t *)check_text, sizeof(check_text), &check, &check_len)) != 0)
		return r;
	r = store_meta_put_blob(st, "check", check, check_len);
	free(check);
	return r;
}

int
store_key_unlock(struct store *st, const uint8_t *pass, size_t pass_len)
{
	uint8_t *kdf = NULL, *wrapped = NULL, *check = NULL, *pt = NULL;
	size_t kdf_len = 0, wrapped_len = 0, check_len = 0, pt_len = 0;
	uint8_t ad[sizeof(wrap_domain) + KDF_BLOB_LEN];
	uint8_t wkey[STORE_KEY_LEN];    /* secret */
	const uint8_t *nonce, *ct;
	struct cur c;
	int r;

	if ((r = store_meta_get_blob(st, "kdf", KDF_BLOB_LEN, &kdf, &kdf_len)) != 0 ||
	    (r = store_meta_get_blob(st, "wrapped", WRAP_LEN, &wrapped, &wrapped_len)) != 0 ||
	    (r = store_meta_get_blob(st, "check", 256, &check, &check_len)) != 0) {
		if (r == SOTTO_ERR_NOT_FOUND)
			r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	r = SOTTO_ERR_CORRUPT;
	if (kdf_len != KDF_BLOB_LEN)
		goto out;
	cur_init(&c, wrapped, wrapped_len);
	if (cur_u8(&c) != WRAP_VERSION)
		goto out;
	nonce = cur_ref(&c, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	ct = cur_ref(&c, STORE_KEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (cur_finish(&c) != 0)
		goto out;
	if ((r = derive_wrapping_key(wkey, pass, pass_len, kdf)) != 0)
		goto out;
	wrap_ad(ad, kdf);
	sodium_mprotect_readwrite(st->keys);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(st->keys->data, NULL, NULL, ct,
	    STORE_KEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES, ad, sizeof(ad), nonce,
	    wkey) != 0) {
		sodium_memzero(st->keys, sizeof(*st->keys));
		sodium_mprotect_readonly(st->keys);
		r = SOTTO_ERR_PASSPHRASE;
		goto out;
	}
	r = derive_subkeys(st->keys);
	sodium_mprotect_readonly(st->keys);
	if (r != 0)
		goto out;
	if (store_rec_open(st->keys->record, "meta", (const uint8_t *)"check", 5, check,
	    check_len, 256, &pt, &pt_len) != 0 || pt_len != sizeof(check_text) ||
	    memcmp(pt, check_text, pt_len) != 0) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	r = 0;
out:
	sodium_memzero(wkey, sizeof(wkey));
	free(kdf);
	free(wrapped);
	free(check);
	free(pt);
	return r;
}
