/*
 * Frames: the incremental decoder, handshake frames, and fragmented transport messages.
 */
#include "wire/frame.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

_Static_assert(FRAME_MAX <= UINT16_MAX, "length fits the 2-byte header");

void
frame_decoder_init(struct frame_decoder *d)
{
	memset(d, 0, sizeof(*d));
	frame_decoder_transport(d);
}

void
frame_decoder_expect(struct frame_decoder *d, size_t exact)
{
	frame_decoder_expect2(d, exact, 0);
}

void
frame_decoder_expect2(struct frame_decoder *d, size_t exact, size_t alt)
{
	d->expect = exact;
	d->expect_alt = alt;
	d->expect_alt2 = 0;
	d->min = alt != 0 && alt < exact ? alt : exact;
	d->max = alt > exact ? alt : exact;
}

void
frame_decoder_expect_also(struct frame_decoder *d, size_t alt2)
{
	if (d->expect == 0 || alt2 == 0)
		return;
	d->expect_alt2 = alt2;
	if (alt2 < d->min)
		d->min = alt2;
	if (alt2 > d->max)
		d->max = alt2;
}

void
frame_decoder_transport(struct frame_decoder *d)
{
	d->expect = 0;
	d->expect_alt = 0;
	d->expect_alt2 = 0;
	d->min = FRAME_MIN_TRANSPORT;
	d->max = FRAME_MAX;
}

static void
decoder_release(struct frame_decoder *d)
{
	free(d->body);
	d->body = NULL;
	d->cap = 0;
	d->hdr_have = 0;
	d->len = d->have = 0;
}

/* Room for need body bytes: doubled as bytes arrive, capped at the frame's length. */
static int
body_reserve(struct frame_decoder *d, size_t need)
{
	size_t cap = d->cap * 2;
	uint8_t *p;

	if (need <= d->cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap > d->len)
		cap = d->len;
	if ((p = realloc(d->body, cap)) == NULL)
		return SOTTO_ERR_NOMEM;
	d->body = p;
	d->cap = cap;
	return 0;
}

void
frame_decoder_done(struct frame_decoder *d)
{
	if (d->body != NULL && d->have == d->len)
		decoder_release(d);
}

void
frame_decoder_free(struct frame_decoder *d)
{
	/* Transport bodies are ciphertext; nothing secret to wipe. */
	decoder_release(d);
}

/* The length rules, decided from the header alone. */
static int
decoder_check_len(const struct frame_decoder *d, size_t len)
{
	if (d->expect != 0 && len != d->expect && (d->expect_alt == 0 || len != d->expect_alt) &&
	    (d->expect_alt2 == 0 || len != d->expect_alt2))
		return len > d->max ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_PROTOCOL;
	if (len > d->max)
		return SOTTO_ERR_TOO_LARGE;
	if (len < d->min)
		return SOTTO_ERR_PROTOCOL;
	return 0;
}

int
frame_decoder_feed(struct frame_decoder *d, const uint8_t *in, size_t len, size_t *used,
    const uint8_t **frame, size_t *frame_len)
{
	struct cur c;
	size_t take;
	int r;

	*used = 0;
	*frame = NULL;
	*frame_len = 0;
	/* The previous frame's body is no longer referenced. */
	if (d->body != NULL && d->have == d->len)
		decoder_release(d);
	cur_init(&c, in, len);

	while (d->hdr_have < FRAME_HDR_LEN) {
		if (cur_left(&c) == 0) {
			*used = c.off;
			return 0;
		}
		d->hdr[d->hdr_have++] = cur_u8(&c);
		if (d->hdr_have == FRAME_HDR_LEN) {
			d->len = (size_t)d->hdr[0] << 8 | d->hdr[1];
			d->have = 0;
			if ((r = decoder_check_len(d, d->len)) != 0) {
				d->hdr_have = 0;
				*used = c.off;
				return r;
			}
			/* A whole frame already in the input: hand it out in place. */
			if (cur_left(&c) >= d->len) {
				*frame = cur_ref(&c, d->len);
				*frame_len = d->len;
				d->hdr_have = 0;
				d->len = 0;
				*used = c.off;
				return 1;
			}
		}
	}

	take = d->len - d->have;
	if (take > cur_left(&c))
		take = cur_left(&c);
	if (take == 0) {
		*used = c.off;
		return 0;
	}
	if ((r = body_reserve(d, d->have + take)) != 0) {
		decoder_release(d);
		*used = c.off;
		return r;
	}
	cur_copy(&c, d->body + d->have, take);
	d->have += take;
	*used = c.off;
	if (d->have < d->len)
		return 0;
	*frame = d->body;
	*frame_len = d->len;
	/* The body stays allocated until the next call; the header restarts. */
	d->hdr_have = 0;
	return 1;
}

