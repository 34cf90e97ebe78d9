/* A group's mail address (sotto_group_address, _parse) and the mail mapping of group
 * messages (mail/mail_group.h): exact header fields, a planted group field dropped, the
 * thread's root added only to a mail that names no parent, encoded words for names and
 * texts that need them, the text's body in base64. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "mail/mail_group.h"
#include "sotto/group.h"
#include "check.h"

#define GID "00112233445566778899aabbccddeeff"
#define ADDR "group+" GID "@example.org"

static char out_s[65536];

/* out as a string (static buffer), or NULL on error. */
static const char *
as_str(int r, const struct buf *b)
{
	if (r != 0 || b->len >= sizeof(out_s))
		return NULL;
	if (b->len > 0)
		memcpy(out_s, b->p, b->len);
	out_s[b->len] = '\0';
	return out_s;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *
file(const char *name, const char *mail)
{
	struct mail_group g = { ADDR, GID, name };
	struct buf b;
	const char *s;
	int changed = 0, r;

	buf_init_dyn(&b, strlen(mail) + MAIL_GROUP_GROWTH);
	r = mail_group_file(name != NULL ? &g : NULL, (const uint8_t *)mail, strlen(mail), &b,
	    &changed);
	s = as_str(r, &b);
	if (!changed)
		s = NULL;
	buf_free(&b);
	return s;
}

static const char *
text(const char *name, const char *t)
{
	static const uint8_t id[SOTTO_ID_LEN] = { 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 0xef };
	struct mail_group g = { ADDR, GID, name };
	struct buf b;
	const char *s;

	buf_init_dyn(&b, 2 * strlen(t) + MAIL_GROUP_GROWTH);
	/* 2026-12-06 21:52:25 UTC, a Sunday */
	s = as_str(mail_group_text(&g, "bob@example.org", id, 1796593945u,
	    (const uint8_t *)t, strlen(t), &b), &b);
	buf_free(&b);
	return s;
}

TEST(group_address_format)
{
	char a[SOTTO_ADDRESS_MAX + 1];
	char longid[SOTTO_GROUP_ADDRESS_ID_HEX + 3];

	REQUIRE(sotto_group_address(GID, "example.org", a) == 0);
	CHECK(strcmp(a, ADDR) == 0);
	/* one spelling: lower case */
	REQUIRE(sotto_group_address("00112233445566778899AABBCCDDEEFF", "Example.ORG", a) == 0);
	CHECK(strcmp(a, ADDR) == 0);
	/* the longest id that fits a local part of 64 bytes, and one byte more */
	memset(longid, 'a', SOTTO_GROUP_ADDRESS_ID_HEX);
	longid[SOTTO_GROUP_ADDRESS_ID_HEX] = '\0';
	REQUIRE(sotto_group_address(longid, "example.org", a) == 0);
	CHECK_EQ_INT(strchr(a, '@') - a, 64);
	longid[SOTTO_GROUP_ADDRESS_ID_HEX] = 'a';
	longid[SOTTO_GROUP_ADDRESS_ID_HEX + 1] = 'a';
	longid[SOTTO_GROUP_ADDRESS_ID_HEX + 2] = '\0';
	CHECK_EQ_INT(sotto_group_address(longid, "example.org", a), SOTTO_ERR_INVALID_ARG);
	CHECK(a[0] == '\0');
	CHECK_EQ_INT(sotto_group_address("", "example.org", a), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(sotto_group_address("abc", "example.org", a), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(sotto_group_address("zz", "example.org", a), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(sotto_group_address(GID, "bad..domain", a), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(sotto_group_address(GID, "", a), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(sotto_group_address(NULL, "example.org", a), SOTTO_ERR_INVALID_ARG);
}

TEST(group_address_parse)
{
	static const char *const bad[] = {
		"bob@example.org", "group@example.org", "group+@example.org",
		"group+0@example.org", "group+zz@example.org", "groupx" GID "@example.org",
		"group+" GID, "group+" GID "@", "group+" GID "@bad..domain",
		"group+" GID "@example.org@x.org", "\"group+" GID "\"@example.org",
		"group+" GID " @example.org", "group+" GID "+1@example.org", "",
		"group+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org",
	};
	char id[2 * SOTTO_GROUP_ID_MAX + 1], dom[SOTTO_ADDRESS_MAX + 1];
	char a[SOTTO_ADDRESS_MAX + 1];
	size_t i;

	REQUIRE(sotto_group_address_parse(ADDR, id, dom) == 0);
	CHECK(strcmp(id, GID) == 0 && strcmp(dom, "example.org") == 0);
	REQUIRE(sotto_group_address_parse("GROUP+00112233445566778899AABBCCDDEEFF@Example.Org",
	    id, dom) == 0);
	CHECK(strcmp(id, GID) == 0 && strcmp(dom, "example.org") == 0);
	/* what format makes, parse reads back */
	REQUIRE(sotto_group_address("0a", "x.example", a) == 0);
	REQUIRE(sotto_group_address_parse(a, id, dom) == 0);
	CHECK(strcmp(id, "0a") == 0 && strcmp(dom, "x.example") == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sotto_group_address_parse(bad[i], id, dom);

		CHECK_EQ_INT(r, SOTTO_ERR_MALFORMED);
		CHECK(id[0] == '\0' && dom[0] == '\0');
		if (r == 0)
			fprintf(stderr, "accepted %s\n", bad[i]);
	}
	CHECK_EQ_INT(sotto_group_address_parse(NULL, id, dom), SOTTO_ERR_MALFORMED);
}

TEST(group_mail_filed_with_group_fields)
{
	const char *s;

	s = file("Team", "From: alice@example.org\r\nTo: " ADDR "\r\nList-Id: x <x.y>\r\n"
	    "list-post: <mailto:x@y>\r\nX-Sotto-Group:\r\n 00\r\nSubject: hi\r\n\r\nbody\r\n");
	REQUIRE(s != NULL);
	CHECK(strcmp(s, "List-Id: Team <group+" GID ".example.org>\r\n"
	    "List-Post: <mailto:" ADDR ">\r\n"
	    "X-Sotto-Group: " GID "\r\n"
	    "In-Reply-To: <" ADDR ">\r\n"
	    "References: <" ADDR ">\r\n"
	    "From: alice@example.org\r\nTo: " ADDR "\r\nSubject: hi\r\n\r\nbody\r\n") == 0);
	/* a mail that names its parent keeps its thread; a header without a body */
	s = file("Team", "From: a@example.org\r\nreferences: <p@x>\r\n");
	REQUIRE(s != NULL);
	CHECK(strstr(s, "In-Reply-To") == NULL && strstr(s, "references: <p@x>\r\n") != NULL);
	CHECK(strstr(s, "\r\n\r\n") == s + strlen(s) - 4);
	s = file("Team", "In-Reply-To: <p@x>\r\n\r\n");
	REQUIRE(s != NULL);
	CHECK(strstr(s, "References") == NULL);
	/* an unknown name: no phrase; a name that needs encoding */
	s = file("", "\r\nx");
	REQUIRE(s != NULL);
	CHECK(starts(s, "List-Id: <group+" GID ".example.org>\r\nList-Post"));
	s = file("Caf\xc3\xa9 <ops>", "\r\nx");
	REQUIRE(s != NULL);
	CHECK(starts(s, "List-Id: =?utf-8?b?Q2Fmw6kgPG9wcz4=?= <group+" GID ".example.org>\r\n"));
}

TEST(direct_mail_may_not_claim_a_group)
{
	static const char plain[] = "From: a@example.org\r\nList-Id: x <x.y>\r\n\r\nbody\r\n";
	const char *s;

	/* nothing to drop: left alone, List-Id and all (a forwarded list mail) */
	CHECK(file(NULL, plain) == NULL);
	/* the claim goes, every other byte stays (a stray line too) */
	s = file(NULL, "From: a@example.org\r\nx-sotto-group: " GID "\r\n  folded\r\n"
	    "stray\r\nList-Id: x <x.y>\r\nX-Sotto-Group: 1\r\n\r\nX-Sotto-Group: body\r\n");
	REQUIRE(s != NULL);
	CHECK(strcmp(s, "From: a@example.org\r\nstray\r\nList-Id: x <x.y>\r\n\r\n"
	    "X-Sotto-Group: body\r\n") == 0);
}

TEST(group_text_as_mail)
{
	static const char body64[] = "SGVsbG8gYWxsCnNlY29uZCBsaW5l\r\n";
	const char *s;
	char want[4096];

	s = text("Team", "Hello all\nsecond line");
	REQUIRE(s != NULL);
	snprintf(want, sizeof(want), "From: bob@example.org\r\nTo: " ADDR "\r\n"
	    "Subject: [Team] Hello all\r\n"
	    "Date: Sun, 06 Dec 2026 21:52:25 +0000\r\n"
	    "Message-ID: <abcd0102030405060708090a0b0c0def." ADDR ">\r\n"
	    "In-Reply-To: <" ADDR ">\r\nReferences: <" ADDR ">\r\n"
	    "List-Id: Team <group+" GID ".example.org>\r\n"
	    "List-Post: <mailto:" ADDR ">\r\nX-Sotto-Group: " GID "\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s", body64);
	CHECK(strcmp(s, want) == 0);
	if (strcmp(s, want) != 0)
		fprintf(stderr, "%s\n", s);
	/* a long first line is cut at a character boundary; non-ASCII is encoded */
	s = text("T", "\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95"
	    "\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95"
	    "\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95"
	    "\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95\xe2\x98\x95 and more");
	REQUIRE(s != NULL);
	/* "[T] " and the first 20 characters (60 bytes), in two encoded words */
	CHECK(strstr(s, "Subject: =?utf-8?b?") == strstr(s, "Subject:"));
	CHECK(strstr(s, "?=\r\n =?utf-8?b?") != NULL);
	CHECK(strstr(s, " and more") == NULL);
	/* a body of more than one base64 line: 76 characters each */
	s = text("T", "0123456789012345678901234567890123456789012345678901234567890123");
	REQUIRE(s != NULL);
	CHECK(strstr(s, "\r\n\r\nMDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3"
	    "ODkwMTIzNDU2\r\nNzg5MDEyMw==\r\n") != NULL);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(group_address_format);
	RUN(group_address_parse);
	RUN(group_mail_filed_with_group_fields);
	RUN(direct_mail_may_not_claim_a_group);
	RUN(group_text_as_mail);
	return check_summary();
}
