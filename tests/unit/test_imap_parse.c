#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "sotto/mailstore.h"
#include "check.h"

static struct imap_parser P;

static int
open_cmd(const char *s)
{
	imap_parser_free(&P);
	return imap_parser_init(&P, (const uint8_t *)s, strlen(s)) == 0;
}

static int
streq(const struct imap_str *s, const char *want)
{
	return s->p != NULL && s->len == strlen(want) && memcmp(s->p, want, s->len) == 0;
}

TEST(imap_tokens)
{
	struct imap_str a, b, c;

	REQUIRE(open_cmd("A001 LOGIN \"b\\\"o\\\\b\" {5}\r\nse cr NIL\r\n"));
	CHECK(imap_tag(&P, &a) && streq(&a, "A001"));
	CHECK(imap_sp(&P) && imap_atom(&P, &a) && imap_is(&a, "login"));
	CHECK(imap_sp(&P) && imap_astring(&P, &b) && streq(&b, "b\"o\\b"));
	CHECK(imap_sp(&P) && imap_astring(&P, &c) && streq(&c, "se cr"));
	CHECK(imap_sp(&P) && imap_nstring(&P, &a) && a.p == NULL);
	CHECK(imap_eol(&P));

	/* a literal longer than what follows, bad escapes, NUL and bare CR in quotes */
	REQUIRE(open_cmd("{10}\r\nshort\r\n"));
	CHECK(!imap_string(&P, &a));
	REQUIRE(open_cmd("\"a\\b\""));
	CHECK(!imap_string(&P, &a));
	REQUIRE(open_cmd("\"a\rb\""));
	CHECK(!imap_string(&P, &a));
	REQUIRE(open_cmd("{99999999999999999999999}\r\n"));
	CHECK(!imap_string(&P, &a));
	/* LITERAL+ form and the empty literal (an empty string, not NIL) */
	REQUIRE(open_cmd("{3+}\r\nabc {0}\r\n\r\n"));
	CHECK(imap_string(&P, &a) && streq(&a, "abc"));
	CHECK(imap_sp(&P) && imap_string(&P, &a) && a.p != NULL && a.len == 0);
	CHECK(imap_eol(&P));
	/* trailing bytes after the line end are refused */
	REQUIRE(open_cmd("x\r\ny"));
	CHECK(imap_atom(&P, &a) && !imap_eol(&P));
	/* a tag may not contain + and atoms stop at specials */
	REQUIRE(open_cmd("+tag"));
	CHECK(!imap_tag(&P, &a));
	REQUIRE(open_cmd("ab(c"));
	CHECK(imap_atom(&P, &a) && streq(&a, "ab"));
	REQUIRE(open_cmd("Dr*%]"));
	CHECK(imap_list_mailbox(&P, &a) && streq(&a, "Dr*%]"));
}

TEST(imap_sequence_sets)
{
	struct imap_seqset s = { 0 };

	REQUIRE(open_cmd("1,3:5,9:*,7:6"));
	REQUIRE(imap_seqset_parse(&P, &s));
	CHECK_EQ_INT(s.n, 4);
	CHECK(imap_seqset_has(&s, 1, 20));
	CHECK(!imap_seqset_has(&s, 2, 20));
	CHECK(imap_seqset_has(&s, 4, 20));
	CHECK(imap_seqset_has(&s, 6, 20));
	CHECK(imap_seqset_has(&s, 8, 8));       /* 9:* with * = 8 is 8:9 */
	CHECK(imap_seqset_has(&s, 20, 20));
	CHECK(!imap_seqset_has(&s, 21, 20));
	imap_seqset_free(&s);
	REQUIRE(open_cmd("0"));
	CHECK(!imap_seqset_parse(&P, &s));
	imap_seqset_free(&s);
	REQUIRE(open_cmd("4294967296"));
	CHECK(!imap_seqset_parse(&P, &s));
	imap_seqset_free(&s);
	REQUIRE(open_cmd("1:"));
	CHECK(!imap_seqset_parse(&P, &s));
	imap_seqset_free(&s);
}

