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
 * One round (section 3.3) from the lanes A##0..24 into the lanes E##0..24. Theta's column
 * term d##x is added to each lane as rho and pi read it; output row y is computed at once
 * from its five rho-and-pi lanes b0..b4 (chi mixes lanes of one row only), so only five of
 * them are live at a time. Lane i = x + 5y of pi's output is lane src = ((x + 3y) mod 5) +
 * 5x of its input (Algorithm 3), rotated by src's rho offset (Table 2) and with d##(src
 * mod 5) added: the triples (src, offset, src mod 5) below, written out so that every
 * index and rotation is a constant.
 */
#define THETA(A) do { \
		c0 = A##0 ^ A##5 ^ A##10 ^ A##15 ^ A##20; \
		c1 = A##1 ^ A##6 ^ A##11 ^ A##16 ^ A##21; \
		c2 = A##2 ^ A##7 ^ A##12 ^ A##17 ^ A##22; \
		c3 = A##3 ^ A##8 ^ A##13 ^ A##18 ^ A##23; \
		c4 = A##4 ^ A##9 ^ A##14 ^ A##19 ^ A##24; \
		d0 = c4 ^ rotl64(c1, 1); d1 = c0 ^ rotl64(c2, 1); d2 = c1 ^ rotl64(c3, 1); \
		d3 = c2 ^ rotl64(c4, 1); d4 = c3 ^ rotl64(c0, 1); \
	} while (0)
