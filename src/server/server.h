/*
 * The sottod process: one libuv loop serving every connection, a writer thread for group
 * commits, and the shared state the request handlers use.
 *
 * A connection (struct peer) moves through
 *   HANDSHAKE  Noise_XX as responder; only the exact handshake sizes; handshake timeout
 *   GUEST      transport up, device key known but not registered: only REGISTER, small
 *              messages, a low request rate
 *   MEMBER     the device key belongs to an account: every request; PUSH of its mailbox
 *   CLOSED     handles closing; freed once no commit refers to it
 * Any protocol violation closes that one connection with a logged reason.
 */
#ifndef SOTTO_SERVER_SERVER_H
#define SOTTO_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server/commit.h"
#include "server/config.h"
#include "server/ratelimit.h"
#include "server/store.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/proto.h"
#include "wire/session.h"

#define SERVER_PATH_MAX 4096
#define PEER_COMMITS_MAX 256            /* SENDs of one connection awaiting the writer */
#define PEER_PUSH_LOW_MAX (1024u * 1024) /* push low-water mark: at most this, 1/4 of the cap */
#define PEER_WOULD_BLOCK 1              /* peer_push: no room now, retried when output drains */
#define MAILQ_BUCKETS 1024              /* pending SENDs indexed by recipient (power of two) */
#define WAKE_RESCAN_MS 2000u            /* several nodes: a lost listener opened again this often */
#define WAKE_RESEND_MS 30000u           /* a wake-up pushes again only what waited this long */
/* Envelope ids a connection remembers having pushed, so that one read again by its id
 * (wake.c), after the pump read it from the store, is not pushed twice. */
#define PEER_RECENT_PUSHES 64
#define ENV_ID_RANGE 4096               /* envelope ids reserved from the store at a time */

/* PEER_SEALED: an unidentified connection (Noise_NK): no device, SEND_SEALED and
 * GROUP_SEND_SEALED only. */
enum peer_state { PEER_HANDSHAKE, PEER_GUEST, PEER_MEMBER, PEER_SEALED, PEER_CLOSED };

struct acct;
struct blob_upload;
struct status;

/* What happened since the start, for `sottod status` and the metrics (status.c). */
struct server_counters {
	uint64_t accepted;              /* connections accepted */
	uint64_t sends;                 /* SENDs taken (to be stored or delivered) */
	uint64_t received;              /* envelope ids acknowledged by RECEIVED */
	uint64_t wake_pushed;           /* envelopes of other nodes pushed by their ids (wake.c) */
	uint64_t wake_restarts;         /* wake-ups that restarted an account's pushes instead */
};
struct mail_item;
struct wake;
struct rcpt_cache;

/* SENDs submitted and not yet done whose recipient hashes here, in id order. */
struct mail_bucket {
	struct mail_item *head, *tail;
};

struct peer {
	struct peer *prev, *next;       /* server's list */
	struct server *srv;
	uv_tcp_t tcp;
	uv_timer_t timer;               /* handshake, then idle timeout */
	int state;
	int reading;
	int handles_open;
	unsigned commits;               /* commit items that point to this peer */

	struct wire_session ws;         /* handshake, frames, transport keys (secret) */

	uint8_t device_key[32];
	uint8_t addr[RATELIMIT_ADDR_LEN];
	int addr_counted;
	char addr_str[64];
	uint64_t id;                    /* for logs */

	struct acct *acct;
	struct peer *acct_next;
	struct ratelimit_bucket bucket;
	uint64_t last_active_ms;

	struct buf out;                 /* sealed frames of this loop turn (ciphertext) */
	struct peer *flush_next;
	int flush_queued;

	/* pushes */
	int64_t last_pushed;            /* highest envelope id pushed on this connection */
	uint32_t push_inflight;         /* pushed and not yet RECEIVED */
	int backlog;                    /* the store may hold envelopes not yet pushed */
	int push_wait;                  /* the pump stopped for output room: resume on drain */
	int wake_due;                   /* wake.c: restart the pushes once nothing is in flight */
	uint64_t push_progress_ms;      /* the last acknowledgement, or push with none in flight */
	int64_t recent[PEER_RECENT_PUSHES]; /* the last envelope ids pushed (0: none) */
	unsigned recent_next;

	/* group_push.c: this connection's delivery of group logs */
	struct peer_groups *groups;
	int gpush_wait;                 /* the group pump stopped for output room */

	struct blob_upload *upload;     /* handle_blob.c: the upload this connection writes */
};

/* An account with at least one open connection. */
struct acct {
	struct acct *next;              /* hash chain by id */
	struct acct *name_next;         /* hash chain by name */
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	uint8_t identity_key[32];
	int has_delivery;               /* its delivery token's verifier, as stored */
	uint8_t delivery[32];
	struct ratelimit_bucket bucket;
	struct peer *peers;             /* newest first; peers->... gets the pushes */
};

