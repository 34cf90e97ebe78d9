#include "imap/imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sotto/mailstore.h"

static int
new_node(struct imap_search *s, enum imap_skey key)
{
	struct imap_snode *n;

	if (s->count >= IMAP_SEARCH_NODES_MAX)
		return -1;
	n = &s->n[s->count];
	memset(n, 0, sizeof(*n));
	n->key = key;
	n->first = -1;
	n->next = -1;
	return (int)s->count++;
}

static const struct {
	const char *name;
	enum imap_skey key;
	uint32_t flag;
} simple_keys[] = {
	{ "ALL", SK_ALL, 0 },
	{ "ANSWERED", SK_FLAG_SET, MAILSTORE_ANSWERED },
	{ "DELETED", SK_FLAG_SET, MAILSTORE_DELETED },
	{ "DRAFT", SK_FLAG_SET, MAILSTORE_DRAFT },
	{ "FLAGGED", SK_FLAG_SET, MAILSTORE_FLAGGED },
	{ "SEEN", SK_FLAG_SET, MAILSTORE_SEEN },
	{ "UNANSWERED", SK_FLAG_UNSET, MAILSTORE_ANSWERED },
	{ "UNDELETED", SK_FLAG_UNSET, MAILSTORE_DELETED },
	{ "UNDRAFT", SK_FLAG_UNSET, MAILSTORE_DRAFT },
	{ "UNFLAGGED", SK_FLAG_UNSET, MAILSTORE_FLAGGED },
	{ "UNSEEN", SK_FLAG_UNSET, MAILSTORE_SEEN },
	/* no session sees a message as \Recent, and there are no keywords */
	{ "RECENT", SK_NONE, 0 },
	{ "NEW", SK_NONE, 0 },
	{ "OLD", SK_ALL, 0 },
};

static const struct {
	const char *name;
	enum imap_skey key;
} date_keys[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
};

static int parse_key(struct imap_parser *p, struct imap_search *s, int depth);

/* Keys separated by SP up to the end (top level) or ")" (a list); returns an AND node. */
static int
parse_list(struct imap_parser *p, struct imap_search *s, int depth, int nested)
{
	int and = new_node(s, SK_AND), last = -1, k;

	if (and < 0)
		return -1;
	for (;;) {
		if ((k = parse_key(p, s, depth + 1)) < 0)
			return -1;
		if (last < 0)
			s->n[and].first = k;
		else
			s->n[last].next = k;
		last = k;
		if (nested && imap_peek(p) == ')')
			return and;
		if (!nested && imap_at_eol(p))
			return and;
		if (!imap_sp(p))
			return -1;
	}
}

