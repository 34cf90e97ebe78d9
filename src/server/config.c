#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cursor.h"
#include "server/log.h"
#include "server/store.h"

/* K_RETIRED: a setting of an older sottod, still accepted (a number in range) so that its
 * configuration files keep working, and without effect. */
enum kind {
	K_U32, K_PORT, K_HOST, K_LISTEN, K_ADVERTISE, K_REG, K_DUR, K_LOG, K_USER, K_STORE,
	K_METRICS, K_DIR, K_RETIRED
};

struct setting {
	const char *key;
	enum kind kind;
	size_t off;
	uint32_t min, max;
};

#define U32(name, lo, hi) { #name, K_U32, offsetof(struct config, name), lo, hi }

static const struct setting settings[] = {
	{ "listen", K_LISTEN, 0, 0, 0 },
	{ "advertise", K_ADVERTISE, 0, 0, 0 },
	{ "listen_host", K_HOST, offsetof(struct config, listen_host), 0, 0 },
	{ "listen_port", K_PORT, offsetof(struct config, listen_port), 0, 65535 },
	{ "domain", K_HOST, offsetof(struct config, domain), 0, 0 },
	{ "registration", K_REG, offsetof(struct config, registration), 0, 0 },
	{ "durability", K_DUR, offsetof(struct config, durability), 0, 0 },
	{ "log_level", K_LOG, offsetof(struct config, log_level), 0, 0 },
	{ "user", K_USER, offsetof(struct config, user), 0, 0 },
	{ "store", K_STORE, offsetof(struct config, store), 0, 0 },
	{ "metrics_listen", K_METRICS, 0, 0, 0 },
	{ "blob_dir", K_DIR, offsetof(struct config, blob_dir), 0, 0 },
	U32(max_payload, 1024, 16u * 1024 * 1024),
	U32(max_payload_preauth, 256, 64u * 1024),
	U32(max_envelope, 64, 16u * 1024 * 1024),
	U32(mailbox_max, 1, 100000000),
	U32(mailbox_max_mib, 1, 1024u * 1024),
	/* The sender's quota of waiting envelopes needed every envelope to name its sender
	 * (schema 3 to 5): gone with that link (issue 15, docs/SERVER.md "Quotas"). */
	{ "account_max", K_RETIRED, 0, 1, 100000000 },
	{ "account_max_mib", K_RETIRED, 0, 1, 1024u * 1024 },
	U32(conn_rate, 1, 1000000),
	U32(conn_burst, 1, 1000000),
	U32(conn_rate_preauth, 1, 1000000),
	U32(account_rate, 1, 1000000),
	U32(account_burst, 1, 1000000),
	U32(sealed_rate, 1, 1000000),
	U32(sealed_burst, 1, 1000000),
	U32(max_conns, 1, 10000000),
	U32(max_conns_per_addr, 1, 10000000),
	U32(accept_rate, 0, 10000000),
	U32(accept_burst, 1, 10000000),
	U32(handshake_timeout_ms, 10, 600000),
	U32(idle_timeout_ms, 100, 86400000),
	U32(prekey_low, 0, 100000),
	U32(prekey_max, 1, 100000),
	U32(cert_ttl, 1, 366u * 86400),
	U32(push_window, 1, 100000),
	U32(write_queue_max, 65536, 1024u * 1024 * 1024),
	U32(drain_timeout_ms, 0, 600000),
	U32(db_max_pages, 0, UINT32_MAX),
	U32(db_cache_mib, 1, 4096),
	U32(ticket_lifetime, 0, 366u * 86400),
	U32(commit_gap_us, 0, 100000),
	U32(received_wait_ms, 0, 1000),
	U32(sent_retention, 1, 3650u * 86400),
	U32(key_package_max, 1, 10000),
	U32(key_package_low, 0, 10000),
	U32(group_max, 1, 1000000),
	U32(group_members_max, 2, 1000000),
	U32(group_message_max, 64, 16u * 1024 * 1024),
	U32(group_log_max, 1, 100000000),
	U32(blob_max_mib, 1, 1024u * 1024),
	U32(blob_quota_mib, 1, 1024u * 1024 * 1024),
	U32(blob_quota_count, 1, 100000000),
	U32(blob_expiry, 1, 3650u * 86400),
	U32(blob_partial_timeout, 1, 3650u * 86400),
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 7770;
	strcpy(cfg->domain, "localhost");
	cfg->registration = CONFIG_REG_INVITE;
	cfg->durability = CONFIG_DUR_FULL;
	cfg->log_level = LOG_INFO;
	cfg->max_payload = 256 * 1024;
	cfg->max_payload_preauth = 4096;
	cfg->max_envelope = 64 * 1024;
	cfg->mailbox_max = 10000;
	cfg->mailbox_max_mib = 256;
	cfg->conn_rate = 2000;
	cfg->conn_burst = 4000;
	cfg->conn_rate_preauth = 5;
	cfg->account_rate = 4000;
	cfg->account_burst = 8000;
	cfg->sealed_rate = 20;
	cfg->sealed_burst = 200;
	cfg->max_conns = 20000;
	cfg->max_conns_per_addr = 2000;
	cfg->accept_rate = 100;
	cfg->accept_burst = 1000;
	cfg->handshake_timeout_ms = 10000;
	cfg->idle_timeout_ms = 3600000;
	cfg->prekey_low = 10;
	cfg->prekey_max = 1000;
	cfg->cert_ttl = 7 * 86400;
	cfg->push_window = 64;
	cfg->write_queue_max = 4 * 1024 * 1024;
	cfg->drain_timeout_ms = 5000;
	cfg->db_max_pages = CONFIG_DB_MAX_PAGES_DEFAULT;
	cfg->db_cache_mib = STORE_CACHE_KIB_DEFAULT / 1024;
	cfg->ticket_lifetime = 7 * 86400;
	cfg->commit_gap_us = 250;
	cfg->received_wait_ms = 10;
	cfg->sent_retention = 30 * 86400;
	cfg->key_package_max = 100;
	cfg->key_package_low = 10;
	cfg->group_max = 1000;
	cfg->group_members_max = 2000;
	cfg->group_message_max = 64 * 1024;
	cfg->group_log_max = 10000;
	cfg->blob_max_mib = 2048;
	cfg->blob_quota_mib = 10 * 1024;
	cfg->blob_quota_count = 10000;
	cfg->blob_expiry = 30 * 86400;
	cfg->blob_partial_timeout = 86400;
}

