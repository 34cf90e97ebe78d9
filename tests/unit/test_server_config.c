#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/config.h"
#include "server/log.h"

static int
parse(struct config *cfg, const char *text, char *why, size_t n)
{
	return config_parse(cfg, (const uint8_t *)text, strlen(text), why, n);
}

TEST(config_defaults_are_sane)
{
	struct config c;

	config_defaults(&c);
	CHECK(strcmp(c.listen_host, "127.0.0.1") == 0);
	CHECK_EQ_INT(c.listen_port, 7770);
	CHECK(strcmp(c.domain, "localhost") == 0);
	CHECK_EQ_INT(c.registration, CONFIG_REG_INVITE);
	CHECK_EQ_INT(c.durability, CONFIG_DUR_FULL);
	CHECK(c.max_payload_preauth < c.max_payload);
	CHECK(c.conn_rate_preauth < c.conn_rate);
	CHECK(c.max_envelope >= 64 * 1024);
}

TEST(config_parses_keys_comments_and_blanks)
{
	struct config c;
	char why[128] = "";

	config_defaults(&c);
	CHECK_EQ_INT(parse(&c, "# a comment\n\n  listen = 0.0.0.0:9000  # trailing\n"
	    "domain=example.org\r\nregistration = open\ndurability = normal\n"
	    "mailbox_max = 7\nlog_level = debug\n\t\n", why, sizeof(why)), 0);
	CHECK(strcmp(c.listen_host, "0.0.0.0") == 0);
	CHECK_EQ_INT(c.listen_port, 9000);
	CHECK(strcmp(c.domain, "example.org") == 0);
	CHECK_EQ_INT(c.registration, CONFIG_REG_OPEN);
	CHECK_EQ_INT(c.durability, CONFIG_DUR_NORMAL);
	CHECK_EQ_INT(c.mailbox_max, 7);
	CHECK_EQ_INT(c.log_level, LOG_DEBUG);
}

TEST(config_rejects_bad_lines_with_line_number)
{
	struct config c;
	char why[128] = "";

	config_defaults(&c);
	CHECK_EQ_INT(parse(&c, "domain = a\nnope = 1\n", why, sizeof(why)), SOTTO_ERR_NOT_FOUND);
	CHECK(strstr(why, "line 2") != NULL);
	CHECK_EQ_INT(parse(&c, "mailbox_max = 0\n", why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "mailbox_max = 99999999999\n", why, sizeof(why)),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "mailbox_max = -1\n", why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "just words\n", why, sizeof(why)), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(parse(&c, "domain =\n", why, sizeof(why)), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(parse(&c, "domain = Bad_Host\n", why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "listen = host\n", why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "listen = h:70000\n", why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(parse(&c, "registration = maybe\n", why, sizeof(why)),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse(&c, (const uint8_t *)"domain = a\0b\n", 13, why, sizeof(why)),
	    SOTTO_ERR_MALFORMED);
	CHECK(strcmp(c.domain, "a") == 0);
}

TEST(config_rejects_long_lines_and_files)
{
	struct config c;
	char why[128];
	size_t big = CONFIG_FILE_MAX + 1;
	char *t = malloc(big);

	REQUIRE(t != NULL);
	memset(t, '#', big);
	config_defaults(&c);
	CHECK_EQ_INT(config_parse(&c, (uint8_t *)t, big, why, sizeof(why)), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(config_parse(&c, (uint8_t *)t, CONFIG_LINE_MAX + 1, why, sizeof(why)),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(config_parse(&c, (uint8_t *)t, CONFIG_LINE_MAX, why, sizeof(why)), 0);
	free(t);
}

TEST(config_flags_win_over_file)
{
	char path[] = "/tmp/sotto-config-XXXXXX";
	struct config_overrides o = { 0 };
	struct config c;
	char why[128] = "";
	int fd = mkstemp(path);
	FILE *f;

	REQUIRE(fd >= 0);
	f = fdopen(fd, "w");
	REQUIRE(f != NULL);
	fputs("domain = file.example\nregistration = open\nmailbox_max = 5\n", f);
	fclose(f);
	CHECK_EQ_INT(config_override_add(&o, "domain", "flag.example"), 0);
	CHECK_EQ_INT(config_override_add(&o, "registration", "bogus"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_build(&c, path, &o, why, sizeof(why)), 0);
	CHECK(strcmp(c.domain, "flag.example") == 0);
	CHECK_EQ_INT(c.registration, CONFIG_REG_OPEN);
	CHECK_EQ_INT(c.mailbox_max, 5);
	/* A broken file leaves the previous config untouched. */
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("mailbox_max = x\n", f);
	fclose(f);
	CHECK(config_build(&c, path, &o, why, sizeof(why)) != 0);
	CHECK_EQ_INT(c.mailbox_max, 5);
	unlink(path);
	CHECK_EQ_INT(config_build(&c, path, &o, why, sizeof(why)), 0);
	CHECK_EQ_INT(c.mailbox_max, 10000);
}

int
main(void)
{
	RUN(config_defaults_are_sane);
	RUN(config_parses_keys_comments_and_blanks);
	RUN(config_rejects_bad_lines_with_line_number);
	RUN(config_rejects_long_lines_and_files);
	RUN(config_flags_win_over_file);
	return check_summary();
}
