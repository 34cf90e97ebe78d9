/*
 * Sotto's MLS credential (src/mls/credential.c): a basic credential whose identity bytes
 * carry the account's address, identity key and device id, signed by the identity key
 * over the leaf's MLS signature key. Valid ones verify inside a KeyPackage; a forged
 * signature, another identity key, address, device id or signature key, and every
 * malformed encoding (truncated, a byte more, oversized or NUL-bearing address, short
 * key, other version) are refused.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "check.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/credential.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"

#define ADDR "alice@example.org"

struct keys {
	uint8_t id_pub[32], id_sec[64];       /* the account's identity key (SECRET) */
	uint8_t mls_pub[32], mls_sec[64];     /* the device's MLS signature key (SECRET) */
};

static int
keys_init(struct keys *k)
{
	return sign_keypair(k->id_pub, k->id_sec) == 0 && sign_keypair(k->mls_pub, k->mls_sec) == 0;
}

/* A SottoCredential from its fields, as a peer might send it. */
static void
encode(struct buf *b, uint8_t version, const void *addr, size_t alen, const uint8_t *key,
    size_t klen, uint32_t device, const uint8_t *sig, size_t slen)
{
	buf_reset(b);
	buf_u8(b, version);
	mls_buf_opaque(b, addr, alen);
	mls_buf_opaque(b, key, klen);
	buf_u32(b, device);
	mls_buf_opaque(b, sig, slen);
}

TEST(valid_credential_verifies)
{
	struct mls_sotto_credential cr;
	struct keys k;
	struct buf b;

	REQUIRE(keys_init(&k));
	buf_init_dyn(&b, MLS_CRED_ENCODED_MAX);
	REQUIRE(mls_credential_create(&b, k.id_sec, ADDR, 1, k.mls_pub) == 0);
	CHECK(b.len <= MLS_CRED_ENCODED_MAX);
	REQUIRE(mls_credential_parse(b.p, b.len, &cr) == 0);
	CHECK(cr.address_len == strlen(ADDR) && memcmp(cr.address, ADDR, cr.address_len) == 0);
	CHECK(memcmp(cr.identity_key, k.id_pub, 32) == 0);
	CHECK_EQ_INT(cr.device_id, 1);
	CHECK_EQ_INT(mls_credential_verify(&cr, k.mls_pub), 0);
	/* Signed bytes: label || signature key || opaque address<V> || device id. */
	{
		uint8_t tbs[256];
		size_t n = 0;

		memcpy(tbs, MLS_CRED_LABEL, strlen(MLS_CRED_LABEL));
		n = strlen(MLS_CRED_LABEL);
		memcpy(tbs + n, k.mls_pub, 32);
		n += 32;
		tbs[n++] = (uint8_t)strlen(ADDR);
		memcpy(tbs + n, ADDR, strlen(ADDR));
		n += strlen(ADDR);
		memcpy(tbs + n, "\0\0\0\1", 4);
		n += 4;
		CHECK_EQ_INT(sign_verify(cr.signature, tbs, n, k.id_pub), 0);
	}
	/* The longest address fits MLS_CRED_ENCODED_MAX. */
	{
		char addr[MLS_CRED_ADDRESS_MAX + 2];

		memset(addr, 'a', sizeof(addr));
		addr[MLS_CRED_ADDRESS_MAX] = '\0';
		buf_reset(&b);
		CHECK_EQ_INT(mls_credential_create(&b, k.id_sec, addr, 7, k.mls_pub), 0);
		CHECK_EQ_INT(b.len, MLS_CRED_ENCODED_MAX);
		addr[MLS_CRED_ADDRESS_MAX] = 'a';
		addr[MLS_CRED_ADDRESS_MAX + 1] = '\0';
		buf_reset(&b);
		CHECK_EQ_INT(mls_credential_create(&b, k.id_sec, addr, 7, k.mls_pub), SOTTO_ERR_INVALID_ARG);
		CHECK_EQ_INT(mls_credential_create(&b, k.id_sec, "", 7, k.mls_pub), SOTTO_ERR_INVALID_ARG);
	}
	buf_free(&b);
	sodium_memzero(&k, sizeof(k));
}

TEST(credential_in_key_package_verifies_for_its_leaf)
{
	uint64_t now = (uint64_t)time(NULL);
	struct mls_key_package_secrets ks;
	struct mls_key_package kp;
	struct mls_sotto_credential cr;
	struct mls_leaf_node other;
	struct keys k, k2;
	struct buf cred, kpb;
	struct cur c;

	REQUIRE(keys_init(&k) && keys_init(&k2));
	buf_init_dyn(&cred, MLS_CRED_ENCODED_MAX);
	buf_init_dyn(&kpb, MLS_MESSAGE_MAX);
	REQUIRE(mls_credential_create(&cred, k.id_sec, ADDR, 1, k.mls_pub) == 0);
	REQUIRE(mls_key_package_create(&kpb, &ks, k.mls_sec, cred.p, cred.len, now - 60,
	    now + 3600) == 0);
	cur_init(&c, kpb.p, kpb.len);
	mls_key_package_read(&c, &kp);
	REQUIRE(cur_finish(&c) == 0);
	CHECK_EQ_INT(mls_key_package_verify(&kp, now), 0);
	CHECK_EQ_INT(mls_credential_of_leaf(&kp.leaf, &cr), 0);
	CHECK(memcmp(cr.identity_key, k.id_pub, 32) == 0);
	/* The same credential on a leaf with another signature key does not verify: a
	 * credential cannot be lifted onto someone else's leaf. */
	other = kp.leaf;
	other.signature_key = k2.mls_pub;
	CHECK_EQ_INT(mls_credential_of_leaf(&other, &cr), SOTTO_ERR_BAD_SIGNATURE);
	other = kp.leaf;
	other.credential_type = MLS_CREDENTIAL_X509;
	CHECK_EQ_INT(mls_credential_of_leaf(&other, &cr), SOTTO_ERR_UNSUPPORTED);
	mls_key_package_secrets_wipe(&ks);
	buf_free(&cred);
	buf_free(&kpb);
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(&k2, sizeof(k2));
}

