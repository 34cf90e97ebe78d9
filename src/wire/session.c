/*
 * One server-side connection's wire: responder handshake, then framed transport.
 */
#include "wire/session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static void
session_drop_hs(struct wire_session *s)
{
	if (s->hs != NULL) {
		noise_hs_wipe(s->hs);
		free(s->hs);
		s->hs = NULL;
	}
}

static int
session_fail(struct wire_session *s, int r)
{
	s->phase = WIRE_PHASE_FAILED;
	session_drop_hs(s);
	noise_transport_wipe(&s->t);
	return r;
}

int
wire_session_init(struct wire_session *s, const struct noise_keypair *server_static,
    uint8_t *scratch)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->scratch = scratch;
	s->server_static = server_static;
	frame_decoder_init(&s->dec);
	frame_decoder_expect(&s->dec, NOISE_SOTTO_MSG1_LEN);
	frame_reasm_init(&s->reasm, FRAME_MSG_MAX_PREAUTH);
	if (scratch == NULL)
		return session_fail(s, SOTTO_ERR_INVALID_ARG);
	if ((s->hs = malloc(sizeof(*s->hs))) == NULL)
		return session_fail(s, SOTTO_ERR_NOMEM);
	if ((r = noise_sotto_responder_keypair(s->hs, server_static)) != 0)
		return session_fail(s, r);
	s->phase = WIRE_PHASE_MSG1;
	return 0;
}

void
wire_session_enable_resume(struct wire_session *s, const struct ticket_key *tk,
    uint64_t max_life)
{
	if (s->phase != WIRE_PHASE_MSG1 || tk == NULL)
		return;
	s->tk = tk;
	s->tk_max_life = max_life;
	frame_decoder_expect2(&s->dec, NOISE_SOTTO_MSG1_LEN, TICKET_FRAME1_LEN);
}

void
wire_session_enable_sealed(struct wire_session *s)
{
	if (s->phase != WIRE_PHASE_MSG1)
		return;
	s->sealed_ok = 1;
	frame_decoder_expect_also(&s->dec, NOISE_SEALED_MSG1_LEN);
}

#define LAST_REPLY_MAX 48

_Static_assert(NOISE_SEALED_MSG2_LEN <= LAST_REPLY_MAX && TICKET_MSG2_LEN <= LAST_REPLY_MAX,
    "the responder's last handshake messages fit the reply buffer");

/* After the last handshake message: the transport keys; the handshake state is gone and
 * frames are transport frames. */
static int
session_split(struct wire_session *s)
{
	int r;

	memcpy(s->hash, noise_hs_hash(s->hs), sizeof(s->hash));
	if ((r = noise_hs_split(s->hs, &s->t)) != 0)
		return r;
	session_drop_hs(s);
	frame_decoder_transport(&s->dec);
	return 0;
}

/* The responder's last handshake message (<- e, ee) onto out, then session_split. */
static int
session_reply_and_split(struct wire_session *s, struct buf *out)
{
	uint8_t reply[LAST_REPLY_MAX];
	size_t n;
	int r;

	if ((r = noise_hs_write(s->hs, NULL, 0, reply, sizeof(reply), &n)) != 0 ||
	    (r = frame_put_handshake(out, reply, n)) != 0)
		return r;
	return session_split(s);
}

/*
 * -> e, es of Noise_NK: answers <- e, ee and is ready. Nothing identifies the client; a
 * replayed first frame gets an answer whose keys only the holder of that e can use.
 */
static int
session_sealed1(struct wire_session *s, const uint8_t *f, size_t flen, struct buf *out)
{
	uint8_t pl[1];
	size_t pn;
	int r;

	noise_hs_wipe(s->hs);
	if ((r = noise_sealed_responder(s->hs, s->server_static)) != 0)
		return r;
	if ((r = noise_hs_read(s->hs, f, flen, pl, sizeof(pl), &pn)) != 0) {
		s->why = "unidentified handshake failed";
		return r;
	}
	if ((r = session_reply_and_split(s, out)) != 0)
		return r;
	s->unidentified = 1;
	s->phase = WIRE_PHASE_READY;
	return 0;
}

/*
 * ticket || -> e (psk0): opens the ticket, runs NNpsk0 as responder with its psk and
 * answers <- e, ee. The device is not logged in yet: a replayed first frame gets this far,
 * but only the holder of the psk can then send a transport message that decrypts.
 */
static int
session_resume1(struct wire_session *s, const uint8_t *f, size_t flen, struct buf *out)
{
	uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN];
	uint8_t pl[1];
	struct ticket_contents tc;
	const uint8_t *ticket, *msg1;
	uint64_t now;
	size_t pn;
	int r;

	memset(&tc, 0, sizeof(tc));
	if ((r = ticket_frame1_parse(f, flen, &ticket, &msg1)) != 0)
		goto out;
	now = (uint64_t)time(NULL);
	if ((r = ticket_open(s->tk, ticket, TICKET_LEN, now, &tc)) != 0) {
		s->why = r == SOTTO_ERR_EXPIRED ? "resumption ticket expired" :
		    "resumption ticket invalid";
		goto out;
	}
	/* Open means unexpired: expiry > now. */
	if (tc.expiry - now > s->tk_max_life) {
		r = SOTTO_ERR_EXPIRED;
		s->why = "resumption ticket outlives ticket_lifetime";
		goto out;
	}
	memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
	memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, ticket, TICKET_LEN);
	if ((r = noise_hs_init(s->hs, TICKET_PATTERN, 0, prologue, sizeof(prologue), NULL,
	    NULL)) != 0)
		goto out;
	noise_hs_set_psk(s->hs, tc.psk);
	if ((r = noise_hs_read(s->hs, msg1, TICKET_MSG1_LEN, pl, sizeof(pl), &pn)) != 0) {
		s->why = "resumption handshake failed (wrong psk)";
		goto out;
	}
	if ((r = session_reply_and_split(s, out)) != 0)
		goto out;
	memcpy(s->peer_static, tc.device_pk, sizeof(s->peer_static));
	s->resumed = 1;
	s->phase = WIRE_PHASE_RESUMED;