static int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return SOTTO_ERR_INVALID_ARG;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return SOTTO_ERR_INVALID_ARG;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT32_MAX)
			return SOTTO_ERR_INVALID_ARG;
	}
	if (v < min || v > max)
		return SOTTO_ERR_INVALID_ARG;
	*out = (uint32_t)v;
	return 0;
}

int
config_parse_duration(const char *s, uint32_t *seconds)
{
	static const struct { char unit; uint32_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	char num[16];
	size_t n = strlen(s);
	uint32_t v;

	if (n < 2 || n - 1 >= sizeof(num))
		return SOTTO_ERR_INVALID_ARG;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	if (parse_u32(num, 1, CONFIG_DURATION_MAX, &v) != 0)
		return SOTTO_ERR_INVALID_ARG;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s[n - 1] == units[i].unit) {
			if (v > CONFIG_DURATION_MAX / units[i].secs)
				return SOTTO_ERR_INVALID_ARG;
			*seconds = v * units[i].secs;
			return 0;
		}
	return SOTTO_ERR_INVALID_ARG;
}

/* A host name or an IPv4 literal: lowercase letters, digits, '-', '.'; no empty labels. */
/* A system user name as useradd accepts it: [a-z_][a-z0-9_-]*, at most 32 bytes. */
static int
valid_user(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n > CONFIG_USER_MAX || !((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
		    v[i] == '_' || v[i] == '-'))
			return 0;
	return 1;
}

