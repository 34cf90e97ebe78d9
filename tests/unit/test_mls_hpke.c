/*
 * HPKE base mode (src/mls/hpke.c) on RFC 9180 Appendix A.2.1, DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, ChaCha20-Poly1305: key derivation, both setups, every encryption at its
 * sequence number and every export; then the rejects (all-zero DH output, a changed
 * ciphertext, a wrong key) and a random round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/hpke.h"

#define A21 "rfc9180-A.2.1-x25519-sha256-chacha20poly1305-base.json"

static int
check_encryptions(const json_t *v, struct mls_hpke_ctx *s, struct mls_hpke_ctx *r)
{
	const json_t *encs = json_object_get(v, "encryptions"), *e;
	size_t i, passed = 0;
	int all = 1;

	json_array_foreach(encs, i, e) {
		int ok = 1;
		size_t pt_len = 0, aad_len = 0, ct_len = 0;
		uint8_t *pt = mls_vec_hex(e, "pt", &pt_len), *aad = mls_vec_hex(e, "aad", &aad_len);
		uint8_t *ct = NULL, *back = NULL;
		uint64_t seq = mls_vec_uint(e, "seq", &ok);

		if (pt == NULL || aad == NULL || !ok)
			goto next;
		ct = malloc(pt_len + MLS_AEAD_TAG_LEN);
		back = malloc(pt_len + 1);
		if (ct == NULL || back == NULL) {
			ok = 0;
			goto next;
		}
		s->seq = seq;
		VCHECK(ok, mls_hpke_seal(s, ct, aad, aad_len, pt, pt_len) == 0);
		VCHECK(ok, s->seq == seq + 1);
		ok &= mls_vec_eq(e, "ct", ct, pt_len + MLS_AEAD_TAG_LEN);
		r->seq = seq;
		ct_len = pt_len + MLS_AEAD_TAG_LEN;
		VCHECK(ok, mls_hpke_open(r, back, aad, aad_len, ct, ct_len) == 0);
		VCHECK(ok, memcmp(back, pt, pt_len) == 0);
		/* The same ciphertext at the next sequence number must not open. */
		VCHECK(ok, mls_hpke_open(r, back, aad, aad_len, ct, ct_len) == SOTTO_ERR_DECRYPT);
		VCHECK(ok, r->seq == seq + 1);
		passed += ok;
	next:
		all &= ok && pt != NULL && aad != NULL;
		free(pt);
		free(aad);
		free(ct);
		free(back);
	}
	printf("# " A21 ": %zu of %zu encryptions\n", passed, json_array_size(encs));
	return all && json_array_size(encs) == 6;
}

static int
check_exports(const json_t *v, const struct mls_hpke_ctx *s, const struct mls_hpke_ctx *r)
{
	const json_t *exps = json_object_get(v, "exports"), *e;
	size_t i, passed = 0;
	int all = 1;

	json_array_foreach(exps, i, e) {
		int ok = 1;
		size_t ctx_len;
		uint8_t *ectx = mls_vec_hex(e, "exporter_context", &ctx_len);
		uint64_t len = mls_vec_uint(e, "L", &ok);
		uint8_t out_s[MLS_HPKE_EXPORT_MAX], out_r[MLS_HPKE_EXPORT_MAX];

		if (ectx == NULL || !ok || len > MLS_HPKE_EXPORT_MAX) {
			all = 0;
			free(ectx);
			continue;
		}
		VCHECK(ok, mls_hpke_export(s, out_s, len, ectx, ctx_len) == 0);
		VCHECK(ok, mls_hpke_export(r, out_r, len, ectx, ctx_len) == 0);
		ok &= mls_vec_eq(e, "exported_value", out_s, len);
		ok &= mls_vec_eq(e, "exported_value", out_r, len);
		passed += ok;
		all &= ok;
		free(ectx);
	}
	printf("# " A21 ": %zu of %zu exports\n", passed, json_array_size(exps));
	return all && json_array_size(exps) == 3;
}