struct server {
	uv_loop_t *loop;
	struct config cfg;
	char data_dir[SERVER_PATH_MAX];
	char conf_path[SERVER_PATH_MAX];
	char db_path[SERVER_PATH_MAX];
	const struct config_overrides *overrides;

	uint8_t *sk;                    /* Ed25519 secret key, sodium_malloc: secret */
	struct noise_keypair *static_kp; /* its X25519 form for Noise, sodium_malloc: secret */
	uint8_t pk[32];
	struct ticket_key *ticket;      /* resumption ticket key, sodium_malloc: secret */

	struct server_store *store;            /* loop thread handle */
	struct commit *commit;

	uv_tcp_t listener;
	struct sockaddr_storage listen_addr; /* as bound (the port chosen for port 0) */
	int spare_fd;                   /* fd_reserve.c: freed to shed connections */
	uv_timer_t reserve_timer;       /* fd_reserve.c: the spare taken again; listening again */
	uint64_t shed_total, shed_logged_ms;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t drain_timer;
	uv_check_t flush_check;         /* end of each loop turn: write every peer's output */
	struct peer *flush_list;
	int listening;
	int draining;
	uint64_t drain_left_ms;
	int exit_code;

	struct peer *peers;
	size_t n_peers;
	uint64_t next_peer_id;
	struct ratelimit_addrs *addrs;
	struct ratelimit_addrs *sealed_mailboxes; /* SEND_SEALED rate per recipient mailbox */
	struct ratelimit_addrs *sealed_groups;  /* GROUP_SEND_SEALED rate per group token */
	struct acct **accts;            /* online accounts by id */
	struct acct **accts_by_name;    /* the same accounts by name (SEND's recipient) */
	size_t n_acct_slots;
	uint8_t acct_seed[16];

	uint8_t *scratch;               /* FRAME_MAX bytes: decrypted frames; may hold plaintext */
	uint8_t *rbuf;                  /* read buffer shared by every connection */
	uint8_t *encbuf;                /* encoded outgoing message */
	size_t encbuf_cap;
	char bound_addr[ADDRESS_SERVER_MAX + 1];

	/* handle_mailbox.c: envelope ids are given on arrival, strictly increasing also
	 * across restarts (0: not read from the store yet); SENDs not yet done by recipient */
	int64_t next_env_id;            /* handle_mailbox.c: the next of the reserved range */
	int64_t last_env_id;            /* the range's last (0: none yet) */
	struct mail_bucket mailq[MAILQ_BUCKETS];
	struct mail_item **mailq_ids, **mailq_keys; /* hash indexes of mailq, mask + 1 slots */
	size_t mailq_mask, mailq_n;
	uint8_t mailq_hash_key[16];     /* crypto_shorthash_KEYBYTES */
	/* SENDs pushed early that wait up to received_wait_ms for their RECEIVED before they
	 * go to the writer, oldest first */
	struct mail_item *held_head, *held_tail;
	uv_timer_t hold_timer;

	struct wake *wake;              /* wake.c: several nodes on PostgreSQL, else NULL */
	struct rcpt_cache *rcpt;        /* rcpt_cache.c: recipients online elsewhere, or NULL */

	/* status.c: DIR/sottod.sock and the metrics endpoint */
	struct status *status;
	struct server_counters counters;
	uint64_t started;               /* unix seconds */
	char recorded_domain[STORE_DOMAIN_MAX + 1]; /* the domain the database was made for */

	/* sent_prune.c: idempotency records older than sent_retention are deleted */
	uv_timer_t prune_timer;
	int prune_ready, prune_stopped;
	int prune_inflight;             /* a chunk is with the writer */
	struct store_sent_key prune_cursor; /* where the walk goes on */
	uint64_t prune_deleted;         /* by this walk so far */
	uint64_t prune_batches, prune_items; /* commit_stats at the last chunk */

	/* handle_blob.c, blob_sweep.c: DIR/blobs, DIR/blobs/partial and their cleaning */
	char blob_dir[SERVER_PATH_MAX];
	char partial_dir[SERVER_PATH_MAX];
	uint8_t *blob_buf;              /* PROTO_BLOB_CHUNK_MAX bytes: a BLOB_GET's range */
	uv_timer_t blob_sweep_timer;
	int blob_sweep_ready, blob_sweep_stopped, blob_sweep_inflight;
};

/* server.c */
int server_init(struct server *s, uv_loop_t *loop, const char *data_dir,
    const struct config *cfg, const struct config_overrides *ov, const uint8_t sk[64])
    SOTTO_MUST_CHECK;
