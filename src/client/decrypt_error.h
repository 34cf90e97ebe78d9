/*
 * Decryption-failure receipts (docs/PROTOCOL.md section 7.1): what a recipient sends
 * back, sealed but outside any session, when it could identify the sender of a message
 * but not read it. It carries no user content: why, when the server took the failed
 * message, and the failed message's ratchet key and number when they parsed.
 */
#ifndef SOTTO_CLIENT_DECRYPT_ERROR_H
#define SOTTO_CLIENT_DECRYPT_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "base/buf.h"
#include "crypto/dh.h"

#define DECRYPT_ERROR_VERSION 1
#define DECRYPT_ERROR_LEN (1 + 1 + 1 + 8 + DH_PUBLIC_LEN + 4)
#define DECRYPT_ERROR_HAS_HEADER 0x01

enum decrypt_error_reason {
	DECRYPT_ERROR_NO_SESSION = 1,   /* no session the message belongs to */
	DECRYPT_ERROR_UNREADABLE = 2,   /* it reached a session and failed there */
	DECRYPT_ERROR_REUSED = 3,       /* a message number used before with other content */
};

struct decrypt_error {
	uint8_t reason;                 /* enum decrypt_error_reason */
	uint64_t time_ms;               /* the server's receive time of the failed message */
	uint8_t has_header;
	uint8_t ratchet_pub[DH_PUBLIC_LEN];  /* the failed message's header, if has_header */
	uint32_t n;
};

int decrypt_error_encode(const struct decrypt_error *e, struct buf *out) SOTTO_MUST_CHECK;
int decrypt_error_decode(struct decrypt_error *e, const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

#endif
