#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/config.h"
#include "server/store.h"
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
	CHECK_EQ_INT(c.db_cache_mib, 8);
	CHECK_EQ_INT(config_set(&c, "db_cache_mib", "0"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "db_cache_mib", "4"), 0);
	CHECK_EQ_INT(c.db_cache_mib, 4);
	CHECK_EQ_INT(c.commit_gap_us, 250);
	CHECK_EQ_INT(config_set(&c, "commit_gap_us", "0"), 0);
	CHECK_EQ_INT(c.commit_gap_us, 0);
	CHECK_EQ_INT(config_set(&c, "commit_gap_us", "100001"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(c.commit_gap_us, 0);
}

/* What one account or one address can take, as man/sottod.8 and docs/SERVER.md say. */
TEST(config_quota_and_rate_defaults)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(c.mailbox_max, 10000);
	CHECK_EQ_INT(c.mailbox_max_mib, 256);
	CHECK_EQ_INT(c.db_max_pages, 2097152);          /* 8 GiB of 4 KiB pages */
	CHECK_EQ_INT(c.max_conns_per_addr, 2000);
	CHECK_EQ_INT(c.accept_rate, 100);
	CHECK_EQ_INT(c.accept_burst, 1000);
	CHECK_EQ_INT(config_set(&c, "accept_rate", "0"), 0);
	CHECK_EQ_INT(config_set(&c, "accept_burst", "0"), SOTTO_ERR_INVALID_ARG);
	/* Retired settings: an old configuration still loads, a bad value is still refused. */
	CHECK_EQ_INT(config_set(&c, "account_max", "20000"), 0);
	CHECK_EQ_INT(config_set(&c, "account_max_mib", "0"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "mailbox_max_mib", "1048577"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "db_max_pages", "0"), 0);
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

/* A write queue that cannot hold the push pump's low-water mark plus one largest push
 * would drop (or never serve) the owner of a mailbox of such envelopes. */
TEST(config_write_queue_must_fit_largest_push)
{
	struct config_overrides o = { 0 };
	struct config c;
	char why[128] = "", wq[32];

	config_defaults(&c);
	CHECK(c.write_queue_max >= 2 * c.max_envelope + CONFIG_QUEUE_SLACK);
	snprintf(wq, sizeof(wq), "%u", 2 * 1024 * 1024 + CONFIG_QUEUE_SLACK - 1);
	CHECK_EQ_INT(config_override_add(&o, "max_envelope", "1048576"), 0);
	CHECK_EQ_INT(config_override_add(&o, "write_queue_max", wq), 0);
	CHECK_EQ_INT(config_build(&c, NULL, &o, why, sizeof(why)), SOTTO_ERR_INVALID_ARG);
	CHECK(strstr(why, "write_queue_max") != NULL);
	CHECK_EQ_INT(c.max_envelope, 64 * 1024);        /* untouched */
	snprintf(wq, sizeof(wq), "%u", 2 * 1024 * 1024 + CONFIG_QUEUE_SLACK);
	o.n = 1;
	CHECK_EQ_INT(config_override_add(&o, "write_queue_max", wq), 0);
	CHECK_EQ_INT(config_build(&c, NULL, &o, why, sizeof(why)), 0);
	CHECK_EQ_INT(c.max_envelope, 1024 * 1024);
}

TEST(config_public_address)
{
	struct config c;
	char host[CONFIG_HOST_MAX + 1];
	uint16_t port = 0;

	config_defaults(&c);
	config_public(&c, 0, host, &port);
	CHECK(strcmp(host, "127.0.0.1") == 0);
	CHECK_EQ_INT(port, 7770);
	/* A wildcard listen address is advertised under the domain. */
	CHECK_EQ_INT(config_set(&c, "listen", "0.0.0.0:0"), 0);
	CHECK_EQ_INT(config_set(&c, "domain", "chat.example.org"), 0);
	config_public(&c, 4242, host, &port);
	CHECK(strcmp(host, "chat.example.org") == 0);
	CHECK_EQ_INT(port, 4242);
	/* An explicit advertise wins (e.g. behind a port forward). */
	CHECK_EQ_INT(config_set(&c, "advertise", "sotto.example.org:443"), 0);
	CHECK_EQ_INT(config_set(&c, "advertise", "sotto.example.org:0"), SOTTO_ERR_INVALID_ARG);
	config_public(&c, 4242, host, &port);
	CHECK(strcmp(host, "sotto.example.org") == 0);
	CHECK_EQ_INT(port, 443);
}

/* store: SQLite by default, a PostgreSQL URI, back to SQLite; the sandbox's ports. */
TEST(config_store_and_its_ports)
{
	const char *text = "store = postgresql://sotto@db1:6432,db2/sotto?sslmode=require\n";
	struct config c;
	uint16_t ports[STORE_PG_PORTS_MAX];
	char why[128];
	size_t n = 99;

	config_defaults(&c);
	CHECK_EQ_INT(c.store[0], '\0');
	CHECK_EQ_INT(config_set(&c, "store", "/var/lib/other.db"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "store", "mysql://x"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse(&c, (const uint8_t *)text, strlen(text), why, sizeof(why)), 0);
	CHECK(strcmp(c.store, "postgresql://sotto@db1:6432,db2/sotto?sslmode=require") == 0);
	CHECK(store_is_pg(c.store));
	/* One port per host: 5432 where the URI names none. */
	CHECK_EQ_INT(store_pg_ports(c.store, ports, STORE_PG_PORTS_MAX, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ports[0], 6432);
	CHECK_EQ_INT(ports[1], 5432);
	CHECK_EQ_INT(store_pg_ports("postgresql:///sotto?host=/run/postgresql", ports,
	    STORE_PG_PORTS_MAX, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ports[0], 5432);
	CHECK_EQ_INT(store_pg_ports("postgresql://h:99999/x", ports, STORE_PG_PORTS_MAX, &n),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(store_pg_ports("postgresql://h:5432/x?badkey=1", ports, STORE_PG_PORTS_MAX,
	    &n), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "store", "sqlite"), 0);
	CHECK_EQ_INT(c.store[0], '\0');
}

TEST(config_durations)
{
	uint32_t v = 0;

	CHECK_EQ_INT(config_parse_duration("30m", &v), 0);
	CHECK_EQ_INT(v, 1800);
	CHECK_EQ_INT(config_parse_duration("12h", &v), 0);
	CHECK_EQ_INT(v, 43200);
	CHECK_EQ_INT(config_parse_duration("7d", &v), 0);
	CHECK_EQ_INT(v, 604800);
	CHECK_EQ_INT(config_parse_duration("2w", &v), 0);
	CHECK_EQ_INT(v, 1209600);
	CHECK_EQ_INT(config_parse_duration("45s", &v), 0);
	CHECK_EQ_INT(v, 45);
	CHECK_EQ_INT(config_parse_duration("3650d", &v), 0);
	CHECK_EQ_INT(v, CONFIG_DURATION_MAX);
	v = 9;
	CHECK_EQ_INT(config_parse_duration("3651d", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("0d", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("7", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("d", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("7y", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("-7d", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("99999999999w", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_parse_duration("", &v), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(v, 9);
}

TEST(config_metrics_loopback_and_ipv6)
{
	struct config c;

	config_defaults(&c);
	CHECK(c.metrics_host[0] == '\0');      /* off by default */
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "127.0.0.1:9100"), 0);
	CHECK(strcmp(c.metrics_host, "127.0.0.1") == 0 && c.metrics_port == 9100);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "[::1]:9101"), 0);
	CHECK(strcmp(c.metrics_host, "::1") == 0 && c.metrics_port == 9101);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "localhost:0"), 0);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "127.8.9.10:1"), 0);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "off"), 0);
	CHECK(c.metrics_host[0] == '\0');
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "0.0.0.0:9100"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "10.0.0.1:9100"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "[::]:9100"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "example.org:9100"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "metrics_listen", "127.0.0.1"), SOTTO_ERR_INVALID_ARG);
	/* IPv6 literals in brackets, for listen too. */
	CHECK_EQ_INT(config_set(&c, "listen", "[::1]:7771"), 0);
	CHECK(strcmp(c.listen_host, "::1") == 0 && c.listen_port == 7771);
	CHECK_EQ_INT(config_set(&c, "listen", "[::]:7772"), 0);
	CHECK(strcmp(c.listen_host, "::") == 0);
	CHECK_EQ_INT(config_set(&c, "listen", "[::1:7771"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "listen", "[]:7771"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "listen", "[not:an:addr]:7771"), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(config_set(&c, "listen", "::1:7771"), SOTTO_ERR_INVALID_ARG);
}

int
main(void)
{
	RUN(config_durations);
	RUN(config_metrics_loopback_and_ipv6);
	RUN(config_defaults_are_sane);
	RUN(config_quota_and_rate_defaults);
	RUN(config_parses_keys_comments_and_blanks);
	RUN(config_rejects_bad_lines_with_line_number);
	RUN(config_rejects_long_lines_and_files);
	RUN(config_flags_win_over_file);
	RUN(config_write_queue_must_fit_largest_push);
	RUN(config_public_address);
	RUN(config_store_and_its_ports);
	return check_summary();
}
