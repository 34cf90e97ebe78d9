#include "imap/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/scan.h"

int
imap_parser_init(struct imap_parser *p, const uint8_t *cmd, size_t len)
{
	memset(p, 0, sizeof(*p));
	cur_init(&p->c, cmd, len);
	/* unescaped strings are never longer than the command they came from */
	if ((p->scratch = malloc(len ? len : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	p->scratch_cap = len;
	return 0;
}

void
imap_parser_free(struct imap_parser *p)
{
	free(p->scratch);
	memset(p, 0, sizeof(*p));
}

int
imap_peek(const struct imap_parser *p)
{
	return cur_peek(&p->c);
}

int
imap_accept(struct imap_parser *p, int ch)
{
	return scan_accept(&p->c, ch);
}

int
imap_sp(struct imap_parser *p)
{
	return scan_accept(&p->c, ' ');
}

int
imap_at_eol(const struct imap_parser *p)
{
	int b = cur_peek(&p->c);

	return b == '\r' || b == '\n';
}

int
imap_eol(struct imap_parser *p)
{
	(void)scan_accept(&p->c, '\r');
	if (!scan_accept(&p->c, '\n'))
		return 0;
	return cur_finish(&p->c) == 0;
}

int
imap_is(const struct imap_str *s, const char *kw)
{
	return s->p != NULL && strlen(kw) == s->len &&
	    strncasecmp((const char *)s->p, kw, s->len) == 0;
}

static int
is_atom_char(int b)
{
	/* ATOM-CHAR: CHAR except atom-specials ( ) { SP CTL % * " \ ] */
	return b > 0x20 && b < 0x7f && strchr("(){%*\"\\]", b) == NULL;
}

static int
read_chars(struct imap_parser *p, struct imap_str *s, int (*ok)(int), int extra)
{
	size_t start = cur_pos(&p->c), n = 0;
	int b;

	while ((b = cur_peek(&p->c)) >= 0 && (ok(b) || (extra && strchr(
	    extra == 1 ? "]" : "%*]", b) != NULL))) {
		(void)scan_byte(&p->c);
		n++;
	}
	if (n == 0)
		return 0;
	s->p = scan_span(&p->c, (struct span){ start, n });
	s->len = n;
	return s->p != NULL;
}

int
imap_atom(struct imap_parser *p, struct imap_str *a)
{
	return read_chars(p, a, is_atom_char, 0);
}

static int
is_keyword_char(int b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
	    b == '.';
}

int
imap_keyword(struct imap_parser *p, struct imap_str *k)
{
	return read_chars(p, k, is_keyword_char, 0);
}

static int
is_tag_char(int b)
{
	return is_atom_char(b) && b != '+';
}

int
imap_tag(struct imap_parser *p, struct imap_str *tag)
{
	return read_chars(p, tag, is_tag_char, 0);
}

int
imap_number64(struct imap_parser *p, uint64_t *v)
{
	uint64_t x = 0;
	size_t n = 0;
	int b;

	while ((b = cur_peek(&p->c)) >= '0' && b <= '9') {
		(void)scan_byte(&p->c);
		if (x > (UINT64_MAX - 9) / 10)
			return 0;
		x = x * 10 + (uint64_t)(b - '0');
		n++;
	}
	*v = x;
	return n > 0;
}

int
imap_number(struct imap_parser *p, uint32_t *v)
{
	uint64_t x;

	*v = 0;
	if (!imap_number64(p, &x) || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return 1;
}

static int
quoted(struct imap_parser *p, struct imap_str *s)
{
	size_t start = p->scratch_len;
	int b;

	if (!scan_accept(&p->c, '"'))
		return 0;
	for (;;) {
		b = scan_byte(&p->c);
		if (b < 0 || b == '\r' || b == '\n' || b == 0)
			return 0;
		if (b == '"')
			break;
		if (b == '\\') {
			b = scan_byte(&p->c);
			if (b != '"' && b != '\\')
				return 0;
		}
		if (p->scratch_len >= p->scratch_cap)
			return 0;
		p->scratch[p->scratch_len++] = (uint8_t)b;
	}
	s->p = p->scratch + start;
	s->len = p->scratch_len - start;
	return 1;
}

static int
literal(struct imap_parser *p, struct imap_str *s)
{
	uint64_t n;

	if (!scan_accept(&p->c, '{') || !imap_number64(p, &n))
		return 0;
	(void)scan_accept(&p->c, '+');
	if (!scan_accept(&p->c, '}'))
		return 0;
	(void)scan_accept(&p->c, '\r');
	if (!scan_accept(&p->c, '\n'))
		return 0;
	if (n > cur_left(&p->c))
		return 0;
	s->len = (size_t)n;
	s->p = cur_ref(&p->c, s->len);
	if (s->len == 0)
		s->p = p->scratch;     /* non-NULL: an empty string is not NIL */
	return s->p != NULL;
}

int
imap_string(struct imap_parser *p, struct imap_str *s)
{
	int b = cur_peek(&p->c);

	if (b == '"')
		return quoted(p, s);
	if (b == '{')
		return literal(p, s);
	return 0;
}

static int
is_astring_char(int b)
{
	return is_atom_char(b) || b == ']';
}

int
imap_astring(struct imap_parser *p, struct imap_str *s)
{
	int b = cur_peek(&p->c);

	if (b == '"' || b == '{')
		return imap_string(p, s);
	return read_chars(p, s, is_astring_char, 0);
}

int
imap_nstring(struct imap_parser *p, struct imap_str *s)
{
	int b = cur_peek(&p->c);

	if (b == '"' || b == '{')
		return imap_string(p, s);
	if (!imap_atom(p, s) || !imap_is(s, "NIL"))
		return 0;
	s->p = NULL;
	s->len = 0;
	return 1;
}

int
imap_list_mailbox(struct imap_parser *p, struct imap_str *s)
{
	int b = cur_peek(&p->c);

	if (b == '"' || b == '{')
		return imap_string(p, s);
	return read_chars(p, s, is_atom_char, 2);
}

static int
seq_number(struct imap_parser *p, uint32_t *v)
{
	if (scan_accept(&p->c, '*')) {
		*v = 0;
		return 1;
	}
	return imap_number(p, v) && *v != 0;
}

int
imap_seqset_parse(struct imap_parser *p, struct imap_seqset *s)
{
	uint32_t lo, hi;

	s->n = 0;
	do {
		if (!seq_number(p, &lo))
			return 0;
		hi = lo;
		if (scan_accept(&p->c, ':') && !seq_number(p, &hi))
			return 0;
		if (s->n == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 8;
			void *nr;
			if (s->cap >= IMAP_SEQSET_MAX)
				return 0;
			if (ncap > IMAP_SEQSET_MAX)
				ncap = IMAP_SEQSET_MAX;
			if ((nr = realloc(s->r, ncap * sizeof(*s->r))) == NULL)
				return 0;
			s->r = nr;
			s->cap = ncap;
		}
		s->r[s->n].lo = lo;
		s->r[s->n].hi = hi;
		s->n++;
	} while (scan_accept(&p->c, ','));
	return 1;
}

void
imap_seqset_free(struct imap_seqset *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

int
imap_seqset_has(const struct imap_seqset *s, uint32_t v, uint32_t star)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		uint32_t lo = s->r[i].lo ? s->r[i].lo : star;
		uint32_t hi = s->r[i].hi ? s->r[i].hi : star;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return 1;
	}
	return 0;
}

int
imap_month(const uint8_t *m, size_t n)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int i;

	if (n != 3)
		return 0;
	for (i = 0; i < 12; i++)
		if (strncasecmp((const char *)m, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
fixed_digits(struct imap_parser *p, size_t n, uint32_t *v)
{
	int b;

	*v = 0;
	while (n-- > 0) {
		b = scan_byte(&p->c);
		if (b < '0' || b > '9')
			return 0;
		*v = *v * 10 + (uint32_t)(b - '0');
	}
	return 1;
}

/* date-day "-" date-month "-" date-year; day is 1 or 2 digits (or " d" in date-time) */
static int
date_text(struct imap_parser *p, int64_t *days)
{
	const uint8_t *mon;
	uint32_t d = 0, y;
	int b, month, nd = 0;

	(void)scan_accept(&p->c, ' ');
	while ((b = cur_peek(&p->c)) >= '0' && b <= '9' && nd < 2) {
		(void)scan_byte(&p->c);
		d = d * 10 + (uint32_t)(b - '0');
		nd++;
	}
	if (nd == 0 || d < 1 || d > 31 || !scan_accept(&p->c, '-'))
		return 0;
	if ((mon = cur_ref(&p->c, 3)) == NULL || (month = imap_month(mon, 3)) == 0)
		return 0;
	if (!scan_accept(&p->c, '-') || !fixed_digits(p, 4, &y))
		return 0;
	*days = imap_days_from_civil(y, (unsigned)month, d);
	return 1;
}

int
imap_date(struct imap_parser *p, int64_t *days)
{
	int q = scan_accept(&p->c, '"');

	if (!date_text(p, days))
		return 0;
	return !q || scan_accept(&p->c, '"');
}

int
imap_datetime(struct imap_parser *p, int64_t *t)
{
	uint32_t hh, mm, ss, zh, zm;
	int64_t days;
	int sign;

	if (!scan_accept(&p->c, '"') || !date_text(p, &days) || !scan_accept(&p->c, ' '))
		return 0;
	if (!fixed_digits(p, 2, &hh) || !scan_accept(&p->c, ':') || !fixed_digits(p, 2, &mm) ||
	    !scan_accept(&p->c, ':') || !fixed_digits(p, 2, &ss) || !scan_accept(&p->c, ' '))
		return 0;
	if (scan_accept(&p->c, '+'))
		sign = 1;
	else if (scan_accept(&p->c, '-'))
		sign = -1;
	else
		return 0;
	if (!fixed_digits(p, 2, &zh) || !fixed_digits(p, 2, &zm) || !scan_accept(&p->c, '"'))
		return 0;
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return 0;
	*t = days * 86400 + hh * 3600 + mm * 60 + ss - sign * (int64_t)(zh * 3600 + zm * 60);
	return 1;
}
