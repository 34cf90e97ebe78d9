/*
 * A session: X3DH to start, the Double Ratchet after. Until the initiator has received a
 * reply, each of its messages is wrapped as a prekey message (type E2E_SESSION_MSG_PREKEY) so
 * that the responder can start the session from whichever arrives first, as in Signal.
 *
 * Responder flow: e2e_session_prekey_info() on an incoming prekey message tells which signed
 * and one-time prekeys it used (and, for PQXDH, which KEM prekey); look them up, then
 * e2e_session_respond(). Delete the one-time prekeys only after e2e_session_respond() succeeded.
 */
#ifndef SOTTO_CRYPTO_E2E_SESSION_H
#define SOTTO_CRYPTO_E2E_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "base/buf.h"
#include "crypto/ratchet.h"
#include "crypto/x3dh.h"

enum e2e_session_msg_type {
	E2E_SESSION_MSG_NORMAL = 1,
	E2E_SESSION_MSG_PREKEY = 2,
	/* Not a ratchet message: a decryption-failure receipt, which travels outside any
	 * session because the session is what failed (docs/PROTOCOL.md section 7.1). */
	E2E_SESSION_MSG_DECRYPT_ERROR = 3,
};

struct e2e_session_opts {
	uint32_t max_skip;                 /* 0: RATCHET_MAX_SKIP_DEFAULT */
	uint32_t local_registration_id;    /* Signal suite; native ignores it */
	/* e2e_session_respond: the decapsulation key (X3DH_KEM_DK_LEN bytes, SECRET) of the KEM
	 * prekey a PQXDH prekey message names (e2e_session_prekey_info), NULL for a classical
	 * one. */
	const uint8_t *kem_dk;
};

struct e2e_session;

/* opts may be NULL (defaults). */
int e2e_session_initiate(struct e2e_session **out, const struct ratchet_suite *s,
    const struct x3dh_identity *me, const struct x3dh_bundle *b,
    const struct e2e_session_opts *opts) SOTTO_MUST_CHECK;
int e2e_session_prekey_info(const struct ratchet_suite *s, struct x3dh_init_info *info,
    const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;
/* Starts the responder's session from a prekey message and appends its plaintext to pt.
 * opk NULL when the message used none. Nothing is created on any error. */
int e2e_session_respond(struct e2e_session **out, const struct ratchet_suite *s,
    const struct x3dh_identity *me, const struct x3dh_keypair *spk,
    const struct x3dh_keypair *opk, const uint8_t *msg, size_t len, struct buf *pt,
    const struct e2e_session_opts *opts) SOTTO_MUST_CHECK;
void e2e_session_free(struct e2e_session *ss);

/* Appends the message to out and sets *type. */
int e2e_session_encrypt(struct e2e_session *ss, struct buf *out, int *type, const uint8_t *pt,
    size_t len) SOTTO_MUST_CHECK;
/* A prekey message for an existing session is accepted only when it carries the base key
 * this session was started from (a repeat of the initiator's first flight); any other is
 * SOTTO_ERR_STATE (it belongs to another session). One with this session's base key that
 * does not decrypt is SOTTO_ERR_REPLAY. */
int e2e_session_decrypt(struct e2e_session *ss, struct buf *pt, int type, const uint8_t *msg,
    size_t len) SOTTO_MUST_CHECK;
/* The ratchet header of a message of either type (untrusted bytes; nothing is
 * authenticated). */
int e2e_session_msg_header(const struct ratchet_suite *s, struct ratchet_header *h, int type,
    const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;

/* Serialized state is SECRET. */
int e2e_session_serialize(const struct e2e_session *ss, struct buf *out) SOTTO_MUST_CHECK;
int e2e_session_deserialize(struct e2e_session **out, const struct ratchet_suite *s,
    const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

const uint8_t *e2e_session_remote_identity(const struct e2e_session *ss, size_t *len);
uint32_t e2e_session_remote_registration_id(const struct e2e_session *ss);
/* 1 if the session was set up with PQXDH (a KEM secret in its root key), 0 if with
 * classical X3DH. */
int e2e_session_is_pq(const struct e2e_session *ss);
/* The same from a serialized state, without loading it: 1 or 0, or a parse error. */
int e2e_session_state_is_pq(const uint8_t *p, size_t len) SOTTO_MUST_CHECK;
/* 1 while outgoing messages are still prekey messages. */
int e2e_session_pending_prekey(const struct e2e_session *ss);
struct ratchet *e2e_session_ratchet(struct e2e_session *ss);

#endif