int
frame_put_handshake(struct buf *out, const uint8_t *msg, size_t len)
{
	if (len > FRAME_MAX)
		return SOTTO_ERR_TOO_LARGE;
	buf_u16(out, (uint16_t)len);
	buf_put(out, msg, len);
	return buf_status(out);
}

/* The body length of the fragment holding n bytes (last: the message's last ones), padded
 * with pad zeros (FRAME_UNPADDED: none) if it is the last and the frame has room for them. */
static size_t
fragment_body(size_t n, int last, int pad, int *padded)
{
	size_t room;

	*padded = pad >= 0 && last && n <= FRAME_PADDED_DATA_MAX;
	if (!*padded)
		return 1 + n + NOISE_TAG_LEN;
	room = FRAME_PADDED_DATA_MAX - n;
	return FRAME_PADDED_HDR + n + ((size_t)pad < room ? (size_t)pad : room) + NOISE_TAG_LEN;
}

size_t
frame_sealed_len(size_t len, int pad)
{
	size_t off = 0, total = 0, n;
	int padded;

	do {
		n = len - off > FRAME_FRAG_DATA ? FRAME_FRAG_DATA : len - off;
		total += FRAME_HDR_LEN + fragment_body(n, off + n == len, pad, &padded);
		off += n;
	} while (off < len);
	return total;
}

static int
seal(struct noise_transport *t, const uint8_t *msg, size_t len, int pad, struct buf *out)
{
	size_t off = 0, saved = out->len;
	int r;

	do {
		size_t n = len - off > FRAME_FRAG_DATA ? FRAME_FRAG_DATA : len - off, head = 1;
		int padded;
		size_t body = fragment_body(n, off + n == len, pad, &padded);
		uint8_t *p;

		buf_u16(out, (uint16_t)body);
		if ((p = buf_reserve(out, body)) == NULL) {
			r = buf_status(out);
			goto fail;
		}
		p[0] = off + n < len ? FRAME_FLAG_MORE : FRAME_FLAG_LAST;
		if (padded) {
			p[0] = FRAME_FLAG_PADDED;
			p[1] = (uint8_t)(n >> 8);
			p[2] = (uint8_t)n;
			head = FRAME_PADDED_HDR;
			memset(p + head + n, 0, body - NOISE_TAG_LEN - head - n);
		}
		if (n > 0)
			memcpy(p + head, msg + off, n);
		/* Encrypted in place: the plaintext never stays in out. */
		if ((r = noise_encrypt(&t->tx, NULL, 0, p, body - NOISE_TAG_LEN, p)) != 0)
			goto fail;
		off += n;
	} while (off < len);
	return 0;
fail:
	if (out->p != NULL && out->len > saved)
		sodium_memzero(out->p + saved, out->len - saved);
	out->len = saved;
	return r != 0 ? r : SOTTO_ERR_INTERNAL;
}

int
frame_seal(struct noise_transport *t, const uint8_t *msg, size_t len, struct buf *out)
{
	return seal(t, msg, len, FRAME_UNPADDED, out);
}

