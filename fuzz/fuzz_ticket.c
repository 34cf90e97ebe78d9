/*
 * Resumption input from the network: ticket_open and the first-frame split on raw bytes;
 * a server wire_session with resumption on, fed either the raw stream or (first byte odd)
 * a frame built around a genuine ticket whose contents and Noise message come from the
 * input, so the NNpsk0 read, the expiry check and the confirmation step are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "wire/noise.h"
#include "wire/session.h"
#include "wire/ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
feed_session(const struct noise_keypair *kp, const struct ticket_key *tk, const uint8_t *in,
    size_t len, size_t chunk)
{
	static uint8_t scratch[FRAME_MAX];
	struct wire_session ws;
	struct buf sout;
	const uint8_t *msg;
	size_t off = 0, used, mlen;
	int r;

	buf_init_dyn(&sout, 4096);
	if (wire_session_init(&ws, kp, scratch) != 0)
		abort();
	wire_session_enable_resume(&ws, tk, UINT64_MAX);
	wire_session_enable_sealed(&ws);        /* as sottod: all three first frames */
	while (off < len) {
		size_t k = len - off < chunk ? len - off : chunk;

		r = wire_session_feed(&ws, in + off, k, &used, &sout, &msg, &mlen);
		if (used > k)
			abort();
		off += used;
		if (r < 0)
			break;
		if (r == WIRE_HANDSHAKE_DONE && !ws.resumed && ws.phase != WIRE_PHASE_READY)
			abort();
		if (r == WIRE_NEED_MORE && used != k)
			abort();
		buf_reset(&sout);
	}
	wire_session_free(&ws);
	buf_free(&sout);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t seed[32] = { 9 };
	static uint8_t ed_pk[32], ed_sk[64], buf[2 * FRAME_MAX];
	struct ticket_key tk;
	struct ticket_contents tc;
	struct noise_keypair kp;
	const uint8_t *t, *m;
	size_t n;

	if (sodium_init() < 0)
		abort();
	if (size < 1)
		return 0;
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
	memset(&tk, 0x5a, sizeof(tk.key));
	memcpy(tk.server_pk, ed_pk, 32);
	if (noise_keypair_from_ed25519(&kp, ed_sk) != 0)
		abort();

	/* Raw bytes as a ticket and as a first frame. */
	if (ticket_open(&tk, data + 1, size - 1, 0, &tc) == 0)
		abort();        /* forging the AEAD is not expected */
	if (ticket_frame1_parse(data + 1, size - 1, &t, &m) == 0 &&
	    (size - 1 != TICKET_FRAME1_LEN || t != data + 1 || m != data + 1 + TICKET_LEN))
		abort();

	if ((data[0] & 1) == 0 || size < 1 + TICKET_PLAIN_LEN) {
		feed_session(&kp, &tk, data + 1, size - 1, (size_t)data[0] + 1);
	} else {
		/*
		 * A genuine ticket around contents from the input, a genuine msg 1 under its
		 * psk (one byte flipped if data[0] & 2), then the rest of the input.
		 */
		uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN], psk[32];
		struct noise_hs hs;
		uint64_t expiry = 0;
		int i, r;

		memcpy(tc.device_pk, data + 1, 32);
		memcpy(tc.psk, data + 33, 32);
		memcpy(psk, tc.psk, 32);
		for (i = 0; i < 8; i++)
			expiry = expiry << 8 | data[65 + i];
		tc.expiry = expiry;
		buf[0] = TICKET_FRAME1_LEN >> 8;
		buf[1] = TICKET_FRAME1_LEN & 0xff;
		if (ticket_seal(&tk, &tc, buf + 2) != 0)
			abort();
		memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
		memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, buf + 2, TICKET_LEN);
		if (noise_hs_init(&hs, TICKET_PATTERN, 1, prologue, sizeof(prologue), NULL,
		    NULL) != 0)
			abort();
		noise_hs_set_psk(&hs, psk);
		if (noise_hs_write(&hs, NULL, 0, buf + 2 + TICKET_LEN, TICKET_MSG1_LEN, &n) != 0 ||
		    n != TICKET_MSG1_LEN)
			abort();
		noise_hs_wipe(&hs);
		if (data[0] & 2)
			buf[2 + TICKET_LEN + data[0] % TICKET_MSG1_LEN] ^= 1;
		n = size - 1 - TICKET_PLAIN_LEN;
		if (n > sizeof(buf) - 2 - TICKET_FRAME1_LEN)
			n = sizeof(buf) - 2 - TICKET_FRAME1_LEN;
		memcpy(buf + 2 + TICKET_FRAME1_LEN, data + 1 + TICKET_PLAIN_LEN, n);
		feed_session(&kp, &tk, buf, 2 + TICKET_FRAME1_LEN + n, (size_t)(data[0] >> 2) + 1);
		/* Opening what was sealed gives it back, or says it expired. */
		r = ticket_open(&tk, buf + 2, TICKET_LEN, 1, &tc);
		if (expiry > 1 ? r != 0 || memcmp(tc.psk, psk, 32) != 0 : r != SOTTO_ERR_EXPIRED)
			abort();
		sodium_memzero(psk, sizeof(psk));
	}
	ticket_contents_wipe(&tc);
	noise_keypair_wipe(&kp);
	sodium_memzero(&tk, sizeof(tk));
	return 0;
}
