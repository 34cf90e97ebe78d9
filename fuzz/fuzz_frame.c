/*
 * Frames: the incremental decoder on raw bytes in fuzzer-chosen chunks, fragment
 * reassembly on fuzzer-chosen plaintexts (encrypted here, since a fuzzer cannot forge tags),
 * and a round trip of a fuzzer-chosen message sealed with a fuzzer-chosen padding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "wire/frame.h"
#include "wire/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[FRAME_MAX];
static uint8_t ct[FRAME_MAX];

static void
decode_raw(const uint8_t *data, size_t size, uint8_t mode, size_t chunk)
{
	struct frame_decoder d;
	const uint8_t *f;
	size_t off = 0, used, flen;
	int r;

	frame_decoder_init(&d);
	if (mode & 1)
		frame_decoder_expect(&d, mode & 2 ? NOISE_SOTTO_MSG1_LEN : NOISE_SOTTO_MSG3_LEN);
	if (mode & 4)
		d.max = 300;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		r = frame_decoder_feed(&d, data + off, n, &used, &f, &flen);
		if (used > n)
			abort();
		off += used;
		if (r < 0)
			break;
		if (r == 1 && (flen < d.min || flen > d.max))
			abort();
		if (r == 0 && used != n)
			abort();
	}
	frame_decoder_free(&d);
}

static void
reassemble(const uint8_t *data, size_t size, size_t cap)
{
	struct noise_transport t;
	struct frame_reasm ra;
	const uint8_t *m;
	size_t off = 0, mlen;
	int r;

	memset(&t, 0, sizeof(t));
	t.tx.has_key = t.rx.has_key = 1;     /* both directions share the all-zero key */
	frame_reasm_init(&ra, cap);
	/* Pieces: u16 length (scaled so full fragments are reachable), then plaintext. */
	while (size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n == 0xffff)
			n = 1 + FRAME_FRAG_DATA;        /* a full "more" fragment of zeros */
		if (n > NOISE_PAYLOAD_MAX)
			n = NOISE_PAYLOAD_MAX;
		memset(scratch, 0, n);
		if (n > 0)
			scratch[0] = FRAME_FLAG_MORE;
		if (n <= 1 + FRAME_FRAG_DATA && size - off >= (n < 8 ? n : 8)) {
			size_t k = n < 8 ? n : 8;

			memcpy(scratch, data + off, k);
			off += k;
		}
		if (noise_encrypt(&t.tx, NULL, 0, scratch, n, ct) != 0)
			break;
		r = frame_open(&t, &ra, ct, n + NOISE_TAG_LEN, scratch, &m, &mlen);
		if (r < 0)
			break;
		if (r == 1 && mlen > cap)
			abort();
	}
	frame_reasm_free(&ra);
}

/* frame_seal_padded of msg with pad zeros (-1: none) makes frame_sealed_len bytes of frames
 * that decode and open to msg again. */
static void
seal_roundtrip(const uint8_t *msg, size_t len, int pad)
{
	struct noise_transport t;
	struct frame_reasm ra;
	struct frame_decoder d;
	struct buf wire;
	const uint8_t *f, *m = NULL;
	size_t off, used, flen, mlen = 0;
	int r = 0;

	memset(&t, 0, sizeof(t));
	t.tx.has_key = t.rx.has_key = 1;
	frame_reasm_init(&ra, FRAME_MSG_MAX_DEFAULT);
	frame_decoder_init(&d);
	buf_init_dyn(&wire, 2 * FRAME_MSG_MAX_PREAUTH + 2 * FRAME_MAX);
	if (frame_seal_padded(&t, msg, len, pad, &wire) != 0 ||
	    wire.len != frame_sealed_len(len, pad))
		abort();
	for (off = 0; off < wire.len; off += used) {
		if (frame_decoder_feed(&d, wire.p + off, wire.len - off, &used, &f, &flen) != 1)
			abort();
		if ((r = frame_open(&t, &ra, f, flen, scratch, &m, &mlen)) < 0)
			abort();
	}
	if (r != 1 || mlen != len || (len > 0 && memcmp(m, msg, len) != 0))
		abort();
	buf_free(&wire);
	frame_decoder_free(&d);
	frame_reasm_free(&ra);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (sodium_init() < 0)
		abort();
	decode_raw(data + 2, size - 2, data[0], (size_t)data[1] + 1);
	reassemble(data + 2, size - 2, data[0] & 8 ? 100000 : FRAME_MSG_MAX_PREAUTH);
	seal_roundtrip(data + 2, size - 2, ((int)data[0] << 8 | data[1]) - 1);
	return 0;
}
