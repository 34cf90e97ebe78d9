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

/* The frames frame_seal makes of m, as they go on the wire; their total length. */
static size_t
sealed_msg(struct noise_transport *t, const struct proto_msg *m, struct buf *wire)
{
	struct buf enc;
	size_t len;

	buf_init_dyn(&enc, FRAME_MSG_MAX_DEFAULT);
	buf_reset(wire);
	/* As conn.c (client) and peer.c (server) do. */
	if (proto_encode(m, &enc) != 0 || (proto_padded(m) ?
	    frame_seal_padded(t, enc.p, enc.len, wire) : frame_seal(t, enc.p, enc.len, wire)) != 0)
		len = 0;
	else
		len = wire->len;
	buf_free(&enc);
	return len;
}

/*
 * Frames of messages that hold an address are padded to buckets, so an observer of the TCP
 * stream does not learn how long the address in a LOOKUP, FETCH_BUNDLE or SEND is: the
 * same request with a short and a long address (3 to 229 bytes; SEND: with any envelope
 * size the sealed sender layer makes) gives frames of the same length. The padding is
 * checked by the receiver, and unpadded last fragments are still accepted.
 */
TEST(frame_padding_hides_address_lengths)
{
	static const char *const addrs[] = { "a@b", "bob@localhost",
	    "a-rather-long-name-to-look-up.with-dots_and-dashes@mail.example.org",
	    "0123456789012345678901234567890123456789012345678901234567890123@"
	    "averyveryverylongdomainlabelthatgoesonandonandonuntilsixtythree.example."
	    "anothersubdomainlabel.example.org" };
	static const size_t envs[] = { 353, 1121, 4193, 8289, 16481, 32865, 65536 };
	static uint8_t scratch[FRAME_MAX], env[65536];
	static struct proto_msg m;
	struct noise_transport a, b;
	struct frame_reasm ra;
	struct buf wire;
	const uint8_t *f, *msg;
	size_t first, len, used, flen, mlen;
	struct frame_decoder d;
	uint8_t pt[300], ct[300 + NOISE_TAG_LEN];
	int r = -1;

	REQUIRE(transports(&a, &b) == 0);
	buf_init_dyn(&wire, 2 * FRAME_MSG_MAX_DEFAULT);
	CHECK(strlen(addrs[3]) > 150 && strlen(addrs[3]) <= 229);
	/* Which messages are padded: those with an address; a PUSH's envelope is a bucket. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_REGISTER;
	CHECK(proto_padded(&m));
	m.type = PROTO_RESPONSE | PROTO_SENDER_CERTIFICATE;
	CHECK(proto_padded(&m));
	m.type = PROTO_PUSH;
	CHECK(!proto_padded(&m));
	m.type = PROTO_RECEIVED;
	CHECK(!proto_padded(&m));
	for (int type = 0; type < 2; type++) {
		first = 0;
		for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
			memset(&m, 0, sizeof(m));
			m.type = type ? PROTO_LOOKUP : PROTO_FETCH_BUNDLE;
			m.id = 7;
			strcpy(type ? m.u.lookup.address : m.u.fetch.address, addrs[i]);
			len = sealed_msg(&a, &m, &wire);
			CHECK(len > 0);
			if (i == 0)
				first = len;
			CHECK_EQ_INT(len, first);
		}
		CHECK_EQ_INT(first, FRAME_HDR_LEN + 256);
	}
	for (size_t e = 0; e < sizeof(envs) / sizeof(envs[0]); e++) {
		first = 0;
		for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
			memset(&m, 0, sizeof(m));
			m.type = PROTO_SEND;
			m.id = 9;
			strcpy(m.u.send.recipient, addrs[i]);
			m.u.send.envelope = env;
			m.u.send.envelope_len = envs[e];
			len = sealed_msg(&a, &m, &wire);
			CHECK(len > 0);
			if (i == 0)
				first = len;
			CHECK_EQ_INT(len, first);
		}
	}
	/* Every frame's body is a bucket, and the message comes back whole. */
	noise_transport_wipe(&a);
	noise_transport_wipe(&b);
	REQUIRE(transports(&a, &b) == 0);
	frame_reasm_init(&ra, FRAME_MSG_MAX_DEFAULT);
	frame_decoder_init(&d);
	REQUIRE(sealed_msg(&a, &m, &wire) > 0);
	for (size_t off = 0; off < wire.len; off += used) {
		r = frame_decoder_feed(&d, wire.p + off, wire.len - off, &used, &f, &flen);
		REQUIRE(r == 1);
		CHECK_EQ_INT(flen, frame_bucket(flen));
		r = frame_open(&b, &ra, f, flen, scratch, &msg, &mlen);
		CHECK(r >= 0);
	}
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_INT(frame_sealed_len(mlen, 1), wire.len);
	frame_decoder_free(&d);
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
	return check_summary();
}
