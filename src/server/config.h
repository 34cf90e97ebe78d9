/*
 * sottod's settings: every limit and knob, with defaults, read from DIR/sottod.conf
 * ("key = value" lines, '#' comments) and overridden by command-line flags. The server
 * rebuilds its config on SIGHUP as defaults <- file <- flags, so flags always win.
 */
#ifndef SOTTO_SERVER_CONFIG_H
#define SOTTO_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define CONFIG_FILE_MAX    (64 * 1024)   /* a config file larger than this is refused */
#define CONFIG_LINE_MAX    1024
#define CONFIG_HOST_MAX    253
#define CONFIG_OVERRIDES_MAX 16
#define CONFIG_QUEUE_SLACK 8192           /* write_queue_max >= 2 * max_envelope + this */
#define CONFIG_DB_MAX_PAGES_DEFAULT (2u * 1024 * 1024) /* 8 GiB of SQLite's 4 KiB pages */

enum config_registration { CONFIG_REG_INVITE = 0, CONFIG_REG_OPEN = 1 };
enum config_durability { CONFIG_DUR_FULL = 0, CONFIG_DUR_NORMAL = 1 };

#define CONFIG_USER_MAX 32
#define CONFIG_STORE_MAX 1023          /* a PostgreSQL connection URI */
#define CONFIG_BLOB_DIR_MAX 1023       /* an absolute path */

struct config {
	char listen_host[CONFIG_HOST_MAX + 1];
	uint16_t listen_port;
	char advertise_host[CONFIG_HOST_MAX + 1];  /* "" : derived from listen (config_public) */
	uint16_t advertise_port;
	char domain[CONFIG_HOST_MAX + 1];
	int registration;               /* enum config_registration */
	int durability;                 /* enum config_durability */
	int log_level;                  /* enum log_level */
	char user[CONFIG_USER_MAX + 1]; /* started as root: run as this user ("" = refuse root) */
	/* "": the SQLite database DIR/sottod.db; else a postgresql:// URI (store_is_pg) */
	char store[CONFIG_STORE_MAX + 1];
	/* Prometheus metrics over HTTP on this loopback address; "" (the default): off */
	char metrics_host[CONFIG_HOST_MAX + 1];
	uint16_t metrics_port;

	uint32_t max_payload;           /* largest reassembled request after authentication */
	uint32_t max_payload_preauth;   /* largest request before REGISTER / authentication */
	uint32_t max_envelope;          /* largest sealed envelope accepted by SEND */
	uint32_t mailbox_max;           /* pending envelopes per mailbox */
	uint32_t mailbox_max_mib;       /* their bytes per mailbox, MiB */
	uint32_t conn_rate;             /* requests per second per connection */
	uint32_t conn_burst;
	uint32_t conn_rate_preauth;     /* requests per second before authentication */
	uint32_t account_rate;          /* requests per second per account, all connections */
	uint32_t account_burst;
	uint32_t sealed_rate;           /* SEND_SEALED per second per recipient mailbox, and
	                                 * GROUP_SEND_SEALED per group token */
	uint32_t sealed_burst;
	uint32_t max_conns;
	uint32_t max_conns_per_addr;    /* open connections per address (IPv6: per /64) */
	uint32_t accept_rate;           /* new connections per second per address; 0: no limit */
	uint32_t accept_burst;
	uint32_t handshake_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t prekey_low;            /* notify the owner when fewer one-time prekeys remain */
	uint32_t prekey_max;            /* one-time prekeys stored per account */
	uint32_t cert_ttl;              /* sender certificate lifetime, seconds */
	uint32_t push_window;           /* envelopes pushed and not yet RECEIVED per session */
	uint32_t write_queue_max;       /* bytes queued for one slow reader before it is dropped */
	uint32_t drain_timeout_ms;      /* SIGTERM: time left to clients before closing */
	uint32_t db_max_pages;          /* the database's size cap in pages; 0: unlimited */
	uint32_t db_cache_mib;          /* SQLite page cache per database handle */
	uint32_t ticket_lifetime;       /* resumption tickets, seconds; 0: no resumption */
	uint32_t commit_gap_us;         /* least time between the starts of two group commits */
	uint32_t received_wait_ms;      /* a SEND pushed early waits this long for RECEIVED */
	uint32_t sent_retention;        /* seconds a SEND's idempotency record is kept */
	uint32_t key_package_max;       /* one-time MLS KeyPackages stored per account */
	uint32_t key_package_low;       /* notify the owner when fewer one-time ones remain */
	uint32_t group_max;             /* groups an account may be a member of */
	uint32_t group_members_max;     /* members of one group */
	uint32_t group_message_max;     /* largest application message of GROUP_SEND */
	uint32_t group_log_max;         /* entries of a group log kept unread (then the oldest go) */
	uint32_t blob_max_mib;          /* largest blob (as padded), MiB */
	uint32_t blob_quota_mib;        /* bytes of the blobs an account stored, MiB */
	uint32_t blob_quota_count;      /* blobs an account stored */
	uint32_t blob_expiry;           /* seconds a blob is kept at most */
	uint32_t blob_partial_timeout;  /* seconds an upload left unfinished is kept */
	/* "": DIR/blobs; else an absolute path, the same on every node of one database
	 * (docs/SERVER.md "Several nodes"); read at start only */
	char blob_dir[CONFIG_BLOB_DIR_MAX + 1];
};

#define CONFIG_DURATION_MAX (3650u * 86400) /* the longest duration config_parse_duration takes */

/*
 * A duration as an admin types it: a positive number and a unit, s, m, h, d or w
 * ("30m", "12h", "7d"), at most CONFIG_DURATION_MAX. SOTTO_ERR_INVALID_ARG otherwise.
 */
int config_parse_duration(const char *s, uint32_t *seconds) SOTTO_MUST_CHECK;

/* Fills every field with its default. */
void config_defaults(struct config *cfg);

/*
 * Applies one setting. Returns 0, SOTTO_ERR_NOT_FOUND for an unknown key or
 * SOTTO_ERR_INVALID_ARG for a value out of range; cfg is unchanged on error.
 */
int config_set(struct config *cfg, const char *key, const char *value) SOTTO_MUST_CHECK;

/*
 * Parses a whole file's text over cfg. On error returns it and writes "line N: why" into
 * why (if not NULL); cfg may then hold the settings before the failing line.
 */
int config_parse(struct config *cfg, const uint8_t *text, size_t len,
    char *why, size_t why_len) SOTTO_MUST_CHECK;

/* Reads and parses path; a missing file is not an error (returns 0, cfg untouched). */
int config_load_file(struct config *cfg, const char *path,
    char *why, size_t why_len) SOTTO_MUST_CHECK;

/*
 * The host and port clients are told to use (the server address): `advertise` if set, else
 * the listen address, with the domain in place of a wildcard listen host (0.0.0.0, ::).
 * bound_port replaces a listen port of 0 (the port the kernel chose).
 */
void config_public(const struct config *cfg, uint16_t bound_port, char host[CONFIG_HOST_MAX + 1],
    uint16_t *port);

/* Command-line settings that win over the file, replayed after each (re)load. */
struct config_overrides {
	size_t n;
	const char *key[CONFIG_OVERRIDES_MAX];
	const char *value[CONFIG_OVERRIDES_MAX];
};

int config_override_add(struct config_overrides *o, const char *key, const char *value)
    SOTTO_MUST_CHECK;

/* defaults, then the file at path (if any), then the overrides. */
int config_build(struct config *cfg, const char *path, const struct config_overrides *o,
    char *why, size_t why_len) SOTTO_MUST_CHECK;

#endif