TEST(imap_sequence_set_cap)
{
	struct imap_seqset s = { 0 };
	size_t n = IMAP_SEQSET_MAX + 10, i;
	char *big = malloc(n * 2 + 1);

	REQUIRE(big != NULL);
	for (i = 0; i < n; i++) {
		big[2 * i] = '1';
		big[2 * i + 1] = ',';
	}
	big[2 * n - 1] = 0;
	REQUIRE(open_cmd(big));
	CHECK(!imap_seqset_parse(&P, &s));
	CHECK(s.cap <= IMAP_SEQSET_MAX);
	imap_seqset_free(&s);
	free(big);
}

TEST(imap_dates)
{
	int64_t d, t;

	REQUIRE(open_cmd("1-Feb-1994"));
	CHECK(imap_date(&P, &d) && d == 8797);
	REQUIRE(open_cmd("\"17-Jul-1996 02:44:25 -0700\""));
	CHECK(imap_datetime(&P, &t) && t == 837596665);
	REQUIRE(open_cmd("\" 1-Jan-1970 00:00:00 +0000\""));
	CHECK(imap_datetime(&P, &t) && t == 0);
	REQUIRE(open_cmd("32-Jan-2000"));
	CHECK(!imap_date(&P, &d));
	REQUIRE(open_cmd("1-Foo-2000"));
	CHECK(!imap_date(&P, &d));
	REQUIRE(open_cmd("\"1-Jan-2000 25:00:00 +0000\""));
	CHECK(!imap_datetime(&P, &t));
	CHECK(imap_search_date_header((const uint8_t *)"Fri, 31 Dec 1999 23:59:59 -0500", 31, &d) &&
	    d == 10956);
	CHECK(imap_search_date_header((const uint8_t *)"1 Jan 70 00:00 GMT", 18, &d) && d == 0);
	CHECK(!imap_search_date_header((const uint8_t *)"yesterday", 9, &d));
}

static int
search(const char *keys, const struct imap_search_msg *m)
{
	struct imap_search s;
	int r;

	if (!open_cmd(keys) || imap_search_parse(&P, &s) != 0) {
		imap_search_free(&s);
		return -1;
	}
	r = imap_search_match(&s, m);
	imap_search_free(&s);
	return r;
}

static const char mail[] =
    "From: Alice <alice@example.org>\r\nSubject: Quarterly numbers\r\n"
    "Date: 2 Mar 2026 10:00 +0000\r\n\r\nThe numbers are in.\r\n";

static struct mime_msg mm;

static const struct mime_msg *
load(void *arg)
{
	(*(int *)arg)++;
	return &mm;
}

