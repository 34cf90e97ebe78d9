#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/proto.h"

/* Two transports from an NN handshake: a -> b uses a.tx and b.rx. */
static int
transports(struct noise_transport *a, struct noise_transport *b)
{
	struct noise_hs i, r;
	uint8_t m[128], pl[8];
	size_t n, pn;

	if (noise_hs_init(&i, "NN", 1, NULL, 0, NULL, NULL) != 0 ||
	    noise_hs_init(&r, "NN", 0, NULL, 0, NULL, NULL) != 0 ||
	    noise_hs_write(&i, NULL, 0, m, sizeof(m), &n) != 0 ||
	    noise_hs_read(&r, m, n, pl, sizeof(pl), &pn) != 0 ||
	    noise_hs_write(&r, NULL, 0, m, sizeof(m), &n) != 0 ||
	    noise_hs_read(&i, m, n, pl, sizeof(pl), &pn) != 0 ||
	    noise_hs_split(&i, a) != 0 || noise_hs_split(&r, b) != 0)
		return -1;
	noise_hs_wipe(&i);
	noise_hs_wipe(&r);
	return 0;
}

/* Feeds stream in two pieces split at k; collects frame bodies back to back into out. */
static int
feed_split(const uint8_t *stream, size_t len, size_t k, uint8_t *out, size_t *out_len,
    int *frames)
{
	struct frame_decoder d;
	size_t piece, off, used, flen;
	const uint8_t *f;
	int r, part;

	frame_decoder_init(&d);
	*out_len = 0;
	*frames = 0;
	for (part = 0; part < 2; part++) {
		const uint8_t *p = part ? stream + k : stream;

		piece = part ? len - k : k;
		off = 0;
		while (off < piece) {
			r = frame_decoder_feed(&d, p + off, piece - off, &used, &f, &flen);
			if (r < 0) {
				frame_decoder_free(&d);
				return r;
			}
			off += used;
			if (r == 1) {
				memcpy(out + *out_len, f, flen);
				*out_len += flen;
				(*frames)++;
			} else if (used != piece - off + used) {
				frame_decoder_free(&d);
				return -100;
			}
		}
	}
	frame_decoder_free(&d);
	return 0;
}