static int
parse_key(struct imap_parser *p, struct imap_search *s, int depth)
{
	struct imap_str a;
	size_t i;
	int n, c1, c2, b;

	if (depth > IMAP_SEARCH_DEPTH_MAX)
		return -1;
	b = imap_peek(p);
	if (b == '(') {
		(void)imap_accept(p, '(');
		if ((n = parse_list(p, s, depth, 1)) < 0 || !imap_accept(p, ')'))
			return -1;
		return n;
	}
	if ((b >= '0' && b <= '9') || b == '*') {
		if ((n = new_node(s, SK_SEQ)) < 0 || !imap_seqset_parse(p, &s->n[n].set))
			return -1;
		return n;
	}
	if (!imap_atom(p, &a))
		return -1;
	for (i = 0; i < sizeof(simple_keys) / sizeof(simple_keys[0]); i++) {
		if (imap_is(&a, simple_keys[i].name)) {
			if ((n = new_node(s, simple_keys[i].key)) >= 0)
				s->n[n].flag = simple_keys[i].flag;
			return n;
		}
	}
	for (i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++) {
		if (imap_is(&a, date_keys[i].name)) {
			if ((n = new_node(s, date_keys[i].key)) < 0 || !imap_sp(p) ||
			    !imap_date(p, &s->n[n].day))
				return -1;
			return n;
		}
	}
	if (imap_is(&a, "NOT")) {
		if ((n = new_node(s, SK_NOT)) < 0 || !imap_sp(p) ||
		    (c1 = parse_key(p, s, depth + 1)) < 0)
			return -1;
		s->n[n].first = c1;
		return n;
	}
	if (imap_is(&a, "OR")) {
		if ((n = new_node(s, SK_OR)) < 0 || !imap_sp(p) ||
		    (c1 = parse_key(p, s, depth + 1)) < 0 || !imap_sp(p) ||
		    (c2 = parse_key(p, s, depth + 1)) < 0)
			return -1;
		s->n[n].first = c1;
		s->n[c1].next = c2;
		return n;
	}
	if (imap_is(&a, "UID")) {
		if ((n = new_node(s, SK_UID)) < 0 || !imap_sp(p) ||
		    !imap_seqset_parse(p, &s->n[n].set))
			return -1;
		return n;
	}
	if (imap_is(&a, "LARGER") || imap_is(&a, "SMALLER")) {
		if ((n = new_node(s, imap_is(&a, "LARGER") ? SK_LARGER : SK_SMALLER)) < 0 ||
		    !imap_sp(p) || !imap_number64(p, &s->n[n].num))
			return -1;
		return n;
	}
	if (imap_is(&a, "KEYWORD") || imap_is(&a, "UNKEYWORD")) {
		struct imap_str kw;
		if ((n = new_node(s, imap_is(&a, "KEYWORD") ? SK_NONE : SK_ALL)) < 0 ||
		    !imap_sp(p) || !imap_atom(p, &kw))
			return -1;
		return n;
	}
	if (imap_is(&a, "HEADER")) {
		if ((n = new_node(s, SK_HEADER)) < 0 || !imap_sp(p) ||
		    !imap_astring(p, &s->n[n].field) || !imap_sp(p) ||
		    !imap_astring(p, &s->n[n].value))
			return -1;
		return n;
	}
	{
		static const char *const hdr_keys[] = { "FROM", "TO", "CC", "BCC", "SUBJECT" };
		static const char *const hdr_names[] = { "From", "To", "Cc", "Bcc", "Subject" };
		for (i = 0; i < 5; i++) {
			if (imap_is(&a, hdr_keys[i])) {
				if ((n = new_node(s, SK_HEADER)) < 0 || !imap_sp(p) ||
				    !imap_astring(p, &s->n[n].value))
					return -1;
				s->n[n].field.p = (const uint8_t *)hdr_names[i];
				s->n[n].field.len = strlen(hdr_names[i]);
				return n;
			}
		}
	}
	if (imap_is(&a, "BODY") || imap_is(&a, "TEXT")) {
		if ((n = new_node(s, imap_is(&a, "BODY") ? SK_BODY : SK_TEXT)) < 0 ||
		    !imap_sp(p) || !imap_astring(p, &s->n[n].value))
			return -1;
		return n;
	}
	return -1;
}

int
imap_search_parse(struct imap_parser *p, struct imap_search *s)
{
	memset(s, 0, sizeof(*s));
	if ((s->n = calloc(IMAP_SEARCH_NODES_MAX, sizeof(*s->n))) == NULL)
		return SOTTO_ERR_NOMEM;
	s->root = parse_list(p, s, 0, 0);
	if (s->root < 0 || !imap_at_eol(p))
		return SOTTO_ERR_MALFORMED;
	return 0;
}

void
imap_search_free(struct imap_search *s)
{
	size_t i;

	for (i = 0; s->n != NULL && i < s->count; i++)
		imap_seqset_free(&s->n[i].set);
	free(s->n);
	memset(s, 0, sizeof(*s));
}

/* Case folding for matching: ASCII, and the Latin-1 letters in UTF-8 (U+00C0..U+00DE
 * but U+00D7 are C3 80..9E, their small forms 0x20 higher), so CAFÉ finds café. */
