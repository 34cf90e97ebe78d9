/*
 * ML-KEM-768's input handling (src/crypto/mlkem.c). The first byte picks:
 *   0  Encaps of a fuzzer-chosen encapsulation key (any length, any coefficients): refused
 *      with zeroed outputs, or accepted only at the right length with every coefficient < q;
 *   1  Decaps of a fuzzer-chosen ciphertext under a fixed key: refused exactly when the
 *      length is wrong, else deterministic and, unless the bytes are the honest ciphertext,
 *      the implicit-rejection secret J(z || c);
 *   2  Decaps under a fuzzer-chosen decapsulation key: accepted only at the right length
 *      with a matching H(ek);
 *   3  a round trip from a fuzzer-chosen seed and m: Decaps gives Encaps' secret.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/init.h"
#include "crypto/keccak.h"
#include "crypto/mlkem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fixed_ek[MLKEM768_EK_LEN], fixed_dk[MLKEM768_DK_LEN], fixed_ct[MLKEM768_CT_LEN];
static uint8_t fixed_k[MLKEM768_SS_LEN];

/* 1 if every 12-bit coefficient of ek's t-hat is below q. */
static int
reduced(const uint8_t *ek)
{
	for (size_t i = 0; i + 3 <= MLKEM768_EK_LEN - 32; i += 3) {
		unsigned a = ek[i] | (ek[i + 1] & 0x0f) << 8, b = ek[i + 1] >> 4 | ek[i + 2] << 4;

		if (a >= 3329 || b >= 3329)
			return 0;
	}
	return 1;
}

static void
encaps_any_key(const uint8_t *ek, size_t len)
{
	uint8_t ct[MLKEM768_CT_LEN], k[MLKEM768_SS_LEN];
	int r = mlkem768_encaps(ct, k, ek, len);

	if (r == 0) {
		if (len != MLKEM768_EK_LEN || !reduced(ek))
			abort();
	} else if (r != SOTTO_ERR_BAD_KEY || !sodium_is_zero(k, sizeof(k)) ||
	    !sodium_is_zero(ct, sizeof(ct)) || (len == MLKEM768_EK_LEN && reduced(ek))) {
		abort();
	}
}

static void
decaps_any_ciphertext(const uint8_t *ct, size_t len)
{
	uint8_t k[MLKEM768_SS_LEN], k2[MLKEM768_SS_LEN], j[MLKEM768_SS_LEN];
	struct keccak_state s;
	int r = mlkem768_decaps(k, fixed_dk, sizeof(fixed_dk), ct, len);

	if (len != MLKEM768_CT_LEN) {
		if (r != SOTTO_ERR_MALFORMED || !sodium_is_zero(k, sizeof(k)))
			abort();
		return;
	}
	if (r != 0 || mlkem768_decaps(k2, fixed_dk, sizeof(fixed_dk), ct, len) != 0 ||
	    memcmp(k, k2, sizeof(k)) != 0)
		abort();
	if (memcmp(ct, fixed_ct, sizeof(fixed_ct)) == 0) {
		if (memcmp(k, fixed_k, sizeof(k)) != 0)
			abort();
		return;
	}
	shake256_init(&s);
	keccak_absorb(&s, fixed_dk + MLKEM768_DK_LEN - 32, 32);
	keccak_absorb(&s, ct, len);
	keccak_squeeze(&s, j, sizeof(j));
	if (memcmp(k, j, sizeof(j)) != 0)
		abort();
}

static void
decaps_any_key(const uint8_t *dk, size_t len)
{
	uint8_t k[MLKEM768_SS_LEN], h[32];
	int r = mlkem768_decaps(k, dk, len, fixed_ct, sizeof(fixed_ct));
	int well_formed = len == MLKEM768_DK_LEN;

	if (well_formed) {
		sha3_256(h, dk + MLKEM768_DK_LEN - 64 - MLKEM768_EK_LEN, MLKEM768_EK_LEN);
		well_formed = memcmp(h, dk + MLKEM768_DK_LEN - 64, 32) == 0;
	}
	if ((r == 0) != well_formed || (r != 0 && (r != SOTTO_ERR_BAD_KEY || !sodium_is_zero(k, sizeof(k)))))
		abort();
}

static void
round_trip(const uint8_t *data, size_t size)
{
	uint8_t in[MLKEM768_SEED_LEN + MLKEM768_RAND_LEN] = { 0 };
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN];
	uint8_t k[MLKEM768_SS_LEN], k2[MLKEM768_SS_LEN];

	memcpy(in, data, size < sizeof(in) ? size : sizeof(in));
	if (mlkem768_keygen_seed(ek, dk, in, MLKEM768_SEED_LEN) != 0 ||
	    mlkem768_encaps_internal(ct, k, ek, sizeof(ek), in + MLKEM768_SEED_LEN) != 0 ||
	    mlkem768_decaps(k2, dk, sizeof(dk), ct, sizeof(ct)) != 0 || memcmp(k, k2, sizeof(k)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		static const uint8_t seed[MLKEM768_SEED_LEN] = { 'f', 'u', 'z', 'z' };
		static const uint8_t m[MLKEM768_RAND_LEN] = { 'm' };

		if (sotto_crypto_init() != 0 ||
		    mlkem768_keygen_seed(fixed_ek, fixed_dk, seed, sizeof(seed)) != 0 ||
		    mlkem768_encaps_internal(fixed_ct, fixed_k, fixed_ek, sizeof(fixed_ek), m) != 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		encaps_any_key(data + 1, size - 1);
		break;
	case 1:
		decaps_any_ciphertext(data + 1, size - 1);
		break;
	case 2:
		decaps_any_key(data + 1, size - 1);
		break;
	default:
		round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