TEST(frame_decoder_every_split_point)
{
	uint8_t stream[400], bodies[400], got[400];
	size_t len = 0, blen = 0, glen, k, i, sizes[] = { 17, 40, 100, 17, 200 };
	int frames, bad = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		stream[len++] = (uint8_t)(sizes[i] >> 8);
		stream[len++] = (uint8_t)sizes[i];
		randombytes_buf(stream + len, sizes[i]);
		memcpy(bodies + blen, stream + len, sizes[i]);
		len += sizes[i];
		blen += sizes[i];
	}
	for (k = 0; k <= len; k++) {
		if (feed_split(stream, len, k, got, &glen, &frames) != 0 || frames != 5 ||
		    glen != blen || memcmp(got, bodies, blen) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

TEST(frame_decoder_byte_at_a_time)
{
	uint8_t stream[2 + 300];
	struct frame_decoder d;
	const uint8_t *f;
	size_t used, flen, i;
	int r, frames = 0;

	stream[0] = 1;
	stream[1] = 44;
	randombytes_buf(stream + 2, 300);
	frame_decoder_init(&d);
	for (i = 0; i < sizeof(stream); i++) {
		r = frame_decoder_feed(&d, stream + i, 1, &used, &f, &flen);
		CHECK_EQ_INT(used, 1);
		if (r == 1) {
			frames++;
			CHECK_EQ_INT(i, sizeof(stream) - 1);
			CHECK_EQ_INT(flen, 300);
			CHECK_MEM(f, stream + 2, 300);
		} else {
			CHECK_EQ_INT(r, 0);
		}
	}
	CHECK_EQ_INT(frames, 1);
	frame_decoder_free(&d);
}

TEST(frame_oversized_rejected_before_allocation)
{
	static const uint8_t hdr[] = { 0x03, 0xe9, 0xaa };     /* 1001 */
	struct frame_decoder d;
	const uint8_t *f;
	size_t used, flen;

	frame_decoder_init(&d);
	d.max = 1000;
	/* One header byte: nothing decided yet. */
	CHECK_EQ_INT(frame_decoder_feed(&d, hdr, 1, &used, &f, &flen), 0);
	CHECK(d.body == NULL);
	CHECK_EQ_INT(frame_decoder_feed(&d, hdr + 1, 2, &used, &f, &flen), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(used, 1);
	CHECK(d.body == NULL);
	frame_decoder_free(&d);

	/* Below the transport minimum (a tag and a flag byte). */
	frame_decoder_init(&d);
	CHECK_EQ_INT(frame_decoder_feed(&d, (const uint8_t[]){ 0, 16 }, 2, &used, &f, &flen),
	    SOTTO_ERR_PROTOCOL);
	CHECK(d.body == NULL);
	frame_decoder_free(&d);
}

/*
 * A header announcing the largest frame allocates nothing; the body grows with the bytes
 * that arrive (at most twice them), so many peers that each send a header and stop cost
 * the server nothing (before: 64 KiB each, at once).
 */
TEST(frame_body_grows_with_what_arrives)
{
	static uint8_t stream[FRAME_HDR_LEN + FRAME_MAX];
	static struct frame_decoder many[1000];
	struct frame_decoder d;
	const uint8_t *f;
	size_t used, flen, allocated = 0, off;
	int r = 0;

	stream[0] = 0xff;
	stream[1] = 0xff;
	for (size_t i = 0; i < FRAME_MAX; i++)
		stream[FRAME_HDR_LEN + i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < 1000; i++) {
		frame_decoder_init(&many[i]);
		CHECK_EQ_INT(frame_decoder_feed(&many[i], stream, FRAME_HDR_LEN, &used, &f, &flen),
		    0);
		allocated += many[i].cap + (many[i].body != NULL);
	}
	CHECK_EQ_INT(allocated, 0);
	for (size_t i = 0; i < 1000; i++)
		frame_decoder_free(&many[i]);

	frame_decoder_init(&d);
	CHECK_EQ_INT(frame_decoder_feed(&d, stream, FRAME_HDR_LEN + 100, &used, &f, &flen), 0);
	CHECK(d.cap >= 100 && d.cap <= 200);
	/* Byte by byte to the end: never more than twice what arrived, and the frame whole. */
	for (off = FRAME_HDR_LEN + 100; off < sizeof(stream); off++) {
		r = frame_decoder_feed(&d, stream + off, 1, &used, &f, &flen);
		if (r != 0)
			break;
		if (d.cap > 2 * (off + 1 - FRAME_HDR_LEN))
			CHECK(0);
	}
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_INT(off, sizeof(stream) - 1);
	CHECK_EQ_INT(flen, FRAME_MAX);
	CHECK_MEM(f, stream + FRAME_HDR_LEN, FRAME_MAX);
	CHECK_EQ_INT(d.cap, FRAME_MAX);
	frame_decoder_free(&d);
}

TEST(frame_handshake_exact_sizes)
{
	uint8_t buf[2 + 96];
	struct frame_decoder d;
	const uint8_t *f;
	size_t used, flen, len;

	memset(buf, 0x5a, sizeof(buf));
	for (len = 0; len <= 96; len++) {
		frame_decoder_init(&d);
		frame_decoder_expect(&d, NOISE_SOTTO_MSG1_LEN);
		buf[0] = (uint8_t)(len >> 8);
		buf[1] = (uint8_t)len;
		int r = frame_decoder_feed(&d, buf, 2 + len, &used, &f, &flen);
		if (len == NOISE_SOTTO_MSG1_LEN) {
			CHECK_EQ_INT(r, 1);
			CHECK_EQ_INT(flen, 32);
		} else {
			CHECK(r < 0);
			CHECK(d.body == NULL);
		}
		frame_decoder_free(&d);
	}
	/* A handshake frame written by frame_put_handshake passes the same decoder. */
	{
		struct buf b;
		uint8_t msg[64];

		memset(msg, 7, sizeof(msg));
		buf_init_dyn(&b, 1024);
		CHECK_EQ_INT(frame_put_handshake(&b, msg, sizeof(msg)), 0);
		frame_decoder_init(&d);
		frame_decoder_expect(&d, NOISE_SOTTO_MSG3_LEN);
		CHECK_EQ_INT(frame_decoder_feed(&d, b.p, b.len, &used, &f, &flen), 1);
		CHECK_EQ_INT(flen, 64);
		CHECK_MEM(f, msg, 64);
		frame_decoder_free(&d);
		buf_free(&b);
	}
}

/* Seals msg on a->tx, decodes every frame and opens it on b->rx. */
static int
roundtrip(struct noise_transport *a, struct noise_transport *b, struct frame_reasm *ra,
    const uint8_t *msg, size_t len, uint8_t **got, size_t *got_len, int *nframes)
{
	static uint8_t scratch[FRAME_MAX];
	struct frame_decoder d;
	struct buf out;
	const uint8_t *f, *m;
	size_t off = 0, used, flen, mlen;
	int r;

	*got = NULL;
	*nframes = 0;
	buf_init_dyn(&out, 64u * 1024 * 1024);
	if ((r = frame_seal(a, msg, len, &out)) != 0)
		goto out;
	frame_decoder_init(&d);
	r = 0;
	while (off < out.len && r >= 0) {
		/* Odd chunk sizes to exercise both the copy and the in-place paths. */
		size_t chunk = out.len - off > 7000 ? 7000 : out.len - off;

		r = frame_decoder_feed(&d, out.p + off, chunk, &used, &f, &flen);
		off += used;
		if (r != 1)
			continue;
		(*nframes)++;
		r = frame_open(b, ra, f, flen, scratch, &m, &mlen);
		if (r == 1) {
			if ((*got = malloc(mlen ? mlen : 1)) == NULL) {
				r = SOTTO_ERR_NOMEM;
				break;
			}
			memcpy(*got, m, mlen);
			*got_len = mlen;
		}
	}
	frame_decoder_free(&d);
	if (r >= 0)
		r = *got != NULL ? 0 : SOTTO_ERR_TRUNCATED;
out:
	buf_free(&out);
	return r;
}

TEST(frame_fragments_reassemble)
{
	struct noise_transport a, b;
	struct frame_reasm ra;
	size_t sizes[] = { 0, 1, FRAME_FRAG_DATA - 1, FRAME_FRAG_DATA, FRAME_FRAG_DATA + 1,
	    3 * FRAME_FRAG_DATA + 5 };
	size_t i, glen;
	uint8_t *msg, *got;
	int frames;

	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_DEFAULT);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = malloc(sizes[i] + 1);
		REQUIRE(msg != NULL);
		randombytes_buf(msg, sizes[i]);
		CHECK_EQ_INT(roundtrip(&a, &b, &ra, msg, sizes[i], &got, &glen, &frames), 0);
		CHECK_EQ_INT(frames, sizes[i] / FRAME_FRAG_DATA + 1 -
		    (sizes[i] > 0 && sizes[i] % FRAME_FRAG_DATA == 0));
		if (got != NULL) {
			CHECK_EQ_INT(glen, sizes[i]);
			CHECK(glen == 0 || memcmp(got, msg, glen) == 0);
		}
		free(got);
		free(msg);
	}
	frame_reasm_free(&ra);
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
}

TEST(frame_reassembly_cap)
{
	struct noise_transport a, b;
	struct frame_reasm ra;
	uint8_t *msg, *got = NULL;
	size_t glen;
	int frames;

	REQUIRE(transports(&a, &b) == 0);
	msg = calloc(1, 200000);
	REQUIRE(msg != NULL);
	frame_reasm_init(&ra, 100000);
	CHECK_EQ_INT(roundtrip(&a, &b, &ra, msg, 150000, &got, &glen, &frames),
	    SOTTO_ERR_TOO_LARGE);
	/* Refused at the second fragment, before growing past the cap. */
	CHECK_EQ_INT(frames, 2);
	CHECK(ra.acc.cap <= 100000);
	free(got);
	frame_reasm_free(&ra);

	/* The pre-authentication cap refuses even one large fragment. */
	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_PREAUTH);
	CHECK_EQ_INT(roundtrip(&a, &b, &ra, msg, FRAME_MSG_MAX_PREAUTH + 1, &got, &glen,
	    &frames), SOTTO_ERR_TOO_LARGE);
	free(got);
	frame_reasm_free(&ra);

	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_PREAUTH);
	CHECK_EQ_INT(roundtrip(&a, &b, &ra, msg, FRAME_MSG_MAX_PREAUTH, &got, &glen, &frames), 0);
	CHECK_EQ_INT(glen, FRAME_MSG_MAX_PREAUTH);
	free(got);
	/* Raised after authentication. */
	frame_reasm_set_max(&ra, 150000);
	CHECK_EQ_INT(roundtrip(&a, &b, &ra, msg, 150000, &got, &glen, &frames), 0);
	CHECK_EQ_INT(glen, 150000);
	free(got);
	frame_reasm_free(&ra);
	free(msg);
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
}