int
frame_seal_padded(struct noise_transport *t, const uint8_t *msg, size_t len, int pad,
    struct buf *out)
{
	return seal(t, msg, len, pad, out);
}

void
frame_reasm_init(struct frame_reasm *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	buf_init_dyn(&r->acc, max);
}

void
frame_reasm_set_max(struct frame_reasm *r, size_t max)
{
	/* frame_open checks acc.len + n <= max before growing, so a lowered cap is safe. */
	r->max = max;
	r->acc.max = max;
}

void
frame_reasm_free(struct frame_reasm *r)
{
	buf_wipe_free(&r->acc);
	r->pending = 0;
}

/*
 * 1 if p[0..n) are all zero. Padding is no secret (its sender knows it, and it must be
 * zeros), so this need not take constant time as sodium_is_zero does, byte by byte through
 * a volatile: that was 2% of sottod's CPU in the closed loop when frames were padded to
 * size buckets (about 600 bytes of padding in a SEND). memcmp of the bytes against
 * themselves shifted by one compares them a vector at a time.
 */
static int
all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int
frame_open(struct noise_transport *t, struct frame_reasm *r, const uint8_t *frame,
    size_t len, uint8_t *scratch, const uint8_t **msg, size_t *msg_len)
{
	const uint8_t *data;
	struct cur c;
	size_t n;
	uint8_t flag;
	int rc;

	*msg = NULL;
	*msg_len = 0;
	/* The previous message has been consumed: give its memory back (idle connections
	 * hold no reassembly buffer). */
	if (!r->pending && r->acc.p != NULL) {
		buf_wipe_free(&r->acc);
		buf_init_dyn(&r->acc, r->max);
	}
	if (len < FRAME_MIN_TRANSPORT)
		return SOTTO_ERR_PROTOCOL;
	if (len > FRAME_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if ((rc = noise_decrypt(&t->rx, NULL, 0, frame, len, scratch)) != 0)
		return rc;

	cur_init(&c, scratch, len - NOISE_TAG_LEN);
	flag = cur_u8(&c);
	if (flag == FRAME_FLAG_PADDED) {
		const uint8_t *pad;
		size_t pad_len;

		n = cur_u16(&c);
		data = cur_ref(&c, n);
		pad = cur_rest(&c, &pad_len);
		if ((rc = cur_status(&c)) != 0)
			return rc == SOTTO_ERR_TRUNCATED ? SOTTO_ERR_PROTOCOL : rc;
		/* Padding is zeros: nothing else may hide in it. */
		if (!all_zero(pad, pad_len))
			return SOTTO_ERR_PROTOCOL;
		flag = FRAME_FLAG_LAST;
	} else {
		data = cur_rest(&c, &n);
	}
	if ((rc = cur_finish(&c)) != 0)
		return rc;
	if (flag != FRAME_FLAG_LAST && flag != FRAME_FLAG_MORE)
		return SOTTO_ERR_PROTOCOL;
	/* Non-final fragments are full: no tiny-fragment floods. */
	if (flag == FRAME_FLAG_MORE && n != FRAME_FRAG_DATA)
		return SOTTO_ERR_PROTOCOL;
	/* The cap is checked before the accumulator grows. */
	if (n > r->max || r->acc.len > r->max - n)
		return SOTTO_ERR_TOO_LARGE;

	if (flag == FRAME_FLAG_LAST && !r->pending) {
		*msg = data;
		*msg_len = n;
		return 1;
	}
	buf_put(&r->acc, data, n);
	if ((rc = buf_status(&r->acc)) != 0)
		return rc;
	if (flag == FRAME_FLAG_MORE) {
		r->pending = 1;
		return 0;
	}
	r->pending = 0;
	*msg = r->acc.p;
	*msg_len = r->acc.len;
	return 1;
}
