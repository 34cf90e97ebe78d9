#include "smtp/smtp_parse.h"

#include <string.h>

#include "base/cursor.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "VRFY", SMTP_VRFY },
	{ "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP }, { "AUTH", SMTP_AUTH },
	{ "STARTTLS", SMTP_STARTTLS }, { "BDAT", SMTP_BDAT },
};

static uint8_t
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static int
is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* The next byte, or 0 at the end (no command byte is 0: lines are checked first). */
static uint8_t
peek(const struct cur *c)
{
	int b = cur_peek(c);

	return b < 0 ? 0 : (uint8_t)b;
}

/* Case-insensitive: consumes s if the input starts with it. */
static int
take_word(struct cur *c, const char *s)
{
	size_t n = strlen(s);

	if (!cur_starts_with(c, s, n, 1))
		return 0;
	(void)cur_ref(c, n);
	return 1;
}

static void
skip_spaces(struct cur *c)
{
	while (peek(c) == ' ')
		(void)cur_u8(c);
}

int
smtp_parse_command(const uint8_t *line, size_t len, struct smtp_cmd *out)
{
	struct cur c;
	char verb[9];
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < len; i++)
		if ((line[i] < 32 && line[i] != '\t') || line[i] > 126)
			return SOTTO_ERR_MALFORMED;
	cur_init(&c, line, len);
	while (cur_left(&c) && is_alpha(peek(&c))) {
		uint8_t ch = upper(cur_u8(&c));
		if (n < sizeof(verb) - 1)
			verb[n] = (char)ch;
		n++;
	}
	if (n == 0 || n >= sizeof(verb) || (cur_left(&c) && peek(&c) != ' '))
		return 0;       /* not a verb we know: SMTP_UNKNOWN */
	verb[n] = '\0';
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i].name) == 0)
			out->verb = verbs[i].verb;
	if (out->verb == SMTP_UNKNOWN)
		return 0;
	if (cur_left(&c))
		(void)cur_u8(&c);       /* the one space after the verb */
	if (out->verb == SMTP_MAIL || out->verb == SMTP_RCPT) {
		if (!take_word(&c, out->verb == SMTP_MAIL ? "FROM:" : "TO:"))
			return SOTTO_ERR_MALFORMED;
	}
	if (cur_left(&c) > 0)
		out->arg = cur_rest(&c, &out->arg_len);
	return cur_status(&c);
}

