#include "mail/mail_group.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "mail/mime.h"

#define WORD_IN 42              /* input bytes of one encoded word: 56 base64 + 12 < 75 */
#define BODY_LINE_IN 57         /* input bytes of one base64 body line: 76 characters */

static void
put_str(struct buf *out, const char *s)
{
	buf_put(out, s, strlen(s));
}

static int
atext_or_space(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr(" !#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* Text a person reads in a header: as it is when every byte is printable ASCII (in a
 * phrase: an atom's or a space), no "=?" and no space at either end, else as RFC 2047 B
 * words of UTF-8, each cut at a character boundary, folded onto lines of their own.
 * Control characters become spaces. */
static void
put_text(struct buf *out, const uint8_t *p, size_t n, int phrase)
{
	char b64[sodium_base64_ENCODED_LEN(WORD_IN, sodium_base64_VARIANT_ORIGINAL)];
	uint8_t w[WORD_IN];
	size_t i, k;
	int plain = 1;

	for (i = 0; i < n; i++)
		if ((phrase ? !atext_or_space(p[i]) : p[i] < 0x20 || p[i] > 0x7e) ||
		    (p[i] == '=' && i + 1 < n && p[i + 1] == '?'))
			plain = 0;
	if (plain && n > 0 && p[0] != ' ' && p[n - 1] != ' ') {
		buf_put(out, p, n);
		return;
	}
	for (i = 0; i < n; i += k) {
		k = n - i < WORD_IN ? n - i : WORD_IN;
		/* not inside a UTF-8 character */
		while (k > 1 && i + k < n && (p[i + k] & 0xc0) == 0x80)
			k--;
		memcpy(w, p + i, k);
		for (size_t j = 0; j < k; j++)
			if (w[j] < 0x20 || w[j] == 0x7f)
				w[j] = ' ';
		sodium_bin2base64(b64, sizeof(b64), w, k, sodium_base64_VARIANT_ORIGINAL);
		if (i > 0)
			put_str(out, "\r\n ");
		put_str(out, "=?utf-8?b?");
		put_str(out, b64);
		put_str(out, "?=");
	}
	sodium_memzero(w, sizeof(w));
	sodium_memzero(b64, sizeof(b64));
}

/* The thread's root: <group+ID@DOMAIN>. */
static void
put_root(struct buf *out, const struct mail_group *g)
{
	buf_u8(out, '<');
	put_str(out, g->address);
	buf_u8(out, '>');
}

static void
put_group_fields(struct buf *out, const struct mail_group *g)
{
	const char *at = strrchr(g->address, '@');
	size_t local = at != NULL ? (size_t)(at - g->address) : strlen(g->address);

	put_str(out, "List-Id: ");
	if (g->name[0] != '\0') {
		put_text(out, (const uint8_t *)g->name, strlen(g->name), 1);
		buf_u8(out, ' ');
	}
	buf_u8(out, '<');
	buf_put(out, g->address, local);
	if (at != NULL) {
		buf_u8(out, '.');
		put_str(out, at + 1);
	}
	put_str(out, ">\r\nList-Post: <mailto:");
	put_str(out, g->address);
	put_str(out, ">\r\nX-Sotto-Group: ");
	put_str(out, g->id_hex);
	put_str(out, "\r\n");
}

static void
put_thread(struct buf *out, const struct mail_group *g)
{
	put_str(out, "In-Reply-To: ");
	put_root(out, g);
	put_str(out, "\r\nReferences: ");
	put_root(out, g);
	put_str(out, "\r\n");
}

static int
named(const uint8_t *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp((const char *)name, want, n) == 0;
}

/* A field a group's mail gets from the bridge only; a 1:1 mail none. */
static int
dropped(const struct mail_group *g, const uint8_t *nm, size_t n)
{
	return named(nm, n, "X-Sotto-Group") ||
	    (g != NULL && (named(nm, n, "List-Id") || named(nm, n, "List-Post")));
}

int
mail_group_file(const struct mail_group *g, const uint8_t *mail, size_t len, struct buf *out,
    int *changed)
{
	struct cur all, h;
	struct span f, name, v;
	size_t hdr_end, kept = 0;
	int parent = 0, planted = 0;

	*changed = 0;
	cur_init(&all, mail, len);
	h = all;
	while (mime_header_next(&h, &f, &name, &v)) {
		const uint8_t *nm = scan_span(&h, name);

		if (named(nm, name.len, "In-Reply-To") || named(nm, name.len, "References"))
			parent = 1;
		if (named(nm, name.len, "X-Sotto-Group"))
			planted = 1;
	}
	hdr_end = cur_pos(&h);
	if (g == NULL && !planted)
		return 0;
	buf_reset(out);
	if (g != NULL) {
		put_group_fields(out, g);
		if (!parent)
			put_thread(out, g);
	}
	/* every byte up to the header's end but the dropped fields (a 1:1 mail keeps stray
	 * lines; a group's gets whole fields only, below the ones put first) */
	h = all;
	while (mime_header_next(&h, &f, &name, &v)) {
		const uint8_t *nm = scan_span(&h, name), *fp = scan_span(&h, f);

		if (g == NULL && f.off > kept)
			buf_put(out, cur_slice(&all, kept, f.off - kept), f.off - kept);
		kept = f.off + f.len;
		if (dropped(g, nm, name.len) || fp == NULL)
			continue;
		buf_put(out, fp, f.len);
		if (g != NULL && (f.len == 0 || fp[f.len - 1] != '\n'))
			put_str(out, "\r\n");
	}
	if (g == NULL && hdr_end > kept)
		buf_put(out, cur_slice(&all, kept, hdr_end - kept), hdr_end - kept);
	else if (g != NULL)
		put_str(out, "\r\n");
	*changed = 1;
	if (hdr_end < len) {
		struct cur body = scan_sub(&all, hdr_end, len - hdr_end);
		size_t blen;
		const uint8_t *b = cur_rest(&body, &blen);

		if (b != NULL)
			buf_put(out, b, blen);
	}
	return buf_status(out);
}

/* RFC 5322 date in UTC, spelled without the locale. */
static void
put_date(struct buf *out, uint64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	char s[128];

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(s, sizeof(s), "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[(unsigned)tm.tm_wday % 7], tm.tm_mday, months[(unsigned)tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	put_str(out, s);
}

static void
put_subject(struct buf *out, const struct mail_group *g, const uint8_t *text, size_t len)
{
	struct buf s;
	size_t n = 0;

	while (n < len && text[n] != '\n' && text[n] != '\r')
		n++;
	if (n > MAIL_GROUP_SUBJECT_MAX) {
		n = MAIL_GROUP_SUBJECT_MAX;
		while (n > 0 && (text[n] & 0xc0) == 0x80)
			n--;
	}
	buf_init_dyn(&s, 2 * SOTTO_GROUP_NAME_MAX + MAIL_GROUP_SUBJECT_MAX);
	if (g->name[0] != '\0') {
		buf_u8(&s, '[');
		put_str(&s, g->name);
		put_str(&s, "] ");
	}
	buf_put(&s, text, n);
	put_str(out, "Subject: ");
	if (buf_status(&s) == 0)
		put_text(out, s.p, s.len, 0);
	put_str(out, "\r\n");
	buf_wipe_free(&s);
}

int
mail_group_text(const struct mail_group *g, const char *from, const uint8_t id[SOTTO_ID_LEN],
    uint64_t time, const uint8_t *text, size_t len, struct buf *out)
{
	char hex[2 * SOTTO_ID_LEN + 1];
	char line[sodium_base64_ENCODED_LEN(BODY_LINE_IN, sodium_base64_VARIANT_ORIGINAL)];
	size_t i, k;

	buf_reset(out);
	sodium_bin2hex(hex, sizeof(hex), id, SOTTO_ID_LEN);
	put_str(out, "From: ");
	put_str(out, from);
	put_str(out, "\r\nTo: ");
	put_str(out, g->address);
	put_str(out, "\r\n");
	put_subject(out, g, text, len);
	put_date(out, time);
	put_str(out, "Message-ID: <");
	put_str(out, hex);
	buf_u8(out, '.');
	put_str(out, g->address);
	put_str(out, ">\r\n");
	put_thread(out, g);
	put_group_fields(out, g);
	put_str(out, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < len; i += k) {
		k = len - i < BODY_LINE_IN ? len - i : BODY_LINE_IN;
		sodium_bin2base64(line, sizeof(line), text + i, k, sodium_base64_VARIANT_ORIGINAL);
		put_str(out, line);
		put_str(out, "\r\n");
	}
	sodium_memzero(line, sizeof(line));
	return buf_status(out);
}