int server_listen(struct server *s) SOTTO_MUST_CHECK;
/* Listens again on the address bound before (fd_reserve.c); on failure the listener is
 * closed with on_fail. */
void server_relisten(struct server *s, uv_close_cb on_fail);
/* fd_reserve.c: the spare descriptor and what is done when accept runs out of them. */
int fd_reserve_init(struct server *s) SOTTO_MUST_CHECK;
void fd_reserve_shed(struct server *s);
void fd_reserve_close(struct server *s);
/* Runs the loop until SIGTERM/SIGINT has drained everything; returns the exit code. */
int server_run(struct server *s);
void server_free(struct server *s);
uint64_t server_now_ms(const struct server *s);
struct acct *server_acct_find(struct server *s, int64_t id);
struct acct *server_acct_find_name(struct server *s, const char *name);
struct acct *server_acct_attach(struct server *s, struct peer *p,
    const struct store_account *a);
void server_acct_detach(struct server *s, struct peer *p);
/* The pushes of p (its account's pushing connection) start again from the start of the
 * mailbox and from the group read positions in the store. */
void server_acct_restart_pushes(struct peer *p);
/* Another node stored something for p's account: restart its pushes now if nothing is in
 * flight on p (no push unacknowledged, no commit of p pending, so nothing acknowledged is
 * pushed again), else once that is so (server_acct_wake_due; no new envelope is pushed
 * meanwhile); force: now in any case. */
void server_acct_wake(struct peer *p, int force);
void server_acct_wake_due(struct peer *p);
/* Notes that p's pushes moved on (an acknowledgement, or a push with none in flight). */
void server_push_progress(struct peer *p);
/* 1 if a push of p has been unacknowledged for WAKE_RESEND_MS. */
int server_push_stalled(const struct peer *p);
/* Ends the connections (of account only; 0: of every account) whose device no longer
 * belongs to the account they logged in to (`sottod accounts reset|delete`). */
void server_accts_revalidate(struct server *s, int64_t only);

/* wake.c: with PostgreSQL, LISTEN for what other nodes stored for accounts online here
 * (the PIDs: this node's own store connections, whose NOTIFYs are ignored) and for account
 * resets, and re-scan every WAKE_RESCAN_MS; nothing with SQLite. wake_stop closes it
 * (before the loop ends). */
int wake_start(struct server *s, int pid_reader, int pid_writer) SOTTO_MUST_CHECK;
void wake_stop(struct server *s);

/* rcpt_cache.c: accounts read by name for SENDs, with PostgreSQL (nothing on SQLite).
 * get: 0 and *out, or SOTTO_ERR_NOT_FOUND (not cached); forget: the account id (0: all). */
int rcpt_cache_get(struct server *s, const char *name, struct store_account *out);
void rcpt_cache_put(struct server *s, const struct store_account *a);
void rcpt_cache_forget(struct server *s, int64_t id);
void rcpt_cache_free(struct server *s);

/* handle_ticket.c: resumption tickets (wire/ticket.h) */
int server_set_ticket_key(struct server *s, const uint8_t key[TICKET_KEY_LEN]) SOTTO_MUST_CHECK;
void handle_ticket(struct peer *p, const struct proto_msg *m);
void handle_login(struct peer *p, const struct proto_msg *m);

/* peer.c */
void peer_accept(struct server *s);
void peer_close(struct peer *p, const char *reason);
/* peer_close after writing what is queued for the peer, as far as the socket takes it. */
void peer_close_flushed(struct peer *p, const char *reason);
/* Encodes, seals and queues m; closes the peer (and returns an error) if it cannot. */
int peer_send(struct peer *p, const struct proto_msg *m);
/* The same for a PUSH, but flow-controlled: PEER_WOULD_BLOCK while the unsent output is
 * at the low-water mark or the push would not fit under write_queue_max; the peer's
 * output draining then calls mailbox_pump again if push_wait is set. */
int peer_push(struct peer *p, const struct proto_msg *m);
size_t peer_unsent(const struct peer *p);
size_t peer_push_low_water(const struct config *cfg);
void peer_respond(struct peer *p, uint8_t type, uint32_t id, int status);
void peer_become_member(struct peer *p, const struct store_account *a);
void peer_commit_released(struct peer *p);
void peer_resume_reading(struct peer *p);
void peer_flush_all(struct server *s);

/* Submits a write to run on the writer thread; finish runs on the loop when it is done
 * and must free job (whose first member is the commit item). peer.c */
void peer_submit_call(struct peer *p, struct commit_item *job,
    int (*call)(struct server_store *s, struct commit_item *it), void (*finish)(struct commit_item *it),
    uint32_t request_id);

