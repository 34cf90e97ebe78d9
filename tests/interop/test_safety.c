/*
 * Safety numbers: Sotto's safety-number code against libsignal-protocol-c's fingerprint
 * generator (displayable fingerprint), for the same identity keys (0x05 || u) and stable
 * identifiers, from both sides.
 */
#include <curve.h>
#include <fingerprint.h>
#include <signal_protocol.h>
#include <string.h>

#include "check.h"
#include "crypto/safety.h"
#include "interop_tests.h"
#include "sig_party.h"

static int
their_number(char *out, size_t cap, signal_context *ctx, unsigned iterations,
    const char *local_id, const uint8_t *local_key, const char *remote_id,
    const uint8_t *remote_key)
{
	fingerprint_generator *gen = NULL;
	fingerprint *fp = NULL;
	ec_public_key *lk = NULL, *rk = NULL;
	const char *text;
	int r;

	if ((r = curve_decode_point(&lk, local_key, SIG_KEY_LEN, ctx)) < 0 ||
	    (r = curve_decode_point(&rk, remote_key, SIG_KEY_LEN, ctx)) < 0 ||
	    (r = fingerprint_generator_create(&gen, (int)iterations, 1, ctx)) < 0 ||
	    (r = fingerprint_generator_create_for(gen, local_id, lk, remote_id, rk, &fp)) < 0)
		goto out;
	text = displayable_fingerprint_text(fingerprint_get_displayable(fp));
	if (text == NULL || strlen(text) + 1 > cap) {
		r = SG_ERR_UNKNOWN;
		goto out;
	}
	memcpy(out, text, strlen(text) + 1);
out:
	if (fp != NULL)
		SIGNAL_UNREF(fp);
	if (gen != NULL)
		fingerprint_generator_free(gen);
	if (lk != NULL)
		SIGNAL_UNREF(lk);
	if (rk != NULL)
		SIGNAL_UNREF(rk);
	return r;
}

static void
check_pair(struct sig_party *a, struct sig_party *b, const char *aid, const char *bid,
    unsigned iterations)
{
	char ours_ab[SAFETY_DIGITS + 1], ours_ba[SAFETY_DIGITS + 1];
	char theirs_ab[128], theirs_ba[128];
	const uint8_t *ka = sig_party_identity(a), *kb = sig_party_identity(b);

	REQUIRE(safety_number(ours_ab, ka, SIG_KEY_LEN, (const uint8_t *)aid, strlen(aid), kb,
	    SIG_KEY_LEN, (const uint8_t *)bid, strlen(bid), iterations) == 0);
	REQUIRE(safety_number(ours_ba, kb, SIG_KEY_LEN, (const uint8_t *)bid, strlen(bid), ka,
	    SIG_KEY_LEN, (const uint8_t *)aid, strlen(aid), iterations) == 0);
	REQUIRE(their_number(theirs_ab, sizeof(theirs_ab), sig_party_context(a), iterations,
	    aid, ka, bid, kb) == 0);
	REQUIRE(their_number(theirs_ba, sizeof(theirs_ba), sig_party_context(b), iterations,
	    bid, kb, aid, ka) == 0);
	CHECK_EQ_INT(strlen(ours_ab), SAFETY_DIGITS);
	CHECK_EQ_INT(strcmp(ours_ab, theirs_ab), 0);
	CHECK_EQ_INT(strcmp(ours_ba, theirs_ba), 0);
	CHECK_EQ_INT(strcmp(ours_ab, ours_ba), 0);
}

TEST(safety_number_equals_libsignal_fingerprint)
{
	struct sig_party *a = NULL, *b = NULL, *c = NULL;
	char x[SAFETY_DIGITS + 1], y[SAFETY_DIGITS + 1];

	REQUIRE(sig_party_new(&a, 0) == 0);
	REQUIRE(sig_party_new(&b, 0) == 0);
	REQUIRE(sig_party_new(&c, 0) == 0);
	check_pair(a, b, "alice@example.org", "bob@example.net", SAFETY_ITERATIONS);
	check_pair(a, c, "+14155550100", "+14155550199", SAFETY_ITERATIONS);
	check_pair(b, c, "b", "c", 1024);
	check_pair(b, b, "same@example.org", "same@example.org", 1);
	/* A different key or identifier gives a different number. */
	REQUIRE(safety_number(x, sig_party_identity(a), SIG_KEY_LEN, (const uint8_t *)"a", 1,
	    sig_party_identity(b), SIG_KEY_LEN, (const uint8_t *)"b", 1, SAFETY_ITERATIONS) == 0);
	REQUIRE(safety_number(y, sig_party_identity(a), SIG_KEY_LEN, (const uint8_t *)"a", 1,
	    sig_party_identity(c), SIG_KEY_LEN, (const uint8_t *)"b", 1, SAFETY_ITERATIONS) == 0);
	CHECK(strcmp(x, y) != 0);
	sig_party_free(a);
	sig_party_free(b);
	sig_party_free(c);
}

void
interop_run_safety_tests(void)
{
	RUN(safety_number_equals_libsignal_fingerprint);
}
