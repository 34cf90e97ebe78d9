#include <string.h>

#include <sodium.h>

#include "check.h"
#include "wire/address.h"

static int
user(const char *s)
{
	return address_user_check(s, strlen(s));
}

TEST(address_user_rules)
{
	char name[80], dom[300], all[400];

	CHECK_EQ_INT(user("alice@example.org"), 0);
	CHECK_EQ_INT(user("a.b_c-9@x"), 0);
	CHECK_EQ_INT(user("alice@localhost"), 0);
	CHECK_EQ_INT(user("a@1.2.3.4"), 0);
	CHECK_EQ_INT(user(""), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("@example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("alice@"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("alice"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("Alice@example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("alice@Example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("al ice@example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("al+ice@example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@b@example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@example..org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@.example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@example.org."), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@-example.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@example-.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(user("a@ex_ample.org"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(address_user_check("a@b\0c", 5), SOTTO_ERR_MALFORMED);
	/* The name: 64 is the most. */
	memset(name, 'n', 64);
	strcpy(name + 64, "@x");
	CHECK_EQ_INT(user(name), 0);
	memset(name, 'n', 65);
	strcpy(name + 65, "@x");
	CHECK_EQ_INT(user(name), SOTTO_ERR_MALFORMED);
	/* Labels: 63 is the most. */
	strcpy(dom, "a@");
	memset(dom + 2, 'l', 63);
	strcpy(dom + 65, ".org");
	CHECK_EQ_INT(user(dom), 0);
	memset(dom + 2, 'l', 64);
	strcpy(dom + 66, ".org");
	CHECK_EQ_INT(user(dom), SOTTO_ERR_MALFORMED);
	/* Domain: 253 is the most (labels of 49 + dots). */
	{
		size_t i, n = 0;

		/* 5 labels of 49 and 4 dots: 249 bytes. */
		for (i = 0; i < 5; i++) {
			if (i > 0)
				dom[n++] = '.';
			memset(dom + n, 'd', 49);
			n += 49;
		}
		dom[n] = '\0';
	}
	CHECK_EQ_INT(address_domain_check(dom, 249), 0);
	memcpy(all, dom, 249);
	memcpy(all + 249, "dddd", 4);
	CHECK_EQ_INT(address_domain_check(all, 253), 0);
	all[253] = 'd';
	CHECK_EQ_INT(address_domain_check(all, 254), SOTTO_ERR_MALFORMED);
	/* Whole address over 320: name 64 + '@' + 253 = 318 fits; nothing longer can pass. */
	memset(all, 'n', 64);
	all[64] = '@';
	memcpy(all + 65, dom, 249);
	memcpy(all + 65 + 249, "dddd", 4);
	CHECK_EQ_INT(address_user_check(all, 318), 0);
}

TEST(address_server_roundtrip)
{
	struct address_server a, b;
	char s[ADDRESS_SERVER_MAX], key[64];

	memset(&a, 0, sizeof(a));
	randombytes_buf(a.key, 32);
	strcpy(a.host, "chat.example.org");
	a.port = 7770;
	REQUIRE(address_server_format(&a, s, sizeof(s)) == 0);
	CHECK(strncmp(s, "sotto://", 8) == 0);
	CHECK(strchr(s, '=') == NULL);
	CHECK(strchr(s, '+') == NULL && strchr(s, '/') == s + 6);
	CHECK_EQ_INT(address_server_parse(s, &b), 0);
	CHECK_MEM(a.key, b.key, 32);
	CHECK(strcmp(b.host, "chat.example.org") == 0);
	CHECK_EQ_INT(b.port, 7770);

	strcpy(a.host, "::1");
	a.port = 1;
	REQUIRE(address_server_format(&a, s, sizeof(s)) == 0);
	CHECK(strstr(s, "@[::1]:1") != NULL);
	CHECK_EQ_INT(address_server_parse(s, &b), 0);
	CHECK(strcmp(b.host, "::1") == 0);
	CHECK_EQ_INT(b.port, 1);

	strcpy(a.host, "127.0.0.1");
	a.port = 65535;
	REQUIRE(address_server_format(&a, s, sizeof(s)) == 0);
	CHECK_EQ_INT(address_server_parse(s, &b), 0);
	CHECK_EQ_INT(b.port, 65535);
	CHECK_EQ_INT(address_server_format(&a, s, 20), SOTTO_ERR_TOO_LARGE);

	/* Key spelled in 43 characters of the URL-safe alphabet. */
	sodium_bin2base64(key, sizeof(key), a.key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	CHECK_EQ_INT(strlen(key), 43);
}

/* Parses pre || key || post, where pre and post are split around "%s" in pattern. */
static int
server(const char *pattern, const char *key)
{
	struct address_server a;
	const char *mark = strstr(pattern, "%s");
	char s[600];
	size_t n;

	if (mark == NULL)
		return -999;
	n = (size_t)(mark - pattern);
	memcpy(s, pattern, n);
	s[n] = '\0';
	strcat(s, key);
	strcat(s, mark + 2);
	return address_server_parse(s, &a);
}

TEST(address_server_rejects)
{
	uint8_t k[32];
	char key[64], bad[64];

	randombytes_buf(k, 32);
	k[31] = 0xff;   /* last character then carries non-zero bits unless canonical */
	sodium_bin2base64(key, sizeof(key), k, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	CHECK_EQ_INT(server("sotto://%s@h:1", key), 0);
	CHECK_EQ_INT(server("sotto://%s@h:0", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h:65536", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h:07770", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h:", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h:80x", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@H:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[::1:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[zz]:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[0abc]:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[::A]:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[fe80::1]:80", key), 0);
	CHECK_EQ_INT(server("sotto://%s@[]:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[fe80::1]80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@[fe80::1]", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h:1:2", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s@h@g:1", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("SOTTO://%s@h:1", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto:/%s@h:1", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("http://%s@h:80", key), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(server("sotto://%s", key), SOTTO_ERR_MALFORMED);
	/* Padding, the standard alphabet, wrong lengths. */
	CHECK_EQ_INT(server("sotto://%s=@h:80", key), SOTTO_ERR_MALFORMED);
	strcpy(bad, key);
	bad[0] = '+';
	CHECK_EQ_INT(server("sotto://%s@h:80", bad), SOTTO_ERR_MALFORMED);
	bad[42] = '\0';
	strcpy(bad, key);
	bad[42] = '\0';
	CHECK_EQ_INT(server("sotto://%s@h:80", bad), SOTTO_ERR_MALFORMED);
	/* A non-canonical last character (low bits set) names the same bytes: refused. */
	strcpy(bad, key);
	bad[42] = bad[42] == 'w' ? 'x' : (char)(bad[42] + 1);
	CHECK_EQ_INT(server("sotto://%s@h:80", bad), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(address_server_parse(NULL, &(struct address_server){ 0 }),
	    SOTTO_ERR_INVALID_ARG);
}

/* What a user types: both parts are case-insensitive and come out in the one spelling
 * the wire and the stores use; anything else is BAD_ADDRESS, with out left empty. */
TEST(address_user_normalize_folds_case)
{
	char out[ADDRESS_MAX + 1], in[ADDRESS_MAX + 2];

	CHECK_EQ_INT(address_user_normalize("Dave@LocalHost", out), 0);
	CHECK(strcmp(out, "dave@localhost") == 0);
	CHECK_EQ_INT(address_user_normalize("ALICE.B_C-9@Mail.EXAMPLE.org", out), 0);
	CHECK(strcmp(out, "alice.b_c-9@mail.example.org") == 0);
	CHECK_EQ_INT(address_user_normalize("bob@example.org", out), 0);
	CHECK(strcmp(out, "bob@example.org") == 0);
	CHECK_EQ_INT(user(out), 0);
	CHECK_EQ_INT(address_user_normalize("Not An Address", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK(strcmp(out, "") == 0);
	CHECK_EQ_INT(address_user_normalize("a@@b", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK_EQ_INT(address_user_normalize("a+b@x", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK_EQ_INT(address_user_normalize("a@x.", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK_EQ_INT(address_user_normalize("", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK_EQ_INT(address_user_normalize(NULL, out), SOTTO_ERR_BAD_ADDRESS);
	/* Only ASCII letters fold: no Unicode case mapping sneaks another name in. */
	CHECK_EQ_INT(address_user_normalize("\xc3\x89ve@x", out), SOTTO_ERR_BAD_ADDRESS);
	CHECK_EQ_INT(address_user_normalize("K\xe2\x84\xaa@x", out), SOTTO_ERR_BAD_ADDRESS);
	/* Length: 320 is the most, checked before anything is copied. */
	memset(in, 'A', 64);
	in[64] = '@';
	memset(in + 65, 'b', ADDRESS_MAX + 1 - 65);
	in[ADDRESS_MAX + 1] = '\0';
	CHECK_EQ_INT(address_user_normalize(in, out), SOTTO_ERR_BAD_ADDRESS);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(address_user_rules);
	RUN(address_user_normalize_folds_case);
	RUN(address_server_roundtrip);
	RUN(address_server_rejects);
	return check_summary();
}
