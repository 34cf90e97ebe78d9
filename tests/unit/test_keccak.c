/*
 * SHA3-256, SHA3-512, SHAKE128 and SHAKE256 (src/crypto/keccak.c) on NIST's CAVP response
 * files as Debian's python3-cryptography-vectors installs them (hashes/SHA3/, hashes/SHAKE/):
 * every record of the ShortMsg, LongMsg, VariableOut and Monte files, each file reported as
 * one test line with its count. Each message is hashed once in one call and once absorbed in
 * uneven pieces, and each SHAKE output is squeezed once whole and once in uneven pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/keccak.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define STACK_DEFINED(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef STACK_DEFINED
#define STACK_DEFINED(p, n) ((void)0)
#endif

#define FIELDS_MAX 8
#define MONTE_INNER 1000
#define SHAKE_MONTE_MSG 16      /* the Monte message is the leftmost 128 bits of the output */

enum fn { FN_SHA3_256, FN_SHA3_512, FN_SHAKE128, FN_SHAKE256 };

/* One record: its "NAME = value" lines, and the bracketed header values seen so far. */
struct rsp {
	FILE *f;
	char *line;
	size_t cap;
	char name[FIELDS_MAX][32];
	char *val[FIELDS_MAX];
	int n;
	long out_bits;          /* [L = ] or [Outputlen = ] */
	long min_bits, max_bits;
};

static const char *
rsp_get(const struct rsp *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->name[i], name) == 0)
			return r->val[i];
	return NULL;
}

static void
rsp_clear(struct rsp *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->val[i]);
	r->n = 0;
}

static void
rsp_header(struct rsp *r, const char *line)
{
	long v;

	if (sscanf(line, "[L = %ld]", &v) == 1 || sscanf(line, "[Outputlen = %ld]", &v) == 1)
		r->out_bits = v;
	else if (sscanf(line, "[Minimum Output Length (bits) = %ld]", &v) == 1)
		r->min_bits = v;
	else if (sscanf(line, "[Maximum Output Length (bits) = %ld]", &v) == 1)
		r->max_bits = v;
}

/* Reads up to the next blank line after at least one field; 1 if a record was read. */
static int
rsp_next(struct rsp *r)
{
	ssize_t got;

	rsp_clear(r);
	while ((got = getline(&r->line, &r->cap, r->f)) >= 0) {
		char *eq, *k = r->line, *v, *e;

		while (got > 0 && (r->line[got - 1] == '\n' || r->line[got - 1] == '\r'))
			r->line[--got] = '\0';
		if (got == 0) {
			if (r->n > 0)
				return 1;
			continue;
		}
		if (r->line[0] == '[') {
			rsp_header(r, r->line);
			continue;
		}
		if (r->line[0] == '#' || (eq = strchr(r->line, '=')) == NULL || r->n == FIELDS_MAX)
			continue;
		*eq = '\0';
		for (e = eq - 1; e > k && *e == ' '; e--)
			*e = '\0';
		for (v = eq + 1; *v == ' '; v++)
			;
		snprintf(r->name[r->n], sizeof(r->name[0]), "%s", k);
		if ((r->val[r->n] = strdup(v)) == NULL)
			abort();
		r->n++;
	}
	return r->n > 0;
}

/* The hex field name, decoded into a malloc'd buffer of *len bytes; NULL if missing or bad. */
static uint8_t *
rsp_hex(const struct rsp *r, const char *name, size_t *len)
{
	const char *hex = rsp_get(r, name);
	uint8_t *p;
	long n;

	if (hex == NULL || (p = malloc(strlen(hex) / 2 + 1)) == NULL)
		return NULL;
	if ((n = check_unhex(hex, p, strlen(hex) / 2)) < 0) {
		free(p);
		return NULL;
	}
	*len = (size_t)n;
	return p;
}

static long
rsp_long(const struct rsp *r, const char *name)
{
	const char *v = rsp_get(r, name);

	return v ? strtol(v, NULL, 10) : -1;
}

