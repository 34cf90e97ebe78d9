/*
 * Group messages as mails (docs/PROTOCOL.md 14.5): what a member's bridge files in INBOX
 * for a mail sent to a group's address and for a member's text (`sotto group send`).
 * Every such mail carries, first in its header:
 *
 *   List-Id: NAME <group+ID.DOMAIN>         RFC 2919: the address with '@' as '.'
 *   List-Post: <mailto:group+ID@DOMAIN>     RFC 2369: "reply to list" goes to the group
 *   X-Sotto-Group: ID                       the group's id, as `sotto group` takes it
 *
 * and every one belongs to one thread whose root is the Message-ID <group+ID@DOMAIN>
 * (never a real message): a text's mail has In-Reply-To and References naming it, and so
 * has a mail that names no parent itself; a reply from a mail program names its parent,
 * which is in the thread. A text's mail has the Message-ID <MSGID.group+ID@DOMAIN> (MSGID
 * the message's id in hex, the same at every member).
 */
#ifndef SOTTO_MAIL_MAIL_GROUP_H
#define SOTTO_MAIL_MAIL_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "sotto/limits.h"

/* What mail_group_file adds to a mail at most. */
#define MAIL_GROUP_GROWTH 8192
/* Bytes of a text's first line that its mail's Subject shows. */
#define MAIL_GROUP_SUBJECT_MAX 60

struct mail_group {
	const char *address;            /* group+ID@DOMAIN (sotto_group_address) */
	const char *id_hex;             /* ID */
	const char *name;               /* the group's name now, "" if unknown */
};

/* The mail (as filed after mail_sender_rewrite) with the group's fields first, and the
 * thread's root as In-Reply-To and References when it has neither field; any List-Id,
 * List-Post and X-Sotto-Group field it had is dropped (a sender cannot plant one). out is
 * reset first; *changed is 1.
 * g NULL: a 1:1 mail, which names no group: if it has an X-Sotto-Group field, out gets it
 * without (every other byte kept) and *changed is 1; else *changed is 0 and out is left
 * alone. */
int mail_group_file(const struct mail_group *g, const uint8_t *mail, size_t len,
    struct buf *out, int *changed) SOTTO_MUST_CHECK;

/* A member's text (from: the sender's address; id: the message's id; time: unix seconds)
 * as a mail to the group's address: the group's fields, a Subject of "[NAME] " and the
 * text's first line (cut), and the text as a base64 text/plain UTF-8 body. */
int mail_group_text(const struct mail_group *g, const char *from,
    const uint8_t id[SOTTO_ID_LEN], uint64_t time, const uint8_t *text, size_t len,
    struct buf *out) SOTTO_MUST_CHECK;

#endif
