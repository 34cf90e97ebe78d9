/* Sealed sender envelopes. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/init.h"
#include "crypto/pad.h"
#include "crypto/sealed.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"

static struct x3dh_identity alice, bob, eve;

static void
content(struct sealed_content *c, const uint8_t *msg, size_t msg_len)
{
	static const uint8_t cert[] = "opaque certificate bytes";

	memset(c, 0, sizeof(*c));
	c->sender_addr = "alice@example.org";
	c->sender_addr_len = strlen(c->sender_addr);
	c->cert = cert;
	c->cert_len = sizeof(cert);
	c->msg_type = E2E_SESSION_MSG_PREKEY;
	c->msg = msg;
	c->msg_len = msg_len;
}

static int
seal(struct buf *b, const struct x3dh_identity *from, const struct x3dh_identity *to,
    const struct sealed_content *c)
{
	buf_init_dyn(b, SEALED_ENVELOPE_MAX);
	return sealed_seal(b, from, to->pub, c);
}

TEST(sealed_roundtrip)
{
	struct sealed_content c;
	struct sealed_opened o;
	uint8_t msg[300];
	struct buf b;

	randombytes_buf(msg, sizeof(msg));
	content(&c, msg, sizeof(msg));
	REQUIRE(seal(&b, &alice, &bob, &c) == 0);
	REQUIRE(sealed_open(&o, &bob, b.p, b.len) == 0);
	CHECK_MEM(o.sender_ident, alice.pub, 32);
	CHECK_EQ_INT(o.sender_addr_len, 17);
	CHECK(strcmp(o.sender_addr, "alice@example.org") == 0);
	CHECK_EQ_INT(o.cert_len, c.cert_len);
	CHECK_MEM(o.cert, c.cert, c.cert_len);
	CHECK_EQ_INT(o.msg_type, E2E_SESSION_MSG_PREKEY);
	CHECK_EQ_INT(o.msg_len, sizeof(msg));
	CHECK_MEM(o.msg, msg, sizeof(msg));
	sealed_opened_free(&o);
	CHECK(o.msg == NULL);
	/* The sender's identity does not appear in the clear. */
	CHECK(memmem(b.p, b.len, alice.pub, 32) == NULL);
	CHECK(memmem(b.p, b.len, "alice@", 6) == NULL);
	/* Only the recipient opens it. */
	CHECK_EQ_INT(sealed_open(&o, &eve, b.p, b.len), SOTTO_ERR_DECRYPT);
	CHECK(o.msg == NULL);
	/* Two envelopes of the same content differ (fresh ephemeral key). */
	{
		struct buf b2;

		REQUIRE(seal(&b2, &alice, &bob, &c) == 0);
		CHECK_EQ_INT(b2.len, b.len);
		CHECK(memcmp(b.p + 1, b2.p + 1, 32) != 0);
		buf_free(&b2);
	}
	buf_free(&b);
}

TEST(sealed_sizes_are_buckets)
{
	static uint8_t msg[40000];
	size_t lens[] = { 1, 100, 200, 900, 3000, 5000, 20000, 40000 };
	struct sealed_content c;
	struct buf b;
	size_t i, inner;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		content(&c, msg, lens[i]);
		REQUIRE(seal(&b, &alice, &bob, &c) == 0);
		inner = 2 + c.sender_addr_len + 2 + c.cert_len + 1 + 4 + lens[i];
		CHECK_EQ_INT(b.len, SEALED_OVERHEAD + pad_size(inner, SEALED_PADDED_MAX));
		buf_free(&b);
	}
	/* Nearby sizes give the same envelope length. */
	{
		size_t l1, l2;

		content(&c, msg, 10);
		REQUIRE(seal(&b, &alice, &bob, &c) == 0);
		l1 = b.len;
		buf_free(&b);
		content(&c, msg, 150);
		REQUIRE(seal(&b, &alice, &bob, &c) == 0);
		l2 = b.len;
		buf_free(&b);
		CHECK_EQ_INT(l1, l2);
		CHECK_EQ_INT(l1, SEALED_OVERHEAD + 256);
	}
}

