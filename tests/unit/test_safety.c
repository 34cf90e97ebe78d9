/* Safety numbers (Signal's numeric fingerprint, version 0). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/init.h"
#include "crypto/safety.h"

/* The algorithm written out a second way, from its description: a buffer that is hashed
 * whole each round, the way libsignal builds it. */
static void
reference_digits(char out[31], const uint8_t *key, size_t key_len, const char *id,
    unsigned iterations)
{
	uint8_t buf[2 + 64 + 64 + 64], h[64];
	size_t len = 0, i;
	unsigned it;

	buf[len++] = 0;
	buf[len++] = 0;
	memcpy(buf + len, key, key_len);
	len += key_len;
	memcpy(buf + len, id, strlen(id));
	len += strlen(id);
	for (it = 0; it < iterations; it++) {
		memcpy(buf + len, key, key_len);
		crypto_hash_sha512(h, buf, len + key_len);
		memcpy(buf, h, 64);
		len = 64;
	}
	for (i = 0; i < 6; i++) {
		unsigned long long v = 0;
		size_t j;

		for (j = 0; j < 5; j++)
			v = v << 8 | h[5 * i + j];
		snprintf(out + 5 * i, 6, "%05llu", v % 100000);
	}
}

TEST(safety_matches_reference_and_is_symmetric)
{
	uint8_t ka[33], kb[33];
	char a[61], b[61], ra[31], rb[31], pa[31];

	randombytes_buf(ka, sizeof(ka));
	randombytes_buf(kb, sizeof(kb));
	REQUIRE(safety_party_digits(pa, ka, 33, (const uint8_t *)"+14152222222", 12,
	    SAFETY_ITERATIONS) == 0);
	reference_digits(ra, ka, 33, "+14152222222", SAFETY_ITERATIONS);
	CHECK(strcmp(pa, ra) == 0);
	reference_digits(rb, kb, 33, "+14153333333", SAFETY_ITERATIONS);
	REQUIRE(safety_number(a, ka, 33, (const uint8_t *)"+14152222222", 12, kb, 33,
	    (const uint8_t *)"+14153333333", 12, SAFETY_ITERATIONS) == 0);
	REQUIRE(safety_number(b, kb, 33, (const uint8_t *)"+14153333333", 12, ka, 33,
	    (const uint8_t *)"+14152222222", 12, SAFETY_ITERATIONS) == 0);
	CHECK_EQ_INT(strlen(a), 60);
	CHECK(strcmp(a, b) == 0);
	CHECK(strspn(a, "0123456789") == 60);
	/* Smaller half first. */
	if (strcmp(ra, rb) <= 0)
		CHECK(strncmp(a, ra, 30) == 0 && strcmp(a + 30, rb) == 0);
	else
		CHECK(strncmp(a, rb, 30) == 0 && strcmp(a + 30, ra) == 0);
}

TEST(safety_changes_with_key_id_and_iterations)
{
	uint8_t k[32], k2[32];
	char d1[31], d2[31];

	randombytes_buf(k, sizeof(k));
	memcpy(k2, k, sizeof(k));
	k2[31] ^= 1;
	REQUIRE(safety_party_digits(d1, k, 32, (const uint8_t *)"a@x", 3, 100) == 0);
	REQUIRE(safety_party_digits(d2, k2, 32, (const uint8_t *)"a@x", 3, 100) == 0);
	CHECK(strcmp(d1, d2) != 0);
	REQUIRE(safety_party_digits(d2, k, 32, (const uint8_t *)"b@x", 3, 100) == 0);
	CHECK(strcmp(d1, d2) != 0);
	REQUIRE(safety_party_digits(d2, k, 32, (const uint8_t *)"a@x", 3, 101) == 0);
	CHECK(strcmp(d1, d2) != 0);
	REQUIRE(safety_party_digits(d2, k, 32, (const uint8_t *)"a@x", 3, 100) == 0);
	CHECK(strcmp(d1, d2) == 0);
}

TEST(safety_format_and_errors)
{
	char f[SAFETY_FORMATTED_LEN + 1], d[61];
	uint8_t k[32] = { 1 };

	safety_format(f, "123456789012345678901234567890123456789012345678901234567890");
	CHECK(strcmp(f, "12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890")
	    == 0);
	CHECK_EQ_INT(strlen(f), SAFETY_FORMATTED_LEN);
	CHECK_EQ_INT(safety_number(d, k, 0, NULL, 0, k, 32, NULL, 0, 1), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(safety_number(d, k, 32, NULL, 0, k, 32, NULL, 0, 0), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(safety_number(d, k, SAFETY_KEY_MAX + 1, NULL, 0, k, 32, NULL, 0, 1),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(safety_number(d, k, 32, NULL, 0, k, 32, NULL, 0, 1), 0);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(safety_matches_reference_and_is_symmetric);
	RUN(safety_changes_with_key_id_and_iterations);
	RUN(safety_format_and_errors);
	return check_summary();
}