TEST(frame_open_rejects_bad_fragments)
{
	static uint8_t scratch[FRAME_MAX];
	struct noise_transport a, b;
	struct frame_reasm ra;
	uint8_t pt[8], ct[8 + NOISE_TAG_LEN];
	const uint8_t *m;
	size_t mlen;

	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_DEFAULT);
	/* A short "more" fragment. */
	pt[0] = FRAME_FLAG_MORE;
	pt[1] = 'a';
	REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 2, ct) == 0);
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 2 + NOISE_TAG_LEN, scratch, &m, &mlen),
	    SOTTO_ERR_PROTOCOL);
	/* An unknown flag. */
	pt[0] = 3;
	REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 2, ct) == 0);
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 2 + NOISE_TAG_LEN, scratch, &m, &mlen),
	    SOTTO_ERR_PROTOCOL);
	/* A flipped bit. */
	pt[0] = FRAME_FLAG_LAST;
	REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 2, ct) == 0);
	ct[0] ^= 1;
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 2 + NOISE_TAG_LEN, scratch, &m, &mlen),
	    SOTTO_ERR_DECRYPT);
	ct[0] ^= 1;
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 2 + NOISE_TAG_LEN, scratch, &m, &mlen), 1);
	CHECK_EQ_INT(mlen, 1);
	CHECK_EQ_INT(m[0], 'a');
	/* Too short to hold a tag and a flag. */
	CHECK_EQ_INT(frame_open(&b, &ra, ct, NOISE_TAG_LEN, scratch, &m, &mlen),
	    SOTTO_ERR_PROTOCOL);
	frame_reasm_free(&ra);
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
}