TEST(imap_search_keys)
{
	int loads = 0;
	struct imap_search_msg m = { 3, 30, MAILSTORE_SEEN | MAILSTORE_FLAGGED, 5, 50,
	    1772445600 /* 2026-03-02 10:00 UTC */, 1000, load, &loads };

	REQUIRE(mime_parse(&mm, (const uint8_t *)mail, strlen(mail)) == 0);
	CHECK_EQ_INT(search("ALL\r\n", &m), 1);
	CHECK_EQ_INT(search("SEEN FLAGGED UNANSWERED UNDELETED\r\n", &m), 1);
	CHECK_EQ_INT(search("UNSEEN\r\n", &m), 0);
	CHECK_EQ_INT(search("NOT DELETED\r\n", &m), 1);
	CHECK_EQ_INT(search("OR DELETED DRAFT\r\n", &m), 0);
	CHECK_EQ_INT(search("OR DELETED (SEEN LARGER 999)\r\n", &m), 1);
	CHECK_EQ_INT(search("LARGER 1000\r\n", &m), 0);
	CHECK_EQ_INT(search("SMALLER 1001\r\n", &m), 1);
	CHECK_EQ_INT(search("2:4\r\n", &m), 1);
	CHECK_EQ_INT(search("4:*\r\n", &m), 0);
	CHECK_EQ_INT(search("UID 30,40\r\n", &m), 1);
	CHECK_EQ_INT(search("UID *\r\n", &m), 0);
	CHECK_EQ_INT(search("SINCE 2-Mar-2026 BEFORE 3-Mar-2026 ON 2-Mar-2026\r\n", &m), 1);
	CHECK_EQ_INT(search("BEFORE 2-Mar-2026\r\n", &m), 0);
	CHECK_EQ_INT(loads, 0);        /* no key so far needed the message */
	CHECK_EQ_INT(search("FROM ALICE\r\n", &m), 1);
	CHECK_EQ_INT(search("SUBJECT \"numbers\" TO alice\r\n", &m), 0);
	CHECK_EQ_INT(search("HEADER Subject quarterly\r\n", &m), 1);
	CHECK_EQ_INT(search("BODY \"are in\"\r\n", &m), 1);
	CHECK_EQ_INT(search("BODY Quarterly\r\n", &m), 0);
	CHECK_EQ_INT(search("TEXT Quarterly\r\n", &m), 1);
	CHECK_EQ_INT(search("SENTON 2-Mar-2026\r\n", &m), 1);
	CHECK_EQ_INT(search("SENTSINCE 3-Mar-2026\r\n", &m), 0);
	CHECK_EQ_INT(search("KEYWORD $Junk\r\n", &m), 0);
	CHECK_EQ_INT(search("UNKEYWORD $Junk NEW\r\n", &m), 0);
	CHECK(loads > 0);
	/* malformed keys */
	CHECK_EQ_INT(search("\r\n", &m), -1);
	CHECK_EQ_INT(search("FROM\r\n", &m), -1);
	CHECK_EQ_INT(search("OR SEEN\r\n", &m), -1);
	CHECK_EQ_INT(search("(SEEN\r\n", &m), -1);
	CHECK_EQ_INT(search("SINCE yesterday\r\n", &m), -1);
	CHECK_EQ_INT(search("BOGUS\r\n", &m), -1);
	CHECK_EQ_INT(search("SEEN  SEEN\r\n", &m), -1);
	mime_free(&mm);
}

/* Issue 18 item 12: words in MIME-encoded subjects (RFC 2047 B and Q, UTF-8 and
 * ISO-8859-1) and in quoted-printable and base64 bodies are found by SEARCH, case-
 * insensitively for ASCII and Latin-1 letters (RFC 3501 section 6.4.4). */
static const char encoded_mail[] =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
    "Subject: =?UTF-8?B?Q2Fmw6kgw6AgbWlkaQ==?=\r\n =?ISO-8859-1?Q?et_cr=E8me_br=FBl=E9e?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Viele Gr=C3=BC=C3=9Fe aus M=\r\n=C3=BCnchen\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "PHA+RWluIGdyb8OfZXMgRGFua2Vzd29ydDwvcD4=\r\n"      /* <p>Ein großes Dankeswort</p> */
    "--b--\r\n";

TEST(imap_search_decodes_mime)
{
	int loads = 0;
	struct imap_search_msg m = { 1, 1, 0, 1, 1, 0, 1000, load, &loads };

	REQUIRE(mime_parse(&mm, (const uint8_t *)encoded_mail, strlen(encoded_mail)) == 0);
	CHECK_EQ_INT(search("SUBJECT \"caf\xc3\xa9\"\r\n", &m), 1);
	CHECK_EQ_INT(search("SUBJECT \"CAF\xc3\x89 \xc3\xa0 MIDI\"\r\n", &m), 1);
	/* the Q word in ISO-8859-1, after the folded line: white space between words dropped */
	CHECK_EQ_INT(search("SUBJECT \"midiet cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e\"\r\n", &m), 1);
	CHECK_EQ_INT(search("FROM \"J\xc3\xbcrgen\"\r\n", &m), 1);
	CHECK_EQ_INT(search("BODY \"gr\xc3\xbc\xc3\x9f\x65\"\r\n", &m), 1);
	CHECK_EQ_INT(search("BODY \"M\xc3\xbcnchen\"\r\n", &m), 1);       /* across a soft break */
	CHECK_EQ_INT(search("BODY \"gro\xc3\x9f\x65s Dankeswort\"\r\n", &m), 1);  /* base64 */
	CHECK_EQ_INT(search("TEXT dankeswort\r\n", &m), 1);
	CHECK_EQ_INT(search("TEXT \"cr\xc3\xa8me\"\r\n", &m), 1);
	CHECK_EQ_INT(search("BODY \"cr\xc3\xa8me\"\r\n", &m), 0);
	CHECK_EQ_INT(search("SUBJECT \"M\xc3\xbcnchen\"\r\n", &m), 0);
	CHECK_EQ_INT(search("BODY Q2Fmw6k\r\n", &m), 0);
	mime_free(&mm);
}

