/*
 * sottod: the Sotto server.
 *   sottod run --data DIR [--listen HOST:PORT] [--domain NAME] [--registration open|invite]
 *   sottod address --data DIR
 *   sottod invite --data DIR [--expires DURATION] [--uses N]
 *   sottod invites list [--json] | revoke ID|TOKEN --data DIR
 *   sottod backup --data DIR DEST
 *   sottod status --data DIR [--json]
 *   sottod accounts list [--json] | reset NAME | delete NAME --data DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "server/admin.h"
#include "server/config.h"
#include "server/log.h"
#include "server/server.h"
#include "server/store.h"
#include "wire/address.h"
#include "base/confine.h"

static const char usage_text[] =
	"usage: sottod run --data DIR [--listen HOST:PORT] [--domain NAME]\n"
	"                  [--registration open|invite] [--durability full|normal]\n"
	"                  [--advertise HOST:PORT] [--store postgresql://...]\n"
	"                  [--metrics HOST:PORT]\n"
	"                  [--log-level error|warn|info|debug] [--set KEY=VALUE]...\n"
	"       sottod address --data DIR [--listen HOST:PORT] [--advertise HOST:PORT]\n"
	"                                     print the sotto:// address clients use (the\n"
	"                                     running server's, else the configured one)\n"
	"       sottod status --data DIR [--json]\n"
	"                                     exit 0 running and healthy, 1 not running,\n"
	"                                     2 degraded (says why)\n"
	"       sottod backup --data DIR DEST\n"
	"                                     a consistent copy of DIR (database, keys,\n"
	"                                     settings) into the new directory DEST, also\n"
	"                                     while the server runs; restore: run on DEST\n"
	"       sottod invite --data DIR [--expires DURATION|never] [--uses N]\n"
	"                                     print a new invite token (default: one\n"
	"                                     registration within 7 days)\n"
	"       sottod invites list --data DIR [--json]\n"
	"       sottod invites revoke ID|TOKEN --data DIR\n"
	"       sottod accounts list --data DIR [--json]\n"
	"       sottod accounts reset NAME --data DIR [--expires DURATION|never]\n"
	"                                     delete NAME's keys and mailbox and print an\n"
	"                                     invite that only NAME's new device can use\n"
	"       sottod accounts delete NAME --data DIR\n"
	"                                     delete the account; the name is free again\n"
	"       sottod --help\n"
	"\n"
	"DIR/sottod.conf may hold the same settings as KEY = VALUE lines; flags win.\n"
	"Defaults: listen 127.0.0.1:7770, domain localhost, registration invite.\n"
	"Exit codes: 0 ok, 1 runtime error, 2 usage, 3 configuration, 4 data or database,\n"
	"5 cannot listen. See sottod(8).\n";

struct opts {
	const char *cmd;
	const char *data;
	const char *pos[2];             /* words after the command (accounts SUB NAME) */
	size_t n_pos;
	int json;
	const char *expires, *uses;     /* invite, accounts reset */
	struct config_overrides ov;
	char *set_copies[CONFIG_OVERRIDES_MAX];
	size_t n_copies;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct { const char *flag, *key; } flags[] = {
		{ "--listen", "listen" }, { "--domain", "domain" },
		{ "--registration", "registration" }, { "--durability", "durability" },
		{ "--log-level", "log_level" }, { "--advertise", "advertise" },
		{ "--store", "store" },
		{ "--metrics", "metrics_listen" },
	};
	int i, after_dashes = 0;

	memset(o, 0, sizeof(*o));
	if (argc < 2)
		return EXIT_USAGE;
	o->cmd = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t k;

		if (!after_dashes && strcmp(a, "--") == 0) {
			after_dashes = 1;
			continue;
		}
		if (!after_dashes && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			o->cmd = "--help";
			return 0;
		}
		if (!after_dashes && strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (a[0] != '-' || after_dashes) {
			if (o->n_pos == sizeof(o->pos) / sizeof(o->pos[0])) {
				fprintf(stderr, "sottod: unexpected argument %s\n", a);
				return EXIT_USAGE;
			}
			o->pos[o->n_pos++] = a;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "sottod: %s needs a value\n", a);
			return EXIT_USAGE;
		}
		i++;
		if (strcmp(a, "--data") == 0) {
			o->data = v;
			continue;
		}
		if (strcmp(a, "--expires") == 0 || strcmp(a, "--uses") == 0) {
			*(a[2] == 'e' ? &o->expires : &o->uses) = v;
			continue;
		}
		if (strcmp(a, "--set") == 0) {
			char *eq, *copy;
			if ((eq = strchr(v, '=')) == NULL || o->n_copies >= CONFIG_OVERRIDES_MAX ||
			    (copy = strdup(v)) == NULL) {
				fprintf(stderr, "sottod: --set wants KEY=VALUE\n");
				return EXIT_USAGE;
			}
			o->set_copies[o->n_copies++] = copy;
			copy[eq - v] = '\0';
			if (config_override_add(&o->ov, copy, copy + (eq - v) + 1) != 0) {
				fprintf(stderr, "sottod: --set %s: unknown key or bad value\n", v);
				return EXIT_CONFIG;
			}
			continue;
		}
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strcmp(a, flags[k].flag) == 0)
				break;
		if (k == sizeof(flags) / sizeof(flags[0])) {
			fprintf(stderr, "sottod: unknown option %s (an argument that begins with '-' "
			    "goes after --)\n", a);
			return EXIT_USAGE;
		}
		if (config_override_add(&o->ov, flags[k].key, v) != 0) {
			fprintf(stderr, "sottod: %s %s: bad value\n", a, v);
			return EXIT_CONFIG;
		}
	}
	return 0;
}

