#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "wire/noise.h"

#define VECTORS "/usr/share/gocode/src/github.com/flynn/noise/vectors.txt"
#define MAX_FIELDS 24

static const char *const patterns[] = {
	"NN", "NK", "NX", "XN", "XK", "XX", "KN", "KK", "KX", "IN", "IK", "IX",
};

struct vec {
	char *key[MAX_FIELDS];
	char *val[MAX_FIELDS];
	int n;
};

static const char *
vec_get(const struct vec *v, const char *key)
{
	int i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->key[i], key) == 0)
			return v->val[i];
	return NULL;
}

static int
vec_hex(const struct vec *v, const char *key, uint8_t *out, size_t cap, size_t *len)
{
	const char *h = vec_get(v, key);
	long n;

	*len = 0;
	if (h == NULL)
		return -1;
	if ((n = check_unhex(h, out, cap)) < 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* Runs one vector; returns 0 if it matched, else the step that failed. */
static int
run_vector(const struct vec *v, const char *pat)
{
	uint8_t is[32], rsk[32], ipub[32], rpub[32], ie[32], re[32], prologue[128];
	uint8_t payload[1024], want[2048], out[2048], got[2048];
	struct noise_hs hi, hr;
	struct noise_transport ti, tr;
	size_t n, plen, wlen, outlen, gotlen, nmsgs = 0;
	int has_is, has_rs, pre_i, pre_r, step = 1, i;
	char key[32];

	has_is = vec_hex(v, "init_static", is, 32, &n) == 0 && n == 32;
	has_rs = vec_hex(v, "resp_static", rsk, 32, &n) == 0 && n == 32;
	if (vec_hex(v, "gen_init_ephemeral", ie, 32, &n) != 0 || n != 32)
		return step;
	if (vec_hex(v, "gen_resp_ephemeral", re, 32, &n) != 0 || n != 32)
		return step;
	if (vec_hex(v, "prologue", prologue, sizeof(prologue), &plen) != 0)
		plen = 0;
	if (has_is)
		crypto_scalarmult_base(ipub, is);
	if (has_rs)
		crypto_scalarmult_base(rpub, rsk);
	pre_i = pat[0] == 'K';
	pre_r = pat[1] == 'K';

	step = 2;
	if (noise_hs_init(&hi, pat, 1, prologue, plen, has_is ? is : NULL,
	    pre_r ? rpub : NULL) != 0)
		return step;
	if (noise_hs_init(&hr, pat, 0, prologue, plen, has_rs ? rsk : NULL,
	    pre_i ? ipub : NULL) != 0)
		return step;
	noise_hs_fix_ephemeral(&hi, ie);
	noise_hs_fix_ephemeral(&hr, re);
	if (strstr(pat, "psk") != NULL) {
		uint8_t psk[32];

		if (vec_hex(v, "preshared_key", psk, sizeof(psk), &n) != 0 || n != 32)
			return 3;
		noise_hs_set_psk(&hi, psk);
		noise_hs_set_psk(&hr, psk);
	}

	for (i = 0; !noise_hs_finished(&hi); i++) {
		struct noise_hs *w = i % 2 ? &hr : &hi, *r = i % 2 ? &hi : &hr;

		step = 10 + i;
		snprintf(key, sizeof(key), "msg_%d_payload", i);
		if (vec_hex(v, key, payload, sizeof(payload), &plen) != 0)
			return step;
		snprintf(key, sizeof(key), "msg_%d_ciphertext", i);
		if (vec_hex(v, key, want, sizeof(want), &wlen) != 0)
			return step;
		if (!noise_hs_my_turn(w) || noise_hs_my_turn(r))
			return step;
		if (noise_hs_next_len(w, plen) != wlen || noise_hs_next_len(r, plen) != wlen)
			return step;
		if (noise_hs_write(w, payload, plen, out, sizeof(out), &outlen) != 0)
			return step;
		if (outlen != wlen || memcmp(out, want, wlen) != 0)
			return step;
		if (noise_hs_read(r, out, outlen, got, sizeof(got), &gotlen) != 0)
			return step;
		if (gotlen != plen || memcmp(got, payload, plen) != 0)
			return step;
		nmsgs++;
	}
	step = 30;
	if (!noise_hs_finished(&hr) || memcmp(noise_hs_hash(&hi), noise_hs_hash(&hr), 64) != 0)
		return step;
	if (noise_hs_split(&hi, &ti) != 0 || noise_hs_split(&hr, &tr) != 0)
		return step;

	/* Transport: first initiator -> responder, then responder -> initiator. */
	for (i = 0; i < 2; i++) {
		struct noise_transport *w = i ? &tr : &ti, *r = i ? &ti : &tr;

		step = 40 + i;
		snprintf(key, sizeof(key), "msg_%zu_payload", nmsgs + (size_t)i);
		if (vec_hex(v, key, payload, sizeof(payload), &plen) != 0)
			return step;
		snprintf(key, sizeof(key), "msg_%zu_ciphertext", nmsgs + (size_t)i);
		if (vec_hex(v, key, want, sizeof(want), &wlen) != 0)
			return step;
		if (noise_encrypt(&w->tx, NULL, 0, payload, plen, out) != 0)
			return step;
		if (plen + NOISE_TAG_LEN != wlen || memcmp(out, want, wlen) != 0)
			return step;
		if (noise_decrypt(&r->rx, NULL, 0, out, wlen, got) != 0)
			return step;
		if (memcmp(got, payload, plen) != 0)
			return step;
	}
	noise_hs_wipe(&hi);
	noise_hs_wipe(&hr);
	noise_transport_wipe(&ti);
	noise_transport_wipe(&tr);
	return 0;
}

/*
 * Calls on_vector for every vector of the flynn file (key=value lines, a blank line after
 * each) whose handshake name is Noise_<pattern>_25519_ChaChaPoly_BLAKE2b, with that pattern.
 */
struct vector_walk {
	int (*want)(const char *pattern, void *ctx);      /* nonzero: run it */
	void *ctx;
	int total, failed;
};

static void
walk_vector(struct vec *v, struct vector_walk *w)
{
	const char *hs = vec_get(v, "handshake");
	const char *prefix = "Noise_", *suffix = "_25519_ChaChaPoly_BLAKE2b";
	char pat[16];
	size_t n;
	int step;

	if (hs == NULL || strncmp(hs, prefix, strlen(prefix)) != 0)
		return;
	hs += strlen(prefix);
	n = strlen(hs);
	if (n <= strlen(suffix) || n - strlen(suffix) >= sizeof(pat) ||
	    strcmp(hs + n - strlen(suffix), suffix) != 0)
		return;
	memcpy(pat, hs, n - strlen(suffix));
	pat[n - strlen(suffix)] = '\0';
	if (!w->want(pat, w->ctx))
		return;
	if ((step = run_vector(v, pat)) != 0) {
		fprintf(stderr, "vector Noise_%s #%d failed at step %d\n", pat, w->total, step);
		w->failed++;
	}
	CHECK_EQ_INT(step, 0);
	w->total++;
}

static void
walk_vectors(struct vector_walk *w)
{
	FILE *f = fopen(VECTORS, "r");
	static char line[8192];
	static char store[MAX_FIELDS][8192];
	struct vec v;
	int done = 0;

	REQUIRE(f != NULL);
	memset(&v, 0, sizeof(v));
	while (!done) {
		int eof = fgets(line, sizeof(line), f) == NULL;
		size_t len = eof ? 0 : strlen(line);

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 && v.n > 0) {
			walk_vector(&v, w);
			v.n = 0;
		} else if (len > 0 && v.n < MAX_FIELDS) {
			char *eq = strchr(line, '=');

			REQUIRE(eq != NULL);
			memcpy(store[v.n], line, len + 1);
			store[v.n][eq - line] = '\0';
			v.key[v.n] = store[v.n];
			v.val[v.n] = store[v.n] + (eq - line) + 1;
			v.n++;
		}
		if (eof)
			done = 1;
	}
	fclose(f);
}

/* Counts per base pattern (ctx: int[12]). */
static int
want_base(const char *pattern, void *ctx)
{
	int *ran = ctx;

	for (size_t p = 0; p < 12; p++)
		if (strcmp(pattern, patterns[p]) == 0) {
			ran[p]++;
			return 1;
		}
	return 0;
}

/* A base pattern with one psk modifier, psk0 .. psk3 (ctx: the NNpsk0 count). */
static int
want_psk(const char *pattern, void *ctx)
{
	char name[16];

	for (size_t p = 0; p < 12; p++)
		for (int k = 0; k <= 3; k++) {
			snprintf(name, sizeof(name), "%spsk%d", patterns[p], k);
			if (strcmp(pattern, name) == 0) {
				if (strcmp(name, "NNpsk0") == 0)
					(*(int *)ctx)++;
				return 1;
			}
		}
	return 0;
}

TEST(noise_vectors_all_patterns)
{
	int ran[12] = { 0 };
	struct vector_walk w = { want_base, ran, 0, 0 };

	walk_vectors(&w);
	for (size_t p = 0; p < 12; p++)
		CHECK(ran[p] >= 4);
	CHECK_EQ_INT(w.total, 48);
	CHECK_EQ_INT(w.failed, 0);
}

/* Every vector of a base pattern with one psk modifier (psk0 .. pskN) that the engine runs. */
TEST(noise_vectors_psk)
{
	int nnpsk0 = 0;
	struct vector_walk w = { want_psk, &nnpsk0, 0, 0 };

	walk_vectors(&w);
	/* 12 patterns x psk0..psk2, plus psk3 of XN XK XX; 4 vectors each. */
	CHECK_EQ_INT(w.total, 39 * 4);
	CHECK_EQ_INT(nnpsk0, 4);
	CHECK_EQ_INT(w.failed, 0);
}

/* A psk pattern without its key, or with a different key on each side, fails. */
TEST(noise_psk_missing_or_wrong)
{
	struct noise_hs hi, hr;
	uint8_t psk1[32], psk2[32], m[128], pl[16];
	size_t n, pn;

	randombytes_buf(psk1, 32);
	randombytes_buf(psk2, 32);
	REQUIRE(noise_hs_init(&hi, "NNpsk0", 1, NULL, 0, NULL, NULL) == 0);
	CHECK_EQ_INT(noise_hs_write(&hi, NULL, 0, m, sizeof(m), &n), SOTTO_ERR_STATE);
	REQUIRE(noise_hs_init(&hi, "NNpsk0", 1, NULL, 0, NULL, NULL) == 0);
	REQUIRE(noise_hs_init(&hr, "NNpsk0", 0, NULL, 0, NULL, NULL) == 0);
	noise_hs_set_psk(&hi, psk1);
	noise_hs_set_psk(&hr, psk2);
	REQUIRE(noise_hs_write(&hi, NULL, 0, m, sizeof(m), &n) == 0);
	CHECK_EQ_INT((int)n, 48);
	CHECK_EQ_INT(noise_hs_read(&hr, m, n, pl, sizeof(pl), &pn), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(noise_hs_init(&hi, "NNpsk3", 1, NULL, 0, NULL, NULL), SOTTO_ERR_UNSUPPORTED);
	CHECK_EQ_INT(noise_hs_init(&hi, "NNpsk", 1, NULL, 0, NULL, NULL), SOTTO_ERR_UNSUPPORTED);
	CHECK_EQ_INT(noise_hs_init(&hi, "NNpsk00", 1, NULL, 0, NULL, NULL), SOTTO_ERR_UNSUPPORTED);
	noise_hs_wipe(&hi);
	noise_hs_wipe(&hr);
}

struct pair {
	uint8_t server_pk[32], server_sk[64];
	uint8_t device_pk[32], device_sk[32];
	struct noise_hs c, s;
	struct noise_transport tc, ts;
};

static void
pair_keys(struct pair *p)
{
	crypto_sign_keypair(p->server_pk, p->server_sk);
	randombytes_buf(p->device_sk, 32);
	crypto_scalarmult_base(p->device_pk, p->device_sk);
}

/* Runs the product handshake; returns the first error. */
static int
pair_handshake(struct pair *p, const uint8_t *pinned_ed_pk)
{
	uint8_t m[128], pl[16];
	size_t n, pn;
	int r;

	if ((r = noise_sotto_initiator(&p->c, p->device_sk, pinned_ed_pk)) != 0)
		return r;
	if ((r = noise_sotto_responder(&p->s, p->server_sk)) != 0)
		return r;
	if ((r = noise_hs_write(&p->c, NULL, 0, m, sizeof(m), &n)) != 0)
		return r;
	if (n != NOISE_SOTTO_MSG1_LEN)
		return SOTTO_ERR_INTERNAL;
	if ((r = noise_hs_read(&p->s, m, n, pl, sizeof(pl), &pn)) != 0)
		return r;
	if ((r = noise_hs_write(&p->s, NULL, 0, m, sizeof(m), &n)) != 0)
		return r;
	if (n != NOISE_SOTTO_MSG2_LEN)
		return SOTTO_ERR_INTERNAL;
	if ((r = noise_hs_read(&p->c, m, n, pl, sizeof(pl), &pn)) != 0)
		return r;
	if ((r = noise_hs_write(&p->c, NULL, 0, m, sizeof(m), &n)) != 0)
		return r;
	if (n != NOISE_SOTTO_MSG3_LEN)
		return SOTTO_ERR_INTERNAL;
	if ((r = noise_hs_read(&p->s, m, n, pl, sizeof(pl), &pn)) != 0)
		return r;
	if ((r = noise_hs_split(&p->c, &p->tc)) != 0 || (r = noise_hs_split(&p->s, &p->ts)) != 0)
		return r;
	return 0;
}

TEST(noise_sotto_profile_handshake)
{
	struct pair p;
	uint8_t rs[32], ct[64], pt[64];

	pair_keys(&p);
	REQUIRE(pair_handshake(&p, p.server_pk) == 0);
	CHECK(noise_hs_remote_static(&p.s, rs) == 0);
	CHECK_MEM(rs, p.device_pk, 32);
	CHECK_MEM(noise_hs_hash(&p.c), noise_hs_hash(&p.s), 64);
	CHECK_EQ_INT(noise_encrypt(&p.tc.tx, NULL, 0, (const uint8_t *)"ping", 4, ct), 0);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct, 4 + NOISE_TAG_LEN, pt), 0);
	CHECK_MEM(pt, "ping", 4);
	CHECK_EQ_INT(noise_encrypt(&p.ts.tx, NULL, 0, (const uint8_t *)"pong", 4, ct), 0);
	CHECK_EQ_INT(noise_decrypt(&p.tc.rx, NULL, 0, ct, 4 + NOISE_TAG_LEN, pt), 0);
	CHECK_MEM(pt, "pong", 4);
	/* A message from one direction does not decrypt as the other. */
	CHECK_EQ_INT(noise_encrypt(&p.tc.tx, NULL, 0, (const uint8_t *)"ping", 4, ct), 0);
	CHECK_EQ_INT(noise_decrypt(&p.tc.rx, NULL, 0, ct, 4 + NOISE_TAG_LEN, pt),
	    SOTTO_ERR_DECRYPT);
	noise_hs_wipe(&p.c);
	noise_hs_wipe(&p.s);
}