static void
fn_init(struct keccak_state *k, enum fn fn)
{
	switch (fn) {
	case FN_SHA3_256: sha3_256_init(k); break;
	case FN_SHA3_512: sha3_512_init(k); break;
	case FN_SHAKE128: shake128_init(k); break;
	case FN_SHAKE256: shake256_init(k); break;
	}
}

static void
fn_oneshot(enum fn fn, uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	switch (fn) {
	case FN_SHA3_256: sha3_256(out, in, in_len); break;
	case FN_SHA3_512: sha3_512(out, in, in_len); break;
	case FN_SHAKE128: shake128(out, out_len, in, in_len); break;
	case FN_SHAKE256: shake256(out, out_len, in, in_len); break;
	}
}

/* Absorbs in pieces of 1, 2, 3, ... bytes and squeezes in pieces of 1, 3, 5, ... bytes. */
static void
fn_pieces(enum fn fn, uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	struct keccak_state k;
	size_t off, step;

	fn_init(&k, fn);
	for (off = 0, step = 1; off < in_len; off += step, step++)
		keccak_absorb(&k, in + off, step < in_len - off ? step : in_len - off);
	if (fn == FN_SHA3_256 || fn == FN_SHA3_512)
		keccak_squeeze(&k, out, out_len);
	else
		for (off = 0, step = 1; off < out_len; off += step, step += 2)
			keccak_squeeze(&k, out + off, step < out_len - off ? step : out_len - off);
	keccak_wipe(&k);
}

/* 1 if both ways of hashing in give want. */
static int
hash_matches(enum fn fn, const uint8_t *in, size_t in_len, const uint8_t *want, size_t want_len)
{
	uint8_t *a = malloc(want_len + 1), *b = malloc(want_len + 1);
	int ok;

	if (a == NULL || b == NULL)
		abort();
	fn_oneshot(fn, a, want_len, in, in_len);
	fn_pieces(fn, b, want_len, in, in_len);
	ok = memcmp(a, want, want_len) == 0 && memcmp(b, want, want_len) == 0;
	free(a);
	free(b);
	return ok;
}

static FILE *
open_vectors(const char *file)
{
	FILE *f = fopen(check_vector_path(file), "r");

	if (f == NULL) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "cannot open %s (python3-cryptography-vectors)",
		    check_vector_path(file));
		check_fail(__FILE__, __LINE__, msg);
	}
	return f;
}

/* What one record of a file was: a passed or failed entry, or the seed of those after it. */
enum verdict { REC_FAILED, REC_PASSED, REC_SEED };

struct monte {                  /* the chain of a Monte Carlo file, carried between records */
	uint8_t out[512];
	size_t out_len, min_len, max_len, next_len;
	int seeded;
};

typedef enum verdict (*record_fn)(const struct rsp *r, enum fn fn, struct monte *m);

/* Runs every record of file through check and reports the count of entries. */
static void
run_file(const char *file, enum fn fn, size_t expected, record_fn check)
{
	struct rsp r = { 0 };
	struct monte m = { 0 };
	size_t passed = 0, total = 0;

	check_begin(file);
	if ((r.f = open_vectors(file)) == NULL) {
		check_end();
		return;
	}
	while (rsp_next(&r)) {
		enum verdict v = check(&r, fn, &m);

		if (v == REC_SEED)
			continue;
		total++;
		if (v == REC_PASSED)
			passed++;
		else
			printf("# %s: entry %zu failed\n", file, total);
	}
	rsp_clear(&r);
	free(r.line);
	fclose(r.f);
	check_count(file, passed, total, expected);
}

/* ShortMsg, LongMsg and VariableOut: Len bits of Msg hash to MD or Output. */
static enum verdict
msg_record(const struct rsp *r, enum fn fn, struct monte *m)
{
	size_t msg_len = 0, want_len = 0;
	uint8_t *msg = rsp_hex(r, "Msg", &msg_len);
	uint8_t *want = rsp_hex(r, rsp_get(r, "MD") ? "MD" : "Output", &want_len);
	long bits = rsp_get(r, "Len") ? rsp_long(r, "Len") : (long)msg_len * 8;
	long out_bits = rsp_get(r, "Outputlen") ? rsp_long(r, "Outputlen") : r->out_bits;
	int ok;
	(void)m;

	ok = msg != NULL && want != NULL && bits >= 0 && bits % 8 == 0 &&
	    (size_t)bits / 8 <= msg_len && out_bits == (long)want_len * 8 &&
	    hash_matches(fn, msg, (size_t)bits / 8, want, want_len);
	free(msg);
	free(want);
	return ok ? REC_PASSED : REC_FAILED;
}