/* The frames of m, as they go on the wire (padded as conn.c and peer.c pad, or not at
 * all); their total length, 0 on an error. */
static size_t
sealed_msg(struct noise_transport *t, const struct proto_msg *m, int padded, struct buf *wire)
{
	struct buf enc;
	size_t len;

	buf_init_dyn(&enc, FRAME_MSG_MAX_DEFAULT);
	buf_reset(wire);
	if (proto_encode(m, &enc) != 0 || frame_seal_padded(t, enc.p, enc.len,
	    padded ? proto_padding(m) : FRAME_UNPADDED, wire) != 0)
		len = 0;
	else
		len = wire->len;
	buf_free(&enc);
	return len;
}

/* A valid user address of len (3..318) bytes: a name of up to 64, a domain of 50-byte
 * labels. */
static void
address_of_len(char out[ADDRESS_MAX + 1], size_t len)
{
	size_t name = len - 2 < ADDRESS_NAME_MAX ? len - 2 : ADDRESS_NAME_MAX, i;

	memset(out, 'n', name);
	out[name] = '@';
	for (i = name + 1; i < len; i++)
		out[i] = (i - name) % 51 == 0 && i + 1 < len ? '.' : 'd';
	out[len] = '\0';
}

/* Fills m as a message of type (REGISTER, FETCH_BUNDLE, LOOKUP, SEND with an envelope of
 * env_len bytes, or a SENDER_CERTIFICATE answer) that names address. */