static int
valid_host(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > CONFIG_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* HOST:PORT, or [IPV6]:PORT (host is then the address without its brackets). */
static int
parse_host_port(const char *value, char host[CONFIG_HOST_MAX + 1], uint16_t *port_out)
{
	const char *colon = strrchr(value, ':'), *b = value;
	struct in6_addr a6;
	uint32_t port;
	size_t hl;
	int v6 = value[0] == '[';

	if (colon == NULL)
		return SOTTO_ERR_INVALID_ARG;
	hl = (size_t)(colon - value);
	if (v6) {
		if (hl < 3 || colon[-1] != ']')
			return SOTTO_ERR_INVALID_ARG;
		b = value + 1;
		hl -= 2;
	}
	if (hl == 0 || hl > CONFIG_HOST_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(host, b, hl);
	host[hl] = '\0';
	if (v6 ? inet_pton(AF_INET6, host, &a6) != 1 : !valid_host(host))
		return SOTTO_ERR_INVALID_ARG;
	if (parse_u32(colon + 1, 0, 65535, &port) != 0)
		return SOTTO_ERR_INVALID_ARG;
	*port_out = (uint16_t)port;
	return 0;
}

/* 1 if host is a loopback address literal (127.0.0.0/8, ::1) or "localhost". */
static int
is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* metrics_listen: "off", or a loopback HOST:PORT (the metrics are for this machine). */
static int
set_metrics(struct config *cfg, const char *value)
{
	char host[CONFIG_HOST_MAX + 1];
	uint16_t port;

	if (strcmp(value, "off") == 0) {
		cfg->metrics_host[0] = '\0';
		cfg->metrics_port = 0;
		return 0;
	}
	if (parse_host_port(value, host, &port) != 0 || !is_loopback(host))
		return SOTTO_ERR_INVALID_ARG;
	strcpy(cfg->metrics_host, host);
	cfg->metrics_port = port;
	return 0;
}

static int
set_listen(struct config *cfg, const char *value, int advertise)
{
	char host[CONFIG_HOST_MAX + 1];
	uint16_t port;

	if (parse_host_port(value, host, &port) != 0 || (advertise && port == 0))
		return SOTTO_ERR_INVALID_ARG;
	strcpy(advertise ? cfg->advertise_host : cfg->listen_host, host);
	if (advertise)
		cfg->advertise_port = port;
	else
		cfg->listen_port = port;
	return 0;
}

void
config_public(const struct config *cfg, uint16_t bound_port, char host[CONFIG_HOST_MAX + 1],
    uint16_t *port)
{
	if (cfg->advertise_host[0] != '\0') {
		strcpy(host, cfg->advertise_host);
		*port = cfg->advertise_port;
		return;
	}
	strcpy(host, strcmp(cfg->listen_host, "0.0.0.0") == 0 || strcmp(cfg->listen_host, "::") == 0 ?
	    cfg->domain : cfg->listen_host);
	*port = cfg->listen_port != 0 ? cfg->listen_port : bound_port;
}

int
config_set(struct config *cfg, const char *key, const char *value)
{
	const struct setting *s = NULL;
	uint8_t *field;
	uint32_t v;
	int lv;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].key, key) == 0)
			s = &settings[i];
	if (s == NULL)
		return SOTTO_ERR_NOT_FOUND;
	field = (uint8_t *)cfg + s->off;
	switch (s->kind) {
	case K_U32:
		if (parse_u32(value, s->min, s->max, &v) != 0)
			return SOTTO_ERR_INVALID_ARG;
		memcpy(field, &v, sizeof(v));
		return 0;
	case K_RETIRED:
		return parse_u32(value, s->min, s->max, &v) != 0 ? SOTTO_ERR_INVALID_ARG : 0;
	case K_PORT:
		if (parse_u32(value, 0, 65535, &v) != 0)
			return SOTTO_ERR_INVALID_ARG;
		cfg->listen_port = (uint16_t)v;
		return 0;
	case K_HOST:
		if (!valid_host(value))
			return SOTTO_ERR_INVALID_ARG;
		strcpy((char *)field, value);
		return 0;
	case K_USER:
		if (!valid_user(value))
			return SOTTO_ERR_INVALID_ARG;
		strcpy((char *)field, value);
		return 0;
	case K_STORE:
		/* A PostgreSQL URI; "sqlite" goes back to the default file. */
		if (strcmp(value, "sqlite") == 0) {
			((char *)field)[0] = '\0';
			return 0;
		}
		if (!store_is_pg(value) || strlen(value) > CONFIG_STORE_MAX)
			return SOTTO_ERR_INVALID_ARG;
		strcpy((char *)field, value);
		return 0;
	case K_DIR:
		/* Absolute, so that it names one place whatever the working directory. */
		if (value[0] != '/' || strlen(value) > CONFIG_BLOB_DIR_MAX)
			return SOTTO_ERR_INVALID_ARG;
		strcpy((char *)field, value);
		return 0;
	case K_LISTEN:
		return set_listen(cfg, value, 0);
	case K_ADVERTISE:
		return set_listen(cfg, value, 1);
	case K_METRICS:
		return set_metrics(cfg, value);
	case K_REG:
		if (strcmp(value, "open") == 0)
			cfg->registration = CONFIG_REG_OPEN;
		else if (strcmp(value, "invite") == 0)
			cfg->registration = CONFIG_REG_INVITE;
		else
			return SOTTO_ERR_INVALID_ARG;
		return 0;
	case K_DUR:
		if (strcmp(value, "full") == 0)
			cfg->durability = CONFIG_DUR_FULL;
		else if (strcmp(value, "normal") == 0)
			cfg->durability = CONFIG_DUR_NORMAL;
		else
			return SOTTO_ERR_INVALID_ARG;
		return 0;
	case K_LOG:
		if ((lv = log_level_parse(value)) < 0)
			return SOTTO_ERR_INVALID_ARG;
		cfg->log_level = lv;
		return 0;
	}
	return SOTTO_ERR_INTERNAL;
}

