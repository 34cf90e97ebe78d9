/*
 * Who a mail says it is from, against who sent it. The From: and Sender: header fields are
 * what a mail client shows as the sender, so the bridge holds them to the address the
 * session authenticated: on submission (SMTP) they must be the user's own address, and on
 * receipt a mail whose fields say anything else is rewritten to show the Sotto peer that
 * actually sent it, with what it claimed kept in X-Sotto-Claimed-From / -Sender fields.
 *
 * A From or Sender field passes when, read by the one address parser ENVELOPE uses
 * (mime_addresses_each), it holds one or more mailboxes and every one is the address
 * (local part exact, domain ASCII case-insensitive), no group and no source route; and when
 * its text as a person reads it (unfolded, RFC 2047 words decoded, comments included) has
 * no control character and no "@" other than the addresses' own, except a display name
 * that is itself the address. So "The Director <alice@x>" passes for alice@x, while
 * "carol@x <alice@x>", "alice@x (carol@x)", "=?utf-8?q?carol=40x?= <alice@x>" and
 * "alice@x, carol@x" do not. Sender must hold exactly one mailbox.
 */
#ifndef SOTTO_MAIL_MAIL_SENDER_H
#define SOTTO_MAIL_MAIL_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"

#define MAIL_SENDER_CLAIMED_MAX 900     /* bytes of a claimed value kept (lines <= 998) */
#define MAIL_SENDER_CLAIMED_FIELDS 4    /* claimed values kept; further ones are dropped */
/* What a rewrite may add to a mail: a From line and the claimed fields. */
#define MAIL_SENDER_GROWTH (400 + MAIL_SENDER_CLAIMED_FIELDS * (MAIL_SENDER_CLAIMED_MAX + 40))

enum mail_sender_verdict {
	MAIL_SENDER_OK = 0,             /* every From and Sender field is the address */
	MAIL_SENDER_NO_FROM,            /* no From field (Sender fields, if any, pass) */
	MAIL_SENDER_MISMATCH,           /* a From or Sender field says something else */
};

/* Reads the top-level header of mail (RFC 5322) against addr. */
enum mail_sender_verdict mail_sender_check(const uint8_t *mail, size_t len, const char *addr);

/*
 * The mail as it is filed for the recipient, sent by peer. If its header already shows
 * peer (mail_sender_check OK, no X-Sotto-Claimed-* field, no bare CR or NUL in the header)
 * *rewritten is 0 and out is untouched. Otherwise out (reset first) gets "From: peer", an
 * X-Sotto-Claimed-From or -Sender field for each of the first MAIL_SENDER_CLAIMED_FIELDS
 * From and Sender values (unfolded, control characters replaced by '?', capped), then the
 * other header fields (bare CR and NUL turned into spaces; lines that are no field, such
 * as a leading continuation line, dropped), a blank line, and the body as it was.
 */
int mail_sender_rewrite(const uint8_t *mail, size_t len, const char *peer, struct buf *out,
    int *rewritten) SOTTO_MUST_CHECK;

#endif