static int
a21_entry(const json_t *v, size_t idx)
{
	uint8_t ikm_e[32], ikm_r[32], sk[MLS_KEM_SECRET_LEN], pk[MLS_KEM_PUBLIC_LEN];
	uint8_t sk_e[MLS_KEM_SECRET_LEN], sk_r[MLS_KEM_SECRET_LEN], pk_r[MLS_KEM_PUBLIC_LEN];
	uint8_t enc[MLS_HPKE_ENC_LEN];
	struct mls_hpke_ctx s, r;
	size_t info_len;
	uint8_t *info = mls_vec_hex(v, "info", &info_len);
	int ok = 1;
	(void)idx;

	VCHECK(ok, mls_vec_uint(v, "mode", &ok) == 0);
	VCHECK(ok, mls_vec_uint(v, "kem_id", &ok) == 0x20);
	VCHECK(ok, mls_vec_uint(v, "kdf_id", &ok) == 1);
	VCHECK(ok, mls_vec_uint(v, "aead_id", &ok) == 3);
	if (info == NULL || mls_vec_hex_fixed(v, "ikmE", ikm_e, 32) != 0 ||
	    mls_vec_hex_fixed(v, "ikmR", ikm_r, 32) != 0 ||
	    mls_vec_hex_fixed(v, "skEm", sk_e, sizeof(sk_e)) != 0 ||
	    mls_vec_hex_fixed(v, "skRm", sk_r, sizeof(sk_r)) != 0 ||
	    mls_vec_hex_fixed(v, "pkRm", pk_r, sizeof(pk_r)) != 0) {
		free(info);
		return 0;
	}
	/* DeriveKeyPair for both sides. */
	VCHECK(ok, mls_hpke_derive_keypair(pk, sk, ikm_e, sizeof(ikm_e)) == 0);
	ok &= mls_vec_eq(v, "skEm", sk, sizeof(sk)) & mls_vec_eq(v, "pkEm", pk, sizeof(pk));
	VCHECK(ok, mls_hpke_derive_keypair(pk, sk, ikm_r, sizeof(ikm_r)) == 0);
	ok &= mls_vec_eq(v, "skRm", sk, sizeof(sk)) & mls_vec_eq(v, "pkRm", pk, sizeof(pk));

	VCHECK(ok, mls_hpke_setup_base_s_ephemeral(&s, enc, pk_r, info, info_len, sk_e) == 0);
	ok &= mls_vec_eq(v, "enc", enc, sizeof(enc));
	ok &= mls_vec_eq(v, "key", s.key, sizeof(s.key));
	ok &= mls_vec_eq(v, "base_nonce", s.base_nonce, sizeof(s.base_nonce));
	ok &= mls_vec_eq(v, "exporter_secret", s.exporter_secret, sizeof(s.exporter_secret));
	VCHECK(ok, mls_hpke_setup_base_r(&r, enc, sk_r, info, info_len) == 0);
	ok &= mls_vec_eq(v, "key", r.key, sizeof(r.key));
	ok &= mls_vec_eq(v, "base_nonce", r.base_nonce, sizeof(r.base_nonce));
	ok &= mls_vec_eq(v, "exporter_secret", r.exporter_secret, sizeof(r.exporter_secret));
	ok &= check_encryptions(v, &s, &r);
	ok &= check_exports(v, &s, &r);
	mls_hpke_ctx_wipe(&s);
	mls_hpke_ctx_wipe(&r);
	free(info);
	return ok;
}

/* Small-order X25519 points (and zero) give an all-zero shared secret; RFC 9180 section
 * 7.1.4 says to abort. Both the sender's and the recipient's setup must refuse them. */
