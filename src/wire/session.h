/*
 * The server side of one connection's wire, for an event loop: feed it the bytes a socket
 * delivers, in any chunks; it runs the Noise_XX responder handshake with exact-size frames
 * (or, with wire_session_enable_resume, a ticket resumption: Noise_NNpsk0, told apart by
 * the first frame's size), then yields whole decrypted logical messages. Replies are
 * sealed onto a caller's buf.
 *
 *   noise_keypair_from_ed25519(&server_static, server_ed_sk);     // once, at start
 *   wire_session_init(&s, &server_static, scratch);                // per connection
 *   on read(data, n):
 *     while (n > 0) {
 *       r = wire_session_feed(&s, data, n, &used, &out, &msg, &msg_len);
 *       data += used; n -= used;
 *       if (r < 0) close;                       // log sotto_strerror(r)
 *       if (r == WIRE_HANDSHAKE_DONE) ...        // s.peer_static is the device key
 *       if (r == WIRE_MESSAGE) proto_decode(msg, msg_len, ...);
 *       write out.p[0..out.len) to the socket (handshake replies), buf_reset(&out)
 *     }
 *
 * Memory: the handshake state (about 500 bytes) lives on the heap only until the handshake
 * ends; an idle established session holds its keys, the decoder and the reassembly buffer
 * (released after each message). The decrypt scratch (FRAME_MAX) is the caller's, so one
 * event loop shares one.
 */
#ifndef SOTTO_WIRE_SESSION_H
#define SOTTO_WIRE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/ticket.h"

enum wire_phase {
	WIRE_PHASE_MSG1 = 0,    /* waiting for -> e */
	WIRE_PHASE_MSG3,        /* sent <- e, ee, s, es; waiting for -> s, se */
	WIRE_PHASE_RESUMED,     /* resumption: sent <- e, ee; waiting for the first transport
				 * message, which alone proves the client holds the psk */
	WIRE_PHASE_READY,
	WIRE_PHASE_FAILED
};

enum wire_event {
	WIRE_NEED_MORE = 0,
	WIRE_MESSAGE = 1,
	WIRE_HANDSHAKE_DONE = 2
};

struct wire_session {
	enum wire_phase phase;
	struct noise_hs *hs;            /* heap, secret; NULL once the handshake is over */
	struct noise_transport t;       /* secret */
	struct frame_decoder dec;
	struct frame_reasm reasm;
	uint8_t *scratch;               /* caller's FRAME_MAX bytes */
	uint8_t peer_static[NOISE_KEY_LEN];     /* the device key, once READY */
	uint8_t hash[NOISE_HASH_LEN];   /* handshake hash, once READY */
	const struct ticket_key *tk;    /* non-NULL: resumption accepted (not owned) */
	uint64_t tk_max_life;           /* seconds a ticket may still have to live */
	int resumed;                    /* this session logged in with a ticket */
	const struct noise_keypair *server_static;     /* not owned */
	int sealed_ok;                  /* unidentified connections (Noise_NK) accepted */
	int unidentified;               /* this one is: no peer_static, SEND_SEALED only */
	const char *why;                /* a handshake's failure, for the log (static) */
};

/* scratch: FRAME_MAX bytes owned by the caller, may be shared by every session of a thread
 * (each WIRE_MESSAGE must be consumed before the next feed of any session). The reassembly
 * cap starts at FRAME_MSG_MAX_PREAUTH; raise it with frame_reasm_set_max(&s->reasm, ...). */
int wire_session_init(struct wire_session *s, const struct noise_keypair *server_static,
    uint8_t *scratch) SOTTO_MUST_CHECK;
/* Also accept a resumption (ticket.h) as the first frame, tickets opened with tk (which
 * must outlive the session). A ticket that expires more than max_life seconds from now
 * was issued under a longer lifetime than the server's current one and is refused as
 * expired, so that lowering the lifetime shortens tickets already issued. Call right after
 * wire_session_init. */
void wire_session_enable_resume(struct wire_session *s, const struct ticket_key *tk,
    uint64_t max_life);
/* Also accept an unidentified connection: Noise_NK (wire/noise.h, NOISE_SEALED_PATTERN),
 * told apart by its first frame's size; it ends with WIRE_HANDSHAKE_DONE as soon as the
 * server's answer is written, with s->unidentified set and no peer_static. Call right after
 * wire_session_init. */
void wire_session_enable_sealed(struct wire_session *s);
/*
 * Consumes bytes from in (*used says how many) until one event: WIRE_NEED_MORE (all input
 * consumed), WIRE_HANDSHAKE_DONE, or WIRE_MESSAGE with *msg and *msg_len (valid until the
 * next feed). Handshake replies are appended to out. A negative error is final: close.
 * A resumed login ends with the first transport frame that decrypts: WIRE_HANDSHAKE_DONE
 * then comes with *msg set when that frame completed a message (else *msg is NULL).
 */
int wire_session_feed(struct wire_session *s, const uint8_t *in, size_t len, size_t *used,
    struct buf *out, const uint8_t **msg, size_t *msg_len) SOTTO_MUST_CHECK;
/* Appends msg, encrypted and framed, to out (only when READY); pad as frame_seal_padded
 * (proto_padding, or FRAME_UNPADDED). */
int wire_session_seal(struct wire_session *s, const uint8_t *msg, size_t len, int pad,
    struct buf *out) SOTTO_MUST_CHECK;
void wire_session_free(struct wire_session *s);

#endif
