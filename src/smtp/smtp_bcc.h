/*
 * Bcc handling for mail submitted through the bridge. Every envelope recipient (To, Cc
 * and Bcc alike) gets its own encrypted copy, and every copy is the same: the message
 * without its Bcc and Resent-Bcc header fields, so no recipient learns who else was
 * blind-copied (RFC 5322 section 3.6.3, first method). The sender's own Sent copy keeps
 * the original.
 */
#ifndef SOTTO_SMTP_SMTP_BCC_H
#define SOTTO_SMTP_SMTP_BCC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Copies msg into out without Bcc/Resent-Bcc fields (with their folded continuation
 * lines). Only the header section, up to the first empty line, is touched; the body and
 * every other field are copied byte for byte. Lines end in CRLF or a bare LF. */
int smtp_bcc_strip(const uint8_t *msg, size_t len, struct buf *out) SOTTO_MUST_CHECK;

#endif