static void
free_opts(struct opts *o)
{
	for (size_t i = 0; i < o->n_copies; i++)
		free(o->set_copies[i]);
}

static int
join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : -1;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Reads the 64-byte Ed25519 secret key (secret) and checks it against its own seed. */
static int
key_load(const char *path, uint8_t sk[64])
{
	uint8_t pk[32], pk2[32], sk2[64];
	struct stat st;
	ssize_t n;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("%s is readable by others: chmod 600 it", path);
	n = read(fd, sk, 64);
	close(fd);
	if (n != 64) {
		fprintf(stderr, "sottod: %s: not a server key (expected 64 bytes)\n", path);
		goto out;
	}
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	if (crypto_sign_seed_keypair(pk2, sk2, sk) != 0 || sodium_memcmp(pk, pk2, 32) != 0 ||
	    sodium_memcmp(sk, sk2, 64) != 0) {
		fprintf(stderr, "sottod: %s: damaged server key\n", path);
		goto out;
	}
	r = 0;
out:
	sodium_memzero(sk2, sizeof(sk2));
	if (r != 0)
		sodium_memzero(sk, 64);
	return r;
}

static int
key_create(const char *path, uint8_t sk[64])
{
	uint8_t pk[32];
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		return -1;
	}
	crypto_sign_keypair(pk, sk);
	if (write(fd, sk, 64) != 64 || fsync(fd) != 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * DATA/ticket.key: 32 random bytes (secret) that seal resumption tickets, created on the
 * first start that lacks it, so that tickets survive restarts. Removing it revokes every
 * ticket (clients then log in with a full handshake).
 */
static int
ticket_key_load(const char *dir, uint8_t key[TICKET_KEY_LEN])
{
	char path[SERVER_PATH_MAX];
	struct stat st;
	uint8_t extra;
	ssize_t n;
	int fd, r = -1;

	if (join(path, sizeof(path), dir, "ticket.key") != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
			log_warn("%s is readable by others: chmod 600 it", path);
		n = read(fd, key, TICKET_KEY_LEN);
		if (n == TICKET_KEY_LEN && read(fd, &extra, 1) == 0)
			r = 0;
		else
			fprintf(stderr, "sottod: %s: not a ticket key (expected %d bytes)\n",
			    path, TICKET_KEY_LEN);
		close(fd);
		goto out;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, TICKET_KEY_LEN);
	if (write(fd, key, TICKET_KEY_LEN) != TICKET_KEY_LEN || fsync(fd) != 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	r = 0;
out:
	if (r != 0)
		sodium_memzero(key, TICKET_KEY_LEN);
	return r;
}

static int
load_config(const char *dir, const struct opts *o, struct config *cfg)
{
	char path[SERVER_PATH_MAX], why[256] = "";

	if (join(path, sizeof(path), dir, "sottod.conf") != 0)
		return EXIT_USAGE;
	if (config_build(cfg, path, &o->ov, why, sizeof(why)) != 0) {
		fprintf(stderr, "sottod: %s: %s\n", path, why);
		return EXIT_CONFIG;
	}
	log_set_level(cfg->log_level);
	return 0;
}

static int
open_db(const char *dir, const struct config *cfg, int create, struct server_store **out)
{
	struct store_open_opts so = { 0 };
	char path[SERVER_PATH_MAX];
	int r;

	if (join(path, sizeof(path), dir, "sottod.db") != 0)
		return EXIT_USAGE;
	so.create = create;
	so.durability_full = cfg->durability == CONFIG_DUR_FULL;
	so.max_pages = cfg->db_max_pages;
	so.cache_kib = cfg->db_cache_mib * 1024;
	/* PostgreSQL: the connection string may hold a password, so it is never printed. */
	if (cfg->store[0] != '\0' && (r = store_pg_open(out, cfg->store, &so)) != 0) {
		fprintf(stderr, "sottod: cannot open the PostgreSQL database (store): %s\n",
		    sotto_strerror(r));
		return EXIT_DATA;
	}
	if (cfg->store[0] == '\0' && (r = store_sqlite_open(out, path, &so)) != 0) {
		fprintf(stderr, "sottod: %s: cannot open the database: %s\n", path,
		    sotto_strerror(r));
		return EXIT_DATA;
	}
	return 0;
}

/* First start: creates the key and the database; later starts require both. */
static int
prepare_data(const char *dir, const struct config *cfg, int may_create, uint8_t sk[64])
{
	char kpath[SERVER_PATH_MAX], dpath[SERVER_PATH_MAX];
	struct server_store *st = NULL;
	int have_key, have_db, r;

	if (join(kpath, sizeof(kpath), dir, "server.key") != 0 ||
	    join(dpath, sizeof(dpath), dir, "sottod.db") != 0)
		return EXIT_USAGE;
	if (may_create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "sottod: %s: %s\n", dir, strerror(errno));
		return EXIT_DATA;
	}
	have_key = exists(kpath);
	/* On PostgreSQL the schema is made (or migrated) by every open of `run`. */
	have_db = cfg->store[0] != '\0' ? have_key : exists(dpath);
	if (!have_key && !have_db) {
		if (!may_create) {
			fprintf(stderr, "sottod: %s holds no server yet: run `sottod run --data %s` "
			    "first\n", dir, dir);
			return EXIT_DATA;
		}
		if (key_create(kpath, sk) != 0)
			return EXIT_DATA;
		if ((r = open_db(dir, cfg, 1, &st)) != 0)
			return r;
		server_store_close(st);
		log_info("created a new server in %s", dir);
		return 0;
	}
	if (!have_key) {
		fprintf(stderr, "sottod: %s is missing but the database exists: restore the key "
		    "from a backup\n", kpath);
		return EXIT_DATA;
	}
	if (!have_db) {
		fprintf(stderr, "sottod: %s is missing but the server key exists: refusing to "
		    "start with an empty database\n", dpath);
		return EXIT_DATA;
	}
	if (cfg->store[0] != '\0') {
		/* PostgreSQL: as with SQLite, a server whose key exists refuses a database
		 * without its schema (a wrong or emptied one) rather than start afresh. */
		if ((r = open_db(dir, cfg, 0, &st)) != 0)
			return r;
		server_store_close(st);
	}
	return key_load(kpath, sk) == 0 ? 0 : EXIT_DATA;
}

static int
write_address_file(const char *dir, const char *address)
{
	char path[SERVER_PATH_MAX], tmp[SERVER_PATH_MAX + 8];
	FILE *f;

	if (join(path, sizeof(path), dir, "sottod.address") != 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", address);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

static void
address_file_remove(const char *dir)
{
	char path[SERVER_PATH_MAX];

	if (join(path, sizeof(path), dir, "sottod.address") == 0)
		(void)unlink(path);
}

static void
close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Every connection is a descriptor: the soft limit (often 1,024) goes up to the hard one,
 * and a limit below max_conns is said at start rather than found under load.
 */
static void
raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)cfg->max_conns + 64)
		log_warn("open-file limit %llu is below max_conns (%u) + 64: descriptors run out "
		    "first, and connections beyond them are refused",
		    (unsigned long long)rl.rlim_cur, cfg->max_conns);
}