/* SHA-3 Monte Carlo (SHA3VS 6.2.3): MD_0 = Seed; each record is 1000 chained hashes on. */
static enum verdict
sha3_monte_record(const struct rsp *r, enum fn fn, struct monte *m)
{
	size_t len = 0, md_len = fn == FN_SHA3_256 ? SHA3_256_LEN : SHA3_512_LEN;
	uint8_t *v;
	int ok;

	if (rsp_get(r, "Seed") != NULL) {
		v = rsp_hex(r, "Seed", &len);
		m->seeded = v != NULL && len == md_len;
		if (m->seeded)
			memcpy(m->out, v, md_len);
		free(v);
		return REC_SEED;
	}
	for (int i = 0; m->seeded && i < MONTE_INNER; i++)
		fn_oneshot(fn, m->out, md_len, m->out, md_len);
	v = rsp_hex(r, "MD", &len);
	ok = m->seeded && v != NULL && len == md_len && memcmp(v, m->out, md_len) == 0;
	free(v);
	return ok ? REC_PASSED : REC_FAILED;
}

/*
 * SHAKE Monte Carlo (SHA3VS 6.3.3): the message is the leftmost 128 bits of the previous
 * output (zero-padded if shorter), and the next output length is minbytes + (the output's
 * rightmost 16 bits mod (maxbytes - minbytes + 1)); the first is maxbytes.
 */
static enum verdict
shake_monte_record(const struct rsp *r, enum fn fn, struct monte *m)
{
	uint8_t msg[SHAKE_MONTE_MSG];
	size_t len = 0;
	uint8_t *v;
	int ok;

	if (rsp_get(r, "Msg") != NULL) {
		v = rsp_hex(r, "Msg", &len);
		m->min_len = (size_t)r->min_bits / 8;
		m->max_len = (size_t)r->max_bits / 8;
		m->seeded = v != NULL && len == SHAKE_MONTE_MSG && m->min_len > 0 &&
		    m->max_len >= m->min_len && m->max_len <= sizeof(m->out);
		if (m->seeded) {
			memcpy(m->out, v, len);
			m->out_len = len;
		}
		m->next_len = m->max_len;
		free(v);
		return REC_SEED;
	}
	for (int i = 1; m->seeded && i <= MONTE_INNER; i++) {
		size_t range = m->max_len - m->min_len + 1, n = m->out_len;

		memset(msg, 0, sizeof(msg));
		memcpy(msg, m->out, n < sizeof(msg) ? n : sizeof(msg));
		m->out_len = n = m->next_len;
		fn_oneshot(fn, m->out, n, msg, sizeof(msg));
		m->next_len = m->min_len + (((size_t)m->out[n - 2] << 8 | m->out[n - 1]) % range);
	}
	v = rsp_hex(r, "Output", &len);
	ok = m->seeded && v != NULL && len == m->out_len &&
	    rsp_long(r, "Outputlen") == (long)len * 8 && memcmp(v, m->out, len) == 0;
	free(v);
	return ok ? REC_PASSED : REC_FAILED;
}

/* A long stream squeezed across many blocks in odd pieces equals the one-shot output. */
TEST(shake_squeeze_across_blocks)
{
	static uint8_t whole[5 * SHAKE128_RATE + 7], parts[sizeof(whole)];
	const uint8_t in[3] = { 'a', 'b', 'c' };
	struct keccak_state k;
	size_t off, step;

	shake128(whole, sizeof(whole), in, sizeof(in));
	shake128_init(&k);
	keccak_absorb(&k, in, 1);
	keccak_absorb(&k, in + 1, 2);
	for (off = 0, step = 167; off < sizeof(parts); off += step, step = step == 167 ? 2 : 167)
		keccak_squeeze(&k, parts + off, step < sizeof(parts) - off ? step : sizeof(parts) - off);
	keccak_wipe(&k);
	CHECK_MEM(whole, parts, sizeof(whole));
	/* a different input gives a different stream */
	shake128(parts, sizeof(parts), in, 2);
	CHECK(memcmp(whole, parts, sizeof(whole)) != 0);
}

