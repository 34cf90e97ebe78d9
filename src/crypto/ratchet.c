/*
 * Double Ratchet state machine (Signal's specification, section 3), suite-agnostic.
 *
 * Decryption never edits the state until the suite has authenticated the message: every
 * derived key goes into locals and a pending list, and is committed only after open()
 * succeeded. So a forged, corrupted or replayed message cannot desynchronise a session,
 * and used message keys are deleted the moment they are used.
 */
#include "crypto/ratchet.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "crypto/hkdf.h"
#include "crypto/rand.h"
#include "crypto/secmem.h"

#define RATCHET_STATE_VERSION 5
#define RATCHET_STATE_VERSION_4 4   /* the KEM part inside the one checksum, no pending step */
#define RATCHET_STATE_VERSION_3 3   /* no KEM part (classical only); still read */
#define RATCHET_STATE_VERSION_2 2   /* no digests of received messages; still read */
#define RATCHET_STATE_VERSION_1 1   /* no checksum either; still read */
#define RATCHET_STATE_CHECK_LEN 16
#define RATCHET_PREV_MAX 8        /* earlier receiving ratchet keys remembered for replays */
#define RATCHET_RECENT_MAX 32     /* digests of the last messages received */
#define RATCHET_DIGEST_LEN 16

#define F_HAS_DHR 0x01
#define F_HAS_CKS 0x02
#define F_HAS_CKR 0x04
#define F_RECEIVED 0x08
#define F_ALL (F_HAS_DHR | F_HAS_CKS | F_HAS_CKR | F_RECEIVED)

/* The KEM ratchet (docs/PROTOCOL.md 4.4). */
#define K_PQ 0x01          /* a PQ ratchet: every message carries the KEM part */
#define K_HAS_DK 0x02      /* kem_dk is our current key pair, its ek in our headers */
#define K_HAS_CT 0x04      /* kem_ct goes in the headers of our current sending chain */
#define K_SEND_PENDING 0x08 /* the sending half of the last step waits for our first send;
                            * kem_peer_ek is the key it encapsulates to, kem_send_seed
                            * its randomness */
/* The sending half-step's randomness from its seed (docs/PROTOCOL.md 4.4). */
#define SEND_STEP_SEED_LEN 32
#define SEND_STEP_INFO "Sotto ratchet send step ML-KEM-768 v1"
#define SEND_STEP_OKM_LEN (DH_SECRET_LEN + MLKEM768_SEED_LEN + MLKEM768_RAND_LEN)
#define K_ALL (K_PQ | K_HAS_DK | K_HAS_CT | K_SEND_PENDING)
/* dk = dk_pke || ek || H(ek) || z (FIPS 203): the encapsulation key is inside it. */
#define KEM_DK_EK_OFFSET (384 * MLKEM768_K)

/* A message key kept for a message not yet received. mk is SECRET. */
struct skipped {
	uint8_t dh[DH_PUBLIC_LEN];
	uint32_t n;
	uint8_t mk[RATCHET_KEY_LEN];
};

#define SKIPPED_WIRE_LEN (DH_PUBLIC_LEN + 4 + RATCHET_KEY_LEN)

/* A message received: which key it used and a digest of its bytes. Not secret (the header
 * is public and the digest is of the ciphertext); it tells a redelivery (same bytes) from
 * a second message under the same number (a sender whose state was rolled back). */
struct recent {
	uint8_t dh[DH_PUBLIC_LEN];
	uint32_t n;
	uint8_t digest[RATCHET_DIGEST_LEN];
};

struct ratchet {
	const struct ratchet_suite *suite;
	uint32_t max_skip;
	uint8_t flags;
	uint8_t local_ident[X3DH_IDENT_PUB_MAX];
	size_t local_len;
	uint8_t remote_ident[X3DH_IDENT_PUB_MAX];
	size_t remote_len;
	uint8_t rk[RATCHET_KEY_LEN];          /* SECRET */
	uint8_t dhs_pub[DH_PUBLIC_LEN];
	uint8_t dhs_sec[DH_SECRET_LEN];       /* SECRET */
	uint8_t dhr[DH_PUBLIC_LEN];
	uint8_t cks[RATCHET_KEY_LEN];         /* SECRET */
	uint32_t ns;
	uint8_t ckr[RATCHET_KEY_LEN];         /* SECRET */
	uint32_t nr;
	uint32_t pn;
	uint8_t prev[RATCHET_PREV_MAX][DH_PUBLIC_LEN];
	uint8_t nprev;
	struct skipped *skipped;              /* secure memory; oldest first */
	size_t nskipped;
	size_t cap_skipped;
	struct recent recent[RATCHET_RECENT_MAX];   /* oldest first */
	uint8_t nrecent;
	uint8_t kem;                          /* K_* */
	uint8_t kem_dk[MLKEM768_DK_LEN];      /* SECRET */
	uint8_t kem_ct[RATCHET_KEM_CT_LEN];   /* to the peer's key; public, sent in headers */
	uint8_t kem_peer_ek[RATCHET_KEM_EK_LEN];  /* with K_SEND_PENDING; public */
	uint8_t kem_send_seed[SEND_STEP_SEED_LEN]; /* with K_SEND_PENDING; SECRET */
	/* BLAKE2b-128 of the KEM part as serialized (state version 5), recomputed whenever the
	 * part changes (at a step, not per message), so saving a state does not hash it. */
	uint8_t kem_check[RATCHET_STATE_CHECK_LEN];
};

/* Message keys derived while decrypting one message, committed only on success. */
struct pending {
	struct skipped *k;                    /* secure memory */
	size_t n;
	size_t cap;
};

static struct ratchet *
ratchet_alloc(const struct ratchet_suite *s, uint32_t max_skip)
{
	struct ratchet *r;

	if (max_skip == 0)
		max_skip = RATCHET_MAX_SKIP_DEFAULT;
	if (max_skip > RATCHET_MAX_SKIP_LIMIT)
		return NULL;
	if ((r = secmem_alloc(sizeof(*r))) == NULL)
		return NULL;
	r->suite = s;
	r->max_skip = max_skip;
	return r;
}

void
ratchet_free(struct ratchet *r)
{
	if (r == NULL)
		return;
	secmem_free(r->skipped);
	secmem_free(r);
}

