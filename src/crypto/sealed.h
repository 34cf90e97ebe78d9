/*
 * Sealed sender: an envelope that hides the sender from the server. Encrypted to the
 * recipient's identity key (X25519 form) with an ephemeral key; the sender's identity key is
 * in a first layer, and the content is in a second layer keyed also by the static-static DH
 * between sender and recipient identities, so a recipient that opens it knows the sender
 * holds that identity's secret key. Content is padded (pad.h). Format: docs/PROTOCOL.md.
 * Native suite identities only (Ed25519 public keys).
 */
#ifndef SOTTO_CRYPTO_SEALED_H
#define SOTTO_CRYPTO_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"
#include "base/buf.h"
#include "crypto/sign.h"
#include "crypto/x3dh.h"

#define SEALED_VERSION 0x01
#define SEALED_ADDR_MAX SOTTO_ADDRESS_MAX
#define SEALED_CERT_MAX 512
#define SEALED_ENVELOPE_MAX 65536
/* 1 version + 32 ephemeral + (32 + 16) sender identity layer + 16 content tag */
#define SEALED_OVERHEAD (1 + 32 + 48 + 16)
#define SEALED_PADDED_MAX (SEALED_ENVELOPE_MAX - SEALED_OVERHEAD)

struct sealed_content {
	const char *sender_addr;       /* "name@domain", 1..SEALED_ADDR_MAX bytes */
	size_t sender_addr_len;
	const uint8_t *cert;           /* opaque sender certificate, 0..SEALED_CERT_MAX bytes */
	size_t cert_len;
	uint8_t msg_type;              /* enum e2e_session_msg_type */
	const uint8_t *msg;            /* the ratchet message */
	size_t msg_len;
};

struct sealed_opened {
	uint8_t sender_ident[SIGN_PUBLIC_LEN];
	char sender_addr[SEALED_ADDR_MAX + 1];   /* NUL-terminated */
	size_t sender_addr_len;
	uint8_t cert[SEALED_CERT_MAX];
	size_t cert_len;
	uint8_t msg_type;
	uint8_t *msg;                  /* malloc'd; sealed_opened_free() */
	size_t msg_len;
};

/* Appends the envelope to out. sender and recipient are native identities. */
int sealed_seal(struct buf *out, const struct x3dh_identity *sender,
    const uint8_t recipient_ident[static SIGN_PUBLIC_LEN], const struct sealed_content *c) SOTTO_MUST_CHECK;
/* The caller must still check the certificate and that sender_ident belongs to sender_addr. */
int sealed_open(struct sealed_opened *out, const struct x3dh_identity *recipient,
    const uint8_t *env, size_t len) SOTTO_MUST_CHECK;
void sealed_opened_free(struct sealed_opened *o);
/* The content parser on its own (unpadded content bytes), for the fuzzer and for tests. */
int sealed_content_parse(struct sealed_opened *out, const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

#endif
