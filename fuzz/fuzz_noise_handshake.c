/*
 * A responder reading arbitrary first messages: the product profile (then, if accepted,
 * answering and reading the rest as message 3), and every base pattern picked by the first
 * byte with fixed keys; and a server wire_session fed the input as a byte stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/noise.h"
#include "wire/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
	"NN", "NK", "NX", "XN", "XK", "XX", "KN", "KK", "KX", "IN", "IK", "IX",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t seed[32] = { 7 }, ed_pk[32], ed_sk[64];
	static const uint8_t rsk[32] = { 1, 2, 3 }, ipub_sk[32] = { 4, 5, 6 };
	uint8_t ipub[32], out[256], payload[NOISE_MSG_MAX];
	struct noise_hs hs;
	const char *pat;
	size_t n, pn, first;
	int r;

	if (sodium_init() < 0)
		abort();
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
	if (size < 1)
		return 0;

	/* The product: message 1 is the first min(size, 32) bytes after the selector. */
	if (noise_sotto_responder(&hs, ed_sk) != 0)
		abort();
	first = size - 1 < NOISE_SOTTO_MSG1_LEN ? size - 1 : NOISE_SOTTO_MSG1_LEN;
	r = noise_hs_read(&hs, data + 1, first, payload, sizeof(payload), &pn);
	if (r == 0 && noise_hs_write(&hs, NULL, 0, out, sizeof(out), &n) == 0) {
		r = noise_hs_read(&hs, data + 1 + first, size - 1 - first, payload,
		    sizeof(payload), &pn);
		if (r == 0 && !noise_hs_finished(&hs))
			abort();
	}
	noise_hs_wipe(&hs);

	/* Any pattern, the whole rest as message 1. */
	pat = patterns[data[0] % 12];
	crypto_scalarmult_base(ipub, ipub_sk);
	{
		int need_s = pat[1] == 'K' || pat[1] == 'X';

		if (noise_hs_init(&hs, pat, 0, NULL, 0, need_s ? rsk : NULL,
		    pat[0] == 'K' ? ipub : NULL) != 0)
			abort();
	}
	r = noise_hs_read(&hs, data + 1, size - 1, payload, sizeof(payload), &pn);
	if (r == 0 && pn > size)
		abort();
	noise_hs_wipe(&hs);

	/* The server's session on the raw stream, in chunks sized by the first byte. */
	{
		static uint8_t scratch[FRAME_MAX];
		struct wire_session ws;
		struct noise_keypair kp;
		struct buf sout;
		const uint8_t *msg;
		size_t off = 1, used, mlen, chunk = (size_t)data[0] + 1;

		buf_init_dyn(&sout, 4096);
		if (noise_keypair_from_ed25519(&kp, ed_sk) != 0 ||
		    wire_session_init(&ws, &kp, scratch) != 0)
			abort();
		/* As sottod: an unidentified (Noise_NK) first frame is accepted too. */
		wire_session_enable_sealed(&ws);
		while (off < size) {
			size_t k = size - off < chunk ? size - off : chunk;

			r = wire_session_feed(&ws, data + off, k, &used, &sout, &msg, &mlen);
			if (used > k)
				abort();
			off += used;
			if (r < 0)
				break;
			if (r == WIRE_NEED_MORE && used != k)
				abort();
			buf_reset(&sout);
		}
		wire_session_free(&ws);
		buf_free(&sout);
	}
	return 0;
}