out:
	ticket_contents_wipe(&tc);
	return r;
}

/* <- e, ee, s, es after reading -> e. */
static int
session_msg1(struct wire_session *s, const uint8_t *f, size_t flen, struct buf *out)
{
	uint8_t reply[NOISE_SOTTO_MSG2_LEN], pl[1];
	size_t n, pn;
	int r;

	if ((r = noise_hs_read(s->hs, f, flen, pl, sizeof(pl), &pn)) != 0)
		return r;
	if ((r = noise_hs_write(s->hs, NULL, 0, reply, sizeof(reply), &n)) != 0)
		return r;
	if ((r = frame_put_handshake(out, reply, n)) != 0)
		return r;
	frame_decoder_expect(&s->dec, NOISE_SOTTO_MSG3_LEN);
	s->phase = WIRE_PHASE_MSG3;
	return 0;
}

/* -> s, se: the device key is authenticated; switch to transport. */
static int
session_msg3(struct wire_session *s, const uint8_t *f, size_t flen)
{
	uint8_t pl[1];
	size_t pn;
	int r;

	if ((r = noise_hs_read(s->hs, f, flen, pl, sizeof(pl), &pn)) != 0) {
		s->why = "handshake failed (third message did not decrypt)";
		return r;
	}
	if ((r = noise_hs_remote_static(s->hs, s->peer_static)) != 0 ||
	    (r = session_split(s)) != 0)
		return r;
	s->phase = WIRE_PHASE_READY;
	return 0;
}

/* One complete frame in the current phase. */
static int
session_frame(struct wire_session *s, const uint8_t *f, size_t flen, struct buf *out,
    const uint8_t **msg, size_t *msg_len)
{
	int r;

	switch (s->phase) {
	case WIRE_PHASE_MSG1:
		if (s->sealed_ok && flen == NOISE_SEALED_MSG1_LEN) {
			if ((r = session_sealed1(s, f, flen, out)) != 0)
				return session_fail(s, r);
			return WIRE_HANDSHAKE_DONE;
		}
		if (s->tk != NULL && flen == TICKET_FRAME1_LEN)
			r = session_resume1(s, f, flen, out);
		else
			r = session_msg1(s, f, flen, out);
		if (r != 0)
			return session_fail(s, r);
		return WIRE_NEED_MORE;
	case WIRE_PHASE_RESUMED:
		r = frame_open(&s->t, &s->reasm, f, flen, s->scratch, msg, msg_len);
		if (r < 0) {
			s->why = "resumption not confirmed (first message failed)";
			return session_fail(s, r);
		}
		s->phase = WIRE_PHASE_READY;
		if (r == 0) {
			*msg = NULL;
			*msg_len = 0;
		}
		return WIRE_HANDSHAKE_DONE;
	case WIRE_PHASE_MSG3:
		if ((r = session_msg3(s, f, flen)) != 0)
			return session_fail(s, r);
		return WIRE_HANDSHAKE_DONE;
	case WIRE_PHASE_READY:
		r = frame_open(&s->t, &s->reasm, f, flen, s->scratch, msg, msg_len);
		if (r < 0)
			return session_fail(s, r);
		return r == 1 ? WIRE_MESSAGE : WIRE_NEED_MORE;
	default:
		return session_fail(s, SOTTO_ERR_INTERNAL);
	}
}

int
wire_session_feed(struct wire_session *s, const uint8_t *in, size_t len, size_t *used,
    struct buf *out, const uint8_t **msg, size_t *msg_len)
{
	const uint8_t *f;
	size_t flen, u;
	int r;

	*used = 0;
	*msg = NULL;
	*msg_len = 0;
	if (s->phase == WIRE_PHASE_FAILED)
		return SOTTO_ERR_STATE;
	while (*used < len) {
		r = frame_decoder_feed(&s->dec, in + *used, len - *used, &u, &f, &flen);
		*used += u;
		if (r < 0)
			return session_fail(s, r);
		if (r == 0)
			break;
		r = session_frame(s, f, flen, out, msg, msg_len);
		/* The frame has been decrypted or consumed: drop its copy. */
		frame_decoder_done(&s->dec);
		if (r != WIRE_NEED_MORE)
			return r;
	}
	return WIRE_NEED_MORE;
}

int
wire_session_seal(struct wire_session *s, const uint8_t *msg, size_t len, int pad,
    struct buf *out)
{
	int r;

	if (s->phase != WIRE_PHASE_READY)
		return SOTTO_ERR_STATE;
	if ((r = frame_seal_padded(&s->t, msg, len, pad, out)) != 0)
		return session_fail(s, r);
	return 0;
}

void
wire_session_free(struct wire_session *s)
{
	session_drop_hs(s);
	noise_transport_wipe(&s->t);
	frame_decoder_free(&s->dec);
	frame_reasm_free(&s->reasm);
	sodium_memzero(s->peer_static, sizeof(s->peer_static));
}
