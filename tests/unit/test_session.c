#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/session.h"

static uint8_t scratch[FRAME_MAX];
static uint8_t cscratch[FRAME_MAX];

struct client {
	struct noise_hs hs;
	struct noise_transport t;
	struct frame_decoder dec;
	struct frame_reasm ra;
	uint8_t dev_sk[32], dev_pk[32];
};

struct fixture {
	uint8_t ed_pk[32], ed_sk[64];
	struct wire_session s;
	struct client c;
	struct buf to_server, to_client;
};

/* The server's static key pair, derived the way sottod does at start. */
static const struct noise_keypair *
server_static(const uint8_t ed_sk[64])
{
	static struct noise_keypair kp;

	if (noise_keypair_from_ed25519(&kp, ed_sk) != 0)
		memset(&kp, 0, sizeof(kp));
	return &kp;
}

/* Feeds bytes to the session in chunks of `chunk`; returns the last event or error. */
static int
feed(struct fixture *fx, const uint8_t *p, size_t len, size_t chunk, const uint8_t **msg,
    size_t *msg_len, int *events_done)
{
	size_t off = 0, used;
	int r = WIRE_NEED_MORE;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = wire_session_feed(&fx->s, p + off, n, &used, &fx->to_client, msg, msg_len);
		off += used;
		if (r < 0)
			return r;
		if (r == WIRE_HANDSHAKE_DONE && events_done != NULL)
			(*events_done)++;
		if (r == WIRE_MESSAGE)
			return r;
	}
	return r;
}

/* The client side by hand; returns 0 when both sides are established. */
static int
handshake(struct fixture *fx, size_t chunk)
{
	uint8_t m[128], pl[8];
	const uint8_t *f, *msg;
	size_t n, pn, used, flen, msg_len;
	int r, done = 0;

	crypto_sign_keypair(fx->ed_pk, fx->ed_sk);
	randombytes_buf(fx->c.dev_sk, 32);
	crypto_scalarmult_base(fx->c.dev_pk, fx->c.dev_sk);
	buf_init_dyn(&fx->to_server, 1 << 22);
	buf_init_dyn(&fx->to_client, 1 << 22);
	frame_decoder_init(&fx->c.dec);
	frame_reasm_init(&fx->c.ra, FRAME_MSG_MAX_DEFAULT);
	if ((r = wire_session_init(&fx->s, server_static(fx->ed_sk), scratch)) != 0)
		return r;
	if ((r = noise_sotto_initiator(&fx->c.hs, fx->c.dev_sk, fx->ed_pk)) != 0 ||
	    (r = noise_hs_write(&fx->c.hs, NULL, 0, m, sizeof(m), &n)) != 0 ||
	    (r = frame_put_handshake(&fx->to_server, m, n)) != 0)
		return r;
	r = feed(fx, fx->to_server.p, fx->to_server.len, chunk, &msg, &msg_len, &done);
	buf_reset(&fx->to_server);
	if (r != WIRE_NEED_MORE || fx->to_client.len != 2 + NOISE_SOTTO_MSG2_LEN)
		return SOTTO_ERR_INTERNAL;
	frame_decoder_expect(&fx->c.dec, NOISE_SOTTO_MSG2_LEN);
	if (frame_decoder_feed(&fx->c.dec, fx->to_client.p, fx->to_client.len, &used, &f,
	    &flen) != 1)
		return SOTTO_ERR_INTERNAL;
	buf_reset(&fx->to_client);
	if ((r = noise_hs_read(&fx->c.hs, f, flen, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_write(&fx->c.hs, NULL, 0, m, sizeof(m), &n)) != 0 ||
	    (r = frame_put_handshake(&fx->to_server, m, n)) != 0 ||
	    (r = noise_hs_split(&fx->c.hs, &fx->c.t)) != 0)
		return r;
	frame_decoder_transport(&fx->c.dec);
	r = feed(fx, fx->to_server.p, fx->to_server.len, chunk, &msg, &msg_len, &done);
	buf_reset(&fx->to_server);
	if (r != WIRE_HANDSHAKE_DONE || done != 1)
		return r < 0 ? r : SOTTO_ERR_INTERNAL;
	return 0;
}

static void
fixture_free(struct fixture *fx)
{
	wire_session_free(&fx->s);
	noise_hs_wipe(&fx->c.hs);
	noise_transport_wipe(&fx->c.t);
	frame_decoder_free(&fx->c.dec);
	frame_reasm_free(&fx->c.ra);
	buf_free(&fx->to_server);
	buf_free(&fx->to_client);
}

TEST(session_handshake_and_messages_any_chunking)
{
	static struct fixture fx;
	static uint8_t big[40000];
	size_t chunks[] = { 1, 3, 31, 97, 4096, 1 << 20 }, i;
	const uint8_t *msg;
	size_t msg_len;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		memset(&fx, 0, sizeof(fx));
		REQUIRE(handshake(&fx, chunks[i]) == 0);
		CHECK_EQ_INT(fx.s.phase, WIRE_PHASE_READY);
		CHECK(fx.s.hs == NULL);
		CHECK_MEM(fx.s.peer_static, fx.c.dev_pk, 32);
		CHECK_MEM(fx.s.hash, noise_hs_hash(&fx.c.hs), 64);

		/* client -> server, two messages in one write */
		REQUIRE(frame_seal(&fx.c.t, (const uint8_t *)"hello", 5, &fx.to_server) == 0);
		REQUIRE(frame_seal(&fx.c.t, (const uint8_t *)"world!", 6, &fx.to_server) == 0);
		{
			size_t off = 0, used;
			int got = 0, r;

			while (off < fx.to_server.len) {
				size_t n = fx.to_server.len - off;

				if (n > chunks[i])
					n = chunks[i];
				r = wire_session_feed(&fx.s, fx.to_server.p + off, n, &used,
				    &fx.to_client, &msg, &msg_len);
				off += used;
				REQUIRE(r >= 0);
				if (r == WIRE_MESSAGE) {
					CHECK(got != 0 || (msg_len == 5 && memcmp(msg, "hello", 5) == 0));
					CHECK(got != 1 || (msg_len == 6 && memcmp(msg, "world!", 6) == 0));
					got++;
				}
			}
			CHECK_EQ_INT(got, 2);
			buf_reset(&fx.to_server);
		}
		/* server -> client */
		memset(big, (int)i, sizeof(big));
		REQUIRE(wire_session_seal(&fx.s, big, sizeof(big), FRAME_UNPADDED, &fx.to_client) == 0);
		{
			const uint8_t *f;
			size_t used, flen;

			REQUIRE(frame_decoder_feed(&fx.c.dec, fx.to_client.p, fx.to_client.len, &used,
			    &f, &flen) == 1);
			CHECK_EQ_INT(used, fx.to_client.len);
			CHECK_EQ_INT(frame_open(&fx.c.t, &fx.c.ra, f, flen, cscratch, &msg, &msg_len),
			    1);
			CHECK(msg_len == sizeof(big) && memcmp(msg, big, sizeof(big)) == 0);
		}
		fixture_free(&fx);
	}
}