static int
ratchet_set_idents(struct ratchet *r, const uint8_t *local, size_t local_len,
    const uint8_t *remote, size_t remote_len)
{
	const struct ratchet_suite *s = r->suite;

	if (local_len != s->ident_pub_len || remote_len != s->ident_pub_len ||
	    local_len > X3DH_IDENT_PUB_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(r->local_ident, local, local_len);
	r->local_len = local_len;
	memcpy(r->remote_ident, remote, remote_len);
	r->remote_len = remote_len;
	return 0;
}

int
ratchet_init_alice(struct ratchet **out, const struct ratchet_suite *s,
    const uint8_t rk[static RATCHET_KEY_LEN], const uint8_t bob_ratchet_pub[static DH_PUBLIC_LEN],
    const uint8_t *local_ident, size_t local_len, const uint8_t *remote_ident, size_t remote_len,
    uint32_t max_skip)
{
	uint8_t dh[DH_SHARED_LEN];            /* SECRET */
	struct ratchet *r;
	int err;

	*out = NULL;
	if ((r = ratchet_alloc(s, max_skip)) == NULL)
		return max_skip > RATCHET_MAX_SKIP_LIMIT ? SOTTO_ERR_INVALID_ARG : SOTTO_ERR_NOMEM;
	if ((err = ratchet_set_idents(r, local_ident, local_len, remote_ident, remote_len)) != 0)
		goto out;
	/* Alice ratchets at once against Bob's signed prekey: her first sending chain. */
	if ((err = dh_keypair(r->dhs_pub, r->dhs_sec)) != 0 ||
	    (err = dh_shared(dh, r->dhs_sec, bob_ratchet_pub)) != 0 ||
	    (err = s->kdf_root(r->rk, r->cks, rk, dh)) != 0)
		goto out;
	memcpy(r->dhr, bob_ratchet_pub, DH_PUBLIC_LEN);
	r->flags = F_HAS_DHR | F_HAS_CKS;
	*out = r;
	r = NULL;
out:
	sodium_memzero(dh, sizeof(dh));
	ratchet_free(r);
	return err;
}

int
ratchet_init_bob(struct ratchet **out, const struct ratchet_suite *s,
    const uint8_t rk[static RATCHET_KEY_LEN], const struct x3dh_keypair *spk,
    const uint8_t *local_ident, size_t local_len, const uint8_t *remote_ident, size_t remote_len,
    uint32_t max_skip)
{
	struct ratchet *r;
	int err;

	*out = NULL;
	if ((r = ratchet_alloc(s, max_skip)) == NULL)
		return max_skip > RATCHET_MAX_SKIP_LIMIT ? SOTTO_ERR_INVALID_ARG : SOTTO_ERR_NOMEM;
	if ((err = ratchet_set_idents(r, local_ident, local_len, remote_ident, remote_len)) != 0) {
		ratchet_free(r);
		return err;
	}
	/* Bob's first ratchet key pair is his signed prekey; he sends only after receiving. */
	memcpy(r->rk, rk, RATCHET_KEY_LEN);
	memcpy(r->dhs_pub, spk->pub, DH_PUBLIC_LEN);
	memcpy(r->dhs_sec, spk->sec, DH_SECRET_LEN);
	r->flags = 0;
	*out = r;
	return 0;
}

/* The KEM part of a state as serialized: [kem_dk] [kem_ct] [kem_peer_ek], by r->kem. */
static size_t
ratchet_kem_part_len(const struct ratchet *r)
{
	return ((r->kem & K_HAS_DK) ? MLKEM768_DK_LEN : 0) +
	    ((r->kem & K_HAS_CT) ? RATCHET_KEM_CT_LEN : 0) +
	    ((r->kem & K_SEND_PENDING) ? RATCHET_KEM_EK_LEN + SEND_STEP_SEED_LEN : 0);
}

/* BLAKE2b-128 (unkeyed) of the KEM part (docs/PROTOCOL.md section 6, kem_check). */
static void
ratchet_kem_digest(const struct ratchet *r, uint8_t out[RATCHET_STATE_CHECK_LEN])
{
	crypto_generichash_state st;

	(void)crypto_generichash_init(&st, NULL, 0, RATCHET_STATE_CHECK_LEN);
	if (r->kem & K_HAS_DK)
		(void)crypto_generichash_update(&st, r->kem_dk, MLKEM768_DK_LEN);
	if (r->kem & K_HAS_CT)
		(void)crypto_generichash_update(&st, r->kem_ct, RATCHET_KEM_CT_LEN);
	if (r->kem & K_SEND_PENDING) {
		(void)crypto_generichash_update(&st, r->kem_peer_ek, RATCHET_KEM_EK_LEN);
		(void)crypto_generichash_update(&st, r->kem_send_seed, SEND_STEP_SEED_LEN);
	}
	(void)crypto_generichash_final(&st, out, RATCHET_STATE_CHECK_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* A fresh ML-KEM-768 key pair into dk (SECRET; wiped on failure). */
static int
ratchet_kem_keygen(uint8_t dk[MLKEM768_DK_LEN])
{
	uint8_t ek[MLKEM768_EK_LEN];
	int err;

	if ((err = mlkem768_keygen(ek, dk)) != 0)
		sodium_memzero(dk, MLKEM768_DK_LEN);
	return err;
}

int
ratchet_enable_kem(struct ratchet *r)
{
	int err;

	if (r->suite->kdf_root_pq == NULL)
		return SOTTO_ERR_UNSUPPORTED;
	if (r->kem != 0 || r->ns != 0 || (r->flags & F_RECEIVED))
		return SOTTO_ERR_STATE;
	/* Alice sends at once: her first chain carries her key (no ciphertext yet, as she has
	 * no key of Bob's; PQXDH's secret is in the root key). Bob's first key pair is made at
	 * his first ratchet step. */
	if ((r->flags & F_HAS_CKS) && (err = ratchet_kem_keygen(r->kem_dk)) != 0)
		return err;
	r->kem = K_PQ | ((r->flags & F_HAS_CKS) ? K_HAS_DK : 0);
	ratchet_kem_digest(r, r->kem_check);
	return 0;
}

int
ratchet_is_pq(const struct ratchet *r)
{
	return (r->kem & K_PQ) != 0;
}

static int
skipped_reserve(struct skipped **arr, size_t *cap, size_t want)
{
	struct skipped *n;
	size_t ncap = *cap ? *cap : 16;

	if (want <= *cap)
		return 0;
	while (ncap < want)
		ncap *= 2;
	if ((n = secmem_alloc(ncap * sizeof(*n))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (*arr != NULL) {
		memcpy(n, *arr, *cap * sizeof(*n));
		secmem_free(*arr);
	}
	*arr = n;
	*cap = ncap;
	return 0;
}

int
ratchet_clone(struct ratchet **out, const struct ratchet *r)
{
	struct ratchet *c;

	*out = NULL;
	if ((c = secmem_alloc(sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(c, r, sizeof(*c));
	c->skipped = NULL;
	c->cap_skipped = 0;
	if (r->nskipped > 0) {
		if (skipped_reserve(&c->skipped, &c->cap_skipped, r->nskipped) != 0) {
			secmem_free(c);
			return SOTTO_ERR_NOMEM;
		}
		memcpy(c->skipped, r->skipped, r->nskipped * sizeof(*c->skipped));
	}
	*out = c;
	return 0;
}

/*
 * The sending half of a PQ ratchet step, deferred from the step to the first send after
 * it (docs/PROTOCOL.md 4.4): a new DH key pair and ML-KEM-768 key pair, Encaps to the
 * peer's key, KDF_RK_PQ. Its randomness comes from the seed drawn at the step and kept in
 * the state, so a state restored from a copy repeats the same step (the same keys, which
 * the receiver's rollback check recognises) rather than forking the session. Into the
 * caller's locals only; committed after the first message of the chain is sealed.
 */
struct send_step {
	uint8_t rk[RATCHET_KEY_LEN], cks[RATCHET_KEY_LEN];                 /* SECRET */
	uint8_t dhs_pub[DH_PUBLIC_LEN], dhs_sec[DH_SECRET_LEN];            /* sec SECRET */
	uint8_t kem_ek[MLKEM768_EK_LEN];
	uint8_t kem_dk[MLKEM768_DK_LEN];                                   /* SECRET */
	uint8_t kem_ct[RATCHET_KEM_CT_LEN];
	uint8_t okm[SEND_STEP_OKM_LEN];                                    /* SECRET */
};

static int
ratchet_send_step(const struct ratchet *r, struct send_step *st)
{
	uint8_t dh[DH_SHARED_LEN], ss[MLKEM768_SS_LEN];      /* SECRET */
	const uint8_t *dz = st->okm + DH_SECRET_LEN, *m = dz + MLKEM768_SEED_LEN;
	int err;

	/* DH secret || ML-KEM key generation seed d || z || Encaps randomness m */
	if ((err = hkdf_sha256(st->okm, sizeof(st->okm), NULL, 0, r->kem_send_seed,
	    SEND_STEP_SEED_LEN, (const uint8_t *)SEND_STEP_INFO, sizeof(SEND_STEP_INFO) - 1)) != 0)
		goto out;
	memcpy(st->dhs_sec, st->okm, DH_SECRET_LEN);
	if ((err = dh_public(st->dhs_pub, st->dhs_sec)) != 0 ||
	    (err = dh_shared(dh, st->dhs_sec, r->dhr)) != 0 ||
	    (err = mlkem768_encaps_internal(st->kem_ct, ss, r->kem_peer_ek, RATCHET_KEM_EK_LEN,
	    m)) != 0 ||
	    (err = mlkem768_keygen_seed(st->kem_ek, st->kem_dk, dz, MLKEM768_SEED_LEN)) != 0 ||
	    (err = r->suite->kdf_root_pq(st->rk, st->cks, r->rk, dh, ss)) != 0)
		goto out;
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(ss, sizeof(ss));
	return err;
}

/* After the first message of the deferred chain is sealed: the step becomes the state. */
static void
ratchet_commit_send_step(struct ratchet *r, const struct send_step *st)
{
	memcpy(r->rk, st->rk, RATCHET_KEY_LEN);
	memcpy(r->dhs_pub, st->dhs_pub, DH_PUBLIC_LEN);
	memcpy(r->dhs_sec, st->dhs_sec, DH_SECRET_LEN);
	memcpy(r->kem_dk, st->kem_dk, MLKEM768_DK_LEN);
	memcpy(r->kem_ct, st->kem_ct, RATCHET_KEM_CT_LEN);
	memset(r->kem_peer_ek, 0, RATCHET_KEM_EK_LEN);
	sodium_memzero(r->kem_send_seed, SEND_STEP_SEED_LEN);
	r->kem = K_PQ | K_HAS_DK | K_HAS_CT;
	ratchet_kem_digest(r, r->kem_check);
	r->flags |= F_HAS_CKS;
}

int
ratchet_encrypt(struct ratchet *r, struct buf *out, const uint8_t *pt, size_t len)
{
	uint8_t ck[RATCHET_KEY_LEN], mk[RATCHET_KEY_LEN];   /* SECRET */
	struct send_step *st = NULL;                        /* SECRET */
	const uint8_t *cks = r->cks;
	struct ratchet_header h;
	struct ratchet_ad ad;
	size_t mark = out->len;
	int err;

	if (!(r->flags & F_HAS_CKS) && !(r->kem & K_SEND_PENDING))
		return SOTTO_ERR_STATE;
	if (len > RATCHET_PLAINTEXT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (r->ns == UINT32_MAX)
		return SOTTO_ERR_LIMIT;
	memcpy(h.dh_pub, r->dhs_pub, DH_PUBLIC_LEN);
	h.kem_ek = NULL;
	h.kem_ct = NULL;
	if (r->kem & K_SEND_PENDING) {
		if ((st = secmem_alloc(sizeof(*st))) == NULL)
			return SOTTO_ERR_NOMEM;
		if ((err = ratchet_send_step(r, st)) != 0)
			goto out;
		cks = st->cks;
		memcpy(h.dh_pub, st->dhs_pub, DH_PUBLIC_LEN);
		h.kem_ek = st->kem_dk + KEM_DK_EK_OFFSET;
		h.kem_ct = st->kem_ct;
	} else if (r->kem & K_PQ) {
		if (!(r->kem & K_HAS_DK)) {
			err = SOTTO_ERR_STATE;
			goto out;
		}
		h.kem_ek = r->kem_dk + KEM_DK_EK_OFFSET;
		if (r->kem & K_HAS_CT)
			h.kem_ct = r->kem_ct;
	}
	if ((err = r->suite->kdf_chain(ck, mk, cks)) != 0)
		goto out;
	h.pn = r->pn;
	h.n = r->ns;
	ad.sender_ident = r->local_ident;
	ad.sender_ident_len = r->local_len;
	ad.receiver_ident = r->remote_ident;
	ad.receiver_ident_len = r->remote_len;
	if ((err = r->suite->seal(out, mk, &h, &ad, pt, len)) != 0) {
		if (out->err == 0 && out->len >= mark)
			out->len = mark;
		goto out;
	}
	if (st != NULL)
		ratchet_commit_send_step(r, st);
	memcpy(r->cks, ck, RATCHET_KEY_LEN);
	r->ns++;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(mk, sizeof(mk));
	secmem_free(st);        /* wipes it */
	return err;
}

static void
pending_free(struct pending *p)
{
	secmem_free(p->k);
	memset(p, 0, sizeof(*p));
}

/* Derives the keys of messages [from, until) of chain dh starting at *ck (advanced). */
static int
pending_skip(struct pending *p, const struct ratchet_suite *s, const uint8_t dh[DH_PUBLIC_LEN],
    uint8_t ck[RATCHET_KEY_LEN], uint32_t from, uint32_t until)
{
	uint32_t i;
	int err;

	if (until <= from)
		return 0;
	if ((err = skipped_reserve(&p->k, &p->cap, p->n + (until - from))) != 0)
		return err;
	for (i = from; i < until; i++) {
		struct skipped *k = &p->k[p->n++];

		memcpy(k->dh, dh, DH_PUBLIC_LEN);
		k->n = i;
		if ((err = s->kdf_chain(ck, k->mk, ck)) != 0)
			return err;
	}
	return 0;
}

/* Appends pending keys to the store, evicting the oldest beyond max_skip: the bound keeps
 * a peer from making us hold an unbounded number of keys. */
static int
ratchet_store_pending(struct ratchet *r, const struct pending *p)
{
	size_t total = r->nskipped + p->n, drop;
	int err;

	if (p->n == 0)
		return 0;
	if ((err = skipped_reserve(&r->skipped, &r->cap_skipped, total)) != 0)
		return err;
	memcpy(r->skipped + r->nskipped, p->k, p->n * sizeof(*p->k));
	r->nskipped = total;
	if (total > r->max_skip) {
		drop = total - r->max_skip;
		sodium_memzero(r->skipped, drop * sizeof(*r->skipped));
		memmove(r->skipped, r->skipped + drop, (total - drop) * sizeof(*r->skipped));
		sodium_memzero(r->skipped + total - drop, drop * sizeof(*r->skipped));
		r->nskipped = total - drop;
	}
	return 0;
}

static void
ratchet_delete_skipped(struct ratchet *r, size_t i)
{
	memmove(r->skipped + i, r->skipped + i + 1, (r->nskipped - i - 1) * sizeof(*r->skipped));
	r->nskipped--;
	sodium_memzero(r->skipped + r->nskipped, sizeof(*r->skipped));
}

static long
ratchet_find_skipped(const struct ratchet *r, const struct ratchet_header *h)
{
	size_t i;

	for (i = 0; i < r->nskipped; i++)
		if (r->skipped[i].n == h->n &&
		    sodium_memcmp(r->skipped[i].dh, h->dh_pub, DH_PUBLIC_LEN) == 0)
			return (long)i;
	return -1;
}

static int
ratchet_is_prev(const struct ratchet *r, const uint8_t dh[DH_PUBLIC_LEN])
{
	size_t i;

	for (i = 0; i < r->nprev; i++)
		if (sodium_memcmp(r->prev[i], dh, DH_PUBLIC_LEN) == 0)
			return 1;
	return 0;
}

static void
recent_digest(uint8_t d[RATCHET_DIGEST_LEN], const uint8_t *msg, size_t len)
{
	crypto_generichash(d, RATCHET_DIGEST_LEN, msg, len, NULL, 0);
}

static void
ratchet_note_recent(struct ratchet *r, const struct ratchet_header *h, const uint8_t *msg,
    size_t len)
{
	struct recent *e;

	if (r->nrecent == RATCHET_RECENT_MAX) {
		memmove(&r->recent[0], &r->recent[1], (RATCHET_RECENT_MAX - 1) * sizeof(r->recent[0]));
		r->nrecent--;
	}
	e = &r->recent[r->nrecent++];
	memcpy(e->dh, h->dh_pub, DH_PUBLIC_LEN);
	e->n = h->n;
	recent_digest(e->digest, msg, len);
}

/* A message whose key is gone. SOTTO_ERR_ROLLBACK if a message with the same ratchet key
 * and number but other bytes was received: the sender encrypted twice under one message
 * key, which happens when its state was restored from an older copy. Otherwise (the same
 * bytes again, or too old to tell) SOTTO_ERR_REPLAY. */
static int
ratchet_replay(const struct ratchet *r, const struct ratchet_header *h, const uint8_t *msg,
    size_t len)
{
	uint8_t d[RATCHET_DIGEST_LEN];
	size_t i;

	for (i = 0; i < r->nrecent; i++) {
		if (r->recent[i].n != h->n ||
		    sodium_memcmp(r->recent[i].dh, h->dh_pub, DH_PUBLIC_LEN) != 0)
			continue;
		recent_digest(d, msg, len);
		return sodium_memcmp(d, r->recent[i].digest, RATCHET_DIGEST_LEN) == 0 ?
		    SOTTO_ERR_REPLAY : SOTTO_ERR_ROLLBACK;
	}
	return SOTTO_ERR_REPLAY;
}

static int
buf_room(const struct buf *b, size_t n)
{
	return b->err == 0 && n <= b->max - b->len;
}

/* Opens msg under mk into a scratch buffer, then copies it to pt only if it all fits. */
static int
ratchet_open(struct ratchet *r, struct buf *pt, const uint8_t mk[RATCHET_KEY_LEN],
    const struct ratchet_header *h, const uint8_t *msg, size_t len)
{
	struct ratchet_ad ad;
	struct buf tmp;
	int err;

	ad.sender_ident = r->remote_ident;
	ad.sender_ident_len = r->remote_len;
	ad.receiver_ident = r->local_ident;
	ad.receiver_ident_len = r->local_len;
	buf_init_dyn(&tmp, RATCHET_PLAINTEXT_MAX);
	if ((err = r->suite->open(&tmp, mk, h, &ad, msg, len)) == 0 &&
	    (err = buf_status(&tmp)) == 0) {
		if (!buf_room(pt, tmp.len))
			err = SOTTO_ERR_TOO_LARGE;
		else if (tmp.len > 0)
			buf_put(pt, tmp.p, tmp.len);
	}
	buf_wipe_free(&tmp);
	return err;
}

/*
 * The DH ratchet step for a new peer key, into locals only: the receiving chain
 * (rk1, ckr), and in a classical ratchet our next sending chain (rk2, cks) with a new DH
 * key pair. In a PQ ratchet the receiving chain mixes in Decaps(our dk, the header's ct)
 * (absent only while we have no key pair, i.e. Bob's first step), and the sending half
 * (new key pairs, Encaps to the header's ek) waits for our first send (ratchet_send_step),
 * so rk2, cks and the DH pair are left untouched; the header's ek is checked here (FIPS
 * 203 7.2) so that a bad one is refused with the message. A ciphertext that is missing,
 * present where none can be, or altered gives other keys (implicit rejection), so the
 * message fails to authenticate.
 */
static int
ratchet_step(const struct ratchet *r, const struct ratchet_header *h,
    uint8_t rk1[RATCHET_KEY_LEN], uint8_t rk2[RATCHET_KEY_LEN], uint8_t ckr[RATCHET_KEY_LEN],
    uint8_t cks[RATCHET_KEY_LEN], uint8_t dhs_pub[DH_PUBLIC_LEN],
    uint8_t dhs_sec[DH_SECRET_LEN])
{
	const struct ratchet_suite *s = r->suite;
	uint8_t dh[DH_SHARED_LEN], ss[MLKEM768_SS_LEN];      /* SECRET */
	int pq = (r->kem & K_PQ) != 0, err;

	if (pq && (h->kem_ct != NULL) != ((r->kem & K_HAS_DK) != 0)) {
		err = SOTTO_ERR_DECRYPT;
		goto out;
	}
	if (pq && (err = mlkem768_ek_check(h->kem_ek, RATCHET_KEM_EK_LEN)) != 0)
		goto out;
	if ((err = dh_shared(dh, r->dhs_sec, h->dh_pub)) != 0)
		goto out;
	if (pq && h->kem_ct != NULL) {
		if ((err = mlkem768_decaps(ss, r->kem_dk, MLKEM768_DK_LEN, h->kem_ct,
		    RATCHET_KEM_CT_LEN)) != 0 ||
		    (err = s->kdf_root_pq(rk1, ckr, r->rk, dh, ss)) != 0)
			goto out;
	} else if ((err = s->kdf_root(rk1, ckr, r->rk, dh)) != 0) {
		goto out;
	}
	if (pq)
		goto out;
	if ((err = dh_keypair(dhs_pub, dhs_sec)) != 0 ||
	    (err = dh_shared(dh, dhs_sec, h->dh_pub)) != 0 ||
	    (err = s->kdf_root(rk2, cks, rk1, dh)) != 0)
		goto out;
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(ss, sizeof(ss));
	return err;
}

int
ratchet_decrypt(struct ratchet *r, struct buf *pt, const uint8_t *msg, size_t len)
{
	const struct ratchet_suite *s = r->suite;
	struct ratchet_header h;
	struct pending p = { 0 };
	/* SECRET: candidate state, committed only after authentication */
	uint8_t rk1[RATCHET_KEY_LEN], rk2[RATCHET_KEY_LEN], ckr[RATCHET_KEY_LEN];
	uint8_t cks[RATCHET_KEY_LEN], mk[RATCHET_KEY_LEN], old_ck[RATCHET_KEY_LEN];
	uint8_t dhs_sec[DH_SECRET_LEN], dhs_pub[DH_PUBLIC_LEN];
	int new_chain = 0, err;
	long idx;

	if (len > RATCHET_MSG_MAX)
		return SOTTO_ERR_TOO_LARGE;
	memset(&h, 0, sizeof(h));
	if ((err = s->parse_header(&h, msg, len)) != 0)
		return err;
	if (h.n == UINT32_MAX || h.pn == UINT32_MAX)
		return SOTTO_ERR_MALFORMED;
	/* A PQ session takes only messages with the KEM part (a stripped one would be a
	 * downgrade), a classical one only messages without. */
	if ((h.kem_ek != NULL) != ((r->kem & K_PQ) != 0))
		return SOTTO_ERR_BAD_VERSION;

	/* 1. A message we skipped earlier: its key is in the store, used once then deleted. */
	if ((idx = ratchet_find_skipped(r, &h)) >= 0) {
		err = ratchet_open(r, pt, r->skipped[idx].mk, &h, msg, len);
		if (err == 0) {
			ratchet_delete_skipped(r, (size_t)idx);
			ratchet_note_recent(r, &h, msg, len);
		}
		return err;
	}

	if ((r->flags & F_HAS_DHR) && sodium_memcmp(h.dh_pub, r->dhr, DH_PUBLIC_LEN) == 0) {
		/* 2. The current receiving chain. */
		if (!(r->flags & F_HAS_CKR))
			return SOTTO_ERR_DECRYPT;   /* nobody sends on a signed-prekey chain */
		if (h.n < r->nr)            /* key used or evicted: never again */
			return ratchet_replay(r, &h, msg, len);
		if (h.n - r->nr > r->max_skip)
			return SOTTO_ERR_TOO_MANY_SKIPPED;
		memcpy(ckr, r->ckr, RATCHET_KEY_LEN);
		if ((err = pending_skip(&p, s, h.dh_pub, ckr, r->nr, h.n)) != 0)
			goto out;
	} else {
		/* 3. A new ratchet key from the peer: a DH ratchet step. */
		if (ratchet_is_prev(r, h.dh_pub))   /* an old chain whose keys are all gone */
			return ratchet_replay(r, &h, msg, len);
		if (h.n > r->max_skip)
			return SOTTO_ERR_TOO_MANY_SKIPPED;
		if (r->flags & F_HAS_CKR) {
			if (h.pn > r->nr && h.pn - r->nr > r->max_skip)
				return SOTTO_ERR_TOO_MANY_SKIPPED;
			memcpy(old_ck, r->ckr, RATCHET_KEY_LEN);
			if ((err = pending_skip(&p, s, r->dhr, old_ck, r->nr, h.pn)) != 0)
				goto out;
		}
		if ((err = ratchet_step(r, &h, rk1, rk2, ckr, cks, dhs_pub, dhs_sec)) != 0)
			goto out;
		if ((err = pending_skip(&p, s, h.dh_pub, ckr, 0, h.n)) != 0)
			goto out;
		new_chain = 1;
	}
	if ((err = s->kdf_chain(ckr, mk, ckr)) != 0)
		goto out;
	if ((err = ratchet_open(r, pt, mk, &h, msg, len)) != 0)
		goto out;

	/* Authenticated: commit. A store allocation failure after this point would lose the
	 * skipped keys only, never the session. */
	if (new_chain) {
		if (r->flags & F_HAS_DHR) {
			if (r->nprev == RATCHET_PREV_MAX) {
				memmove(r->prev[0], r->prev[1], (RATCHET_PREV_MAX - 1) * DH_PUBLIC_LEN);
				r->nprev--;
			}
			memcpy(r->prev[r->nprev++], r->dhr, DH_PUBLIC_LEN);
		}
		memcpy(r->dhr, h.dh_pub, DH_PUBLIC_LEN);
		if (r->kem & K_PQ) {
			/* Our used key pair goes; the sending half waits for our first send. */
			memcpy(r->rk, rk1, RATCHET_KEY_LEN);
			sodium_memzero(r->cks, RATCHET_KEY_LEN);
			sodium_memzero(r->kem_dk, MLKEM768_DK_LEN);
			memcpy(r->kem_peer_ek, h.kem_ek, RATCHET_KEM_EK_LEN);
			rand_bytes(r->kem_send_seed, SEND_STEP_SEED_LEN);
			r->kem = K_PQ | K_SEND_PENDING;
			ratchet_kem_digest(r, r->kem_check);
			r->flags &= (uint8_t)~F_HAS_CKS;
		} else {
			memcpy(r->rk, rk2, RATCHET_KEY_LEN);
			memcpy(r->cks, cks, RATCHET_KEY_LEN);
			memcpy(r->dhs_pub, dhs_pub, DH_PUBLIC_LEN);
			memcpy(r->dhs_sec, dhs_sec, DH_SECRET_LEN);
			r->flags |= F_HAS_CKS;
		}
		r->pn = r->ns;
		r->ns = 0;
		r->flags |= F_HAS_DHR | F_HAS_CKR;
	}
	memcpy(r->ckr, ckr, RATCHET_KEY_LEN);
	r->nr = h.n + 1;
	r->flags |= F_RECEIVED;
	ratchet_note_recent(r, &h, msg, len);
	(void)ratchet_store_pending(r, &p);
	err = 0;
out:
	sodium_memzero(rk1, sizeof(rk1));
	sodium_memzero(rk2, sizeof(rk2));
	sodium_memzero(ckr, sizeof(ckr));
	sodium_memzero(cks, sizeof(cks));
	sodium_memzero(mk, sizeof(mk));
	sodium_memzero(old_ck, sizeof(old_ck));
	sodium_memzero(dhs_sec, sizeof(dhs_sec));
	pending_free(&p);
	return err;
}

/*
 * State format (big-endian), SECRET as a whole:
 *   u8 version=5, u8 suite id, u32 max_skip, u8 flags,
 *   u8 len + local identity, u8 len + remote identity,
 *   rk[32], dhs_pub[32], dhs_sec[32], dhr[32], cks[32], u32 ns, ckr[32], u32 nr, u32 pn,
 *   u8 nprev (<= 8) + nprev * [32],
 *   u32 nskipped (<= max_skip) + nskipped * (dh[32], u32 n, mk[32]),
 *   u8 nrecent (<= 32) + nrecent * (dh[32], u32 n, digest[16]),
 *   u8 kem (K_*) [+ kem_dk[2400] with K_HAS_DK] [+ kem_ct[1088] with K_HAS_CT]
 *     [+ kem_peer_ek[1184] + send_seed[32] with K_SEND_PENDING]
 *     [+ kem_check[16] unless kem is 0],
 *   check[16] = BLAKE2b-128 (unkeyed) of the bytes up to and including kem, then kem_check.
 * kem_check = BLAKE2b-128 of the KEM part (the 0 to 4 fields between kem and kem_check).
 * Version 4 is kem [+ kem_dk] [+ kem_ct] with no pending step and no kem_check, its check
 * over all the bytes before it; version 3 is the same without the KEM part (a classical
 * ratchet), version 2 also without the recent messages, version 1 also without check; all
 * are still read.
 *
 * The checks are checksums, not MACs: they catch a state damaged in memory, on disk or by
 * a bug of ours, for the cost of a hash instead of the X25519 multiplication version 1
 * needs to catch the same. Authenticity is the storer's job (the client store seals each
 * state with AEAD bound to its row). The KEM part (3.5 KB, changed only at a DH step) has
 * its own check so that saving a state hashes only the rest (kem_check is kept in memory).
 */
size_t
ratchet_serialized_len(const struct ratchet *r)
{
	return 1 + 1 + 4 + 1 + 1 + r->local_len + 1 + r->remote_len +
	    RATCHET_KEY_LEN + DH_PUBLIC_LEN + DH_SECRET_LEN + DH_PUBLIC_LEN + RATCHET_KEY_LEN + 4 +
	    RATCHET_KEY_LEN + 4 + 4 +
	    1 + (size_t)r->nprev * DH_PUBLIC_LEN +
	    4 + r->nskipped * SKIPPED_WIRE_LEN +
	    1 + (size_t)r->nrecent * (DH_PUBLIC_LEN + 4 + RATCHET_DIGEST_LEN) +
	    1 + (r->kem != 0 ? ratchet_kem_part_len(r) + RATCHET_STATE_CHECK_LEN : 0) +
	    RATCHET_STATE_CHECK_LEN;
}

int
ratchet_serialize(const struct ratchet *r, struct buf *out)
{
	crypto_generichash_state st;
	uint8_t check[RATCHET_STATE_CHECK_LEN];
	size_t i, start = out->len;
	int err;

	buf_ensure(out, ratchet_serialized_len(r));
	buf_u8(out, RATCHET_STATE_VERSION);
	buf_u8(out, r->suite->id);
	buf_u32(out, r->max_skip);
	buf_u8(out, r->flags);
	buf_u8(out, (uint8_t)r->local_len);
	buf_put(out, r->local_ident, r->local_len);
	buf_u8(out, (uint8_t)r->remote_len);
	buf_put(out, r->remote_ident, r->remote_len);
	buf_put(out, r->rk, RATCHET_KEY_LEN);
	buf_put(out, r->dhs_pub, DH_PUBLIC_LEN);
	buf_put(out, r->dhs_sec, DH_SECRET_LEN);
	buf_put(out, r->dhr, DH_PUBLIC_LEN);
	buf_put(out, r->cks, RATCHET_KEY_LEN);
	buf_u32(out, r->ns);
	buf_put(out, r->ckr, RATCHET_KEY_LEN);
	buf_u32(out, r->nr);
	buf_u32(out, r->pn);
	buf_u8(out, r->nprev);
	for (i = 0; i < r->nprev; i++)
		buf_put(out, r->prev[i], DH_PUBLIC_LEN);
	buf_u32(out, (uint32_t)r->nskipped);
	for (i = 0; i < r->nskipped; i++) {
		buf_put(out, r->skipped[i].dh, DH_PUBLIC_LEN);
		buf_u32(out, r->skipped[i].n);
		buf_put(out, r->skipped[i].mk, RATCHET_KEY_LEN);
	}
	buf_u8(out, r->nrecent);
	for (i = 0; i < r->nrecent; i++) {
		buf_put(out, r->recent[i].dh, DH_PUBLIC_LEN);
		buf_u32(out, r->recent[i].n);
		buf_put(out, r->recent[i].digest, RATCHET_DIGEST_LEN);
	}
	buf_u8(out, r->kem);
	if ((err = buf_status(out)) != 0)
		return err;
	(void)crypto_generichash_init(&st, NULL, 0, sizeof(check));
	(void)crypto_generichash_update(&st, out->p + start, out->len - start);
	if (r->kem != 0) {
		if (r->kem & K_HAS_DK)
			buf_put(out, r->kem_dk, MLKEM768_DK_LEN);
		if (r->kem & K_HAS_CT)
			buf_put(out, r->kem_ct, RATCHET_KEM_CT_LEN);
		if (r->kem & K_SEND_PENDING) {
			buf_put(out, r->kem_peer_ek, RATCHET_KEM_EK_LEN);
			buf_put(out, r->kem_send_seed, SEND_STEP_SEED_LEN);
		}
		buf_put(out, r->kem_check, sizeof(r->kem_check));
		(void)crypto_generichash_update(&st, r->kem_check, sizeof(r->kem_check));
	}
	(void)crypto_generichash_final(&st, check, sizeof(check));
	sodium_memzero(&st, sizeof(st));
	buf_put(out, check, sizeof(check));
	return buf_status(out);
}

/* Everything after the version byte, up to the check (from version 3 with the recent
 * messages, from version 4 with the KEM part, from version 5 with a pending step and
 * kem_check). */
static int
ratchet_parse(struct ratchet **out, const struct ratchet_suite *s, struct cur *c,
    uint8_t version)
{
	struct ratchet *r = NULL;
	uint32_t max_skip, nskipped, i;
	uint8_t suite_id, flags;
	int err;

	suite_id = cur_u8(c);
	max_skip = cur_u32(c);
	flags = cur_u8(c);
	if ((err = cur_status(c)) != 0)
		return err;
	if (suite_id != s->id)
		return SOTTO_ERR_UNSUPPORTED;
	if (max_skip == 0 || max_skip > RATCHET_MAX_SKIP_LIMIT || (flags & ~F_ALL) != 0)
		return SOTTO_ERR_MALFORMED;
	if ((r = ratchet_alloc(s, max_skip)) == NULL)
		return SOTTO_ERR_NOMEM;
	r->flags = flags;
	err = SOTTO_ERR_MALFORMED;
	r->local_len = cur_u8(c);
	if (r->local_len != s->ident_pub_len || r->local_len > X3DH_IDENT_PUB_MAX)
		goto out;
	cur_copy(c, r->local_ident, r->local_len);
	r->remote_len = cur_u8(c);
	if (r->remote_len != s->ident_pub_len || r->remote_len > X3DH_IDENT_PUB_MAX)
		goto out;
	cur_copy(c, r->remote_ident, r->remote_len);
	cur_copy(c, r->rk, RATCHET_KEY_LEN);
	cur_copy(c, r->dhs_pub, DH_PUBLIC_LEN);
	cur_copy(c, r->dhs_sec, DH_SECRET_LEN);
	cur_copy(c, r->dhr, DH_PUBLIC_LEN);
	cur_copy(c, r->cks, RATCHET_KEY_LEN);
	r->ns = cur_u32(c);
	cur_copy(c, r->ckr, RATCHET_KEY_LEN);
	r->nr = cur_u32(c);
	r->pn = cur_u32(c);
	r->nprev = cur_u8(c);
	if (r->nprev > RATCHET_PREV_MAX)
		goto out;
	for (i = 0; i < r->nprev; i++)
		cur_copy(c, r->prev[i], DH_PUBLIC_LEN);
	nskipped = cur_u32(c);
	if ((err = cur_status(c)) != 0)
		goto out;
	err = SOTTO_ERR_MALFORMED;
	if (nskipped > max_skip)
		goto out;
	/* Check the count against the bytes present before allocating for it. */
	if ((size_t)nskipped > cur_left(c) / SKIPPED_WIRE_LEN) {
		err = SOTTO_ERR_TRUNCATED;
		goto out;
	}
	if (nskipped > 0 &&
	    (err = skipped_reserve(&r->skipped, &r->cap_skipped, nskipped)) != 0)
		goto out;
	for (i = 0; i < nskipped; i++) {
		cur_copy(c, r->skipped[i].dh, DH_PUBLIC_LEN);
		r->skipped[i].n = cur_u32(c);
		cur_copy(c, r->skipped[i].mk, RATCHET_KEY_LEN);
	}
	r->nskipped = nskipped;
	if (version >= RATCHET_STATE_VERSION_3) {
		r->nrecent = cur_u8(c);
		if (r->nrecent > RATCHET_RECENT_MAX) {
			err = SOTTO_ERR_MALFORMED;
			goto out;
		}
		for (i = 0; i < r->nrecent; i++) {
			cur_copy(c, r->recent[i].dh, DH_PUBLIC_LEN);
			r->recent[i].n = cur_u32(c);
			cur_copy(c, r->recent[i].digest, RATCHET_DIGEST_LEN);
		}
	}
	if (version >= RATCHET_STATE_VERSION_4) {
		r->kem = cur_u8(c);
		if ((r->kem & ~K_ALL) != 0 || (r->kem != 0 && !(r->kem & K_PQ)) ||
		    ((r->kem & K_HAS_CT) && !(r->kem & K_HAS_DK)) ||
		    ((r->kem & K_SEND_PENDING) && (version < RATCHET_STATE_VERSION ||
		    (r->kem & K_HAS_DK))) ||
		    (r->kem != 0 && s->kdf_root_pq == NULL)) {
			err = SOTTO_ERR_MALFORMED;
			goto out;
		}
		if (r->kem & K_HAS_DK)
			cur_copy(c, r->kem_dk, MLKEM768_DK_LEN);
		if (r->kem & K_HAS_CT)
			cur_copy(c, r->kem_ct, RATCHET_KEM_CT_LEN);
		if (r->kem & K_SEND_PENDING) {
			cur_copy(c, r->kem_peer_ek, RATCHET_KEM_EK_LEN);
			cur_copy(c, r->kem_send_seed, SEND_STEP_SEED_LEN);
		}
		if (r->kem != 0 && version >= RATCHET_STATE_VERSION)
			cur_copy(c, r->kem_check, sizeof(r->kem_check));
	}
	if ((err = cur_finish(c)) != 0)
		goto out;
	err = SOTTO_ERR_CORRUPT;
	if ((flags & (F_HAS_CKR | F_HAS_CKS)) && !(flags & F_HAS_DHR))
		goto out;
	/* A PQ sender always has its key pair (Alice's from the start, Bob's from his first
	 * step). */
	if ((r->kem & K_PQ) && (flags & F_HAS_CKS) && !(r->kem & K_HAS_DK))
		goto out;
	/* A pending sending half-step: the receiving chain exists, the sending one not yet. */
	if ((r->kem & K_SEND_PENDING) && ((flags & F_HAS_CKS) || !(flags & F_HAS_CKR)))
		goto out;
	*out = r;
	r = NULL;
	err = 0;
out:
	ratchet_free(r);
	return err;
}

/* Version 5's two checks over the parsed state's bytes p[0..len): kem_check (parsed into r)
 * against the KEM part, and check against the bytes up to kem, then kem_check. */
static int
ratchet_check_v5(const struct ratchet *r, const uint8_t *p, size_t len)
{
	crypto_generichash_state st;
	uint8_t check[RATCHET_STATE_CHECK_LEN];
	size_t tail = RATCHET_STATE_CHECK_LEN, body;
	int err = SOTTO_ERR_CORRUPT;

	if (r->kem != 0) {
		ratchet_kem_digest(r, check);
		if (sodium_memcmp(check, r->kem_check, sizeof(check)) != 0)
			goto out;
		tail += ratchet_kem_part_len(r) + RATCHET_STATE_CHECK_LEN;
	}
	body = len - tail;      /* the parse consumed exactly these fields */
	(void)crypto_generichash_init(&st, NULL, 0, sizeof(check));
	(void)crypto_generichash_update(&st, p, body);
	if (r->kem != 0)
		(void)crypto_generichash_update(&st, r->kem_check, sizeof(r->kem_check));
	(void)crypto_generichash_final(&st, check, sizeof(check));
	sodium_memzero(&st, sizeof(st));
	if (sodium_memcmp(check, p + len - RATCHET_STATE_CHECK_LEN, sizeof(check)) != 0)
		goto out;
	err = 0;
out:
	sodium_memzero(check, sizeof(check));
	return err;
}

int
ratchet_deserialize(struct ratchet **out, const struct ratchet_suite *s, const uint8_t *p,
    size_t len)
{
	struct ratchet *r = NULL;
	uint8_t check[RATCHET_STATE_CHECK_LEN], pub[DH_PUBLIC_LEN];
	struct cur c;
	uint8_t version;
	int err;

	*out = NULL;
	cur_init(&c, p, len);
	version = cur_u8(&c);
	if ((err = cur_status(&c)) != 0)
		return err;
	if (version == RATCHET_STATE_VERSION) {
		if (len < 1 + RATCHET_STATE_CHECK_LEN)
			return SOTTO_ERR_TRUNCATED;
		cur_init(&c, p + 1, len - 1 - RATCHET_STATE_CHECK_LEN);
		if ((err = ratchet_parse(&r, s, &c, version)) != 0)
			return err;
		if ((err = ratchet_check_v5(r, p, len)) != 0)
			goto out;
	} else if (version == RATCHET_STATE_VERSION_4 || version == RATCHET_STATE_VERSION_3 ||
	    version == RATCHET_STATE_VERSION_2) {
		/* Parsed first, so that damage to the structure is reported as such. */
		if (len < 1 + RATCHET_STATE_CHECK_LEN)
			return SOTTO_ERR_TRUNCATED;
		cur_init(&c, p + 1, len - 1 - RATCHET_STATE_CHECK_LEN);
		if ((err = ratchet_parse(&r, s, &c, version)) != 0)
			return err;
		err = SOTTO_ERR_CORRUPT;
		if (crypto_generichash(check, sizeof(check), p, len - RATCHET_STATE_CHECK_LEN,
		    NULL, 0) != 0 ||
		    sodium_memcmp(check, p + len - RATCHET_STATE_CHECK_LEN, sizeof(check)) != 0)
			goto out;
		ratchet_kem_digest(r, r->kem_check);
	} else if (version == RATCHET_STATE_VERSION_1) {
		if ((err = ratchet_parse(&r, s, &c, version)) != 0)
			return err;
		/* Version 1 carries no checksum: a key pair that does not match cannot be the
		 * one we wrote. */
		err = SOTTO_ERR_CORRUPT;
		if (dh_public(pub, r->dhs_sec) != 0 ||
		    sodium_memcmp(pub, r->dhs_pub, DH_PUBLIC_LEN) != 0)
			goto out;
	} else {
		return SOTTO_ERR_BAD_VERSION;
	}
	*out = r;
	r = NULL;
	err = 0;
out:
	sodium_memzero(check, sizeof(check));
	ratchet_free(r);
	return err;
}

const struct ratchet_suite *
ratchet_suite_of(const struct ratchet *r)
{
	return r->suite;
}

size_t
ratchet_skipped_count(const struct ratchet *r)
{
	return r->nskipped;
}

uint32_t
ratchet_max_skip(const struct ratchet *r)
{
	return r->max_skip;
}

int
ratchet_has_received(const struct ratchet *r)
{
	return (r->flags & F_RECEIVED) != 0;
}

const uint8_t *
ratchet_remote_ident(const struct ratchet *r, size_t *len)
{
	*len = r->remote_len;
	return r->remote_ident;
}

const uint8_t *
ratchet_local_ident(const struct ratchet *r, size_t *len)
{
	*len = r->local_len;
	return r->local_ident;
}
