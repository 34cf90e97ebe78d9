#include "mail/mail_sender.h"

#include <string.h>
#include <strings.h>

#include "mail/mime.h"

#define CLAIMED_PREFIX "X-Sotto-Claimed-"

enum field_kind { F_OTHER, F_FROM, F_SENDER, F_CLAIMED };

struct addr_check {
	const char *local, *domain;     /* the address, split at its last '@' */
	size_t local_len;
	size_t mailboxes;
	size_t name_ats;                /* '@'s in display names that are the address */
	int bad;
};

static int
is_addr(const struct addr_check *ac, const uint8_t *local, size_t llen, const uint8_t *dom,
    size_t dlen)
{
	return llen == ac->local_len && memcmp(local, ac->local, llen) == 0 &&
	    dlen == strlen(ac->domain) && strncasecmp((const char *)dom, ac->domain, dlen) == 0;
}

static size_t
count_at(const uint8_t *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += p[i] == '@';
	return k;
}

static void
check_one(void *arg, const struct mime_addr *a)
{
	struct addr_check *ac = arg;
	struct buf name;
	const uint8_t *at;

	if (a->kind != MIME_ADDR_MAILBOX) {
		ac->bad = 1;
		return;
	}
	ac->mailboxes++;
	if (a->adl->len > 0 || buf_status(a->mbox) != 0 || buf_status(a->host) != 0 ||
	    !is_addr(ac, a->mbox->p, a->mbox->len, a->host->p, a->host->len)) {
		ac->bad = 1;
		return;
	}
	if (a->name->len == 0)
		return;
	buf_init_dyn(&name, 2 * a->name->len + 1);
	mime_decode_words(&name, a->name->p, a->name->len);
	if (buf_status(&name) != 0) {
		ac->bad = 1;
	} else if (count_at(name.p, name.len) > 0) {
		/* only a display name that is the address itself may show an '@' */
		at = memchr(name.p, '@', name.len);
		if (count_at(name.p, name.len) == 1 &&
		    is_addr(ac, name.p, (size_t)(at - name.p), at + 1, name.len -
		    (size_t)(at - name.p) - 1))
			ac->name_ats++;
		else
			ac->bad = 1;
	}
	buf_wipe_free(&name);
}

/* 1 if the field value v names only addr (see mail_sender.h); one: exactly one mailbox. */
static int
field_is_addr(const uint8_t *v, size_t n, const char *addr, int one)
{
	struct addr_check ac;
	const char *at = strrchr(addr, '@');
	struct buf seen;
	size_t i;
	int ok;

	if (at == NULL)
		return 0;
	memset(&ac, 0, sizeof(ac));
	ac.local = addr;
	ac.local_len = (size_t)(at - addr);
	ac.domain = at + 1;
	mime_addresses_each(v, n, check_one, &ac);
	if (ac.bad || ac.mailboxes == 0 || (one && ac.mailboxes != 1))
		return 0;
	/* the text a person reads: no '@' beyond the addresses', no control characters */
	buf_init_dyn(&seen, 2 * n + 1);
	mime_decode_words(&seen, v, n);
	ok = buf_status(&seen) == 0 && count_at(seen.p, seen.len) == ac.mailboxes + ac.name_ats;
	for (i = 0; ok && i < seen.len; i++)
		if ((seen.p[i] < 0x20 && seen.p[i] != '\t') || seen.p[i] == 0x7f)
			ok = 0;
	buf_wipe_free(&seen);
	return ok;
}

static enum field_kind
kind_of(const uint8_t *name, size_t n)
{
	size_t pl = strlen(CLAIMED_PREFIX);

	if (n == 4 && strncasecmp((const char *)name, "From", 4) == 0)
		return F_FROM;
	if (n == 6 && strncasecmp((const char *)name, "Sender", 6) == 0)
		return F_SENDER;
	if (n >= pl && strncasecmp((const char *)name, CLAIMED_PREFIX, pl) == 0)
		return F_CLAIMED;
	return F_OTHER;
}

/* The next header byte, with a bare CR (not before LF) or a NUL read as a space. */
static int
header_byte(struct cur *c)
{
	int b = scan_byte(c);

	return b == 0 || (b == '\r' && cur_peek(c) != '\n') ? ' ' : b;
}