TEST(session_preauth_cap_then_raised)
{
	static struct fixture fx;
	static uint8_t big[FRAME_MSG_MAX_PREAUTH + 1];
	const uint8_t *msg;
	size_t msg_len;

	memset(&fx, 0, sizeof(fx));
	REQUIRE(handshake(&fx, 1 << 20) == 0);
	REQUIRE(frame_seal(&fx.c.t, big, FRAME_MSG_MAX_PREAUTH, &fx.to_server) == 0);
	CHECK_EQ_INT(feed(&fx, fx.to_server.p, fx.to_server.len, 1 << 20, &msg, &msg_len, NULL),
	    WIRE_MESSAGE);
	CHECK_EQ_INT(msg_len, FRAME_MSG_MAX_PREAUTH);
	buf_reset(&fx.to_server);
	frame_reasm_set_max(&fx.s.reasm, FRAME_MSG_MAX_DEFAULT);
	REQUIRE(frame_seal(&fx.c.t, big, sizeof(big), &fx.to_server) == 0);
	CHECK_EQ_INT(feed(&fx, fx.to_server.p, fx.to_server.len, 1 << 20, &msg, &msg_len, NULL),
	    WIRE_MESSAGE);
	CHECK_EQ_INT(msg_len, sizeof(big));
	fixture_free(&fx);

	memset(&fx, 0, sizeof(fx));
	REQUIRE(handshake(&fx, 1 << 20) == 0);
	REQUIRE(frame_seal(&fx.c.t, big, sizeof(big), &fx.to_server) == 0);
	CHECK_EQ_INT(feed(&fx, fx.to_server.p, fx.to_server.len, 1 << 20, &msg, &msg_len, NULL),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(fx.s.phase, WIRE_PHASE_FAILED);
	CHECK_EQ_INT(wire_session_seal(&fx.s, big, 1, FRAME_UNPADDED, &fx.to_client), SOTTO_ERR_STATE);
	fixture_free(&fx);
}

TEST(session_rejects_bad_handshakes)
{
	static struct fixture fx;
	uint8_t ed_pk[32], ed_sk[64], junk[2 + 96];
	struct wire_session s;
	struct buf out;
	const uint8_t *msg;
	size_t used, msg_len, len;

	crypto_sign_keypair(ed_pk, ed_sk);
	buf_init_dyn(&out, 4096);
	/* Every first-frame length but 32 is refused from its 2-byte header alone. */
	for (len = 0; len <= 96; len++) {
		REQUIRE(wire_session_init(&s, server_static(ed_sk), scratch) == 0);
		junk[0] = 0;
		junk[1] = (uint8_t)len;
		memset(junk + 2, 0x41, len);
		int r = wire_session_feed(&s, junk, 2, &used, &out, &msg, &msg_len);
		if (len == NOISE_SOTTO_MSG1_LEN)
			CHECK_EQ_INT(r, WIRE_NEED_MORE);
		else
			CHECK(r < 0);
		CHECK_EQ_INT(out.len, 0);
		wire_session_free(&s);
	}
	/* Transport-looking bytes before the handshake. */
	REQUIRE(wire_session_init(&s, server_static(ed_sk), scratch) == 0);
	CHECK(wire_session_feed(&s, (const uint8_t *)"\x01\x00", 2, &used, &out, &msg,
	    &msg_len) < 0);
	CHECK_EQ_INT(wire_session_feed(&s, junk, 1, &used, &out, &msg, &msg_len),
	    SOTTO_ERR_STATE);
	wire_session_free(&s);
	buf_free(&out);

	/* A tampered message 3 fails the session. */
	memset(&fx, 0, sizeof(fx));
	crypto_sign_keypair(fx.ed_pk, fx.ed_sk);
	{
		uint8_t m[128], pl[8];
		const uint8_t *f;
		size_t n, pn, flen;

		buf_init_dyn(&fx.to_server, 4096);
		buf_init_dyn(&fx.to_client, 4096);
		frame_decoder_init(&fx.c.dec);
		frame_reasm_init(&fx.c.ra, 1024);
		randombytes_buf(fx.c.dev_sk, 32);
		REQUIRE(wire_session_init(&fx.s, server_static(fx.ed_sk), scratch) == 0);
		REQUIRE(noise_sotto_initiator(&fx.c.hs, fx.c.dev_sk, fx.ed_pk) == 0);
		REQUIRE(noise_hs_write(&fx.c.hs, NULL, 0, m, sizeof(m), &n) == 0);
		REQUIRE(frame_put_handshake(&fx.to_server, m, n) == 0);
		REQUIRE(feed(&fx, fx.to_server.p, fx.to_server.len, 64, &msg, &msg_len, NULL) ==
		    WIRE_NEED_MORE);
		buf_reset(&fx.to_server);
		frame_decoder_expect(&fx.c.dec, NOISE_SOTTO_MSG2_LEN);
		REQUIRE(frame_decoder_feed(&fx.c.dec, fx.to_client.p, fx.to_client.len, &used, &f,
		    &flen) == 1);
		REQUIRE(noise_hs_read(&fx.c.hs, f, flen, pl, sizeof(pl), &pn) == 0);
		REQUIRE(noise_hs_write(&fx.c.hs, NULL, 0, m, sizeof(m), &n) == 0);
		m[10] ^= 0x80;
		REQUIRE(frame_put_handshake(&fx.to_server, m, n) == 0);
		CHECK_EQ_INT(feed(&fx, fx.to_server.p, fx.to_server.len, 64, &msg, &msg_len, NULL),
		    SOTTO_ERR_DECRYPT);
		CHECK_EQ_INT(fx.s.phase, WIRE_PHASE_FAILED);
		CHECK(fx.s.hs == NULL);
	}
	fixture_free(&fx);
}

/* A guest (handshake done, not registered) that sends a frame header announcing 65535
 * bytes and nothing more makes the server allocate nothing for it. */
TEST(session_guest_header_alone_allocates_nothing)
{
	static struct fixture fx;
	static const uint8_t hdr[FRAME_HDR_LEN] = { 0xff, 0xff };
	const uint8_t *msg;
	size_t msg_len, used;

	memset(&fx, 0, sizeof(fx));
	REQUIRE(handshake(&fx, 1 << 20) == 0);
	CHECK_EQ_INT(wire_session_feed(&fx.s, hdr, sizeof(hdr), &used, &fx.to_client, &msg,
	    &msg_len), WIRE_NEED_MORE);
	CHECK_EQ_INT(used, sizeof(hdr));
	CHECK(fx.s.dec.body == NULL);
	CHECK_EQ_INT(fx.s.dec.cap, 0);
	fixture_free(&fx);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(session_handshake_and_messages_any_chunking);
	RUN(session_preauth_cap_then_raised);
	RUN(session_rejects_bad_handshakes);
	RUN(session_guest_header_alone_allocates_nothing);
	return check_summary();
}