#define ROW(A, E, e0, e1, e2, e3, e4, s0, r0, d0_, s1, r1, d1_, s2, r2, d2_, s3, r3, d3_, \
    s4, r4, d4_) do { \
		b0 = rotl64(A##s0 ^ d##d0_, r0); b1 = rotl64(A##s1 ^ d##d1_, r1); \
		b2 = rotl64(A##s2 ^ d##d2_, r2); b3 = rotl64(A##s3 ^ d##d3_, r3); \
		b4 = rotl64(A##s4 ^ d##d4_, r4); \
		E##e0 = b0 ^ (~b1 & b2); E##e1 = b1 ^ (~b2 & b3); E##e2 = b2 ^ (~b3 & b4); \
		E##e3 = b3 ^ (~b4 & b0); E##e4 = b4 ^ (~b0 & b1); \
	} while (0)
#define ROUND(A, E, rc) do { \
		THETA(A); \
		ROW(A, E, 0, 1, 2, 3, 4, 0, 0, 0, 6, 44, 1, 12, 43, 2, 18, 21, 3, 24, 14, 4); \
		ROW(A, E, 5, 6, 7, 8, 9, 3, 28, 3, 9, 20, 4, 10, 3, 0, 16, 45, 1, 22, 61, 2); \
		ROW(A, E, 10, 11, 12, 13, 14, 1, 1, 1, 7, 6, 2, 13, 25, 3, 19, 8, 4, 20, 18, 0); \
		ROW(A, E, 15, 16, 17, 18, 19, 4, 27, 4, 5, 36, 0, 11, 10, 1, 17, 15, 2, 23, 56, 3); \
		ROW(A, E, 20, 21, 22, 23, 24, 2, 62, 2, 8, 55, 3, 14, 39, 4, 15, 41, 0, 21, 2, 1); \
		E##0 ^= (rc); /* iota */ \
	} while (0)

/*
 * The 24 rounds, two per pass: a -> e, then e -> a. On x86-64 with GCC the permutation is
 * built twice, for the baseline and for x86-64-v3 (BMI1's andn and BMI2's rorx do chi and
 * rho without the register copies two-operand instructions need: about a fifth fewer
 * instructions), and the loader picks one by the CPU once (an ifunc). Both are the same C,
 * so the same constant-time argument holds: no branch or index depends on the lanes.
 *
 * The temporaries are scalars, kept in registers or spilled to this function's stack
 * frame; keccak_burn() (below) overwrites that frame after every sponge call.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define KECCAK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KECCAK_CLONES
#endif

KECCAK_CLONES static void
permute(uint64_t a[static KECCAK_LANES])
{
	uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6],
	    a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12], a13 = a[13],
	    a14 = a[14], a15 = a[15], a16 = a[16], a17 = a[17], a18 = a[18], a19 = a[19],
	    a20 = a[20], a21 = a[21], a22 = a[22], a23 = a[23], a24 = a[24];
	uint64_t e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15, e16, e17,
	    e18, e19, e20, e21, e22, e23, e24;
	uint64_t b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
	unsigned round;

	_Static_assert(KECCAK_ROUNDS % 2 == 0, "two rounds per pass");
	for (round = 0; round < KECCAK_ROUNDS; round += 2) {
		ROUND(a, e, round_constants[round]);
		ROUND(e, a, round_constants[round + 1]);
	}
	a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5; a[6] = a6; a[7] = a7;
	a[8] = a8; a[9] = a9; a[10] = a10; a[11] = a11; a[12] = a12; a[13] = a13; a[14] = a14;
	a[15] = a15; a[16] = a16; a[17] = a17; a[18] = a18; a[19] = a19; a[20] = a20;
	a[21] = a21; a[22] = a22; a[23] = a23; a[24] = a24;
}

/*
 * Overwrites the stack below the caller's frame, where permute() (called from the same
 * frame) spilled lanes of the state it permuted: KECCAK_BURN_BYTES is several times that
 * frame (136 bytes with GCC 12 at -O2). Called through a volatile pointer so that it is
 * never inlined (its frame must lie where permute's was).
 */
#define KECCAK_BURN_BYTES 1024

static void
burn_stack(void)
{
	uint8_t pad[KECCAK_BURN_BYTES];

	sodium_memzero(pad, sizeof(pad));
}

static void (*const volatile keccak_burn)(void) = burn_stack;

void
keccak_f1600(uint64_t a[static KECCAK_LANES])
{
	permute(a);
	keccak_burn();
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

/* Lanes are little-endian (Appendix B.1): a plain copy where the machine is too. */
static uint64_t
load64_le(const uint8_t *p)
{
	uint64_t v = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, p, 8);
#else
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
#endif
	return v;
}

static void
store64_le(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static void
xor_byte(struct keccak_state *k, unsigned pos, uint8_t v)
{
	k->a[pos / 8] ^= (uint64_t)v << (8 * (pos % 8));
}

void
keccak_absorb(struct keccak_state *k, const uint8_t *in, size_t len)
{
	int permuted = 0;

	if (k->squeezing)
		abort();
	while (len > 0) {
		if (k->pos == 0 && len >= k->rate) {
			/* a whole block, lane by lane */
			for (unsigned i = 0; i < k->rate / 8; i++)
				k->a[i] ^= load64_le(in + 8 * i);
			in += k->rate;
			len -= k->rate;
		} else if (k->pos % 8 == 0 && len >= 8) {
			/* a whole lane (the rate is a multiple of 8, so it fits) */
			k->a[k->pos / 8] ^= load64_le(in);
			k->pos += 8;
			in += 8;
			len -= 8;
			if (k->pos < k->rate)
				continue;
		} else {
			xor_byte(k, k->pos++, *in++);
			len--;
			if (k->pos < k->rate)
				continue;
		}
		permute(k->a);
		permuted = 1;
		k->pos = 0;
	}
	if (permuted)
		keccak_burn();
}

/* The rate's bytes of the state, lane by lane (little-endian). */
static void
store_block(uint8_t *out, const struct keccak_state *k)
{
	for (unsigned i = 0; i < k->rate / 8; i++)
		store64_le(out + 8 * i, k->a[i]);
}

void
keccak_squeeze(struct keccak_state *k, uint8_t *out, size_t len)
{
	int permuted = 0;

	if (!k->squeezing) {
		/* pad10*1 after the domain suffix; the block is then full */
		xor_byte(k, k->pos, k->suffix);
		xor_byte(k, k->rate - 1, 0x80);
		k->pos = k->rate;
		k->squeezing = 1;
	}
	while (len > 0) {
		if (k->pos == k->rate) {
			permute(k->a);
			permuted = 1;
			k->pos = 0;
			if (len >= k->rate) {
				/* a whole block at once; the next call permutes again */
				store_block(out, k);
				out += k->rate;
				len -= k->rate;
				k->pos = k->rate;
				continue;
			}
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
	if (permuted)
		keccak_burn();
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