TEST(noise_wrong_pinned_key_fails)
{
	struct pair p;
	uint8_t other_pk[32], other_sk[64];

	pair_keys(&p);
	crypto_sign_keypair(other_pk, other_sk);
	CHECK_EQ_INT(pair_handshake(&p, other_pk), SOTTO_ERR_AUTH);
	/* The client never sent its own static key. */
	CHECK(noise_hs_finished(&p.c) == 0);
	CHECK(noise_hs_my_turn(&p.c) == 0);
}

TEST(noise_tampered_handshake_fails)
{
	uint8_t m1[32], m2[96], m3[64], bad[96], pl[16];
	uint8_t server_pk[32], server_sk[64], dev_sk[32];
	struct noise_hs c, s, c2, s2;
	size_t n, pn, i;
	int failures2 = 0, failures3 = 0;

	crypto_sign_keypair(server_pk, server_sk);
	randombytes_buf(dev_sk, 32);
	REQUIRE(noise_sotto_initiator(&c, dev_sk, server_pk) == 0);
	REQUIRE(noise_sotto_responder(&s, server_sk) == 0);
	REQUIRE(noise_hs_write(&c, NULL, 0, m1, sizeof(m1), &n) == 0);
	REQUIRE(noise_hs_read(&s, m1, n, pl, sizeof(pl), &pn) == 0);
	REQUIRE(noise_hs_write(&s, NULL, 0, m2, sizeof(m2), &n) == 0);
	/* Every single-bit flip of message 2 is refused by the client. */
	for (i = 0; i < sizeof(m2) * 8; i++) {
		c2 = c;
		memcpy(bad, m2, sizeof(m2));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (noise_hs_read(&c2, bad, sizeof(m2), pl, sizeof(pl), &pn) != 0)
			failures2++;
	}
	CHECK_EQ_INT(failures2, (int)sizeof(m2) * 8);
	/* Truncated and extended messages too. */
	c2 = c;
	CHECK(noise_hs_read(&c2, m2, sizeof(m2) - 1, pl, sizeof(pl), &pn) != 0);
	REQUIRE(noise_hs_read(&c, m2, sizeof(m2), pl, sizeof(pl), &pn) == 0);
	CHECK_EQ_INT(pn, 0);
	REQUIRE(noise_hs_write(&c, NULL, 0, m3, sizeof(m3), &n) == 0);
	for (i = 0; i < sizeof(m3) * 8; i++) {
		s2 = s;
		memcpy(bad, m3, sizeof(m3));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (noise_hs_read(&s2, bad, sizeof(m3), pl, sizeof(pl), &pn) != 0)
			failures3++;
	}
	CHECK_EQ_INT(failures3, (int)sizeof(m3) * 8);
	REQUIRE(noise_hs_read(&s, m3, sizeof(m3), pl, sizeof(pl), &pn) == 0);
	CHECK(noise_hs_finished(&s));
	/* A failed handshake stays failed. */
	s2 = s;
	CHECK_EQ_INT(noise_hs_read(&s2, m3, sizeof(m3), pl, sizeof(pl), &pn), SOTTO_ERR_STATE);
	noise_hs_wipe(&c);
	noise_hs_wipe(&s);
	noise_hs_wipe(&c2);
	noise_hs_wipe(&s2);
}

