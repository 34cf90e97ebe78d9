/*
 * sotto_mail_summary and sotto_mail_sender_check: what the front ends read of a mail,
 * through libsotto's public API (sotto/mail.h).
 */
#include "sotto/mail.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "mail/mail_content.h"
#include "mail/mail_sender.h"
#include "mail/mime.h"

_Static_assert(sizeof(((struct sotto_mail_summary *)0)->id) == MAIL_CONTENT_ID_LEN,
    "a summary holds a mail id");

/* The Subject field of the header at the start of p (which may stop inside the header). */
static void
find_subject(const uint8_t *p, size_t len, char out[SOTTO_MAIL_SUBJECT_MAX + 1])
{
	struct span field, name, value;
	struct cur h;
	struct buf b;
	size_t n;

	out[0] = '\0';
	cur_init(&h, p, len);
	while (mime_header_next(&h, &field, &name, &value)) {
		const uint8_t *nm = scan_span(&h, name), *v = scan_span(&h, value);

		if (nm == NULL || name.len != 7 || strncasecmp((const char *)nm, "Subject", 7) != 0)
			continue;
		if (v == NULL)
			return;
		buf_init_dyn(&b, value.len + 1);
		mime_unfold(&b, v, value.len);
		if (buf_status(&b) == 0) {
			n = b.len < SOTTO_MAIL_SUBJECT_MAX ? b.len : SOTTO_MAIL_SUBJECT_MAX;
			/* cut at a character boundary, not inside a UTF-8 sequence */
			while (n < b.len && n > 0 && (b.p[n] & 0xc0) == 0x80)
				n--;
			if (n > 0)
				memcpy(out, b.p, n);
			out[n] = '\0';
		}
		buf_wipe_free(&b);
		return;
	}
}

void
sotto_mail_summary(const uint8_t *body, size_t len, struct sotto_mail_summary *out)
{
	struct mail_part p;

	memset(out, 0, sizeof(*out));
	if (mail_content_parse(body, len, &p) == 0) {
		out->part = 1;
		out->index = p.index;
		out->count = p.count;
		out->size = p.total;
		memcpy(out->id, p.id, sizeof(out->id));
		if (p.index == 0)
			find_subject(p.data, p.len, out->subject);
		return;
	}
	/* a whole mail in one message (sotto_send_mail by another program) */
	out->count = 1;
	out->size = len;
	find_subject(body, len, out->subject);
}

enum sotto_mail_sender
sotto_mail_sender_check(const uint8_t *mail, size_t len, const char *addr)
{
	switch (mail_sender_check(mail, len, addr)) {
	case MAIL_SENDER_OK:
		return SOTTO_MAIL_SENDER_OK;
	case MAIL_SENDER_NO_FROM:
		return SOTTO_MAIL_SENDER_NO_FROM;
	default:
		return SOTTO_MAIL_SENDER_MISMATCH;
	}
}