static void
fold_case(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t b = src[i];

		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		else if (i > 0 && src[i - 1] == 0xc3 && b >= 0x80 && b <= 0x9e && b != 0x97)
			b = (uint8_t)(b + 0x20);
		dst[i] = b;
	}
}

/* Case-insensitive substring search; an empty needle always matches. Both sides are
 * folded into copies and searched with memmem, which is linear, so a long needle against
 * a long mail cannot cost their product. */
static int
contains(const uint8_t *h, size_t hn, const uint8_t *nd, size_t nn)
{
	uint8_t *lh, *ln;
	int r = 0;

	if (nn == 0)
		return 1;
	if (nn > hn || h == NULL)
		return 0;
	lh = malloc(hn);
	ln = malloc(nn);
	if (lh != NULL && ln != NULL) {
		fold_case(lh, h, hn);
		fold_case(ln, nd, nn);
		r = memmem(lh, hn, ln, nn) != NULL;
	}
	/* folded copies of a mail and of what was searched for */
	if (lh != NULL)
		sodium_memzero(lh, hn);
	if (ln != NULL)
		sodium_memzero(ln, nn);
	free(lh);
	free(ln);
	return r;
}

/* RFC 3501 6.4.4: header and body keys match the decoded text (RFC 2047 words; base64
 * and quoted-printable bodies); the raw bytes still match too. */
static int
value_contains(const uint8_t *v, size_t vn, const struct imap_str *needle)
{
	struct buf d;
	int r;

	if (contains(v, vn, needle->p, needle->len))
		return 1;
	buf_init_dyn(&d, 2 * vn + 1);
	mime_decode_words(&d, v, vn);
	r = buf_status(&d) == 0 && contains(d.p, d.len, needle->p, needle->len);
	buf_wipe_free(&d);
	return r;
}

static int
match_header(const struct mime_msg *mm, const struct imap_snode *n, int any_field)
{
	struct cur h = scan_sub(&mm->all, mm->parts[0].hdr.off, mm->parts[0].hdr.len);
	struct span f, name, v;

	while (mime_header_next(&h, &f, &name, &v)) {
		if ((any_field || (name.len == n->field.len &&
		    strncasecmp((const char *)scan_span(&h, name), (const char *)n->field.p,
		    name.len) == 0)) && value_contains(scan_span(&h, v), v.len, &n->value))
			return 1;
	}
	return 0;
}

/* Any leaf part's body, decoded, holds the value. */
static int
match_body(const struct mime_msg *mm, const struct imap_snode *n)
{
	struct buf d;
	size_t i;
	int r = 0;

	if (contains(scan_span(&mm->all, mm->parts[0].body), mm->parts[0].body.len,
	    n->value.p, n->value.len))
		return 1;
	for (i = 0; i < mm->nparts && !r; i++) {
		if (mm->parts[i].kind != MIME_LEAF)
			continue;
		buf_init_dyn(&d, 2 * mm->parts[i].body.len + 8);
		mime_decode_body(&d, mm, (int)i);
		r = buf_status(&d) == 0 && contains(d.p, d.len, n->value.p, n->value.len);
		buf_wipe_free(&d);
	}
	return r;
}

static int
sent_day(const struct mime_msg *mm, int64_t *day)
{
	struct span v;

	return mime_header_find(mm, &mm->parts[0], "Date", &v) &&
	    imap_search_date_header(scan_span(&mm->all, v), v.len, day);
}

static int
floor_day(int64_t t)
{
	return (int)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
}

