/*
 * KeyPackages Sotto creates (src/mls/key_package.c): read back exactly, checked as a member
 * adding them checks them (both signatures, source, lifetime, keys apart), with private
 * keys that belong to their public ones; and the refusals of mls_key_package_verify: a
 * changed byte under either signature, outside the lifetime, init key equal to the
 * encryption key. The vector KeyPackages of passive-client-welcome.json verify within
 * their lifetime and are refused after it.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/key_package.h"
#include "mls/message.h"

#define NOW 1800000000u

/* Reads b as exactly one KeyPackage into kp. */
static int
read_exact(struct mls_key_package *kp, const uint8_t *p, size_t len)
{
	struct cur c;

	cur_init(&c, p, len);
	mls_key_package_read(&c, kp);
	return cur_finish(&c);
}

/* mls_key_package_verify of the KeyPackage with byte i flipped. */
static int
verify_changed(const uint8_t *p, size_t len, size_t i)
{
	uint8_t *bad = malloc(len);
	struct mls_key_package kp;
	int r = SOTTO_ERR_NOMEM;

	if (bad != NULL) {
		memcpy(bad, p, len);
		bad[i] ^= 0x01;
		r = read_exact(&kp, bad, len);
		if (r == 0)
			r = mls_key_package_verify(&kp, NOW);
	}
	free(bad);
	return r;
}

TEST(created_key_package_verifies)
{
	uint8_t sig_pub[32], sig_sec[64], pub[32];
	struct mls_key_package_secrets ks;
	struct mls_key_package kp;
	struct buf b;

	buf_init_dyn(&b, 4096);
	CHECK(sign_keypair(sig_pub, sig_sec) == 0);
	CHECK(mls_key_package_create(&b, &ks, sig_sec, (const uint8_t *)"alice@example.org", 17,
	    NOW - 3600, NOW + 3600) == 0);
	CHECK(read_exact(&kp, b.p, b.len) == 0);
	CHECK(mls_key_package_verify(&kp, NOW) == 0);
	CHECK(memcmp(kp.leaf.signature_key, sig_pub, 32) == 0);
	CHECK(dh_public(pub, ks.init_sec) == 0 && memcmp(pub, kp.init_key, 32) == 0);
	CHECK(dh_public(pub, ks.enc_sec) == 0 && memcmp(pub, kp.leaf.encryption_key, 32) == 0);
	CHECK(kp.leaf.credential_type == MLS_CREDENTIAL_BASIC && kp.leaf.credential_len == 17 &&
	    memcmp(kp.leaf.credential, "alice@example.org", 17) == 0);
	CHECK(kp.leaf.not_before == NOW - 3600 && kp.leaf.not_after == NOW + 3600);
	/* Lifetime. */
	CHECK(mls_key_package_verify(&kp, NOW - 3601) == SOTTO_ERR_PROTOCOL);
	CHECK(mls_key_package_verify(&kp, NOW + 3601) == SOTTO_ERR_PROTOCOL);
	/* The init key (bytes 5..36) is under the KeyPackage signature only; the credential
	 * under both; the last byte is the KeyPackage signature's. */
	CHECK(verify_changed(b.p, b.len, 10) == SOTTO_ERR_BAD_SIGNATURE);
	CHECK(verify_changed(b.p, b.len, b.len - 1) == SOTTO_ERR_BAD_SIGNATURE);
	CHECK(verify_changed(b.p, b.len, b.len - 70) == SOTTO_ERR_BAD_SIGNATURE);   /* leaf sig */
	/* Init key equal to the encryption key. */
	kp.init_key = kp.leaf.encryption_key;
	CHECK(mls_key_package_verify(&kp, NOW) != 0);
	CHECK(mls_key_package_create(&b, &ks, sig_sec, (const uint8_t *)"x", 1, 2, 1) ==
	    SOTTO_ERR_INVALID_ARG);
	mls_key_package_secrets_wipe(&ks);
	sodium_memzero(sig_sec, sizeof(sig_sec));
	buf_free(&b);
}

static int
vector_entry(const json_t *e, size_t idx)
{
	struct mls_vec_passive v;
	int ok = mls_vec_passive_load(&v, e);
	(void)idx;

	const struct mls_leaf_node *ln = &v.kp->key_package.leaf;

	/* Their lifetimes (2023-2024) are past: checked within it and just after. */
	VCHECK(ok, ok && mls_key_package_verify(&v.kp->key_package, ln->not_before) == 0);
	VCHECK(ok, ok && mls_key_package_verify(&v.kp->key_package, ln->not_after + 1) ==
	    SOTTO_ERR_PROTOCOL);
	mls_vec_passive_free(&v);
	return ok;
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(created_key_package_verifies);
	mls_vec_run("passive-client-welcome.json", 8, vector_entry);
	return check_summary();
}