static int
cmd_run(const struct opts *o)
{
	struct config cfg;
	struct server srv;
	uv_loop_t loop;
	uint8_t *sk;
	int r;

	if ((r = load_config(o->data, o, &cfg)) != 0)
		return r;
	/* The server key (64 bytes), then the ticket key. */
	if ((sk = sodium_malloc(64 + TICKET_KEY_LEN)) == NULL)
		return EXIT_FAILURE_RUN;
	umask(077);
	/* Before the data exists, so that the key and database belong to the user that runs. */
	if (geteuid() == 0) {
		if (cfg.user[0] == '\0')
			log_warn("running as root: set `user = NAME` in sottod.conf to drop to a "
			    "system user");
		else if ((r = confine_drop_privileges(cfg.user)) != 0) {
			fprintf(stderr, "sottod: cannot switch to user %s: %s\n", cfg.user,
			    sotto_strerror(r));
			sodium_free(sk);
			return EXIT_CONFIG;
		} else
			log_info("running as user %s", cfg.user);
	}
	if ((r = prepare_data(o->data, &cfg, 1, sk)) != 0) {
		sodium_free(sk);
		return r;
	}
	if (ticket_key_load(o->data, sk + 64) != 0) {
		sodium_free(sk);
		return EXIT_DATA;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(&cfg);
	{
		struct confine_opts co = CONFINE_OPTS_INIT;
		struct confine_report rep;
		uint16_t ports[2] = { cfg.listen_port, cfg.metrics_port };

		co.data_dir = o->data;
		/* Made here: once confined, sottod can write only beneath it. */
		if (cfg.blob_dir[0] != '\0' && mkdir(cfg.blob_dir, 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "sottod: blob_dir %s: %s\n", cfg.blob_dir, strerror(errno));
			sodium_free(sk);
			return EXIT_CONFIG;
		}
		co.shared_dir = cfg.blob_dir[0] != '\0' ? cfg.blob_dir : NULL;
		co.restrict_net = 1;
		uint16_t pg_ports[STORE_PG_PORTS_MAX];
		size_t n_pg_ports = 0;

		co.bind_ports = ports;
		co.n_bind_ports = cfg.metrics_host[0] != '\0' ? 2 : 1;
		/* PostgreSQL over TCP: the ports of its hosts (a Unix socket needs none). */
		if (cfg.store[0] != '\0' &&
		    store_pg_ports(cfg.store, pg_ports, STORE_PG_PORTS_MAX, &n_pg_ports) != 0) {
			fprintf(stderr, "sottod: store: not a valid PostgreSQL connection URI\n");
			sodium_free(sk);
			return EXIT_CONFIG;
		}
		co.connect_ports = pg_ports;
		co.n_connect_ports = n_pg_ports;
		if (confine_disabled_by_env())
			log_warn("NOT confined: SOTTO_SANDBOX=off (for valgrind and debuggers only)");
		else if ((r = confine_apply(&co, &rep)) != 0) {
			fprintf(stderr, "sottod: cannot confine: %s\n", sotto_strerror(r));
			sodium_free(sk);
			return EXIT_FAILURE_RUN;
		}
		else
			log_info("confined: Landlock ABI %d%s, seccomp", rep.landlock_abi,
			    rep.net_restricted ? " with TCP ports" : "");
	}
	uv_loop_init(&loop);
	r = server_init(&srv, &loop, o->data, &cfg, &o->ov, sk);
	if (r == 0)
		r = server_set_ticket_key(&srv, sk + 64);
	sodium_free(sk);
	if (r == SOTTO_ERR_OTHER_DOMAIN) {
		fprintf(stderr, "sottod: %s holds the server of %s, not of %s: its accounts are "
		    "names of %s. Start it with --domain %s (or `domain = %s` in sottod.conf), or "
		    "give %s a data directory of its own.\n", o->data, srv.recorded_domain,
		    cfg.domain, srv.recorded_domain, srv.recorded_domain, srv.recorded_domain,
		    cfg.domain);
		r = EXIT_CONFIG;
		goto out;
	}
	if (r == SOTTO_ERR_EXISTS) {
		fprintf(stderr, "sottod: another sottod is running on %s (`sottod status --data "
		    "%s`)\n", o->data, o->data);
		r = EXIT_DATA;
		goto out;
	}
	if (r != 0) {
		fprintf(stderr, "sottod: cannot start: %s\n", sotto_strerror(r));
		r = r == SOTTO_ERR_CORRUPT || r == SOTTO_ERR_STORAGE || r == SOTTO_ERR_IO ||
		    r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_BAD_VERSION ? EXIT_DATA :
		    EXIT_FAILURE_RUN;
		goto out;
	}
	if (server_listen(&srv) != 0) {
		r = EXIT_LISTEN;
		goto out;
	}
	if (write_address_file(o->data, srv.bound_addr) != 0)
		log_warn("cannot write %s/sottod.address", o->data);
	printf("sottod: listening on %s\n", srv.bound_addr);
	fflush(stdout);
	r = server_run(&srv);
	/* Clean exit: no address is left behind for a server that is gone. */
	address_file_remove(o->data);
out:
	server_free(&srv);
	/* Let every handle that was opened finish closing before the loop goes away. */
	uv_walk(&loop, close_handle, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		log_debug("loop closed with handles open");
	return r;
}

static int
overridden(const struct config_overrides *ov, const char *key)
{
	for (size_t i = 0; i < ov->n; i++)
		if (strcmp(ov->key[i], key) == 0)
			return 1;
	return 0;
}

static int
cmd_address(const struct opts *o)
{
	struct address_server as;
	struct config cfg;
	char out[ADDRESS_SERVER_MAX + 1];
	uint8_t *sk;
	int r;

	if ((r = load_config(o->data, o, &cfg)) != 0)
		return r;
	/* What runs, unless the flags ask for another listen or advertised address. */
	if (!overridden(&o->ov, "listen") && !overridden(&o->ov, "advertise")) {
		r = admin_running_address(o->data, out, sizeof(out));
		if (r == 0) {
			printf("%s\n", out);
			return EXIT_OK;
		}
		fprintf(stderr, "sottod: no server is running on %s: this is the address of "
		    "its configuration\n", o->data);
	}
	if ((sk = sodium_malloc(64)) == NULL)
		return EXIT_FAILURE_RUN;
	if ((r = prepare_data(o->data, &cfg, 0, sk)) != 0) {
		sodium_free(sk);
		return r;
	}
	memset(&as, 0, sizeof(as));
	crypto_sign_ed25519_sk_to_pk(as.key, sk);
	sodium_free(sk);
	config_public(&cfg, 0, as.host, &as.port);
	if (address_server_format(&as, out, sizeof(out)) != 0) {
		fprintf(stderr, "sottod: cannot format an address for %s:%u\n", as.host, as.port);
		return EXIT_CONFIG;
	}
	printf("%s\n", out);
	return EXIT_OK;
}

/* The configuration and the database of an existing server, for the admin commands. */
static int
open_existing(const struct opts *o, struct config *cfg, struct server_store **st)
{
	uint8_t *sk;
	int r;

	if ((r = load_config(o->data, o, cfg)) != 0)
		return r;
	if ((sk = sodium_malloc(64)) == NULL)
		return EXIT_FAILURE_RUN;
	r = prepare_data(o->data, cfg, 0, sk);
	sodium_free(sk);
	if (r != 0)
		return r;
	return open_db(o->data, cfg, 0, st);
}

static int
cmd_invite(const struct opts *o)
{
	struct config cfg;
	struct server_store *st = NULL;
	int r;

	if (o->n_pos != 0) {
		fprintf(stderr, "sottod: invite takes no argument (invites list|revoke ID)\n");
		return EXIT_USAGE;
	}
	if ((r = open_existing(o, &cfg, &st)) != 0)
		return r;
	r = admin_invite_create(st, o->expires, o->uses);
	server_store_close(st);
	return r;
}

static int
cmd_status(const struct opts *o)
{
	if (o->n_pos != 0) {
		fprintf(stderr, "sottod: status takes no argument\n");
		return EXIT_USAGE;
	}
	return admin_status(o->data, o->json);
}

static int
cmd_backup(const struct opts *o)
{
	struct config cfg;
	struct server_store *st = NULL;
	int r;

	if (o->n_pos != 1) {
		fprintf(stderr, "sottod: backup --data DIR DEST\n");
		return EXIT_USAGE;
	}
	if ((r = open_existing(o, &cfg, &st)) != 0)
		return r;
	/* PostgreSQL's own tools copy its database consistently (its backup op refuses). */
	if (store_is_pg(cfg.store)) {
		fprintf(stderr, "sottod: the store is PostgreSQL: back it up with pg_dump or its "
		    "continuous archiving, and %s's files with it\n", o->data);
		server_store_close(st);
		return EXIT_CONFIG;
	}
	r = admin_backup(o->data, o->pos[0], st);
	server_store_close(st);
	return r;
}

static int
cmd_invites(const struct opts *o)
{
	const char *sub = o->n_pos > 0 ? o->pos[0] : "";
	struct config cfg;
	struct server_store *st = NULL;
	int r, list = strcmp(sub, "list") == 0;

	if ((!list && strcmp(sub, "revoke") != 0) || o->n_pos != (list ? 1u : 2u)) {
		fprintf(stderr, "sottod: invites list|revoke ID\n");
		return EXIT_USAGE;
	}
	if ((r = open_existing(o, &cfg, &st)) != 0)
		return r;
	r = list ? admin_invites_list(st, o->json) : admin_invites_revoke(st, o->pos[1]);
	server_store_close(st);
	return r;
}

struct list_ctx {
	int json;
	size_t n;
};

static int
print_account(void *arg, const struct store_account_info *a)
{
	struct list_ctx *l = arg;

	/* Names are [a-z0-9._-]: nothing to escape. */
	if (l->json)
		printf("%s\n  {\"name\": \"%s\", \"registered\": %s, \"created\": %lld, "
		    "\"envelopes\": %llu, \"prekeys\": %u}", l->n > 0 ? "," : "", a->name,
		    a->id != 0 ? "true" : "false", (long long)a->created,
		    (unsigned long long)a->envelopes, a->prekeys);
	else
		printf("%-24s %-10s %10llu %8u\n", a->name, a->id != 0 ? "registered" : "reset",
		    (unsigned long long)a->envelopes, a->prekeys);
	l->n++;
	return 0;
}

static int
accounts_list(const struct opts *o, struct server_store *st)
{
	struct list_ctx l = { o->json, 0 };
	int r;

	if (o->json)
		printf("[");
	else
		printf("%-24s %-10s %10s %8s\n", "NAME", "STATE", "ENVELOPES", "PREKEYS");
	r = st->ops->accounts_list(st, print_account, &l);
	if (o->json)
		printf("%s]\n", l.n > 0 ? "\n" : "");
	if (r != 0) {
		fprintf(stderr, "sottod: cannot list the accounts: %s\n", sotto_strerror(r));
		return EXIT_DATA;
	}
	return EXIT_OK;
}

/* A bare account name of this server's domain. */
static int
name_ok(const char *name, const struct config *cfg)
{
	char a[ADDRESS_MAX + 2];
	int n;

	if (name == NULL || strchr(name, '@') != NULL)
		return 0;
	n = snprintf(a, sizeof(a), "%s@%s", name, cfg->domain);
	return n > 0 && (size_t)n < sizeof(a) && address_user_check(a, (size_t)n) == 0;
}

/*
 * reset: the account's keys, prekeys, mailbox and login state are deleted, and its name is
 * kept for a new invite that registers only this name (also under open registration).
 * delete: the same, and the name is free. A running sottod is told by a reload (SIGHUP),
 * which ends the old device's connections; with PostgreSQL every node hears it from the
 * reset's notification (wake.c).
 */
static int
accounts_reset(const struct opts *o, const struct config *cfg, struct server_store *st, int keep)
{
	char token[INVITE_TOKEN_SIZE], until[48];
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	uint64_t dropped = 0;
	int64_t expires = 0;
	const char *name = o->pos[1];
	int r;

	if (!name_ok(name, cfg)) {
		fprintf(stderr, "sottod: accounts %s wants an account name ([a-z0-9._-], at most "
		    "64 bytes), not the whole address\n", o->pos[0]);
		return EXIT_USAGE;
	}
	if (keep && (r = admin_invite_expiry(o->expires, (int64_t)time(NULL), &expires)) != 0)
		return r;
	if (keep)
		admin_invite_make(token, hash);
	r = st->ops->account_reset(st, name, keep ? hash : NULL, expires, &dropped);
	sodium_memzero(hash, sizeof(hash));
	if (r != 0) {
		if (keep)
			sodium_memzero(token, sizeof(token));
		if (r == SOTTO_ERR_NOT_FOUND)
			fprintf(stderr, "sottod: no account %s@%s\n", name, cfg->domain);
		else
			fprintf(stderr, "sottod: cannot %s %s: %s\n", o->pos[0], name,
			    sotto_strerror(r));
		return r == SOTTO_ERR_NOT_FOUND ? EXIT_USAGE : EXIT_DATA;
	}
	fprintf(stderr, "sottod: %s@%s %s; %llu undelivered envelope%s dropped. %s\n", name,
	    cfg->domain, keep ? "reset" : "deleted", (unsigned long long)dropped,
	    dropped == 1 ? "" : "s", cfg->store[0] != '\0' ? "Every running node ends the old "
	    "device's connections." : "If sottod is running, reload it (SIGHUP) to end the old "
	    "device's connections.");
	if (keep) {
		admin_invite_until(expires, until, sizeof(until));
		fprintf(stderr, "sottod: on the new device: sotto init %s@%s --server ADDRESS "
		    "--invite TOKEN, with this token (it registers only %s, %s):\n", name,
		    cfg->domain, name, until);
		printf("%s\n", token);
		sodium_memzero(token, sizeof(token));
	}
	return EXIT_OK;
}

static int
cmd_accounts(const struct opts *o)
{
	const char *sub = o->n_pos > 0 ? o->pos[0] : "";
	struct config cfg;
	struct server_store *st = NULL;
	int r, want = strcmp(sub, "list") == 0 ? 1 : 2;

	if ((strcmp(sub, "list") != 0 && strcmp(sub, "reset") != 0 &&
	    strcmp(sub, "delete") != 0) || o->n_pos != (size_t)want) {
		fprintf(stderr, "sottod: accounts list|reset NAME|delete NAME\n");
		return EXIT_USAGE;
	}
	if ((r = open_existing(o, &cfg, &st)) != 0)
		return r;
	if (want == 1)
		r = accounts_list(o, st);
	else
		r = accounts_reset(o, &cfg, st, strcmp(sub, "reset") == 0);
	server_store_close(st);
	return r;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int r;

	if (sodium_init() < 0) {
		fprintf(stderr, "sottod: libsodium failed to initialise\n");
		return EXIT_FAILURE_RUN;
	}
	r = parse_args(argc, argv, &o);
	if (r != 0) {
		if (r == EXIT_USAGE)
			fputs(usage_text, stderr);
		free_opts(&o);
		return r;
	}
	if (strcmp(o.cmd, "--help") == 0 || strcmp(o.cmd, "-h") == 0 ||
	    strcmp(o.cmd, "help") == 0) {
		fputs(usage_text, stdout);
		free_opts(&o);
		return EXIT_OK;
	}
	if (o.data == NULL) {
		fprintf(stderr, "sottod: --data DIR is required\n");
		fputs(usage_text, stderr);
		free_opts(&o);
		return EXIT_USAGE;
	}
	if ((o.expires != NULL || o.uses != NULL) && strcmp(o.cmd, "invite") != 0 &&
	    strcmp(o.cmd, "accounts") != 0) {
		fprintf(stderr, "sottod: --expires and --uses are for invite (and accounts "
		    "reset)\n");
		r = EXIT_USAGE;
	} else if (strcmp(o.cmd, "run") == 0)
		r = cmd_run(&o);
	else if (strcmp(o.cmd, "address") == 0)
		r = cmd_address(&o);
	else if (strcmp(o.cmd, "invite") == 0)
		r = cmd_invite(&o);
	else if (strcmp(o.cmd, "invites") == 0)
		r = cmd_invites(&o);
	else if (strcmp(o.cmd, "backup") == 0)
		r = cmd_backup(&o);
	else if (strcmp(o.cmd, "status") == 0)
		r = cmd_status(&o);
	else if (strcmp(o.cmd, "accounts") == 0)
		r = cmd_accounts(&o);
	else {
		fprintf(stderr, "sottod: unknown command %s\n", o.cmd);
		fputs(usage_text, stderr);
		r = EXIT_USAGE;
	}
	free_opts(&o);
	return r;
}