TEST(sealed_limits)
{
	static uint8_t msg[SEALED_ENVELOPE_MAX];
	static char addr[SEALED_ADDR_MAX + 2];
	static uint8_t cert[SEALED_CERT_MAX + 1];
	struct sealed_content c;
	struct sealed_opened o;
	struct buf b;

	content(&c, msg, SEALED_PADDED_MAX);
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
	/* The largest content that fits gives an envelope of exactly the maximum. */
	content(&c, msg, SEALED_PADDED_MAX - 1 - (2 + 17 + 2 + c.cert_len + 1 + 4));
	REQUIRE(seal(&b, &alice, &bob, &c) == 0);
	CHECK_EQ_INT(b.len, SEALED_ENVELOPE_MAX);
	CHECK_EQ_INT(sealed_open(&o, &bob, b.p, b.len), 0);
	sealed_opened_free(&o);
	buf_free(&b);
	memset(addr, 'a', sizeof(addr) - 1);
	content(&c, msg, 10);
	c.sender_addr = addr;
	c.sender_addr_len = SEALED_ADDR_MAX + 1;
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
	c.sender_addr_len = SEALED_ADDR_MAX;
	c.cert = cert;
	c.cert_len = SEALED_CERT_MAX;
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), 0);
	CHECK_EQ_INT(sealed_open(&o, &bob, b.p, b.len), 0);
	CHECK_EQ_INT(o.sender_addr_len, SEALED_ADDR_MAX);
	CHECK_EQ_INT(o.cert_len, SEALED_CERT_MAX);
	sealed_opened_free(&o);
	buf_free(&b);
	c.cert_len = SEALED_CERT_MAX + 1;
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
	content(&c, msg, 10);
	c.msg_type = 7;
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
	content(&c, msg, 0);
	CHECK_EQ_INT(seal(&b, &alice, &bob, &c), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
	/* Oversized input to open. */
	{
		static uint8_t big[SEALED_ENVELOPE_MAX + 1];

		big[0] = SEALED_VERSION;
		CHECK_EQ_INT(sealed_open(&o, &bob, big, sizeof(big)), SOTTO_ERR_TOO_LARGE);
		CHECK_EQ_INT(sealed_open(&o, &bob, msg, 0), SOTTO_ERR_TRUNCATED);
	}
}

