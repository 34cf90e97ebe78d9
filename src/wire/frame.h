/*
 * Frames on TCP: a 2-byte big-endian length, then that many bytes of one Noise message.
 *
 * During the handshake each frame holds one handshake message and only its exact size is
 * accepted (frame_decoder_expect). After it each frame holds one transport message whose
 * plaintext is a 1-byte fragment flag and data:
 *   flag 0x00  last (or only) fragment of a logical message
 *   flag 0x01  more fragments follow; such a fragment carries exactly FRAME_FRAG_DATA bytes
 * Logical messages are reassembled up to a cap the caller sets (smaller before the peer is
 * known, FRAME_MSG_MAX_DEFAULT after); the cap is checked before memory grows.
 *   flag 0x02  last fragment, padded: u16 n, n data bytes, then zero bytes. A message that
 *              holds an address is padded by ADDRESS_MAX minus its address's length
 *              (proto_padding), so that its frames are as long as with the longest address
 *              and an observer does not learn the address's length. frame_seal_padded
 *              pads the last fragment so, with less padding if the frame cannot hold it
 *              all and unpadded (flag 0x00) if its data needs the whole frame (65517 or
 *              65518 bytes); frame_open accepts all three, with any amount of padding.
 */
#ifndef SOTTO_WIRE_FRAME_H
#define SOTTO_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "wire/noise.h"

#define FRAME_HDR_LEN 2
#define FRAME_MAX NOISE_MSG_MAX                          /* body bytes of one frame */
#define FRAME_MIN_TRANSPORT (NOISE_TAG_LEN + 1)
#define FRAME_FRAG_DATA (NOISE_PAYLOAD_MAX - 1)          /* data bytes per fragment */
#define FRAME_FLAG_LAST 0x00
#define FRAME_FLAG_MORE 0x01
#define FRAME_FLAG_PADDED 0x02
#define FRAME_PADDED_HDR 3                               /* flag, u16 data length */
#define FRAME_PADDED_DATA_MAX (NOISE_PAYLOAD_MAX - FRAME_PADDED_HDR) /* data + padding */
#define FRAME_UNPADDED (-1)                              /* pad: flag 0x00 (frame_seal) */
#define FRAME_MSG_MAX_DEFAULT (16u * 1024 * 1024)       /* logical message, authenticated */
#define FRAME_MSG_MAX_PREAUTH (16u * 1024)               /* before registration/login */

/* Incremental decoder: feed it bytes as they arrive, in chunks of any size. */
struct frame_decoder {
	uint8_t hdr[FRAME_HDR_LEN];
	uint8_t hdr_have;
	size_t len;             /* announced body length, once the header is complete */
	size_t have;
	/* owned: grows with the bytes that arrived (at most twice them), never to len at once,
	 * so a peer that sends a 2-byte header for 65535 and stops costs nothing */
	uint8_t *body;
	size_t cap;
	size_t expect;          /* non-zero: the only body length accepted */
	size_t expect_alt;      /* non-zero: a second accepted length (a resumption's first) */
	size_t expect_alt2;     /* non-zero: a third (an unidentified connection's first) */
	size_t min, max;
};

void frame_decoder_init(struct frame_decoder *d);
/* Handshake phase: the next frame must have exactly this body length. */
void frame_decoder_expect(struct frame_decoder *d, size_t exact);
/* The same with two accepted lengths (a server's first frame: full or resumed login). */
void frame_decoder_expect2(struct frame_decoder *d, size_t exact, size_t alt);
/* After expect or expect2: one more accepted length (an unidentified connection's first
 * frame). */
void frame_decoder_expect_also(struct frame_decoder *d, size_t alt2);
/* Transport phase: bodies of FRAME_MIN_TRANSPORT..FRAME_MAX bytes. */
void frame_decoder_transport(struct frame_decoder *d);
/*
 * Consumes bytes from in until one frame is complete or the input is used up; *used says
 * how many. Returns 1 with *frame and *frame_len set (valid until the next call or free; it may
 * point into in), 0 when everything was consumed without completing a frame, or a negative
 * error: SOTTO_ERR_TOO_LARGE / SOTTO_ERR_PROTOCOL for a length outside the rules, decided
 * from the 2 header bytes before any allocation. After an error the connection must close.
 */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *in, size_t len, size_t *used,
    const uint8_t **frame, size_t *frame_len) SOTTO_MUST_CHECK;
/* Releases the last frame's copy early (it is released by the next feed anyway), so an
 * idle connection holds no frame buffer. */
void frame_decoder_done(struct frame_decoder *d);
void frame_decoder_free(struct frame_decoder *d);

/* Bytes (headers included) that frame_seal_padded makes of a logical message of len bytes
 * (pad as there). */
size_t frame_sealed_len(size_t len, int pad);

/* Appends a handshake message as one frame. */
int frame_put_handshake(struct buf *out, const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;
/* Encrypts a logical message of any length (0 allowed) as one or more frames onto out. */
int frame_seal(struct noise_transport *t, const uint8_t *msg, size_t len,
    struct buf *out) SOTTO_MUST_CHECK;
/* The same with pad zero bytes after the last fragment's data (flag 0x02; fewer if the
 * frame cannot hold them): for messages that hold an address (proto_padding), whose length
 * the frame must not give away. pad FRAME_UNPADDED (negative) is frame_seal. */
int frame_seal_padded(struct noise_transport *t, const uint8_t *msg, size_t len, int pad,
    struct buf *out) SOTTO_MUST_CHECK;

/* Reassembly of logical messages from decrypted fragments. */
struct frame_reasm {
	struct buf acc;         /* fragments so far; may hold plaintext, wiped when freed */
	size_t max;
	int pending;            /* a non-final fragment was seen */
};

void frame_reasm_init(struct frame_reasm *r, size_t max);
/* Changes the cap (e.g. after authentication); applies to the next message. */
void frame_reasm_set_max(struct frame_reasm *r, size_t max);
void frame_reasm_free(struct frame_reasm *r);
/*
 * Decrypts one transport frame body with t->rx into scratch (FRAME_MAX bytes) and adds it
 * to the message being reassembled. Returns 1 with *msg and *msg_len set to a complete logical
 * message (valid until the next frame_open or frame_reasm_free; it may point into scratch),
 * 0 when more fragments are needed, or a negative error (the connection must close).
 */
int frame_open(struct noise_transport *t, struct frame_reasm *r, const uint8_t *frame,
    size_t len, uint8_t *scratch, const uint8_t **msg, size_t *msg_len) SOTTO_MUST_CHECK;

#endif