TEST(noise_transport_nonces)
{
	struct pair p;
	uint8_t ct[3][32], pt[32];
	int i;

	pair_keys(&p);
	REQUIRE(pair_handshake(&p, p.server_pk) == 0);
	for (i = 0; i < 3; i++)
		REQUIRE(noise_encrypt(&p.tc.tx, NULL, 0, (const uint8_t *)"abcd", 4, ct[i]) == 0);
	CHECK_EQ_INT(p.tc.tx.n, 3);
	/* Ciphertexts differ per nonce. */
	CHECK(memcmp(ct[0], ct[1], 20) != 0);
	/* Out of order is refused and does not advance the receiver. */
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[1], 20, pt), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(p.ts.rx.n, 0);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[0], 20, pt), 0);
	/* Replay refused. */
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[0], 20, pt), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[1], 20, pt), 0);
	/* In place works. */
	memcpy(pt, ct[2], 20);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, pt, 20, pt), 0);
	CHECK_MEM(pt, "abcd", 4);
	/* Too short for a tag. */
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[0], 15, pt), SOTTO_ERR_TRUNCATED);

	/* Nonce 2^64-1 is reserved: the last usable nonce works, then a hard stop. */
	p.tc.tx.n = UINT64_MAX - 1;
	p.ts.rx.n = UINT64_MAX - 1;
	CHECK_EQ_INT(noise_encrypt(&p.tc.tx, NULL, 0, (const uint8_t *)"abcd", 4, ct[0]), 0);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[0], 20, pt), 0);
	CHECK_EQ_INT(noise_encrypt(&p.tc.tx, NULL, 0, (const uint8_t *)"abcd", 4, ct[1]),
	    SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(p.tc.tx.n, UINT64_MAX);
	CHECK_EQ_INT(noise_decrypt(&p.ts.rx, NULL, 0, ct[0], 20, pt), SOTTO_ERR_LIMIT);
	noise_transport_wipe(&p.tc);
	noise_transport_wipe(&p.ts);
}

