#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_mime.h"
#include "mail/mime.h"
#include "check.h"

/* The IMAP text a writer produced, NUL-terminated in a static buffer. */
static const char *
render(const char *msg, int what, const struct imap_section *sec)
{
	static char out[8192];
	struct mime_msg m;
	struct buf b;
	int r = 0;

	buf_init_fixed(&b, (uint8_t *)out, sizeof(out) - 1);
	if (mime_parse(&m, (const uint8_t *)msg, strlen(msg)) != 0)
		return "(parse failed)";
	if (what == 0)
		imap_mime_envelope(&b, &m, 0);
	else if (what == 1)
		imap_mime_bodystructure(&b, &m, 0, 1);
	else if (what == 2)
		imap_mime_bodystructure(&b, &m, 0, 0);
	else
		r = imap_mime_section_get(&m, sec, &b);
	mime_free(&m);
	if (r != 0 || buf_status(&b) != 0)
		return "(write failed)";
	out[b.len] = 0;
	return out;
}

static const char *
section(const char *msg, const char *spec)
{
	struct imap_section s;
	const char *p = spec;

	memset(&s, 0, sizeof(s));
	while (*p >= '1' && *p <= '9') {
		s.part[s.nparts++] = (uint32_t)strtoul(p, (char **)&p, 10);
		if (*p == '.')
			p++;
	}
	if (strcmp(p, "HEADER") == 0)
		s.text = IMAP_SEC_HEADER;
	else if (strcmp(p, "TEXT") == 0)
		s.text = IMAP_SEC_TEXT;
	else if (strcmp(p, "MIME") == 0)
		s.text = IMAP_SEC_MIME;
	return render(msg, 3, &s);
}

static const char simple[] =
    "From: \"Alice, A.\" <alice@example.org>\r\n"
    "To: bob@example.org, Carol <carol@example.org>\r\n"
    "Subject: Hello\r\n"
    " folded world\r\n"
    "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "line one\r\nline two\r\n";

TEST(mime_simple_envelope)
{
	CHECK(strcmp(render(simple, 0, NULL),
	    "(\"Thu, 01 Jan 2026 12:00:00 +0000\" \"Hello folded world\" "
	    "((\"Alice, A.\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice, A.\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice, A.\" NIL \"alice\" \"example.org\")) "
	    "((NIL NIL \"bob\" \"example.org\")(\"Carol\" NIL \"carol\" \"example.org\")) "
	    "NIL NIL NIL \"<m1@example.org>\")") == 0);
}

TEST(mime_envelope_sender_defaults)
{
	static const char m[] = "From: a@x.org\r\nSender:\r\nReply-To: (none)\r\n"
	    "To: undisclosed-recipients:;\r\nSubject: \r\n\r\n";

	CHECK(strcmp(render(m, 0, NULL), "(NIL \"\" ((NIL NIL \"a\" \"x.org\")) "
	    "((NIL NIL \"a\" \"x.org\")) ((NIL NIL \"a\" \"x.org\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)") == 0);
}

