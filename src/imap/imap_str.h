/* Writing IMAP strings, numbers and NIL into a capped buffer (RFC 3501 section 4.3). */
#ifndef SOTTO_IMAP_IMAP_STR_H
#define SOTTO_IMAP_IMAP_STR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

void imap_put_raw(struct buf *b, const char *s);
void imap_put_u64(struct buf *b, uint64_t v);
/* A quoted string when every byte may be quoted, else a literal; never NIL. */
void imap_put_string(struct buf *b, const uint8_t *p, size_t n);
/* NIL when p is NULL, else as imap_put_string. */
void imap_put_nstring(struct buf *b, const uint8_t *p, size_t n);
/* Always a literal: message data, whatever its bytes. */
void imap_put_literal(struct buf *b, const uint8_t *p, size_t n);
/* An RFC 3501 date-time ("dd-Mon-yyyy hh:mm:ss +0000") from unix seconds, in UTC. */
void imap_put_datetime(struct buf *b, int64_t t);

#endif