static int
address_msg(struct proto_msg *m, uint8_t type, const char *address, const uint8_t *env,
    size_t env_len, const uint8_t server_sk[crypto_sign_SECRETKEYBYTES])
{
	static const uint8_t identity_pk[32];

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->id = 7;
	switch (type) {
	case PROTO_REGISTER:
		strcpy(m->u.reg.address, address);
		return 0;
	case PROTO_FETCH_BUNDLE:
		strcpy(m->u.fetch.address, address);
		return 0;
	case PROTO_LOOKUP:
		strcpy(m->u.lookup.address, address);
		return 0;
	case PROTO_CLAIM_KEY_PACKAGE:
		strcpy(m->u.claim.address, address);
		return 0;
	case PROTO_SEND:
		strcpy(m->u.send.recipient, address);
		m->u.send.envelope = env;
		m->u.send.envelope_len = env_len;
		return 0;
	default:
		return cert_make(address, identity_pk, 1, server_sk, m->u.cert.cert, CERT_MAX,
		    &m->u.cert.len);
	}
}

/*
 * Frames of messages that hold an address are padded by ADDRESS_MAX minus its length, so
 * an observer of the TCP stream does not learn how long the address in a REGISTER,
 * FETCH_BUNDLE, LOOKUP, SEND, CLAIM_KEY_PACKAGE or sender certificate is: the same message with any address
 * (3 to 318 bytes, the longest valid) gives frames of the same length, that of an address
 * of ADDRESS_MAX bytes, and no more: a SEND's frames are at most 322 bytes longer than
 * unpadded (they were padded to size buckets, 1,024 bytes for one of 400). The padding is
 * checked by the receiver, and unpadded last fragments are still accepted.
 */