static int
is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trims [*b, *e) of blanks in place. */
static void
trim(const uint8_t **b, const uint8_t **e)
{
	while (*b < *e && is_space(**b))
		(*b)++;
	while (*e > *b && is_space((*e)[-1]))
		(*e)--;
}

static int
parse_line(struct config *cfg, const uint8_t *line, size_t len, const char **why)
{
	char key[64], value[CONFIG_LINE_MAX + 1];
	const uint8_t *b = line, *e = line + len, *eq = NULL, *kb, *ke, *vb, *ve;
	int r;

	for (size_t i = 0; i < len; i++) {
		if (line[i] == '#') {
			e = line + i;
			break;
		}
		if (line[i] == 0 || (line[i] < 0x20 && line[i] != '\t' && line[i] != '\r') ||
		    line[i] >= 0x7f) {
			*why = "control or non-ASCII byte";
			return SOTTO_ERR_MALFORMED;
		}
	}
	trim(&b, &e);
	if (b == e)
		return 0;
	for (const uint8_t *p = b; p < e; p++)
		if (*p == '=') {
			eq = p;
			break;
		}
	if (eq == NULL) {
		*why = "expected key = value";
		return SOTTO_ERR_MALFORMED;
	}
	kb = b, ke = eq, vb = eq + 1, ve = e;
	trim(&kb, &ke);
	trim(&vb, &ve);
	if (kb == ke || (size_t)(ke - kb) >= sizeof(key)) {
		*why = "bad key";
		return SOTTO_ERR_MALFORMED;
	}
	if (vb == ve) {
		*why = "empty value";
		return SOTTO_ERR_MALFORMED;
	}
	memcpy(key, kb, (size_t)(ke - kb));
	key[ke - kb] = '\0';
	memcpy(value, vb, (size_t)(ve - vb));
	value[ve - vb] = '\0';
	r = config_set(cfg, key, value);
	if (r == SOTTO_ERR_NOT_FOUND)
		*why = "unknown key";
	else if (r != 0)
		*why = "bad value";
	return r;
}

