#include <string.h>

#include "bridge/sasl.h"
#include "smtp/smtp_parse.h"
#include "check.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static int
verb_of(const char *line)
{
	struct smtp_cmd c;

	if (smtp_parse_command(S(line), &c) != 0)
		return -1;
	return (int)c.verb;
}

TEST(smtp_verbs_case_insensitive)
{
	struct smtp_cmd c;

	CHECK_EQ_INT(verb_of("EHLO client.example"), SMTP_EHLO);
	CHECK_EQ_INT(verb_of("ehlo x"), SMTP_EHLO);
	CHECK_EQ_INT(verb_of("QUIT"), SMTP_QUIT);
	CHECK_EQ_INT(verb_of("nOoP"), SMTP_NOOP);
	CHECK_EQ_INT(verb_of("STARTTLS"), SMTP_STARTTLS);
	CHECK_EQ_INT(verb_of("XYZZY"), SMTP_UNKNOWN);
	CHECK_EQ_INT(verb_of("QUITX"), SMTP_UNKNOWN);
	CHECK_EQ_INT(verb_of("QUIT2"), SMTP_UNKNOWN);
	CHECK_EQ_INT(verb_of(""), SMTP_UNKNOWN);
	CHECK_EQ_INT(verb_of("VERYLONGVERB x"), SMTP_UNKNOWN);
	CHECK_EQ_INT(smtp_parse_command(S("MAIL FROM:<a@b.c> SIZE=10"), &c), 0);
	CHECK_EQ_INT(c.verb, SMTP_MAIL);
	CHECK_EQ_INT(c.arg_len, 15);
	CHECK_MEM(c.arg, "<a@b.c> SIZE=10", 15);
	CHECK_EQ_INT(smtp_parse_command(S("rcpt to:<a@b.c>"), &c), 0);
	CHECK_EQ_INT(c.verb, SMTP_RCPT);
	CHECK_EQ_INT(smtp_parse_command(S("MAIL <a@b.c>"), &c), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_command(S("RCPT FROM:<a@b.c>"), &c), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_command((const uint8_t *)"NOOP\0x", 6, &c), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_command(S("NOOP \x80"), &c), SOTTO_ERR_MALFORMED);
}

static int
path_is(const char *in, const char *want, size_t want_used)
{
	struct smtp_path p;
	size_t used;

	if (smtp_parse_path(S(in), &p, &used) != 0)
		return 0;
	return strcmp(p.addr, want) == 0 && p.len == strlen(want) && used == want_used;
}

static int
path_err(const char *in)
{
	struct smtp_path p;
	size_t used;

	return smtp_parse_path(S(in), &p, &used);
}