/* An absorb of exactly one block, and of one block less one byte, through both paths. */
TEST(block_boundaries)
{
	uint8_t in[2 * SHA3_256_RATE + 1], a[SHA3_256_LEN], b[SHA3_256_LEN];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	for (size_t len = SHA3_256_RATE - 1; len <= SHA3_256_RATE + 1; len++) {
		struct keccak_state k;

		sha3_256(a, in, len);
		sha3_256_init(&k);
		keccak_absorb(&k, in, 1);
		keccak_absorb(&k, in + 1, len - 1);
		keccak_squeeze(&k, b, sizeof(b));
		CHECK_MEM(a, b, sizeof(a));
	}
}

/*
 * Keccak-f[1600] as FIPS 202 section 3 writes it (the rho offsets of Algorithm 2 and the
 * round constants of Algorithm 5 computed, not tabled), recording every value a step
 * produces: theta's C and D and its output, rho's, chi's, iota's lane. Any of them found
 * on the stack after a hash returned is a temporary of the permutation left unwiped.
 */
#define REF_ROUNDS 24
#define REF_PER_ROUND (5 + 5 + 25 + 25 + 25 + 1)

static uint64_t ref_vals[REF_ROUNDS * REF_PER_ROUND];

static uint64_t
ref_rotl(uint64_t v, unsigned n)
{
	n %= 64;
	return n == 0 ? v : (v << n) | (v >> (64 - n));
}

static unsigned
ref_rc_bit(unsigned t)
{
	unsigned r = 1;

	for (unsigned i = 0; i < t % 255; i++)
		r = (r & 0x80) ? ((r << 1) ^ 0x71) & 0xff : r << 1;
	return r & 1;
}

