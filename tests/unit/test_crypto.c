/* Primitives: known answers from Debian's python3-cryptography-vectors, plus behaviour. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "base/buf.h"
#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/init.h"
#include "crypto/pad.h"
#include "crypto/rand.h"
#include "crypto/secmem.h"
#include "crypto/sign.h"

#define FIELD_MAX 4096

/* One "NAME = hex" record of a vector file, fields reset at each blank line. */
struct rec {
	char name[8][16];
	uint8_t val[8][FIELD_MAX];
	long len[8];
	int n;
};

static long
rec_get(const struct rec *r, const char *name, const uint8_t **v)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->name[i], name) == 0) {
			*v = r->val[i];
			return r->len[i];
		}
	*v = NULL;
	return -1;
}

/* Reads the next record that has field `last`; 1 if found, 0 at end of file. */
static int
rec_next(FILE *f, struct rec *r, const char *last)
{
	char line[2 * FIELD_MAX + 64], *eq, *k, *v, *e;

	r->n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = line;
		while (*k == ' ')
			k++;
		for (e = eq - 1; e >= k && *e == ' '; e--)
			*e = '\0';
		v = eq + 1;
		while (*v == ' ')
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		if (r->n == 8 || strlen(k) >= sizeof(r->name[0]))
			continue;
		memcpy(r->name[r->n], k, strlen(k) + 1);
		r->len[r->n] = check_unhex(v, r->val[r->n], FIELD_MAX);
		r->n++;
		if (strcmp(k, last) == 0)
			return 1;
	}
	return 0;
}

TEST(hkdf_rfc5869_vectors)
{
	FILE *f = fopen(check_vector_path("KDF/rfc-5869-HKDF-SHA256.txt"), "r");
	static struct rec r;
	int count = 0;

	REQUIRE(f != NULL);
	while (rec_next(f, &r, "OKM")) {
		const uint8_t *ikm, *salt, *info, *prk, *okm;
		long ikm_len = rec_get(&r, "IKM", &ikm), salt_len = rec_get(&r, "salt", &salt);
		long info_len = rec_get(&r, "info", &info), prk_len = rec_get(&r, "PRK", &prk);
		long okm_len = rec_get(&r, "OKM", &okm);
		uint8_t got_prk[32], got[FIELD_MAX];

		REQUIRE(ikm_len >= 0 && prk_len == 32 && okm_len > 0);
		/* Empty fields parse as length 0 (or are absent). */
		if (salt_len < 0)
			salt_len = 0;
		if (info_len < 0)
			info_len = 0;
		hkdf_sha256_extract(got_prk, salt, (size_t)salt_len, ikm, (size_t)ikm_len);
		CHECK_MEM(got_prk, prk, 32);
		CHECK_EQ_INT(hkdf_sha256(got, (size_t)okm_len, salt, (size_t)salt_len, ikm,
		    (size_t)ikm_len, info, (size_t)info_len), 0);
		CHECK_MEM(got, okm, (size_t)okm_len);
		count++;
	}
	fclose(f);
	CHECK_EQ_INT(count, 3);
}