TEST(mime_simple_bodystructure)
{
	CHECK(strcmp(render(simple, 1, NULL),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 20 2 NIL NIL NIL NIL)")
	    == 0);
	CHECK(strcmp(render(simple, 2, NULL),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 20 2)") == 0);
	CHECK(strcmp(section(simple, "1"), "line one\r\nline two\r\n") == 0);
	CHECK(strcmp(section(simple, "TEXT"), "line one\r\nline two\r\n") == 0);
	CHECK(strncmp(section(simple, "HEADER"), "From: ", 6) == 0);
	CHECK(strcmp(section(simple, "2"), "") == 0);
}

static const char mixed[] =
    "From: a@example.org\r\n"
    "Content-Type: multipart/mixed;\r\n"
    "\tboundary=\"==b 1==\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--==b 1==\r\n"
    "\r\n"
    "plain part\r\n"
    "--==b 1==\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Disposition: attachment; filename=r.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <c1>\r\n"
    "\r\n"
    "JVBERi0=\r\n"
    "--==b 1==--\r\n"
    "epilogue\r\n";

TEST(mime_multipart_mixed_attachment)
{
	CHECK(strcmp(render(mixed, 1, NULL),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"r.pdf\") \"<c1>\" NIL \"base64\" 8 NIL "
	    "(\"attachment\" (\"filename\" \"r.pdf\")) NIL NIL) \"mixed\" "
	    "(\"boundary\" \"==b 1==\") NIL NIL NIL)") == 0);
	CHECK(strcmp(section(mixed, "1"), "plain part") == 0);
	CHECK(strcmp(section(mixed, "2"), "JVBERi0=") == 0);
	CHECK(strncmp(section(mixed, "2.MIME"), "Content-Type: application/pdf", 29) == 0);
	CHECK(strcmp(section(mixed, "3"), "") == 0);
}

static const char nested[] =
    "Subject: nested\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hi\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>Hi</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: x@example.org\r\n"
    "Subject: inner mail\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer--\r\n";

TEST(mime_nested_alternative_and_message)
{
	const char *bs = render(nested, 2, NULL);

	CHECK(strcmp(bs,
	    "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 2 1)"
	    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 9 1) \"alternative\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 54 "
	    "(NIL \"inner mail\" ((NIL NIL \"x\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) "
	    "((NIL NIL \"x\" \"example.org\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1) 4) \"mixed\")")
	    == 0);
	CHECK(strcmp(section(nested, "1.1"), "Hi") == 0);
	CHECK(strcmp(section(nested, "1.2"), "<p>Hi</p>") == 0);
	CHECK(strncmp(section(nested, "2"), "From: x@example.org\r\n", 21) == 0);
	CHECK(strcmp(section(nested, "2.HEADER"),
	    "From: x@example.org\r\nSubject: inner mail\r\n\r\n") == 0);
	CHECK(strcmp(section(nested, "2.TEXT"), "inner body") == 0);
	CHECK(strcmp(section(nested, "2.1"), "inner body") == 0);
	CHECK(strcmp(section(nested, "1.TEXT"), "") == 0);
}

TEST(mime_header_fields)
{
	struct imap_section s;

	memset(&s, 0, sizeof(s));
	s.text = IMAP_SEC_HEADER_FIELDS;
	s.fields[0].p = (const uint8_t *)"subject";
	s.fields[0].len = 7;
	s.fields[1].p = (const uint8_t *)"DATE";
	s.fields[1].len = 4;
	s.nfields = 2;
	CHECK(strcmp(render(simple, 3, &s), "Subject: Hello\r\n folded world\r\n"
	    "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n\r\n") == 0);
	s.text = IMAP_SEC_HEADER_FIELDS_NOT;
	CHECK(strcmp(render(simple, 3, &s), "From: \"Alice, A.\" <alice@example.org>\r\n"
	    "To: bob@example.org, Carol <carol@example.org>\r\n"
	    "Message-ID: <m1@example.org>\r\n\r\n") == 0);
}

static const char *
addrs(const char *v)
{
	static char out[2048];
	struct buf b;

	buf_init_fixed(&b, (uint8_t *)out, sizeof(out) - 1);
	imap_mime_addresses(&b, (const uint8_t *)v, strlen(v));
	out[buf_status(&b) == 0 ? b.len : 0] = 0;
	return out;
}

TEST(mime_address_lists)
{
	CHECK(strcmp(addrs("undisclosed-recipients:;"),
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))") == 0);
	CHECK(strcmp(addrs("Team: a@x.org, \"B \\\"Q\\\" b\" <b@y.org>; c@z.org"),
	    "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(\"B \\\"Q\\\" b\" NIL \"b\" \"y.org\")"
	    "(NIL NIL NIL NIL)(NIL NIL \"c\" \"z.org\"))") == 0);
	CHECK(strcmp(addrs("=?UTF-8?Q?J=C3=B6rg?= <jorg@example.de>"),
	    "((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"jorg\" \"example.de\"))") == 0);
	CHECK(strcmp(addrs("<@relay.example:dan@example.org>"),
	    "((NIL \"@relay.example\" \"dan\" \"example.org\"))") == 0);
	CHECK(strcmp(addrs("eve (Eve Smith) @ example.org"),
	    "((NIL NIL \"eve\" \"example.org\"))") == 0);
	CHECK(strcmp(addrs("john.q.public@example.com"),
	    "((NIL NIL \"john.q.public\" \"example.com\"))") == 0);
	CHECK(strcmp(addrs("Mary Smith\r\n <mary@x.test>"),
	    "((\"Mary Smith\" NIL \"mary\" \"x.test\"))") == 0);
	CHECK(strcmp(addrs("nobody"), "((NIL NIL \"nobody\" \"MISSING_DOMAIN\"))") == 0);
	CHECK(strcmp(addrs("   "), "NIL") == 0);
	/* junk yields no all-NIL entry, which would read as the end of a group */
	CHECK(strcmp(addrs(",,<>,@,\"unterminated"),
	    "((NIL NIL \"unterminated\" \"MISSING_DOMAIN\"))") == 0);
}