TEST(noise_init_checks_keys_and_state)
{
	struct noise_hs hs;
	uint8_t k[32] = { 1 }, out[128], pl[8];
	size_t n;

	CHECK_EQ_INT(noise_hs_init(&hs, "XX", 1, NULL, 0, NULL, NULL), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(noise_hs_init(&hs, "NN", 1, NULL, 0, k, NULL), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(noise_hs_init(&hs, "IK", 1, NULL, 0, k, NULL), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(noise_hs_init(&hs, "XY", 1, NULL, 0, NULL, NULL), SOTTO_ERR_UNSUPPORTED);
	REQUIRE(noise_hs_init(&hs, "NN", 0, NULL, 0, NULL, NULL) == 0);
	CHECK_EQ_INT(noise_hs_write(&hs, NULL, 0, out, sizeof(out), &n), SOTTO_ERR_STATE);
	REQUIRE(noise_hs_init(&hs, "NN", 1, NULL, 0, NULL, NULL) == 0);
	CHECK_EQ_INT(noise_hs_read(&hs, out, 32, pl, sizeof(pl), &n), SOTTO_ERR_STATE);
	CHECK_EQ_INT(noise_hs_write(&hs, NULL, 0, out, 31, &n), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(noise_hs_split(&hs, &(struct noise_transport){ 0 }), SOTTO_ERR_STATE);
	noise_hs_wipe(&hs);
}

TEST(noise_hmac_known_shape)
{
	/* HMAC with a key longer than the block equals HMAC with BLAKE2b(key). */
	uint8_t longkey[200], hk[64], a[64], b[64];

	memset(longkey, 0xab, sizeof(longkey));
	crypto_generichash_blake2b(hk, 64, longkey, sizeof(longkey), NULL, 0);
	noise_hmac_blake2b(a, longkey, sizeof(longkey), (const uint8_t *)"m", 1);
	noise_hmac_blake2b(b, hk, sizeof(hk), (const uint8_t *)"m", 1);
	CHECK_MEM(a, b, 64);
	noise_hmac_blake2b(b, hk, 32, (const uint8_t *)"m", 1);
	CHECK(memcmp(a, b, 64) != 0);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(noise_vectors_all_patterns);
	RUN(noise_vectors_psk);
	RUN(noise_psk_missing_or_wrong);
	RUN(noise_sotto_profile_handshake);
	RUN(noise_wrong_pinned_key_fails);
	RUN(noise_tampered_handshake_fails);
	RUN(noise_transport_nonces);
	RUN(noise_init_checks_keys_and_state);
	RUN(noise_hmac_known_shape);
	return check_summary();
}