TEST(hkdf_limits)
{
	uint8_t prk[32] = { 1 }, out[64];

	CHECK_EQ_INT(hkdf_sha256_expand(out, HKDF_SHA256_MAX_OUT + 1, prk, 32, NULL, 0),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(hkdf_sha256_expand(out, 0, prk, 32, NULL, 0), 0);
}

/* The precomputed default salt is the RFC's: HashLen zero bytes, however it is given. */
TEST(hkdf_default_salt)
{
	static const uint8_t zeros[32];
	uint8_t ikm[40], a[32], b[32], c[32], oa[100], ob[100];

	randombytes_buf(ikm, sizeof(ikm));
	hkdf_sha256_extract(a, NULL, 0, ikm, sizeof(ikm));
	hkdf_sha256_extract(b, zeros, sizeof(zeros), ikm, sizeof(ikm));
	hmac_sha256(c, zeros, sizeof(zeros), ikm, sizeof(ikm));
	CHECK_MEM(a, b, 32);
	CHECK_MEM(a, c, 32);
	CHECK_EQ_INT(hkdf_sha256(oa, sizeof(oa), (const uint8_t *)"", 0, ikm, sizeof(ikm),
	    (const uint8_t *)"info", 4), 0);
	CHECK_EQ_INT(hkdf_sha256(ob, sizeof(ob), zeros, sizeof(zeros), ikm, sizeof(ikm),
	    (const uint8_t *)"info", 4), 0);
	CHECK_MEM(oa, ob, sizeof(oa));
	/* Another ikm gives another PRK (the cached schedule is not a cached answer). */
	ikm[0] ^= 1;
	hkdf_sha256_extract(b, NULL, 0, ikm, sizeof(ikm));
	CHECK(memcmp(a, b, 32) != 0);
}

TEST(hmac_rfc4231_vectors)
{
	FILE *f = fopen(check_vector_path("HMAC/rfc-4231-sha256.txt"), "r");
	static struct rec r;
	int count = 0;

	REQUIRE(f != NULL);
	while (rec_next(f, &r, "MD")) {
		const uint8_t *key, *msg, *md;
		long key_len = rec_get(&r, "Key", &key), msg_len = rec_get(&r, "Msg", &msg);
		long md_len = rec_get(&r, "MD", &md);
		uint8_t got[32];

		REQUIRE(key_len > 0 && msg_len >= 0 && md_len == 32);
		hmac_sha256(got, key, (size_t)key_len, msg, (size_t)msg_len);
		CHECK_MEM(got, md, 32);
		/* The two-part form must give the same answer at any split. */
		hmac_sha256_2(got, key, (size_t)key_len, msg, (size_t)msg_len / 3,
		    msg + msg_len / 3, (size_t)(msg_len - msg_len / 3));
		CHECK_MEM(got, md, 32);
		/* A key schedule: three-part form, and the schedule unchanged after use. */
		{
			struct hmac_sha256_key k;
			size_t a = (size_t)msg_len / 3, b = (size_t)msg_len / 2;

			hmac_sha256_key_init(&k, key, (size_t)key_len);
			hmac_sha256_keyed(got, &k, msg, a, msg + a, b - a, msg + b,
			    (size_t)msg_len - b);
			CHECK_MEM(got, md, 32);
			memset(got, 0, sizeof(got));
			hmac_sha256_keyed(got, &k, msg, (size_t)msg_len, NULL, 0, NULL, 0);
			CHECK_MEM(got, md, 32);
			hmac_sha256_key_wipe(&k);
			CHECK(sodium_is_zero((const unsigned char *)&k, sizeof(k)));
		}
		count++;
	}
	fclose(f);
	CHECK(count >= 6);
}

TEST(x25519_rfc7748_vectors)
{
	FILE *f = fopen(check_vector_path("asymmetric/X25519/rfc7748.txt"), "r");
	static struct rec r;
	int count = 0;

	REQUIRE(f != NULL);
	while (rec_next(f, &r, "OUTPUT_U")) {
		const uint8_t *k, *u, *o;
		uint8_t got[32];

		REQUIRE(rec_get(&r, "INPUT_SCALAR", &k) == 32);
		REQUIRE(rec_get(&r, "INPUT_U", &u) == 32);
		REQUIRE(rec_get(&r, "OUTPUT_U", &o) == 32);
		CHECK_EQ_INT(dh_shared(got, k, u), 0);
		CHECK_MEM(got, o, 32);
		count++;
	}
	fclose(f);
	CHECK_EQ_INT(count, 3);
}

TEST(x25519_agreement_and_zero_rejection)
{
	uint8_t ap[32], as[32], bp[32], bs[32], k1[32], k2[32];
	uint8_t zero[32] = { 0 }, one[32] = { 1 };

	REQUIRE(dh_keypair(ap, as) == 0 && dh_keypair(bp, bs) == 0);
	CHECK_EQ_INT(dh_shared(k1, as, bp), 0);
	CHECK_EQ_INT(dh_shared(k2, bs, ap), 0);
	CHECK_MEM(k1, k2, 32);
	/* Small-order points give an all-zero secret: refused, output zeroed. */
	memset(k1, 0xaa, 32);
	CHECK_EQ_INT(dh_shared(k1, as, zero), SOTTO_ERR_CRYPTO);
	CHECK(sodium_is_zero(k1, 32));
	CHECK_EQ_INT(dh_shared(k1, as, one), SOTTO_ERR_CRYPTO);
}

TEST(ed25519_sign_input_vectors)
{
	FILE *f = fopen(check_vector_path("asymmetric/Ed25519/sign.input"), "r");
	static char line[8192];
	static uint8_t msg[2048], sm[2048 + 64];
	uint8_t sk[64], pk[32], gpk[32], gsk[64], sig[64];
	int count = 0;

	REQUIRE(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fld[5], *p = line;
		long mlen, smlen;
		int i;

		for (i = 0; i < 5; i++) {
			fld[i] = p;
			if ((p = strchr(p, ':')) == NULL)
				break;
			*p++ = '\0';
		}
		REQUIRE(i == 4);
		REQUIRE(check_unhex(fld[0], sk, sizeof(sk)) == 64);
		REQUIRE(check_unhex(fld[1], pk, sizeof(pk)) == 32);
		mlen = check_unhex(fld[2], msg, sizeof(msg));
		smlen = check_unhex(fld[3], sm, sizeof(sm));
		REQUIRE(mlen >= 0 && smlen == mlen + 64);
		REQUIRE(sign_seed_keypair(gpk, gsk, sk) == 0);
		CHECK_MEM(gpk, pk, 32);
		CHECK_EQ_INT(sign_detached(sig, msg, (size_t)mlen, gsk), 0);
		CHECK_MEM(sig, sm, 64);
		CHECK_EQ_INT(sign_verify(sm, msg, (size_t)mlen, pk), 0);
		sig[count % 64] ^= 0x01;
		CHECK_EQ_INT(sign_verify(sig, msg, (size_t)mlen, pk), SOTTO_ERR_BAD_SIGNATURE);
		if (check_failed_now())
			break;
		count++;
	}
	fclose(f);
	CHECK_EQ_INT(count, 1024);
}

TEST(ed25519_to_x25519_agrees)
{
	uint8_t pk1[32], sk1[64], pk2[32], sk2[64];
	uint8_t x1p[32], x1s[32], x2p[32], x2s[32], k1[32], k2[32], bad[32] = { 0 };

	REQUIRE(sign_keypair(pk1, sk1) == 0 && sign_keypair(pk2, sk2) == 0);
	REQUIRE(sign_pk_to_dh(x1p, pk1) == 0 && sign_sk_to_dh(x1s, sk1) == 0);
	REQUIRE(sign_pk_to_dh(x2p, pk2) == 0 && sign_sk_to_dh(x2s, sk2) == 0);
	REQUIRE(dh_public(k1, x1s) == 0);
	CHECK_MEM(k1, x1p, 32);
	CHECK_EQ_INT(dh_shared(k1, x1s, x2p), 0);
	CHECK_EQ_INT(dh_shared(k2, x2s, x1p), 0);
	CHECK_MEM(k1, k2, 32);
	/* The identity point and a non-point are not usable identity keys. */
	bad[0] = 1;
	CHECK_EQ_INT(sign_pk_to_dh(x1p, bad), SOTTO_ERR_BAD_KEY);
	memset(bad, 0xff, sizeof(bad));
	CHECK_EQ_INT(sign_pk_to_dh(x1p, bad), SOTTO_ERR_BAD_KEY);
}

TEST(aead_roundtrip_and_tamper)
{
	uint8_t key[32], nonce[24], pt[100], ct[116], back[100], ad[7] = "header";
	size_t i;

	rand_bytes(key, sizeof(key));
	rand_bytes(nonce, sizeof(nonce));
	rand_bytes(pt, sizeof(pt));
	REQUIRE(aead_seal(ct, pt, sizeof(pt), ad, sizeof(ad), nonce, key) == 0);
	CHECK_EQ_INT(aead_open(back, ct, sizeof(ct), ad, sizeof(ad), nonce, key), 0);
	CHECK_MEM(back, pt, sizeof(pt));
	for (i = 0; i < sizeof(ct) * 8; i += 7) {
		ct[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK_EQ_INT(aead_open(back, ct, sizeof(ct), ad, sizeof(ad), nonce, key),
		    SOTTO_ERR_DECRYPT);
		ct[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ad[0] ^= 1;
	CHECK_EQ_INT(aead_open(back, ct, sizeof(ct), ad, sizeof(ad), nonce, key), SOTTO_ERR_DECRYPT);
	CHECK(sodium_is_zero(back, sizeof(back)));
	CHECK_EQ_INT(aead_open(back, ct, 15, NULL, 0, nonce, key), SOTTO_ERR_TRUNCATED);
}

/* XChaCha20-Poly1305 has no vector in the Debian package; pin it to libsodium's own
 * construction from the primitives: HChaCha20 subkey + ChaCha20-Poly1305-IETF. */
TEST(aead_is_xchacha20poly1305)
{
	uint8_t key[32], nonce[24], sub[32], n12[12] = { 0 }, pt[33], ct[49], ref[49];
	unsigned long long clen;

	rand_bytes(key, sizeof(key));
	rand_bytes(nonce, sizeof(nonce));
	rand_bytes(pt, sizeof(pt));
	REQUIRE(aead_seal(ct, pt, sizeof(pt), (const uint8_t *)"ad", 2, nonce, key) == 0);
	crypto_core_hchacha20(sub, nonce, key, NULL);
	memcpy(n12 + 4, nonce + 16, 8);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &clen, pt, sizeof(pt),
	    (const uint8_t *)"ad", 2, NULL, n12, sub);
	CHECK_EQ_INT(clen, sizeof(ref));
	CHECK_MEM(ct, ref, sizeof(ref));
}

TEST(rand_and_secmem)
{
	uint8_t a[32], b[32];
	uint8_t *s;
	uint32_t i, seen = 0;

	rand_bytes(a, sizeof(a));
	rand_bytes(b, sizeof(b));
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	for (i = 0; i < 200; i++) {
		uint32_t v = rand_uniform(5);
		CHECK(v < 5);
		seen |= 1u << v;
	}
	CHECK_EQ_INT(seen, 0x1f);
	s = secmem_alloc(100);
	REQUIRE(s != NULL);
	CHECK(secmem_is_zero(s, 100));
	memcpy(s, a, 32);
	CHECK(secmem_equal(s, a, 32));
	CHECK(!secmem_equal(s, b, 32));
	secmem_wipe(s, 32);
	CHECK(secmem_is_zero(s, 100));
	secmem_free(s);
	secmem_free(NULL);
}

/* A released pooled block is wiped: the same block comes back (LIFO free list) all zero,
 * although the pool never clears a block when handing it out. */
TEST(secmem_pool_reuse_wipes)
{
	static const size_t sizes[] = { 1, 63, 64, 65, 592, 1088, 4096, 8192 };
	struct secmem_stats before, during, after;
	uint8_t *p, *q;
	size_t i;

	secmem_get_stats(&before);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		REQUIRE((p = secmem_alloc(sizes[i])) != NULL);
		CHECK(((uintptr_t)p & 15) == 0);
		CHECK(secmem_is_zero(p, sizes[i]));
		memset(p, 0xa5, sizes[i]);
		secmem_get_stats(&during);
		CHECK_EQ_INT(during.in_use, before.in_use + 1);
		secmem_free(p);
		REQUIRE((q = secmem_alloc(sizes[i])) != NULL);
		CHECK(q == p);
		CHECK(secmem_is_zero(q, sizes[i]));
		secmem_free(q);
	}
	secmem_get_stats(&after);
	CHECK_EQ_INT(after.in_use, before.in_use);
	CHECK_EQ_INT(after.direct, before.direct);
}

/* Blocks larger than the pool's classes come from sodium_malloc of their own. */
TEST(secmem_large_blocks_direct)
{
	struct secmem_stats before, during, after;
	uint8_t *p;

	secmem_get_stats(&before);
	REQUIRE((p = secmem_alloc(SECMEM_POOL_MAX + 1)) != NULL);
	CHECK(((uintptr_t)p & 15) == 0);
	CHECK(secmem_is_zero(p, SECMEM_POOL_MAX + 1));
	p[SECMEM_POOL_MAX] = 1;
	secmem_get_stats(&during);
	CHECK_EQ_INT(during.direct, before.direct + 1);
	CHECK_EQ_INT(during.in_use, before.in_use);
	secmem_free(p);
	secmem_get_stats(&after);
	CHECK_EQ_INT(after.direct, before.direct);
}

/* Many live blocks: distinct, each holding its own bytes, a new slab when one runs out. */
TEST(secmem_pool_many_blocks)
{
	enum { N = 300 };
	static uint8_t *p[N];
	struct secmem_stats before, after;
	size_t i, j;

	secmem_get_stats(&before);
	for (i = 0; i < N; i++) {
		REQUIRE((p[i] = secmem_alloc(600)) != NULL);
		memset(p[i], (int)(i & 0xff), 600);
	}
	secmem_get_stats(&after);
	CHECK(after.slabs > before.slabs);   /* 300 x 1 KiB is more than one 64 KiB slab */
	CHECK_EQ_INT(after.in_use, before.in_use + N);
	for (i = 0; i < N; i++)
		for (j = 0; j < 600; j++)
			if (p[i][j] != (uint8_t)(i & 0xff)) {
				CHECK(p[i][j] == (uint8_t)(i & 0xff));
				break;
			}
	for (i = 0; i < N; i++)
		secmem_free(p[i]);
	secmem_get_stats(&after);
	CHECK_EQ_INT(after.in_use, before.in_use);
}

static void *
secmem_thread(void *arg)
{
	uintptr_t id = (uintptr_t)arg, bad = 0;
	uint8_t *p[8];
	int i, k;

	for (i = 0; i < 2000; i++) {
		for (k = 0; k < 8; k++) {
			if ((p[k] = secmem_alloc(100 + 300 * (size_t)k)) == NULL)
				return (void *)1;
			if (!secmem_is_zero(p[k], 100 + 300 * (size_t)k))
				bad = 1;
			memset(p[k], (int)id, 100 + 300 * (size_t)k);
		}
		for (k = 0; k < 8; k++) {
			if (p[k][0] != (uint8_t)id || p[k][99] != (uint8_t)id)
				bad = 1;
			secmem_free(p[k]);
		}
	}
	return (void *)bad;
}

/* Two threads allocating and releasing at once never share a block. */
TEST(secmem_pool_threads)
{
	pthread_t t[2];
	void *res[2];
	uintptr_t i;

	for (i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, secmem_thread, (void *)(i + 1)) == 0);
	for (i = 0; i < 2; i++) {
		REQUIRE(pthread_join(t[i], &res[i]) == 0);
		CHECK(res[i] == NULL);
	}
}

TEST(pad_buckets)
{
	CHECK_EQ_INT(pad_size(0, 65536), 256);
	CHECK_EQ_INT(pad_size(255, 65536), 256);
	CHECK_EQ_INT(pad_size(256, 65536), 1024);
	CHECK_EQ_INT(pad_size(1023, 65536), 1024);
	CHECK_EQ_INT(pad_size(1024, 65536), 4096);
	CHECK_EQ_INT(pad_size(4096, 65536), 8192);
	CHECK_EQ_INT(pad_size(9000, 65536), 16384);
	CHECK_EQ_INT(pad_size(40000, 65536), 65536);
	/* The cap is the last bucket. */
	CHECK_EQ_INT(pad_size(40000, 60000), 60000);
	CHECK_EQ_INT(pad_size(60000, 60000), 0);
	CHECK_EQ_INT(pad_size(59999, 60000), 60000);
}

TEST(pad_roundtrip_every_edge)
{
	static uint8_t in[5000], out[8192];
	size_t lens[] = { 0, 1, 254, 255, 256, 1000, 1023, 1024, 4095, 4096, 4999 };
	size_t i, n;
	struct buf b;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i % 3 == 0 ? 0 : (i % 3 == 1 ? 0x80 : i));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		buf_init_fixed(&b, out, sizeof(out));
		REQUIRE(pad_apply(&b, in, lens[i], sizeof(out)) == 0);
		CHECK_EQ_INT(b.len, pad_size(lens[i], sizeof(out)));
		CHECK_EQ_INT(pad_remove(&n, out, b.len), 0);
		CHECK_EQ_INT(n, lens[i]);
		CHECK_MEM(out, in, lens[i]);
	}
	/* Content ending in zeros or 0x80 is still unambiguous. */
	memset(in, 0, 10);
	buf_init_fixed(&b, out, sizeof(out));
	REQUIRE(pad_apply(&b, in, 10, sizeof(out)) == 0);
	CHECK_EQ_INT(pad_remove(&n, out, b.len), 0);
	CHECK_EQ_INT(n, 10);
}