int
config_parse(struct config *cfg, const uint8_t *text, size_t len, char *why, size_t why_len)
{
	struct cur c;
	size_t lineno = 0;

	if (len > CONFIG_FILE_MAX) {
		if (why)
			snprintf(why, why_len, "file larger than %d bytes", CONFIG_FILE_MAX);
		return SOTTO_ERR_TOO_LARGE;
	}
	cur_init(&c, text, len);
	while (cur_left(&c) > 0) {
		size_t n = 0, left = cur_left(&c);
		const uint8_t *line;
		const char *reason = NULL;
		int r;

		lineno++;
		/* Find the line's end by peeking through the cursor's remaining bytes. */
		{
			struct cur peek = c;
			while (n < left && cur_u8(&peek) != '\n')
				n++;
		}
		line = cur_ref(&c, n);
		if (n < left)
			(void)cur_u8(&c); /* the newline */
		if (n > CONFIG_LINE_MAX) {
			if (why)
				snprintf(why, why_len, "line %zu: longer than %d bytes", lineno,
				    CONFIG_LINE_MAX);
			return SOTTO_ERR_TOO_LARGE;
		}
		if ((r = parse_line(cfg, line, n, &reason)) != 0) {
			if (why)
				snprintf(why, why_len, "line %zu: %s", lineno,
				    reason ? reason : "invalid");
			return r;
		}
	}
	return cur_status(&c);
}

int
config_load_file(struct config *cfg, const char *path, char *why, size_t why_len)
{
	uint8_t *text = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r = SOTTO_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		if (why)
			snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return SOTTO_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (why)
			snprintf(why, why_len, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		if (why)
			snprintf(why, why_len, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		r = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, text + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	r = config_parse(cfg, text, got, why, why_len);
out:
	free(text);
	close(fd);
	return r;
}

int
config_override_add(struct config_overrides *o, const char *key, const char *value)
{
	struct config probe;

	if (o->n >= CONFIG_OVERRIDES_MAX)
		return SOTTO_ERR_LIMIT;
	config_defaults(&probe);
	if (config_set(&probe, key, value) != 0)
		return SOTTO_ERR_INVALID_ARG;
	o->key[o->n] = key;
	o->value[o->n] = value;
	o->n++;
	return 0;
}

int
config_build(struct config *cfg, const char *path, const struct config_overrides *o,
    char *why, size_t why_len)
{
	struct config next;
	int r;

	config_defaults(&next);
	if (path != NULL && (r = config_load_file(&next, path, why, why_len)) != 0)
		return r;
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if ((r = config_set(&next, o->key[i], o->value[i])) != 0) {
			if (why)
				snprintf(why, why_len, "flag %s: bad value", o->key[i]);
			return r;
		}
	/* The push pump keeps one largest envelope above its low-water mark (a quarter of
	 * the queue at most) and responses need room behind it: with less the owner of a
	 * mailbox of such envelopes would be dropped as a slow reader, or never served. */
	if ((uint64_t)next.write_queue_max < 2 * (uint64_t)next.max_envelope + CONFIG_QUEUE_SLACK) {
		if (why)
			snprintf(why, why_len, "write_queue_max must be at least twice max_envelope "
			    "plus %u", CONFIG_QUEUE_SLACK);
		return SOTTO_ERR_INVALID_ARG;
	}
	*cfg = next;
	return 0;
}
