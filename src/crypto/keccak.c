/*
 * Keccak-f[1600] and the sponge construction, written from FIPS 202. Lane (x, y) of the
 * state is a[x + 5y]; a lane's 8 bytes are taken little-endian (section 3.1.2 with the byte
 * order of Appendix B.1). Only messages of whole bytes are supported.
 */
#include "crypto/keccak.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define KECCAK_ROUNDS 24
#define SUFFIX_SHA3 0x06    /* the bits 01 of SHA3-*, then the first bit of pad10*1 */
#define SUFFIX_SHAKE 0x1f   /* the bits 1111 of SHAKE*, then the first bit of pad10*1 */

/* iota: RC[ir] of Algorithm 6, the bits of rc(j + 7 ir) at positions 2^j - 1. */
static const uint64_t round_constants[KECCAK_ROUNDS] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rho: the offset of lane x + 5y (Table 2), (t + 1)(t + 2)/2 mod 64 along Algorithm 2's walk. */
static const uint8_t rho_offsets[KECCAK_LANES] = {
	0, 1, 62, 28, 27,
	36, 44, 6, 55, 20,
	3, 10, 43, 25, 39,
	41, 45, 15, 21, 8,
	18, 2, 61, 56, 14,
};

/* pi: lane x + 5y of the output is lane ((x + 3y) mod 5) + 5x of the input (Algorithm 3). */
static const uint8_t pi_source[KECCAK_LANES] = {
	0, 6, 12, 18, 24,
	3, 9, 10, 16, 22,
	1, 7, 13, 19, 20,
	4, 5, 11, 17, 23,
	2, 8, 14, 15, 21,
};

static uint64_t
rotl64(uint64_t v, unsigned n)
{
	return (v << (n & 63)) | (v >> ((64 - n) & 63));
}

void
keccak_f1600(uint64_t a[static KECCAK_LANES])
{
	uint64_t c[5], b[KECCAK_LANES], d;
	unsigned x, y, i, round;

	for (round = 0; round < KECCAK_ROUNDS; round++) {
		/* theta */
#pragma GCC unroll 5
		for (x = 0; x < 5; x++)
			c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma GCC unroll 5
		for (x = 0; x < 5; x++) {
			d = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
#pragma GCC unroll 5
			for (y = 0; y < 25; y += 5)
				a[x + y] ^= d;
		}
		/* rho and pi */
#pragma GCC unroll 25
		for (i = 0; i < KECCAK_LANES; i++)
			b[i] = rotl64(a[pi_source[i]], rho_offsets[pi_source[i]]);
		/* chi */
#pragma GCC unroll 5
		for (y = 0; y < 25; y += 5)
#pragma GCC unroll 5
			for (x = 0; x < 5; x++)
				a[x + y] = b[x + y] ^ (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]);
		/* iota */
		a[0] ^= round_constants[round];
	}
	sodium_memzero(b, sizeof(b));
	sodium_memzero(c, sizeof(c));
}

static void
keccak_init(struct keccak_state *k, unsigned rate, uint8_t suffix)
{
	memset(k, 0, sizeof(*k));
	k->rate = rate;
	k->suffix = suffix;
}

void
sha3_256_init(struct keccak_state *k)
{
	keccak_init(k, SHA3_256_RATE, SUFFIX_SHA3);
}

void
sha3_512_init(struct keccak_state *k)
{
	keccak_init(k, SHA3_512_RATE, SUFFIX_SHA3);
}

void
shake128_init(struct keccak_state *k)
{
	keccak_init(k, SHAKE128_RATE, SUFFIX_SHAKE);
}

void
shake256_init(struct keccak_state *k)
{
	keccak_init(k, SHAKE256_RATE, SUFFIX_SHAKE);
}

static uint64_t
load64_le(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
xor_byte(struct keccak_state *k, unsigned pos, uint8_t v)
{
	k->a[pos / 8] ^= (uint64_t)v << (8 * (pos % 8));
}

void
keccak_absorb(struct keccak_state *k, const uint8_t *in, size_t len)
{
	if (k->squeezing)
		abort();
	while (len > 0) {
		if (k->pos == 0 && len >= k->rate) {
			/* a whole block, lane by lane */
			for (unsigned i = 0; i < k->rate / 8; i++)
				k->a[i] ^= load64_le(in + 8 * i);
			keccak_f1600(k->a);
			in += k->rate;
			len -= k->rate;
			continue;
		}
		xor_byte(k, k->pos++, *in++);
		len--;
		if (k->pos == k->rate) {
			keccak_f1600(k->a);
			k->pos = 0;
		}
	}
}

void
keccak_squeeze(struct keccak_state *k, uint8_t *out, size_t len)
{
	if (!k->squeezing) {
		/* pad10*1 after the domain suffix; the block is then full */
		xor_byte(k, k->pos, k->suffix);
		xor_byte(k, k->rate - 1, 0x80);
		keccak_f1600(k->a);
		k->pos = 0;
		k->squeezing = 1;
	}
	while (len > 0) {
		if (k->pos == k->rate) {
			keccak_f1600(k->a);
			k->pos = 0;
		}
		*out++ = (uint8_t)(k->a[k->pos / 8] >> (8 * (k->pos % 8)));
		k->pos++;
		len--;
	}
}

void
keccak_wipe(struct keccak_state *k)
{
	sodium_memzero(k, sizeof(*k));
}

static void
oneshot(void (*init)(struct keccak_state *), uint8_t *out, size_t out_len, const uint8_t *in,
    size_t in_len)
{
	struct keccak_state k;

	init(&k);
	keccak_absorb(&k, in, in_len);
	keccak_squeeze(&k, out, out_len);
	keccak_wipe(&k);
}

void
sha3_256(uint8_t out[static SHA3_256_LEN], const uint8_t *in, size_t len)
{
	oneshot(sha3_256_init, out, SHA3_256_LEN, in, len);
}

void
sha3_512(uint8_t out[static SHA3_512_LEN], const uint8_t *in, size_t len)
{
	oneshot(sha3_512_init, out, SHA3_512_LEN, in, len);
}

void
shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	oneshot(shake128_init, out, out_len, in, in_len);
}

void
shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	oneshot(shake256_init, out, out_len, in, in_len);
}