TEST(pad_rejects_bad_padding)
{
	uint8_t p[256] = { 0 };
	size_t n = 99;

	CHECK_EQ_INT(pad_remove(&n, p, sizeof(p)), SOTTO_ERR_MALFORMED);   /* all zero */
	CHECK_EQ_INT(n, 0);
	p[10] = 0x81;
	CHECK_EQ_INT(pad_remove(&n, p, sizeof(p)), SOTTO_ERR_MALFORMED);   /* wrong mark */
	p[10] = 0x80;
	p[200] = 0x01;
	CHECK_EQ_INT(pad_remove(&n, p, sizeof(p)), SOTTO_ERR_MALFORMED);   /* junk after mark */
	CHECK_EQ_INT(pad_remove(&n, p, 0), SOTTO_ERR_MALFORMED);
	p[200] = 0;
	CHECK_EQ_INT(pad_remove(&n, p, sizeof(p)), 0);
	CHECK_EQ_INT(n, 10);
	/* Too large for the cap, and a fixed buffer too small. */
	{
		struct buf b;
		uint8_t small[100];

		buf_init_fixed(&b, small, sizeof(small));
		CHECK_EQ_INT(pad_apply(&b, p, 300, 256), SOTTO_ERR_TOO_LARGE);
		CHECK_EQ_INT(pad_apply(&b, p, 10, 4096), SOTTO_ERR_TOO_LARGE);
	}
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(hkdf_rfc5869_vectors);
	RUN(hkdf_limits);
	RUN(hkdf_default_salt);
	RUN(hmac_rfc4231_vectors);
	RUN(x25519_rfc7748_vectors);
	RUN(x25519_agreement_and_zero_rejection);
	RUN(ed25519_sign_input_vectors);
	RUN(ed25519_to_x25519_agrees);
	RUN(aead_roundtrip_and_tamper);
	RUN(aead_is_xchacha20poly1305);
	RUN(rand_and_secmem);
	RUN(secmem_pool_reuse_wipes);
	RUN(secmem_large_blocks_direct);
	RUN(secmem_pool_many_blocks);
	RUN(secmem_pool_threads);
	RUN(pad_buckets);
	RUN(pad_roundtrip_every_edge);
	RUN(pad_rejects_bad_padding);
	return check_summary();
}
