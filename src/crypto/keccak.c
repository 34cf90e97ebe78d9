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

static uint64_t
rotl64(uint64_t v, unsigned n)
{
	return (v << (n & 63)) | (v >> ((64 - n) & 63));
}

/*
 * rho and pi with theta's column term: lane i = x + 5y of the output is lane src =
 * ((x + 3y) mod 5) + 5x of the input (Algorithm 3), plus d[src mod 5], rotated by src's
 * rho offset (Table 2), d being d[dx], dx = src mod 5. Written out with literal indices
 * and offsets so that the lanes stay in scalar variables and every rotation is a constant
 * one. No array of the permutation's temporaries is left to wipe: what the compiler spills
 * to the stack is overwritten by later calls (the state itself, a[], is the caller's to
 * wipe, as keccak_wipe does).
 */
#define RHO_PI(i, src, off, dx) b##i = rotl64(a##src ^ d##dx, off)
#define CHI_ROW(y0, y1, y2, y3, y4) do { \
		a##y0 = b##y0 ^ (~b##y1 & b##y2); a##y1 = b##y1 ^ (~b##y2 & b##y3); \
		a##y2 = b##y2 ^ (~b##y3 & b##y4); a##y3 = b##y3 ^ (~b##y4 & b##y0); \
		a##y4 = b##y4 ^ (~b##y0 & b##y1); \
	} while (0)

/* One round is theta, rho, pi, chi and iota (section 3.3); theta's d[x] is added to each
 * lane as rho and pi read it. The state is loaded from a[] once and stored once. */
void
keccak_f1600(uint64_t a[static KECCAK_LANES])
{
	uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6],
	    a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12], a13 = a[13],
	    a14 = a[14], a15 = a[15], a16 = a[16], a17 = a[17], a18 = a[18], a19 = a[19],
	    a20 = a[20], a21 = a[21], a22 = a[22], a23 = a[23], a24 = a[24];
	uint64_t b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17,
	    b18, b19, b20, b21, b22, b23, b24, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
	unsigned round;

	for (round = 0; round < KECCAK_ROUNDS; round++) {
		/* theta */
		c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20;
		c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21;
		c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22;
		c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23;
		c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24;
		d0 = c4 ^ rotl64(c1, 1);
		d1 = c0 ^ rotl64(c2, 1);
		d2 = c1 ^ rotl64(c3, 1);
		d3 = c2 ^ rotl64(c4, 1);
		d4 = c3 ^ rotl64(c0, 1);
		RHO_PI(0, 0, 0, 0);    RHO_PI(1, 6, 44, 1);   RHO_PI(2, 12, 43, 2);  RHO_PI(3, 18, 21, 3);
		RHO_PI(4, 24, 14, 4);  RHO_PI(5, 3, 28, 3);   RHO_PI(6, 9, 20, 4);   RHO_PI(7, 10, 3, 0);
		RHO_PI(8, 16, 45, 1);  RHO_PI(9, 22, 61, 2);  RHO_PI(10, 1, 1, 1);   RHO_PI(11, 7, 6, 2);
		RHO_PI(12, 13, 25, 3); RHO_PI(13, 19, 8, 4);  RHO_PI(14, 20, 18, 0); RHO_PI(15, 4, 27, 4);
		RHO_PI(16, 5, 36, 0);  RHO_PI(17, 11, 10, 1); RHO_PI(18, 17, 15, 2); RHO_PI(19, 23, 56, 3);
		RHO_PI(20, 2, 62, 2);  RHO_PI(21, 8, 55, 3);  RHO_PI(22, 14, 39, 4); RHO_PI(23, 15, 41, 0);
		RHO_PI(24, 21, 2, 1);
		/* chi, row by row */
		CHI_ROW(0, 1, 2, 3, 4);
		CHI_ROW(5, 6, 7, 8, 9);
		CHI_ROW(10, 11, 12, 13, 14);
		CHI_ROW(15, 16, 17, 18, 19);
		CHI_ROW(20, 21, 22, 23, 24);
		/* iota */
		a0 ^= round_constants[round];
	}
	a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5; a[6] = a6; a[7] = a7;
	a[8] = a8; a[9] = a9; a[10] = a10; a[11] = a11; a[12] = a12; a[13] = a13; a[14] = a14;
	a[15] = a15; a[16] = a16; a[17] = a17; a[18] = a18; a[19] = a19; a[20] = a20;
	a[21] = a21; a[22] = a22; a[23] = a23; a[24] = a24;
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
store64_le(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
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
		if (k->pos % 8 == 0 && len >= 8 && k->rate - k->pos >= 8) {
			/* a whole lane at once */
			store64_le(out, k->a[k->pos / 8]);
			out += 8;
			k->pos += 8;
			len -= 8;
			continue;
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