TEST(all_zero_dh_output_is_rejected)
{
	static const uint8_t small_order[][MLS_KEM_PUBLIC_LEN] = {
		{ 0 },
		{ 1 },
		{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1,
		  0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62,
		  0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
		{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	};
	uint8_t sk[MLS_KEM_SECRET_LEN], enc[MLS_HPKE_ENC_LEN];
	struct mls_hpke_ctx ctx;
	size_t i;

	REQUIRE(sotto_crypto_init() == 0);
	randombytes_buf(sk, sizeof(sk));
	for (i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
		memset(&ctx, 0xaa, sizeof(ctx));
		CHECK_EQ_INT(mls_hpke_setup_base_s(&ctx, enc, small_order[i], NULL, 0), SOTTO_ERR_CRYPTO);
		CHECK_EQ_INT(mls_hpke_setup_base_r(&ctx, small_order[i], sk, NULL, 0), SOTTO_ERR_CRYPTO);
	}
}

TEST(round_trip_and_tamper)
{
	uint8_t ikm[32], pk[MLS_KEM_PUBLIC_LEN], sk[MLS_KEM_SECRET_LEN], other_sk[MLS_KEM_SECRET_LEN];
	uint8_t enc[MLS_HPKE_ENC_LEN], ct[5 + MLS_AEAD_TAG_LEN], pt[5], e1[40], e2[40];
	struct mls_hpke_ctx s, r, wrong;

	REQUIRE(sotto_crypto_init() == 0);
	randombytes_buf(ikm, sizeof(ikm));
	REQUIRE(mls_hpke_derive_keypair(pk, sk, ikm, sizeof(ikm)) == 0);
	REQUIRE(mls_hpke_setup_base_s(&s, enc, pk, (const uint8_t *)"info", 4) == 0);
	REQUIRE(mls_hpke_setup_base_r(&r, enc, sk, (const uint8_t *)"info", 4) == 0);
	CHECK(mls_hpke_export(&s, e1, sizeof(e1), (const uint8_t *)"x", 1) == 0);
	CHECK(mls_hpke_export(&r, e2, sizeof(e2), (const uint8_t *)"x", 1) == 0);
	CHECK_MEM(e1, e2, sizeof(e1));
	CHECK_EQ_INT(mls_hpke_export(&s, e1, MLS_HPKE_EXPORT_MAX + 1, NULL, 0), SOTTO_ERR_INVALID_ARG);

	REQUIRE(mls_hpke_seal(&s, ct, (const uint8_t *)"ad", 2, (const uint8_t *)"hello", 5) == 0);
	/* Another info gives another context. */
	randombytes_buf(other_sk, sizeof(other_sk));
	REQUIRE(mls_hpke_setup_base_r(&wrong, enc, sk, (const uint8_t *)"inf0", 4) == 0);
	CHECK_EQ_INT(mls_hpke_open(&wrong, pt, (const uint8_t *)"ad", 2, ct, sizeof(ct)), SOTTO_ERR_DECRYPT);
	REQUIRE(mls_hpke_setup_base_r(&wrong, enc, other_sk, (const uint8_t *)"info", 4) == 0);
	CHECK_EQ_INT(mls_hpke_open(&wrong, pt, (const uint8_t *)"ad", 2, ct, sizeof(ct)), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(mls_hpke_open(&r, pt, (const uint8_t *)"aD", 2, ct, sizeof(ct)), SOTTO_ERR_DECRYPT);
	ct[0] ^= 1;
	CHECK_EQ_INT(mls_hpke_open(&r, pt, (const uint8_t *)"ad", 2, ct, sizeof(ct)), SOTTO_ERR_DECRYPT);
	CHECK(sodium_is_zero(pt, sizeof(pt)));
	ct[0] ^= 1;
	CHECK_EQ_INT(r.seq, 0);
	CHECK_EQ_INT(mls_hpke_open(&r, pt, NULL, 0, ct, MLS_AEAD_TAG_LEN - 1), SOTTO_ERR_TRUNCATED);
	REQUIRE(mls_hpke_open(&r, pt, (const uint8_t *)"ad", 2, ct, sizeof(ct)) == 0);
	CHECK_MEM(pt, "hello", 5);
	s.seq = UINT64_MAX;
	CHECK_EQ_INT(mls_hpke_seal(&s, ct, NULL, 0, pt, sizeof(pt)), SOTTO_ERR_LIMIT);
	mls_hpke_ctx_wipe(&s);
	mls_hpke_ctx_wipe(&r);
	mls_hpke_ctx_wipe(&wrong);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run(A21, 1, a21_entry);
	RUN(all_zero_dh_output_is_rejected);
	RUN(round_trip_and_tamper);
	return check_summary();
}