static int
match(const struct imap_search *s, int i, const struct imap_search_msg *m)
{
	const struct imap_snode *n = &s->n[i];
	const struct mime_msg *mm = NULL;
	int64_t day;
	int c;

	switch (n->key) {
	case SK_ALL:
		return 1;
	case SK_NONE:
		return 0;
	case SK_AND:
		for (c = n->first; c >= 0; c = s->n[c].next)
			if (!match(s, c, m))
				return 0;
		return 1;
	case SK_OR:
		return match(s, n->first, m) || match(s, s->n[n->first].next, m);
	case SK_NOT:
		return !match(s, n->first, m);
	case SK_FLAG_SET:
		return (m->flags & n->flag) != 0;
	case SK_FLAG_UNSET:
		return (m->flags & n->flag) == 0;
	case SK_SEQ:
		return imap_seqset_has(&n->set, m->seq, m->max_seq);
	case SK_UID:
		return imap_seqset_has(&n->set, m->uid, m->max_uid);
	case SK_LARGER:
		return m->size > n->num;
	case SK_SMALLER:
		return m->size < n->num;
	case SK_BEFORE:
		return floor_day(m->internaldate) < n->day;
	case SK_ON:
		return floor_day(m->internaldate) == n->day;
	case SK_SINCE:
		return floor_day(m->internaldate) >= n->day;
	default:
		break;
	}
	if (m->load == NULL || (mm = m->load(m->load_arg)) == NULL)
		return 0;
	switch (n->key) {
	case SK_SENTBEFORE:
		return sent_day(mm, &day) && day < n->day;
	case SK_SENTON:
		return sent_day(mm, &day) && day == n->day;
	case SK_SENTSINCE:
		return sent_day(mm, &day) && day >= n->day;
	case SK_HEADER:
		return match_header(mm, n, 0);
	case SK_BODY:
		return match_body(mm, n);
	case SK_TEXT: {
		size_t len;
		struct cur all = mm->all;
		const uint8_t *d = cur_rest(&all, &len);
		return contains(d, len, n->value.p, n->value.len) || match_header(mm, n, 1) ||
		    match_body(mm, n);
	}
	default:
		return 0;
	}
}

int
imap_search_match(const struct imap_search *s, const struct imap_search_msg *m)
{
	return s->root >= 0 && match(s, s->root, m);
}

int
imap_search_date_header(const uint8_t *v, size_t n, int64_t *day)
{
	struct cur c;
	struct span t;
	uint32_t d = 0, y = 0;
	int month, b, nd = 0;

	cur_init(&c, v, n);
	mime_skip_cfws(&c);
	/* optional day of week */
	if ((b = cur_peek(&c)) >= 'A' && ((b | 32) >= 'a' && (b | 32) <= 'z')) {
		while (((b = cur_peek(&c)) | 32) >= 'a' && (b | 32) <= 'z')
			(void)scan_byte(&c);
		mime_skip_cfws(&c);
		if (!scan_accept(&c, ','))
			return 0;
		mime_skip_cfws(&c);
	}
	while ((b = cur_peek(&c)) >= '0' && b <= '9' && nd < 2) {
		(void)scan_byte(&c);
		d = d * 10 + (uint32_t)(b - '0');
		nd++;
	}
	mime_skip_cfws(&c);
	t.off = cur_pos(&c);
	t.len = 0;
	while (((b = cur_peek(&c)) | 32) >= 'a' && (b | 32) <= 'z' && t.len < 3) {
		(void)scan_byte(&c);
		t.len++;
	}
	month = imap_month(scan_span(&c, t), t.len);
	mime_skip_cfws(&c);
	nd = 0;
	while ((b = cur_peek(&c)) >= '0' && b <= '9' && nd < 4) {
		(void)scan_byte(&c);
		y = y * 10 + (uint32_t)(b - '0');
		nd++;
	}
	if (d < 1 || d > 31 || month == 0 || nd < 2)
		return 0;
	if (nd == 2)
		y += y < 50 ? 2000 : 1900;      /* RFC 5322 section 4.3 */
	else if (nd == 3)
		y += 1900;
	*day = imap_days_from_civil(y, (unsigned)month, d);
	return 1;
}