TEST(frame_padding_hides_address_lengths)
{
	static const size_t lens[] = { 3, 4, 13, 20, 64, 65, 66, 100, 200, 229, 230, 300, 317,
	    318 };
	static const uint8_t types[] = { PROTO_REGISTER, PROTO_FETCH_BUNDLE, PROTO_LOOKUP,
	    PROTO_SEND, PROTO_RESPONSE | PROTO_SENDER_CERTIFICATE, PROTO_CLAIM_KEY_PACKAGE };
	static const size_t envs[] = { 353, 1121, 4193, 8289, 16481, 32865, 65536 };
	static uint8_t scratch[FRAME_MAX], env[65536], server_pk[crypto_sign_PUBLICKEYBYTES],
	    server_sk[crypto_sign_SECRETKEYBYTES];
	static struct proto_msg m;
	static char addr[ADDRESS_MAX + 1];
	struct noise_transport a, b;
	struct frame_reasm ra;
	struct buf wire, enc;
	const uint8_t *f, *msg;
	size_t first, len, unpadded, used, flen, mlen;
	struct frame_decoder d;
	uint8_t pt[300], ct[300 + NOISE_TAG_LEN];
	int r = -1;

	REQUIRE(transports(&a, &b) == 0);
	crypto_sign_keypair(server_pk, server_sk);
	buf_init_dyn(&wire, 2 * FRAME_MSG_MAX_DEFAULT);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		address_of_len(addr, lens[i]);
		CHECK_EQ_INT(address_user_check(addr, lens[i]), 0);
	}
	/* Which messages are padded: those with an address; a PUSH's envelope is a bucket. */
	address_of_len(addr, 13);
	REQUIRE(address_msg(&m, PROTO_REGISTER, addr, NULL, 0, server_sk) == 0);
	CHECK_EQ_INT(proto_padding(&m), ADDRESS_MAX - 13);
	REQUIRE(address_msg(&m, PROTO_RESPONSE | PROTO_SENDER_CERTIFICATE, addr, NULL, 0,
	    server_sk) == 0);
	CHECK_EQ_INT(proto_padding(&m), ADDRESS_MAX - 13);
	m.status = SOTTO_ERR_NOT_FOUND;
	CHECK_EQ_INT(proto_padding(&m), FRAME_UNPADDED);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_PUSH;
	CHECK_EQ_INT(proto_padding(&m), FRAME_UNPADDED);
	m.type = PROTO_RECEIVED;
	CHECK_EQ_INT(proto_padding(&m), FRAME_UNPADDED);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		size_t n_env = types[t] == PROTO_SEND ? sizeof(envs) / sizeof(envs[0]) : 1;

		for (size_t e = 0; e < n_env; e++) {
			first = 0;
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
				address_of_len(addr, lens[i]);
				REQUIRE(address_msg(&m, types[t], addr, env, envs[e],
				    server_sk) == 0);
				len = sealed_msg(&a, &m, 1, &wire);
				unpadded = sealed_msg(&a, &m, 0, &wire);
				CHECK(len > 0 && unpadded > 0);
				if (i == 0)
					first = len;
				CHECK_EQ_INT(len, first);
				/* The padding the address needs, and the u16 that says so. */
				CHECK_EQ_INT(len - unpadded, FRAME_PADDED_HDR - 1 +
				    ADDRESS_MAX - lens[i]);
				if (types[t] == PROTO_SEND && lens[i] <= 20)
					CHECK(len - unpadded <= 330);
			}
		}
	}
	/* A LOOKUP's frame: as with an address of ADDRESS_MAX bytes (header, flag, u16, the
	 * message's 6 + 2 + ADDRESS_MAX bytes, tag). */
	REQUIRE(address_msg(&m, PROTO_LOOKUP, "a@b", NULL, 0, server_sk) == 0);
	CHECK_EQ_INT(sealed_msg(&a, &m, 1, &wire), FRAME_HDR_LEN + FRAME_PADDED_HDR + 6 + 2 +
	    ADDRESS_MAX + NOISE_TAG_LEN);

	/* The message comes back whole, SENDs of one and of two fragments. */
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_DEFAULT);
	buf_init_dyn(&enc, FRAME_MSG_MAX_DEFAULT);
	randombytes_buf(env, sizeof(env));
	for (size_t e = 0; e < sizeof(envs) / sizeof(envs[0]); e++) {
		REQUIRE(address_msg(&m, PROTO_SEND, "a@b", env, envs[e], server_sk) == 0);
		buf_reset(&enc);
		REQUIRE(proto_encode(&m, &enc) == 0);
		REQUIRE(sealed_msg(&a, &m, 1, &wire) > 0);
		CHECK_EQ_INT(frame_sealed_len(enc.len, proto_padding(&m)), wire.len);
		frame_decoder_init(&d);
		for (size_t off = 0; off < wire.len; off += used) {
			r = frame_decoder_feed(&d, wire.p + off, wire.len - off, &used, &f, &flen);
			REQUIRE(r == 1);
			r = frame_open(&b, &ra, f, flen, scratch, &msg, &mlen);
			CHECK(r >= 0);
		}
		frame_decoder_free(&d);
		CHECK_EQ_INT(r, 1);
		CHECK(mlen == enc.len && memcmp(msg, enc.p, mlen) == 0);
	}
	/* A last fragment with no room for all its padding fills its frame; one whose data
	 * needs the whole frame goes unpadded. */
	for (size_t n = FRAME_PADDED_DATA_MAX - 10; n <= FRAME_FRAG_DATA; n++) {
		buf_reset(&wire);
		REQUIRE(frame_seal_padded(&a, env, n, 100, &wire) == 0);
		CHECK_EQ_INT(wire.len, FRAME_HDR_LEN + (n <= FRAME_PADDED_DATA_MAX ? FRAME_MAX :
		    1 + n + NOISE_TAG_LEN));
		CHECK_EQ_INT(frame_sealed_len(n, 100), wire.len);
		REQUIRE(frame_open(&b, &ra, wire.p + FRAME_HDR_LEN, wire.len - FRAME_HDR_LEN,
		    scratch, &msg, &mlen) == 1);
		CHECK(mlen == n && memcmp(msg, env, n) == 0);
	}
	buf_free(&enc);
	/* A padded fragment with a non-zero byte in its padding, or a length beyond it. */
	memset(pt, 0, sizeof(pt));
	pt[0] = FRAME_FLAG_PADDED;
	pt[2] = 5;
	memcpy(pt + 3, "hello", 5);
	REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 256 - NOISE_TAG_LEN, ct) == 0);
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 256, scratch, &msg, &mlen), 1);
	CHECK(mlen == 5 && memcmp(msg, "hello", 5) == 0);
	/* Its first, a middle and its last byte (the check compares the padding with itself
	 * shifted by one, so both ends are cases of their own). */
	for (size_t i = 0; i < 3; i++) {
		size_t at = i == 0 ? 3 + 5 : i == 1 ? 200 : 256 - NOISE_TAG_LEN - 1;
		pt[at] = 1;
		REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 256 - NOISE_TAG_LEN, ct) == 0);
		CHECK_EQ_INT(frame_open(&b, &ra, ct, 256, scratch, &msg, &mlen),
		    SOTTO_ERR_PROTOCOL);
		pt[at] = 0;
	}
	pt[1] = 1;
	REQUIRE(noise_encrypt(&a.tx, NULL, 0, pt, 256 - NOISE_TAG_LEN, ct) == 0);
	CHECK_EQ_INT(frame_open(&b, &ra, ct, 256, scratch, &msg, &mlen), SOTTO_ERR_PROTOCOL);
	frame_reasm_free(&ra);
	buf_free(&wire);
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
}

