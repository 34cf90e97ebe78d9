/*
 * Keccak-f[1600] and the SHA-3 functions ML-KEM needs (FIPS 202): SHA3-256, SHA3-512,
 * SHAKE128 and SHAKE256, one-shot and incremental (absorb any number of times, then squeeze
 * any number of times). libsodium 1.0.18 has none of them; docs/PQ.md says why this is our
 * own code rather than OpenSSL's.
 *
 * Constant time: the permutation and the sponge branch and index only on lengths, never on
 * the bytes absorbed or squeezed. A state that absorbed secrets is SECRET: keccak_wipe it.
 * The permutation's own temporaries (lanes spilled to the stack) are overwritten before
 * keccak_f1600, keccak_absorb and keccak_squeeze return.
 */
#ifndef SOTTO_CRYPTO_KECCAK_H
#define SOTTO_CRYPTO_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK_LANES 25
#define SHA3_256_LEN 32
#define SHA3_512_LEN 64
/* Rates in bytes: 1600 bits minus twice the security level (FIPS 202 sections 6.1, 6.2). */
#define SHA3_256_RATE 136
#define SHA3_512_RATE 72
#define SHAKE128_RATE 168
#define SHAKE256_RATE 136

struct keccak_state {
	uint64_t a[KECCAK_LANES];   /* lane (x, y) is a[x + 5y], bytes little-endian */
	unsigned rate;              /* bytes */
	unsigned pos;               /* next byte of the current block to absorb or squeeze */
	uint8_t suffix;             /* domain bits and the first pad bit: 0x06 SHA-3, 0x1f SHAKE */
	uint8_t squeezing;
};

/* The permutation itself: 24 rounds of theta, rho, pi, chi, iota (FIPS 202 section 3). */
void keccak_f1600(uint64_t a[static KECCAK_LANES]);

void sha3_256_init(struct keccak_state *k);
void sha3_512_init(struct keccak_state *k);
void shake128_init(struct keccak_state *k);
void shake256_init(struct keccak_state *k);
/* Absorbing after the first squeeze is a caller's bug (it aborts). */
void keccak_absorb(struct keccak_state *k, const uint8_t *in, size_t len);
/* The first call pads and ends absorbing; successive calls continue the output stream, so
 * squeezing 3 then 5 bytes gives the same 8 bytes as squeezing 8. For SHA3-256 and SHA3-512
 * squeeze exactly their digest length once. */
void keccak_squeeze(struct keccak_state *k, uint8_t *out, size_t len);
void keccak_wipe(struct keccak_state *k);

void sha3_256(uint8_t out[static SHA3_256_LEN], const uint8_t *in, size_t len);
void sha3_512(uint8_t out[static SHA3_512_LEN], const uint8_t *in, size_t len);
void shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);

#endif