TEST(imap_search_depth_cap)
{
	struct imap_search_msg m = { 1, 1, 0, 1, 1, 0, 10, NULL, NULL };
	char deep[4096];
	size_t i, n = 0;

	for (i = 0; i < 500; i++)
		deep[n++] = '(';
	memcpy(deep + n, "ALL", 3);
	n += 3;
	for (i = 0; i < 500; i++)
		deep[n++] = ')';
	memcpy(deep + n, "\r\n", 3);
	CHECK_EQ_INT(search(deep, &m), -1);
	n = 0;
	for (i = 0; i < 300; i++) {
		memcpy(deep + n, "NOT ", 4);
		n += 4;
	}
	memcpy(deep + n, "ALL\r\n", 6);
	CHECK_EQ_INT(search(deep, &m), -1);
}

TEST(imap_fetch_items)
{
	struct imap_fetch *f = malloc(sizeof(*f));

	REQUIRE(f != NULL);
	REQUIRE(open_cmd("(UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<5.10> BODY[]"
	    " RFC822.SIZE)"));
	REQUIRE(imap_fetch_parse(&P, f) == 0);
	CHECK_EQ_INT(f->n, 5);
	CHECK(f->has_uid && f->has_flags && f->need_data && f->sets_seen);
	CHECK_EQ_INT(f->att[2].kind, FA_SECTION);
	CHECK(f->att[2].peek && f->att[2].partial);
	CHECK_EQ_INT(f->att[2].off, 5);
	CHECK_EQ_INT(f->att[2].len, 10);
	CHECK_EQ_INT(f->att[2].sec.nparts, 2);
	CHECK_EQ_INT(f->att[2].sec.part[1], 2);
	CHECK_EQ_INT(f->att[2].sec.text, IMAP_SEC_HEADER_FIELDS);
	CHECK_EQ_INT(f->att[2].sec.nfields, 2);
	CHECK(!f->att[3].peek && f->att[3].sec.text == IMAP_SEC_ALL);

	REQUIRE(open_cmd("ALL"));
	REQUIRE(imap_fetch_parse(&P, f) == 0);
	CHECK(f->n == 4 && f->need_data && !f->sets_seen);
	REQUIRE(open_cmd("FAST"));
	REQUIRE(imap_fetch_parse(&P, f) == 0);
	CHECK(f->n == 3 && !f->need_data);
	REQUIRE(open_cmd("BODY[2.MIME]"));
	CHECK(imap_fetch_parse(&P, f) == 0 && f->att[0].sec.text == IMAP_SEC_MIME);

	REQUIRE(open_cmd("BODY[MIME]"));             /* MIME needs a part number */
	CHECK(imap_fetch_parse(&P, f) != 0);
	REQUIRE(open_cmd("BODY[0]"));
	CHECK(imap_fetch_parse(&P, f) != 0);
	REQUIRE(open_cmd("BODY[]<1.0>"));
	CHECK(imap_fetch_parse(&P, f) != 0);
	REQUIRE(open_cmd("(FLAGS"));
	CHECK(imap_fetch_parse(&P, f) != 0);
	REQUIRE(open_cmd("BODY[HEADER.FIELDS ()]"));
	CHECK(imap_fetch_parse(&P, f) != 0);
	REQUIRE(open_cmd("ENVELOPES"));
	CHECK(imap_fetch_parse(&P, f) != 0);
	free(f);
}

int
main(void)
{
	RUN(imap_tokens);
	RUN(imap_sequence_sets);
	RUN(imap_sequence_set_cap);
	RUN(imap_dates);
	RUN(imap_search_keys);
	RUN(imap_search_decodes_mime);
	RUN(imap_search_depth_cap);
	RUN(imap_fetch_items);
	imap_parser_free(&P);
	return check_summary();
}