/* SEND_SEALED's frame (docs/PROTOCOL-wire.md section 3, L without the 2-byte length):
 * 77 + len(address) + E unpadded, 399 + E padded whatever the address's length; it
 * decodes back with its token. */
TEST(send_sealed_frame_lengths_as_documented)
{
	static uint8_t env[353], mem[2048];
	char addrs[2][ADDRESS_MAX + 1];
	struct proto_msg m, d;
	struct buf b;

	snprintf(addrs[0], sizeof(addrs[0]), "bob@localhost");
	memset(addrs[1], 'a', 64);
	snprintf(addrs[1] + 64, sizeof(addrs[1]) - 64, "@%.63s.%.63s.ddddddd",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	for (int i = 0; i < 2; i++) {
		size_t alen = strlen(addrs[i]);

		memset(&m, 0, sizeof(m));
		m.type = PROTO_SEND_SEALED;
		m.id = 1;
		memcpy(m.u.send.recipient, addrs[i], alen + 1);
		memset(m.u.send.token, 0x7e, sizeof(m.u.send.token));
		m.u.send.envelope = env;
		m.u.send.envelope_len = sizeof(env);
		buf_init_fixed(&b, mem, sizeof(mem));
		REQUIRE(proto_encode(&m, &b) == 0);
		CHECK_EQ_INT(frame_sealed_len(b.len, FRAME_UNPADDED) - FRAME_HDR_LEN,
		    77 + alen + sizeof(env));
		CHECK_EQ_INT(frame_sealed_len(b.len, proto_padding(&m)) - FRAME_HDR_LEN,
		    399 + sizeof(env));
		REQUIRE(proto_decode(b.p, b.len, &d) == 0);
		CHECK(d.type == PROTO_SEND_SEALED && strcmp(d.u.send.recipient, addrs[i]) == 0 &&
		    memcmp(d.u.send.token, m.u.send.token, 32) == 0 &&
		    d.u.send.envelope_len == sizeof(env));
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(frame_decoder_every_split_point);
	RUN(frame_decoder_byte_at_a_time);
	RUN(frame_oversized_rejected_before_allocation);
	RUN(frame_body_grows_with_what_arrives);
	RUN(frame_handshake_exact_sizes);
	RUN(frame_fragments_reassemble);
	RUN(frame_reassembly_cap);
	RUN(frame_open_rejects_bad_fragments);
	RUN(frame_padding_hides_address_lengths);
	RUN(send_sealed_frame_lengths_as_documented);
	return check_summary();
}
