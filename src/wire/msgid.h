/*
 * Client message ids (SEND): 16 bytes, unique per sender and the same across a SEND's
 * retries. Laid out like a UUIDv7 (RFC 9562): the creation time in Unix milliseconds as
 * 48 bits big-endian, then 80 random bits. Ids made one after another sort one after
 * another, so the server, which keys its idempotency records by the id first, appends
 * them to its table instead of writing one random page of it per message. The server
 * accepts any 16 bytes; the layout only makes its work cheaper.
 */
#ifndef SOTTO_WIRE_MSGID_H
#define SOTTO_WIRE_MSGID_H

#include <stdint.h>

#include "sotto/limits.h"

#define MSGID_LEN SOTTO_ID_LEN

void msgid_new(uint8_t id[MSGID_LEN], uint64_t unix_ms);
/* The same, made now (CLOCK_REALTIME). */
void msgid_new_now(uint8_t id[MSGID_LEN]);

#endif