TEST(sealed_tamper_and_truncation)
{
	struct sealed_content c;
	struct sealed_opened o;
	uint8_t msg[20] = "ratchet message", *x;
	struct buf b;
	size_t i;

	content(&c, msg, sizeof(msg));
	REQUIRE(seal(&b, &alice, &bob, &c) == 0);
	REQUIRE((x = malloc(b.len)) != NULL);
	for (i = 0; i < b.len * 8; i += 3) {
		memcpy(x, b.p, b.len);
		x[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK(sealed_open(&o, &bob, x, b.len) < 0);
		CHECK(o.msg == NULL);
		if (check_failed_now())
			break;
	}
	for (i = 0; i < b.len; i += (i < 200 ? 1 : 37)) {
		CHECK(sealed_open(&o, &bob, b.p, i) < 0);
		if (check_failed_now())
			break;
	}
	memcpy(x, b.p, b.len);
	x[0] = 2;
	CHECK_EQ_INT(sealed_open(&o, &bob, x, b.len), SOTTO_ERR_BAD_VERSION);
	memcpy(x, b.p, b.len);
	x[32] |= 0x80;
	CHECK_EQ_INT(sealed_open(&o, &bob, x, b.len), SOTTO_ERR_BAD_KEY);
	memset(x + 1, 0, 32);
	CHECK_EQ_INT(sealed_open(&o, &bob, x, b.len), SOTTO_ERR_BAD_KEY);
	x[1] = 1;    /* small order: all-zero DH */
	CHECK_EQ_INT(sealed_open(&o, &bob, x, b.len), SOTTO_ERR_CRYPTO);
	CHECK_EQ_INT(sealed_open(&o, &bob, b.p, b.len), 0);
	sealed_opened_free(&o);
	free(x);
	buf_free(&b);
}

/* An envelope whose first layer names Alice but whose second layer was keyed by Eve's
 * static key must not open: the sender identity is authenticated, not just claimed. */
TEST(sealed_sender_identity_is_authenticated)
{
	struct x3dh_identity fake = eve;
	struct sealed_content c;
	struct sealed_opened o;
	uint8_t msg[8] = "hi";
	struct buf b;

	memcpy(fake.pub, alice.pub, 32);      /* claims Alice, holds Eve's secret */
	content(&c, msg, sizeof(msg));
	REQUIRE(seal(&b, &fake, &bob, &c) == 0);
	CHECK_EQ_INT(sealed_open(&o, &bob, b.p, b.len), SOTTO_ERR_DECRYPT);
	buf_free(&b);
}

/* Opens an envelope with the primitives alone, as docs/PROTOCOL.md section 7 describes. */
TEST(sealed_matches_protocol_doc)
{
	struct sealed_content c;
	uint8_t msg[5] = "hello", dh[32], salt[32 + 48], k1[88], k2[56], s_ident[32], sx[32];
	uint8_t ad[1 + 32 + 48], *pt;
	const uint8_t *e;
	struct buf b;
	size_t plen, i;

	content(&c, msg, sizeof(msg));
	REQUIRE(seal(&b, &alice, &bob, &c) == 0);
	REQUIRE(b.len == SEALED_OVERHEAD + 256 && b.p[0] == 0x01);
	e = b.p + 1;
	REQUIRE(crypto_scalarmult_curve25519(dh, bob.dh_sec, e) == 0);
	memcpy(salt, e, 32);
	memcpy(salt + 32, bob.pub, 32);
	REQUIRE(hkdf_sha256(k1, 88, salt, 64, dh, 32,
	    (const uint8_t *)"Sotto sealed v1 ephemeral", 25) == 0);
	memcpy(ad, b.p, 33);
	REQUIRE(aead_open(s_ident, b.p + 33, 48, ad, 33, k1 + 32, k1) == 0);
	CHECK_MEM(s_ident, alice.pub, 32);
	REQUIRE(crypto_sign_ed25519_pk_to_curve25519(sx, s_ident) == 0);
	REQUIRE(crypto_scalarmult_curve25519(dh, bob.dh_sec, sx) == 0);
	memcpy(salt, k1 + 56, 32);
	memcpy(salt + 32, b.p + 33, 48);
	REQUIRE(hkdf_sha256(k2, 56, salt, sizeof(salt), dh, 32,
	    (const uint8_t *)"Sotto sealed v1 static", 22) == 0);
	memcpy(ad + 33, b.p + 33, 48);
	plen = b.len - 81 - 16;
	REQUIRE((pt = malloc(plen)) != NULL);
	REQUIRE(aead_open(pt, b.p + 81, b.len - 81, ad, sizeof(ad), k2 + 32, k2) == 0);
	/* lv16(addr) || lv16(cert) || u8 type || lv32(msg) || 0x80 || zeros */
	CHECK(pt[0] == 0 && pt[1] == 17 && memcmp(pt + 2, "alice@example.org", 17) == 0);
	CHECK(pt[19] == 0 && pt[20] == c.cert_len && memcmp(pt + 21, c.cert, c.cert_len) == 0);
	i = 21 + c.cert_len;
	CHECK_EQ_INT(pt[i], E2E_SESSION_MSG_PREKEY);
	CHECK(pt[i + 1] == 0 && pt[i + 2] == 0 && pt[i + 3] == 0 && pt[i + 4] == 5);
	CHECK_MEM(pt + i + 5, "hello", 5);
	CHECK_EQ_INT(pt[i + 10], 0x80);
	CHECK(sodium_is_zero(pt + i + 11, plen - i - 11));
	free(pt);
	buf_free(&b);
}

int
main(void)
{
	if (sotto_crypto_init() != 0 || suite_native_identity_generate(&alice) != 0 ||
	    suite_native_identity_generate(&bob) != 0 || suite_native_identity_generate(&eve) != 0)
		return 1;
	RUN(sealed_roundtrip);
	RUN(sealed_sizes_are_buckets);
	RUN(sealed_limits);
	RUN(sealed_tamper_and_truncation);
	RUN(sealed_sender_identity_is_authenticated);
	RUN(sealed_matches_protocol_doc);
	return check_summary();
}