TEST(smtp_paths)
{
	struct smtp_path p;
	size_t used;
	char big[400];

	CHECK(path_is("<alice@A.Example>", "alice@a.example", 17));
	CHECK(path_is(" <Alice.B@x-y.example> SIZE=1", "Alice.B@x-y.example", 22));
	CHECK(path_is("<@relay.example,@r2.example:bob@b.example>", "bob@b.example", 42));
	CHECK(path_is("<\"a b\\\"c\"@x.example>", "\"a b\\\"c\"@x.example", 20));
	CHECK(path_is("<u@[192.0.2.1]>", "u@[192.0.2.1]", 15));
	CHECK_EQ_INT(smtp_parse_path(S("<>"), &p, &used), 0);
	CHECK(p.null_path);
	CHECK_EQ_INT(smtp_parse_path(S("<PostMaster>"), &p, &used), 0);
	CHECK(p.postmaster);
	CHECK_EQ_INT(path_err("alice@a.example"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<alice@a.example"), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(path_err("<alice>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a..b@x.example>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<.a@x.example>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a@-x.example>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a@x-.example>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a@x..example>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a@>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<a b@x>"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(path_err("<\"unterminated@x>"), SOTTO_ERR_TRUNCATED);
	/* 65-byte local part, 256-byte domain, 257-byte path: over RFC 5321 limits. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "<", 1);
	memcpy(big + 66, "@x.example>", 12);
	CHECK_EQ_INT(path_err(big), SOTTO_ERR_TOO_LARGE);
	memcpy(big + 65, "@x.example>", 12);
	CHECK_EQ_INT(path_err(big), 0);
	memset(big, 'a', sizeof(big));
	memcpy(big, "<a@", 3);
	for (size_t i = 3 + 60; i < 3 + 250; i += 61)
		big[i] = '.';
	memcpy(big + 3 + 256, ">", 2);
	CHECK_EQ_INT(path_err(big), SOTTO_ERR_TOO_LARGE);
}

TEST(smtp_mail_params)
{
	struct smtp_mail_params mp;

	CHECK_EQ_INT(smtp_parse_mail_params(S(""), &mp), 0);
	CHECK(!mp.has_size);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=12345 BODY=8bitmime"), &mp), 0);
	CHECK(mp.has_size);
	CHECK_EQ_INT(mp.size, 12345);
	CHECK_EQ_INT(mp.body, SMTP_BODY_8BITMIME);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" body=7BIT auth=<> "), &mp), 0);
	CHECK_EQ_INT(mp.body, SMTP_BODY_7BIT);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=00000000000000000007"), &mp), 0);
	CHECK_EQ_INT(mp.size, 7);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=99999999999999999999"), &mp),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=999999999999999999999"), &mp),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=18446744073709551616"), &mp),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=12a"), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE="), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE"), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" SIZE=1 SIZE=2"), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" BODY=BINARYMIME"), &mp), SOTTO_ERR_UNSUPPORTED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" RET=FULL"), &mp), SOTTO_ERR_UNSUPPORTED);
	CHECK_EQ_INT(smtp_parse_mail_params(S("SIZE=1"), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_mail_params(S(" =1"), &mp), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_rcpt_params(S("")), 0);
	CHECK_EQ_INT(smtp_parse_rcpt_params(S("  ")), 0);
	CHECK_EQ_INT(smtp_parse_rcpt_params(S(" NOTIFY=NEVER")), SOTTO_ERR_UNSUPPORTED);
}

TEST(smtp_auth_args)
{
	char mech[21];
	const uint8_t *ir;
	size_t n;

	CHECK_EQ_INT(smtp_parse_auth(S("plain AGFAYgBj"), mech, &ir, &n), 0);
	CHECK(strcmp(mech, "PLAIN") == 0);
	CHECK(n == 8 && memcmp(ir, "AGFAYgBj", 8) == 0);
	CHECK_EQ_INT(smtp_parse_auth(S("LOGIN"), mech, &ir, &n), 0);
	CHECK(ir == NULL);
	CHECK_EQ_INT(smtp_parse_auth(S(""), mech, &ir, &n), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_auth(S("PLAIN "), mech, &ir, &n), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(smtp_parse_auth(S("PL@IN x"), mech, &ir, &n), SOTTO_ERR_MALFORMED);
}

TEST(sasl_plain_and_base64)
{
	uint8_t out[64];
	size_t n;
	struct sasl_plain sp;

	/* "\0alice@a.example\0pw" */
	CHECK_EQ_INT(sasl_b64_decode(S("AGFsaWNlQGEuZXhhbXBsZQBwdw=="), out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 19);
	CHECK_EQ_INT(sasl_plain_parse(out, n, 320, 256, &sp), 0);
	CHECK(sp.authcid_len == 15 && memcmp(sp.authcid, "alice@a.example", 15) == 0);
	CHECK(sp.passwd_len == 2 && memcmp(sp.passwd, "pw", 2) == 0);
	CHECK_EQ_INT(sp.authzid_len, 0);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"a\0a\0p", 5, 320, 256, &sp), 0);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"b\0a\0p", 5, 320, 256, &sp),
	    SOTTO_ERR_AUTH);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"\0a\0", 3, 320, 256, &sp),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"\0\0p", 3, 320, 256, &sp),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"\0a\0p\0q", 6, 320, 256, &sp),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"a\0p", 3, 320, 256, &sp),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_plain_parse((const uint8_t *)"\0abc\0p", 6, 2, 256, &sp),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(sasl_b64_decode(S("AGFsa"), out, sizeof(out), &n), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_b64_decode(S("AG!s"), out, sizeof(out), &n), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sasl_b64_decode(S("AGFsaWNl"), out, 3, &n), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(sasl_b64_decode(S(""), out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 0);
}

int
main(void)
{
	RUN(smtp_verbs_case_insensitive);
	RUN(smtp_paths);
	RUN(smtp_mail_params);
	RUN(smtp_auth_args);
	RUN(sasl_plain_and_base64);
	return check_summary();
}