TEST(mime_malformed_degrades)
{
	static const char no_boundary[] =
	    "Content-Type: multipart/mixed\r\n\r\nbody\r\n";
	static const char never_delimited[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--yy\r\nx\r\n";
	static const char bad_type[] = "Content-Type: ;;;\r\n\r\nbody";
	static const char no_separator[] = "just some text\r\nwithout headers\r\n";
	static const char unterminated[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart one\r\n--b\r\n"
	    "Content-Type: text/html\r\n\r\ncut off";

	CHECK(strncmp(render(no_boundary, 2, NULL), "(\"text\" \"plain\"", 15) == 0);
	CHECK(strncmp(render(never_delimited, 2, NULL), "(\"text\" \"plain\"", 15) == 0);
	CHECK(strncmp(render(bad_type, 2, NULL), "(\"text\" \"plain\"", 15) == 0);
	CHECK(strcmp(render(no_separator, 2, NULL),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 33 2)") == 0);
	CHECK(strcmp(section(no_separator, "TEXT"), no_separator) == 0);
	CHECK(strcmp(render(unterminated, 2, NULL),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 1)"
	    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 7 1) \"mixed\")") == 0);
	CHECK(strcmp(section(unterminated, "2"), "cut off") == 0);
	CHECK(strcmp(render("", 2, NULL),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)") == 0);
}

TEST(mime_depth_and_part_caps)
{
	struct mime_msg m;
	struct buf big, out;
	int i;

	/* 100 nested multiparts: parsing stops at MIME_MAX_DEPTH and degrades the rest */
	buf_init_dyn(&big, 1 << 20);
	for (i = 0; i < 100; i++) {
		char line[128];
		int n = snprintf(line, sizeof(line),
		    "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		buf_put(&big, line, (size_t)n);
	}
	buf_put(&big, "\r\nleaf\r\n", 8);
	REQUIRE(buf_status(&big) == 0);
	REQUIRE(mime_parse(&m, big.p, big.len) == 0);
	CHECK(m.nparts <= MIME_MAX_DEPTH + 1);
	buf_init_dyn(&out, 1 << 20);
	imap_mime_bodystructure(&out, &m, 0, 1);
	CHECK(buf_status(&out) == 0);
	mime_free(&m);
	buf_free(&out);

	/* thousands of parts: capped at MIME_MAX_PARTS */
	buf_reset(&big);
	buf_put(&big, "Content-Type: multipart/mixed; boundary=x\r\n\r\n", 46);
	for (i = 0; i < 3000; i++)
		buf_put(&big, "--x\r\n\r\np\r\n", 10);
	buf_put(&big, "--x--\r\n", 7);
	REQUIRE(buf_status(&big) == 0);
	REQUIRE(mime_parse(&m, big.p, big.len) == 0);
	CHECK_EQ_INT(m.nparts, MIME_MAX_PARTS);
	mime_free(&m);
	buf_free(&big);
}

int
main(void)
{
	RUN(mime_simple_envelope);
	RUN(mime_envelope_sender_defaults);
	RUN(mime_simple_bodystructure);
	RUN(mime_multipart_mixed_attachment);
	RUN(mime_nested_alternative_and_message);
	RUN(mime_header_fields);
	RUN(mime_address_lists);
	RUN(mime_malformed_degrades);
	RUN(mime_depth_and_part_caps);
	return check_summary();
}