/* The encoded credential b parses; it does not verify for the signature key. */
static int
refused(const struct buf *b, const uint8_t mls_pub[32])
{
	struct mls_sotto_credential cr;

	return mls_credential_parse(b->p, b->len, &cr) == 0 &&
	    mls_credential_verify(&cr, mls_pub) == SOTTO_ERR_BAD_SIGNATURE;
}

TEST(forged_or_moved_credentials_are_refused)
{
	struct mls_sotto_credential cr;
	struct keys k, other;
	uint8_t sig[64];
	struct buf b, good;

	REQUIRE(keys_init(&k) && keys_init(&other));
	buf_init_dyn(&b, MLS_CRED_ENCODED_MAX);
	buf_init_dyn(&good, MLS_CRED_ENCODED_MAX);
	REQUIRE(mls_credential_create(&good, k.id_sec, ADDR, 1, k.mls_pub) == 0);
	REQUIRE(mls_credential_parse(good.p, good.len, &cr) == 0);
	memcpy(sig, cr.signature, sizeof(sig));
	/* The original, re-encoded from its fields, verifies (so the changes below are the
	 * only reason for a refusal). */
	encode(&b, 1, ADDR, strlen(ADDR), k.id_pub, 32, 1, sig, 64);
	CHECK(b.len == good.len && memcmp(b.p, good.p, b.len) == 0);
	CHECK(!refused(&b, k.mls_pub));
	/* A forged signature: every bit of it. */
	{
		size_t i;
		int all = 1;

		for (i = 0; i < 64 * 8; i++) {
			sig[i / 8] ^= (uint8_t)(1u << (i % 8));
			encode(&b, 1, ADDR, strlen(ADDR), k.id_pub, 32, 1, sig, 64);
			all &= refused(&b, k.mls_pub);
			sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		}
		CHECK(all);
	}
	/* Another identity key (someone claiming the account with their own key). */
	encode(&b, 1, ADDR, strlen(ADDR), other.id_pub, 32, 1, sig, 64);
	CHECK(refused(&b, k.mls_pub));
	/* Another address, another device id. */
	encode(&b, 1, "mallory@example.org", 19, k.id_pub, 32, 1, sig, 64);
	CHECK(refused(&b, k.mls_pub));
	encode(&b, 1, ADDR, strlen(ADDR), k.id_pub, 32, 2, sig, 64);
	CHECK(refused(&b, k.mls_pub));
	/* Another leaf's signature key. */
	encode(&b, 1, ADDR, strlen(ADDR), k.id_pub, 32, 1, sig, 64);
	CHECK(refused(&b, other.mls_pub));
	/* Another account's properly signed credential for the same key and address is
	 * valid by itself: whether its identity key is the account's is the client's check
	 * against its contacts (test_client_group). */
	buf_reset(&b);
	REQUIRE(mls_credential_create(&b, other.id_sec, ADDR, 1, k.mls_pub) == 0);
	CHECK(!refused(&b, k.mls_pub));
	buf_free(&b);
	buf_free(&good);
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(&other, sizeof(other));
}

TEST(malformed_credentials_are_refused)
{
	struct mls_sotto_credential cr;
	uint8_t big[MLS_CRED_ADDRESS_MAX + 1], key[32] = { 1 }, sig[64] = { 2 };
	struct buf b;
	size_t n, i;
	int all = 1;

	buf_init_dyn(&b, 2 * MLS_CRED_ENCODED_MAX);
	encode(&b, 1, ADDR, strlen(ADDR), key, 32, 1, sig, 64);
	REQUIRE(mls_credential_parse(b.p, b.len, &cr) == 0);
	/* Truncated anywhere, or with a byte more. */
	n = b.len;
	for (i = 0; i < n; i++)
		all &= mls_credential_parse(b.p, i, &cr) != 0;
	CHECK(all);
	buf_u8(&b, 0);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_TRAILING);
	/* Another version. */
	encode(&b, 2, ADDR, strlen(ADDR), key, 32, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_BAD_VERSION);
	/* An address over the cap (refused before its bytes are read), empty, or with a NUL. */
	memset(big, 'a', sizeof(big));
	encode(&b, 1, big, sizeof(big), key, 32, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_TOO_LARGE);
	encode(&b, 1, big, sizeof(big) - 1, key, 32, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), 0);
	encode(&b, 1, "", 0, key, 32, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_MALFORMED);
	encode(&b, 1, "a\0b@example.org", 15, key, 32, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_MALFORMED);
	/* Keys and signatures of the wrong size. */
	encode(&b, 1, ADDR, strlen(ADDR), key, 31, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_MALFORMED);
	encode(&b, 1, ADDR, strlen(ADDR), big, 33, 1, sig, 64);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_TOO_LARGE);
	encode(&b, 1, ADDR, strlen(ADDR), key, 32, 1, sig, 63);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_MALFORMED);
	encode(&b, 1, ADDR, strlen(ADDR), key, 32, 1, big, 65);
	CHECK_EQ_INT(mls_credential_parse(b.p, b.len, &cr), SOTTO_ERR_TOO_LARGE);
	buf_free(&b);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(valid_credential_verifies);
	RUN(credential_in_key_package_verifies_for_its_leaf);
	RUN(forged_or_moved_credentials_are_refused);
	RUN(malformed_credentials_are_refused);
	return check_summary();
}