static int
is_atext(uint8_t ch)
{
	return is_alpha(ch) || is_digit(ch) || (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

/* sub-domain *("." sub-domain), each Let-dig [Ldh-str]; appended lower-cased. */
static void
read_domain(struct cur *c, char *out, size_t *n, size_t cap)
{
	size_t start = *n;

	for (;;) {
		size_t label = 0;
		uint8_t last = 0;

		while (cur_left(c) && (is_alpha(peek(c)) || is_digit(peek(c)) || peek(c) == '-')) {
			last = cur_u8(c);
			if (label == 0 && last == '-')
				cur_fail(c, SOTTO_ERR_MALFORMED);
			if (*n < cap)
				out[(*n)++] = (char)lower(last);
			else
				cur_fail(c, SOTTO_ERR_TOO_LARGE);
			label++;
		}
		if (label == 0 || last == '-' || label > 63)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		if (peek(c) != '.')
			break;
		(void)cur_u8(c);
		if (*n < cap)
			out[(*n)++] = '.';
	}
	if (*n - start > SMTP_DOMAIN_MAX)
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
}

static void
read_address_literal(struct cur *c, char *out, size_t *n, size_t cap)
{
	size_t start = *n;

	while (cur_status(c) == 0 && peek(c) != ']') {
		uint8_t ch = cur_u8(c);

		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			cur_fail(c, SOTTO_ERR_MALFORMED);
		else if (*n < cap)
			out[(*n)++] = (char)lower(ch);
		else
			cur_fail(c, SOTTO_ERR_TOO_LARGE);
	}
	if (cur_u8(c) != ']' || *n == start)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	if (*n < cap)
		out[(*n)++] = ']';
	else
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
}

static void
read_local(struct cur *c, char *out, size_t *n, size_t cap)
{
	size_t start = *n;

	if (peek(c) == '"') {
		out[(*n)++] = (char)cur_u8(c);
		for (;;) {
			uint8_t ch = cur_u8(c);

			if (cur_status(c) != 0 || ch < 32 || ch > 126) {
				cur_fail(c, SOTTO_ERR_MALFORMED);
				return;
			}
			if (*n + 2 > cap) {
				cur_fail(c, SOTTO_ERR_TOO_LARGE);
				return;
			}
			out[(*n)++] = (char)ch;
			if (ch == '"')
				break;
			if (ch == '\\') {
				ch = cur_u8(c);
				if (ch < 32 || ch > 126)
					cur_fail(c, SOTTO_ERR_MALFORMED);
				out[(*n)++] = (char)ch;
			}
		}
	} else {
		uint8_t prev = '.';

		while (cur_left(c) && (is_atext(peek(c)) || peek(c) == '.')) {
			uint8_t ch = cur_u8(c);

			if (ch == '.' && prev == '.')
				cur_fail(c, SOTTO_ERR_MALFORMED);   /* empty atom */
			if (*n < cap)
				out[(*n)++] = (char)ch;
			else
				cur_fail(c, SOTTO_ERR_TOO_LARGE);
			prev = ch;
		}
		if (prev == '.')
			cur_fail(c, SOTTO_ERR_MALFORMED);
	}
	if (*n - start > SMTP_LOCAL_MAX)
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
}

int
smtp_parse_path(const uint8_t *p, size_t len, struct smtp_path *out, size_t *used)
{
	struct cur c;
	size_t start, n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	*used = 0;
	cur_init(&c, p, len);
	skip_spaces(&c);
	start = cur_pos(&c);
	if (cur_u8(&c) != '<')
		return cur_status(&c) ? cur_status(&c) : SOTTO_ERR_MALFORMED;
	if (peek(&c) == '>') {
		(void)cur_u8(&c);
		out->null_path = 1;
		*used = cur_pos(&c);
		return 0;
	}
	if (peek(&c) == '@') {
		/* A source route: read and ignore (RFC 5321 section 4.1.1.3). */
		char junk[SMTP_DOMAIN_MAX + 1];
		do {
			size_t jn = 0;
			(void)cur_u8(&c);
			read_domain(&c, junk, &jn, sizeof(junk));
		} while (cur_status(&c) == 0 && peek(&c) == ',' && cur_u8(&c) == ',' &&
		    peek(&c) == '@');
		if (cur_u8(&c) != ':')
			cur_fail(&c, SOTTO_ERR_MALFORMED);
	}
	read_local(&c, out->addr, &n, SMTP_PATH_MAX);
	if (cur_status(&c) == 0 && peek(&c) == '>') {
		size_t i;
		char pm[] = "postmaster";

		for (i = 0; i < n && i < 10; i++)
			if ((char)lower((uint8_t)out->addr[i]) != pm[i])
				break;
		if (n == 10 && i == 10) {
			(void)cur_u8(&c);
			out->postmaster = 1;
			out->addr[n] = '\0';
			out->len = n;
			*used = cur_pos(&c);
			return 0;
		}
	}
	if (cur_u8(&c) != '@')
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (n < SMTP_PATH_MAX)
		out->addr[n++] = '@';
	if (peek(&c) == '[') {
		(void)cur_u8(&c);
		if (n < SMTP_PATH_MAX)
			out->addr[n++] = '[';
		read_address_literal(&c, out->addr, &n, SMTP_PATH_MAX);
	} else {
		read_domain(&c, out->addr, &n, SMTP_PATH_MAX);
	}
	if (cur_u8(&c) != '>')
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (cur_pos(&c) - start > SMTP_PATH_MAX)
		cur_fail(&c, SOTTO_ERR_TOO_LARGE);
	if ((r = cur_status(&c)) != 0) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	out->addr[n] = '\0';
	out->len = n;
	*used = cur_pos(&c);
	return 0;
}

/* One " keyword[=value]"; returns 0 at the end, 1 if one was read, <0 on error. */
static int
next_param(struct cur *c, char kw[static 21], const uint8_t **val, size_t *vlen)
{
	size_t n = 0;

	*val = NULL;
	*vlen = 0;
	if (cur_left(c) == 0)
		return 0;
	if (cur_u8(c) != ' ')
		return SOTTO_ERR_MALFORMED;
	while (peek(c) == ' ')
		(void)cur_u8(c);
	if (cur_left(c) == 0)
		return 0;       /* trailing spaces */
	if (!is_alpha(peek(c)) && !is_digit(peek(c)))
		return SOTTO_ERR_MALFORMED;
	while (cur_left(c) && (is_alpha(peek(c)) || is_digit(peek(c)) || peek(c) == '-')) {
		uint8_t ch = upper(cur_u8(c));
		if (n >= 20)
			return SOTTO_ERR_MALFORMED;
		kw[n++] = (char)ch;
	}
	kw[n] = '\0';
	if (peek(c) == '=') {
		size_t start;

		(void)cur_u8(c);
		start = cur_pos(c);
		while (cur_left(c) && peek(c) > 32 && peek(c) < 127 && peek(c) != '=')
			(void)cur_u8(c);
		*vlen = cur_pos(c) - start;
		*val = cur_slice(c, start, *vlen);
		if (*vlen == 0)
			return SOTTO_ERR_MALFORMED;
	}
	if (cur_left(c) && peek(c) != ' ')
		return SOTTO_ERR_MALFORMED;
	return 1;
}

static int
value_is(const uint8_t *v, size_t n, const char *s)
{
	size_t i;

	if (n != strlen(s))
		return 0;
	for (i = 0; i < n; i++)
		if (upper(v[i]) != (uint8_t)s[i])
			return 0;
	return 1;
}

int
smtp_parse_mail_params(const uint8_t *p, size_t len, struct smtp_mail_params *out)
{
	struct cur c;
	char kw[21];
	const uint8_t *v;
	size_t vlen, i;
	int r, seen_body = 0, seen_auth = 0;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	while ((r = next_param(&c, kw, &v, &vlen)) == 1) {
		if (strcmp(kw, "SIZE") == 0) {
			if (out->has_size || v == NULL)
				return SOTTO_ERR_MALFORMED;
			if (vlen > SMTP_SIZE_DIGITS)
				return SOTTO_ERR_TOO_LARGE;
			for (i = 0; i < vlen; i++) {
				if (!is_digit(v[i]))
					return SOTTO_ERR_MALFORMED;
				if (out->size > (UINT64_MAX - 9) / 10)
					return SOTTO_ERR_TOO_LARGE;
				out->size = out->size * 10 + (uint64_t)(v[i] - '0');
			}
			out->has_size = 1;
		} else if (strcmp(kw, "BODY") == 0) {
			if (seen_body++ || v == NULL)
				return SOTTO_ERR_MALFORMED;
			if (value_is(v, vlen, "7BIT"))
				out->body = SMTP_BODY_7BIT;
			else if (value_is(v, vlen, "8BITMIME"))
				out->body = SMTP_BODY_8BITMIME;
			else
				return SOTTO_ERR_UNSUPPORTED;
		} else if (strcmp(kw, "AUTH") == 0) {
			/* RFC 4954 section 5: the submitter's identity; we know it already. */
			if (seen_auth++ || v == NULL)
				return SOTTO_ERR_MALFORMED;
		} else {
			return SOTTO_ERR_UNSUPPORTED;
		}
	}
	return r;
}

int
smtp_parse_rcpt_params(const uint8_t *p, size_t len)
{
	struct cur c;
	char kw[21];
	const uint8_t *v;
	size_t vlen;
	int r;

	cur_init(&c, p, len);
	r = next_param(&c, kw, &v, &vlen);
	return r == 1 ? SOTTO_ERR_UNSUPPORTED : r;
}

int
smtp_parse_auth(const uint8_t *p, size_t len, char mech[static 21], const uint8_t **ir,
    size_t *ir_len)
{
	struct cur c;
	size_t n = 0;

	*ir = NULL;
	*ir_len = 0;
	mech[0] = '\0';
	cur_init(&c, p, len);
	while (cur_left(&c) && peek(&c) != ' ') {
		uint8_t ch = upper(cur_u8(&c));
		if (n >= 20 || !(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_'))
			return SOTTO_ERR_MALFORMED;
		mech[n++] = (char)ch;
	}
	mech[n] = '\0';
	if (n == 0)
		return SOTTO_ERR_MALFORMED;
	if (cur_left(&c)) {
		(void)cur_u8(&c);
		*ir = cur_rest(&c, ir_len);
		if (*ir_len == 0)
			return SOTTO_ERR_MALFORMED;
	}
	return cur_status(&c);
}