/* Walks the top-level header; *clean is 0 if anything needs a rewrite on receipt. */
static enum mail_sender_verdict
scan_header(const uint8_t *mail, size_t len, const char *addr, int *clean, size_t *hdr_end)
{
	struct cur all, h;
	struct span f, name, v;
	int froms = 0, ok = 1;

	*clean = 1;
	cur_init(&all, mail, len);
	h = all;
	while (mime_header_next(&h, &f, &name, &v)) {
		enum field_kind k = kind_of(scan_span(&h, name), name.len);

		if (k == F_CLAIMED)
			*clean = 0;
		if (k != F_FROM && k != F_SENDER)
			continue;
		froms += k == F_FROM;
		if (!field_is_addr(scan_span(&h, v), v.len, addr, k == F_SENDER))
			ok = 0;
	}
	*hdr_end = cur_pos(&h);
	/* a bare CR or a NUL could end a line for some reader and not for this parser */
	h = all;
	while (cur_pos(&h) < *hdr_end) {
		int raw = cur_peek(&h);

		if (header_byte(&h) != raw)
			*clean = 0;
	}
	if (!ok) {
		*clean = 0;
		return MAIL_SENDER_MISMATCH;
	}
	if (froms == 0) {
		*clean = 0;
		return MAIL_SENDER_NO_FROM;
	}
	return MAIL_SENDER_OK;
}

enum mail_sender_verdict
mail_sender_check(const uint8_t *mail, size_t len, const char *addr)
{
	size_t end;
	int clean;

	return scan_header(mail, len, addr, &clean, &end);
}

/* "X-Sotto-Claimed-From: value": unfolded, control characters as '?', capped at a UTF-8
 * character boundary, so the value can neither start a new field nor fold into one. */
static void
put_claimed(struct buf *out, enum field_kind k, const uint8_t *v, size_t n)
{
	struct buf u;
	size_t i, cut;

	buf_init_dyn(&u, n + 1);
	mime_unfold(&u, v, n);
	if (buf_status(&u) == 0) {
		cut = u.len;
		if (cut > MAIL_SENDER_CLAIMED_MAX) {
			cut = MAIL_SENDER_CLAIMED_MAX;
			while (cut > 0 && (u.p[cut] & 0xc0) == 0x80)
				cut--;
		}
		buf_put(out, k == F_FROM ? CLAIMED_PREFIX "From: " : CLAIMED_PREFIX "Sender: ",
		    strlen(CLAIMED_PREFIX) + (k == F_FROM ? 6 : 8));
		for (i = 0; i < cut; i++) {
			uint8_t b = u.p[i];

			buf_u8(out, b == '\t' ? ' ' : (b < 0x20 || b == 0x7f) ? '?' : b);
		}
		buf_put(out, "\r\n", 2);
	}
	buf_wipe_free(&u);
}

/* A kept header field, with bare CR and NUL as spaces, ending in a line break. */
static void
put_field(struct buf *out, const struct cur *all, struct span f)
{
	struct cur c = scan_sub(all, f.off, f.len);
	int b = -1;

	while (cur_left(&c) > 0)
		buf_u8(out, (uint8_t)(b = header_byte(&c)));
	if (b != '\n')
		buf_put(out, "\r\n", 2);
}

int
mail_sender_rewrite(const uint8_t *mail, size_t len, const char *peer, struct buf *out,
    int *rewritten)
{
	struct cur all, h;
	struct span f, name, v;
	size_t hdr_end, claimed = 0;
	int clean;

	*rewritten = 0;
	(void)scan_header(mail, len, peer, &clean, &hdr_end);
	if (clean)
		return 0;
	buf_reset(out);
	buf_put(out, "From: ", 6);
	buf_put(out, peer, strlen(peer));
	buf_put(out, "\r\n", 2);
	cur_init(&all, mail, len);
	h = all;
	while (mime_header_next(&h, &f, &name, &v)) {
		enum field_kind k = kind_of(scan_span(&h, name), name.len);

		if ((k == F_FROM || k == F_SENDER) && claimed < MAIL_SENDER_CLAIMED_FIELDS) {
			put_claimed(out, k, scan_span(&h, v), v.len);
			claimed++;
		}
	}
	/* only the fields kept, whole: a stray or leading continuation line is dropped, so
	 * none can fold into the From line above */
	h = all;
	while (mime_header_next(&h, &f, &name, &v))
		if (kind_of(scan_span(&h, name), name.len) == F_OTHER)
			put_field(out, &all, f);
	buf_put(out, "\r\n", 2);
	if (hdr_end < len) {
		struct cur body = scan_sub(&all, hdr_end, len - hdr_end);
		size_t blen;
		const uint8_t *b = cur_rest(&body, &blen);

		buf_put(out, b, blen);
	}
	if (buf_status(out) != 0)
		return buf_status(out);
	*rewritten = 1;
	return 0;
}