static void
ref_permute(uint64_t a[25])
{
	unsigned off[25] = { 0 }, x = 1, y = 0, n = 0, t, j, ir;
	uint64_t c[5], d[5], b[25];

	for (t = 0; t < 24; t++) {
		unsigned nx = y, ny = (2 * x + 3 * y) % 5;

		off[x + 5 * y] = (t + 1) * (t + 2) / 2 % 64;
		x = nx;
		y = ny;
	}
	for (ir = 0; ir < REF_ROUNDS; ir++) {
		uint64_t rc = 0;

		for (x = 0; x < 5; x++)
			ref_vals[n++] = c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
		for (x = 0; x < 5; x++)
			ref_vals[n++] = d[x] = c[(x + 4) % 5] ^ ref_rotl(c[(x + 1) % 5], 1);
		for (j = 0; j < 25; j++)
			ref_vals[n++] = a[j] ^= d[j % 5];
		for (j = 0; j < 25; j++)
			ref_vals[n++] = a[j] = ref_rotl(a[j], off[j]);
		for (x = 0; x < 5; x++)     /* pi */
			for (y = 0; y < 5; y++)
				b[x + 5 * y] = a[(x + 3 * y) % 5 + 5 * x];
		for (x = 0; x < 5; x++)     /* chi */
			for (y = 0; y < 5; y++)
				ref_vals[n++] = a[x + 5 * y] = b[x + 5 * y] ^
				    (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
		for (j = 0; j <= 6; j++)
			rc |= (uint64_t)ref_rc_bit(j + 7 * ir) << ((1u << j) - 1);
		ref_vals[n++] = a[0] ^= rc;
	}
}

/* Zeroes the stack below the caller, then reports how many 8-byte words there hold one of
 * ref_vals (both called through volatile pointers: never inlined, frames below the
 * caller's). The words read were written by earlier, deeper calls: indeterminate to C,
 * which is why the pointer to them is volatile, and declared defined for memcheck. */
#define SCAN_WORDS 1024

static void
stack_zero(void)
{
	uint64_t words[SCAN_WORDS];

	sodium_memzero(words, sizeof(words));
}

static size_t
stack_hits(void)
{
	uint64_t words[SCAN_WORDS];
	uint64_t *volatile p = words;
	size_t hits = 0;

	STACK_DEFINED(words, sizeof(words));
	for (size_t i = 0; i < SCAN_WORDS; i++) {
		uint64_t v = p[i];

		for (size_t k = 0; v != 0 && k < sizeof(ref_vals) / sizeof(ref_vals[0]); k++)
			hits += v == ref_vals[k];
	}
	return hits;
}

static void (*const volatile stack_zero_fn)(void) = stack_zero;
static size_t (*const volatile stack_hits_fn)(void) = stack_hits;

/* SHA3-512 of a 32-byte secret is one permutation of (secret, padding): afterwards none of
 * its intermediate values may be left on the stack (keccak.h). The test found 25 of them
 * before the permutation's frame was overwritten per call. Under AddressSanitizer frames
 * may live elsewhere (its fake stacks), so there the scan proves nothing and is skipped. */
TEST(permutation_temporaries_wiped)
{
	uint8_t secret[32], out[SHA3_512_LEN], block[SHA3_512_RATE] = { 0 };
	uint64_t a[KECCAK_LANES] = { 0 };

#if defined(__SANITIZE_ADDRESS__)
	printf("  (skipped under AddressSanitizer)\n");
	return;
#endif
	randombytes_buf(secret, sizeof(secret));
	memcpy(block, secret, sizeof(secret));
	block[sizeof(secret)] ^= 0x06;
	block[SHA3_512_RATE - 1] ^= 0x80;
	for (size_t i = 0; i < SHA3_512_RATE; i++)
		a[i / 8] |= (uint64_t)block[i] << (8 * (i % 8));
	ref_permute(a);
	for (size_t i = 0; i < SHA3_512_LEN; i++)
		block[i] = (uint8_t)(a[i / 8] >> (8 * (i % 8)));
	stack_zero_fn();        /* the reference's own traces */
	sha3_512(out, secret, sizeof(secret));
	CHECK_MEM(out, block, SHA3_512_LEN);    /* the reference is the permutation */
	CHECK_EQ_INT(stack_hits_fn(), 0);
	sodium_memzero(a, sizeof(a));
}

int
main(void)
{
	run_file("hashes/SHA3/SHA3_256ShortMsg.rsp", FN_SHA3_256, 137, msg_record);
	run_file("hashes/SHA3/SHA3_256LongMsg.rsp", FN_SHA3_256, 100, msg_record);
	run_file("hashes/SHA3/SHA3_256Monte.rsp", FN_SHA3_256, 100, sha3_monte_record);
	run_file("hashes/SHA3/SHA3_512ShortMsg.rsp", FN_SHA3_512, 73, msg_record);
	run_file("hashes/SHA3/SHA3_512LongMsg.rsp", FN_SHA3_512, 100, msg_record);
	run_file("hashes/SHA3/SHA3_512Monte.rsp", FN_SHA3_512, 100, sha3_monte_record);
	run_file("hashes/SHAKE/SHAKE128ShortMsg.rsp", FN_SHAKE128, 337, msg_record);
	run_file("hashes/SHAKE/SHAKE128LongMsg.rsp", FN_SHAKE128, 100, msg_record);
	run_file("hashes/SHAKE/SHAKE128VariableOut.rsp", FN_SHAKE128, 1126, msg_record);
	run_file("hashes/SHAKE/SHAKE128Monte.rsp", FN_SHAKE128, 100, shake_monte_record);
	run_file("hashes/SHAKE/SHAKE256ShortMsg.rsp", FN_SHAKE256, 273, msg_record);
	run_file("hashes/SHAKE/SHAKE256LongMsg.rsp", FN_SHAKE256, 100, msg_record);
	run_file("hashes/SHAKE/SHAKE256VariableOut.rsp", FN_SHAKE256, 1246, msg_record);
	run_file("hashes/SHAKE/SHAKE256Monte.rsp", FN_SHAKE256, 100, shake_monte_record);
	RUN(shake_squeeze_across_blocks);
	RUN(block_boundaries);
	RUN(permutation_temporaries_wiped);
	return check_summary();
}