/* handle_account.c */
void handle_register(struct peer *p, const struct proto_msg *m);
void handle_sender_certificate(struct peer *p, const struct proto_msg *m);
void handle_lookup(struct peer *p, const struct proto_msg *m);
/* handle_prekeys.c */
void handle_upload_prekeys(struct peer *p, const struct proto_msg *m);
void handle_fetch_bundle(struct peer *p, const struct proto_msg *m);
void prekeys_check_low(struct peer *p, int64_t account, int force);
/* handle_mailbox.c */
void handle_send(struct peer *p, const struct proto_msg *m);
void handle_send_sealed(struct peer *p, const struct proto_msg *m);
void handle_delivery_token(struct peer *p, const struct proto_msg *m);
/* Whether a SEND_SEALED with token may go to recipient, whose delivery verifier is given:
 * 0, SOTTO_ERR_AUTH (no verifier, or another token), SOTTO_ERR_LIMIT (the mailbox's
 * sealed_rate). */
int delivery_admit(struct server *s, int64_t recipient, int has_verifier,
    const uint8_t verifier[SERVER_STORE_KEY_LEN], const uint8_t token[PROTO_TOKEN_LEN]);
void handle_received(struct peer *p, const struct proto_msg *m);
void mailbox_commit_done(void *ud, struct commit_item *it);
void mailbox_pump(struct peer *p);
/* wake.c: envelopes another node stored for p's account (by id, in id order): pushed at
 * once if p can take them all, else p's pushes restart (server_acct_wake). */
void mailbox_push_stored(struct peer *p, const struct store_envelope *env, size_t n);
/* Sets up the hold timer (server_init); mailbox_flush_held hands every held SEND and
 * deferred idempotency record to the writer and defers none from then on (drain, stop);
 * mailbox_close closes the timer. */
int mailbox_init(struct server *s) SOTTO_MUST_CHECK;
void mailbox_flush_held(struct server *s);
void mailbox_close(struct server *s);
/* handle_key_packages.c: the MLS KeyPackage directory */
void handle_upload_key_packages(struct peer *p, const struct proto_msg *m);
void handle_claim_key_package(struct peer *p, const struct proto_msg *m);
/* A KEY_PACKAGE_LOW notice to p if its account's stock is under key_package_low (force:
 * whatever it is); an account that never uploaded a KeyPackage hears nothing. */
void key_packages_check_low(struct peer *p, int64_t account, int force);
/* handle_group.c: group requests */
void handle_group_create(struct peer *p, const struct proto_msg *m);
void handle_group_commit(struct peer *p, const struct proto_msg *m);
void handle_group_send(struct peer *p, const struct proto_msg *m);
void handle_group_send_sealed(struct peer *p, const struct proto_msg *m);
void handle_group_received(struct peer *p, const struct proto_msg *m);
/* group_push.c: delivery of group logs to a member's connection */
void group_push_start(struct peer *p);
void group_push_free(struct peer *p);
void group_pump(struct peer *p);
/* A group write is durable: tell the online members whose entry it is. */
void group_push_deliver(struct server *s, const struct store_group_op *op, int kind);
/* GROUP_RECEIVED on p: moves its window (the store is told separately). */
void group_push_acked(struct peer *p, const struct proto_group_ack *a);
/* Group entries and Welcomes pushed on p and not yet acknowledged. */
uint32_t group_push_inflight(const struct peer *p);
/* handle_blob.c: the blob store's requests. blob_init creates DIR/blobs and its partial/
 * and the range buffer (server_init; server_free frees it); blob_upload_close ends a
 * connection's upload (its file stays). */
int blob_init(struct server *s) SOTTO_MUST_CHECK;
int blob_path(const struct server *s, const uint8_t hash[PROTO_BLOB_HASH_LEN],
    char out[SERVER_PATH_MAX]) SOTTO_MUST_CHECK;
void blob_upload_close(struct peer *p);
void handle_blob_begin(struct peer *p, const struct proto_msg *m);
void handle_blob_chunk(struct peer *p, const struct proto_msg *m);
void handle_blob_commit(struct peer *p, const struct proto_msg *m);
void handle_blob_get(struct peer *p, const struct proto_msg *m);
void handle_blob_done(struct peer *p, const struct proto_msg *m);
/* blob_sweep.c: as sent_prune_init and sent_prune_stop, for expired blobs and abandoned
 * uploads. */
void blob_sweep_init(struct server *s);
void blob_sweep_stop(struct server *s);
/* sent_prune.c: sent_prune_init arms the timer (server_init); sent_prune_stop stops it for
 * good and closes it before the writer stops. */
void sent_prune_init(struct server *s);
void sent_prune_stop(struct server *s);
/* The name part of a user address of this server's domain; SOTTO_ERR_OTHER_DOMAIN for an
 * address of another domain. */
int server_local_name(const struct server *s, const char *address, char name[STORE_NAME_MAX + 1]);

#endif
