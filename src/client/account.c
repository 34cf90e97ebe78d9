/*
 * The account: opening the store, registering, connecting, the sender certificate and
 * the prekeys the server hands out for us.
 */
#include "client/client_int.h"
#include "client/group_api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client/conn.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "crypto/suite_native.h"
#include "wire/address.h"
#include "wire/proto.h"

uint64_t
client_now(void)
{
	return (uint64_t)time(NULL);
}

uint64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
client_alloc(struct sotto **out, struct store *st, const char *home)
{
	struct sotto *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((s->k = sodium_malloc(sizeof(*s->k))) == NULL) {
		free(s);
		return SOTTO_ERR_NOMEM;
	}
	sodium_memzero(s->k, sizeof(*s->k));
	/* The resumption ticket the real transport keeps between connections (secret psk). */
	if ((s->ticket = sodium_malloc(sizeof(*s->ticket))) == NULL) {
		sodium_free(s->k);
		free(s);
		return SOTTO_ERR_NOMEM;
	}
	conn_ticket_wipe(s->ticket);
	if (strlen(home) >= sizeof(s->home)) {
		sodium_free(s->ticket);
		sodium_free(s->k);
		free(s);
		return SOTTO_ERR_INVALID_ARG;
	}
	memcpy(s->home, home, strlen(home) + 1);
	s->st = st;
	s->ops = &transport_conn;
	s->login.tk = s->ticket;
	s->targ = &s->login;
	s->auto_receipts = 1;
	s->spk_rotate = CLIENT_SPK_ROTATE;
	s->spk_grace = CLIENT_SPK_GRACE;
	s->sealed_idle_ms = CLIENT_SEALED_IDLE_MS;
	s->sealed_age_ms = CLIENT_SEALED_AGE_MS;
	s->sealed_sends_max = CLIENT_SEALED_SENDS_MAX;
	r = client_load_identity(s);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND) {
		s->st = NULL;
		sotto_close(s);
		return r;
	}
	*out = s;
	return 0;
}

int
client_load_identity(struct sotto *s)
{
	struct address_server sa;
	int r;

	s->have_id = 0;
	if ((r = store_identity_get(s->st, &s->k->id)) != 0)
		return r;
	x3dh_identity_wipe(&s->k->xid);
	memcpy(s->k->xid.pub, s->k->id.identity_pk, SIGN_PUBLIC_LEN);
	s->k->xid.pub_len = SIGN_PUBLIC_LEN;
	memcpy(s->k->xid.sign_sec, s->k->id.identity_sk, SIGN_SECRET_LEN);
	if ((r = sign_pk_to_dh(s->k->xid.dh_pub, s->k->id.identity_pk)) != 0 ||
	    (r = sign_sk_to_dh(s->k->xid.dh_sec, s->k->id.identity_sk)) != 0)
		return r;
	if (s->k->id.server[0] != '\0') {
		if ((r = address_server_parse(s->k->id.server, &sa)) != 0)
			return SOTTO_ERR_CORRUPT;
		memcpy(s->server_pk, sa.key, sizeof(s->server_pk));
	}
	s->have_id = 1;
	return 0;
}

int
sotto_create(struct sotto **out, const char *home, const uint8_t *pass, size_t pass_len,
    enum sotto_kdf kdf)
{
	struct store *st = NULL;
	enum store_kdf_level lvl;
	int r;

	if (out == NULL || home == NULL || pass == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sotto_crypto_init()) != 0)
		return r;
	lvl = kdf == SOTTO_KDF_MODERATE ? STORE_KDF_MODERATE :
	    kdf == SOTTO_KDF_MIN ? STORE_KDF_TEST_MIN : STORE_KDF_INTERACTIVE;
	if ((r = store_create(home, pass, pass_len, lvl, &st)) != 0)
		return r;
	if ((r = client_alloc(out, st, home)) != 0)
		store_close(st);
	return r;
}

int
sotto_open(struct sotto **out, const char *home, const uint8_t *pass, size_t pass_len)
{
	struct store *st = NULL;
	int r;

	if (out == NULL || home == NULL || pass == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sotto_crypto_init()) != 0)
		return r;
	if ((r = store_open(home, pass, pass_len, &st)) != 0)
		return r;
	if ((r = client_alloc(out, st, home)) != 0) {
		store_close(st);
		return r;
	}
	if ((r = sotto_expire(*out)) < 0) {
		sotto_close(*out);
		*out = NULL;
		return r;
	}
	return 0;
}

int
sotto_open_again(struct sotto *s, struct sotto **out)
{
	struct store *st = NULL;
	int r;

	if (out == NULL)
		return SOTTO_ERR_INVALID_ARG;
	*out = NULL;
	if (s == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_open_again(s->st, &st)) != 0)
		return r;
	if ((r = client_alloc(out, st, s->home)) != 0)
		store_close(st);
	return r;
}

int
sotto_address_normalize(const char *in, char out[SOTTO_ADDRESS_MAX + 1])
{
	if (in == NULL)
		return SOTTO_ERR_INVALID_ARG;
	return address_user_normalize(in, out);
}

unsigned long
sotto_unlock_count(void)
{
	return store_kdf_runs();
}

int
store_open_account(struct sotto *s, struct store **out)
{
	*out = NULL;
	if (s == NULL)
		return SOTTO_ERR_INVALID_ARG;
	return store_open_again(s->st, out);
}

void
sotto_close(struct sotto *s)
{
	if (s == NULL)
		return;
	sotto_disconnect(s);
	client_sealed_close(s, 1);
	store_close(s->st);
	if (s->k != NULL) {
		store_identity_wipe(&s->k->id);
		x3dh_identity_wipe(&s->k->xid);
		sodium_free(s->k);
	}
	if (s->ticket != NULL)
		sodium_free(s->ticket);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

int
sotto_registered(const struct sotto *s)
{
	return s->have_id && s->k->id.reg_state == STORE_REG_REGISTERED;
}

const char *
sotto_address(const struct sotto *s)
{
	return s->have_id ? s->k->id.address : "";
}

const char *
sotto_server(const struct sotto *s)
{
	return s->have_id ? s->k->id.server : "";
}

void
sotto_set_auto_receipts(struct sotto *s, int on)
{
	s->auto_receipts = on != 0;
}

#define SETTING_REQUIRE_PQ "require_pq"

int
sotto_set_require_pq(struct sotto *s, int on)
{
	uint8_t v = on ? 1 : 0;

	return store_setting_put(s->st, SETTING_REQUIRE_PQ, &v, 1);
}

int
sotto_require_pq(struct sotto *s)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int r = store_setting_get(s->st, SETTING_REQUIRE_PQ, &v, &n);

	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r == 0)
		r = n == 1 && v[0] <= 1 ? v[0] : SOTTO_ERR_CORRUPT;
	store_blob_free(v, n);
	return r;
}

void
client_set_transport(struct sotto *s, const struct transport_ops *ops, void *arg)
{
	sotto_disconnect(s);
	client_sealed_close(s, 1);
	s->ops = ops;
	s->targ = arg;
}

int
client_conn_failed(struct sotto *s, int r)
{
	if (r != SOTTO_ERR_TIMEOUT && r != 0)
		sotto_disconnect(s);
	return r;
}

int
client_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp, int timeout_ms)
{
	int r;

	if (s->t == NULL)
		return SOTTO_ERR_CLOSED;
	if ((r = s->ops->request(s->t, req, resp, timeout_ms)) != 0) {
		/* A timeout leaves a response we no longer wait for on the stream: start over. */
		sotto_disconnect(s);
		return r;
	}
	return resp->status;
}

static int
transport_open(struct sotto *s, const char *server, int timeout_ms)
{
	int real = s->targ == &s->login, r;

	if (s->t != NULL)
		return 0;
	/* The real transport resumes with the ticket of the last login, also across
	 * processes; failing to load or save it only costs a full login. */
	if (real) {
		if (client_ticket_load(s) != 0)
			conn_ticket_wipe(s->ticket);
		/* Read now: another process on this store may have logged in since. */
		if ((r = client_login_gen_load(s, &s->login.generation)) != 0)
			return r;
	}
	if ((r = s->ops->open(&s->t, s->targ, server, s->k->id.device_sk, timeout_ms)) != 0) {
		s->t = NULL;
		return r;
	}
	if (real) {
		(void)client_ticket_save(s);
		/* Not stored (a crash now): the next login presents the one before, which the
		 * server still takes. */
		if (s->login.fresh)
			(void)client_login_gen_save(s, s->login.generation);
	}
	return 0;
}

void
sotto_disconnect(struct sotto *s)
{
	if (s != NULL && s->t != NULL) {
		s->ops->close(s->t);
		s->t = NULL;
	}
}

int
sotto_fd(const struct sotto *s)
{
	return s->t != NULL ? s->ops->fd(s->t) : -1;
}

int
client_ensure_cert(struct sotto *s, int timeout_ms)
{
	struct proto_msg req, resp;
	struct cert_sender cs;
	uint64_t now = client_now();
	int r;

	if (s->cert_len > 0 && now + CLIENT_CERT_MARGIN < s->cert_expiry)
		return 0;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_SENDER_CERTIFICATE;
	if ((r = client_request(s, &req, &resp, timeout_ms)) != 0)
		return r;
	/* Our own certificate is checked like a peer would: a server that hands out a wrong
	 * one would have every message we send rejected. */
	if ((r = cert_verify(resp.u.cert.cert, resp.u.cert.len, s->server_pk, now, &cs)) != 0)
		return r;
	if (strcmp(cs.address, s->k->id.address) != 0 ||
	    sodium_memcmp(cs.identity_pk, s->k->id.identity_pk, 32) != 0)
		return SOTTO_ERR_PROTOCOL;
	memcpy(s->cert, resp.u.cert.cert, resp.u.cert.len);
	s->cert_len = resp.u.cert.len;
	s->cert_expiry = cs.expiry;
	return 0;
}

int
sotto_init(struct sotto *s, const char *address, const char *server, const char *invite,
    int timeout_ms)
{
	struct address_server sa;
	struct proto_msg *req = NULL, resp;
	struct store_identity *id = &s->k->id;
	size_t alen, ilen = invite != NULL ? strlen(invite) : 0;
	char addr[ADDRESS_MAX + 1];
	int r;

	if (address == NULL || server == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = address_user_normalize(address, addr)) != 0)
		return r;
	address = addr;
	alen = strlen(address);
	if (address_server_parse(server, &sa) != 0 || strlen(server) > STORE_SERVER_MAX)
		return SOTTO_ERR_MALFORMED;
	if (ilen > PROTO_INVITE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (s->have_id && id->reg_state == STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	if (!s->have_id) {
		memset(id, 0, sizeof(*id));
		if ((r = sign_keypair(id->identity_pk, id->identity_sk)) != 0 ||
		    (r = dh_keypair(id->device_pk, id->device_sk)) != 0)
			return r;
	}
	memcpy(id->address, address, alen + 1);
	memcpy(id->server, server, strlen(server) + 1);
	id->reg_state = STORE_REG_NONE;
	if ((r = store_identity_put(s->st, id)) != 0 || (r = client_load_identity(s)) != 0)
		return r;
	sotto_disconnect(s);
	if ((r = transport_open(s, server, timeout_ms)) != 0)
		return r;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return SOTTO_ERR_NOMEM;
	req->type = PROTO_REGISTER;
	memcpy(req->u.reg.address, address, alen + 1);
	memcpy(req->u.reg.identity_pk, id->identity_pk, 32);
	memcpy(req->u.reg.device_pk, id->device_pk, 32);
	if (ilen > 0)
		memcpy(req->u.reg.invite, invite, ilen);
	req->u.reg.invite_len = ilen;
	if ((r = proto_register_sign(&req->u.reg, id->identity_sk)) != 0)
		goto out;
	if ((r = client_request(s, req, &resp, timeout_ms)) != 0)
		goto out;
	if ((r = client_upload_prekeys(s, 1, CLIENT_OTPK_BATCH, CLIENT_OTPK_BATCH,
	    timeout_ms)) != 0)
		goto out;
	/* KeyPackages are topped up by every connect too: a failure here is retried then. */
	if (client_key_packages_replenish(s, 0, timeout_ms) != 0 && s->t == NULL)
		r = 0;
	id->reg_state = STORE_REG_REGISTERED;
	if ((r = store_identity_put(s->st, id)) != 0)
		goto out;
	if ((r = client_ensure_cert(s, timeout_ms)) != 0)
		goto out;
	/* Our delivery token, registered now (retried at each connect while it is not). */
	if ((r = client_token_maintain(s, timeout_ms)) != 0 && s->t != NULL)
		r = 0;
out:
	sodium_memzero(req, sizeof(*req));
	free(req);
	return r;
}

int
sotto_connect(struct sotto *s, int timeout_ms)
{
	int r;

	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	if (s->t != NULL)
		return 0;
	if ((r = transport_open(s, s->k->id.server, timeout_ms)) != 0)
		return r;
	/* Registered here, unknown there: the operator reset or deleted the account. */
	if (s->targ == &s->login && s->login.guest) {
		sotto_disconnect(s);
		return SOTTO_ERR_ACCOUNT_GONE;
	}
	if ((r = client_ensure_cert(s, timeout_ms)) != 0) {
		sotto_disconnect(s);
		return r;
	}
	/* Prekey upkeep and the outbox are retried later; only a lost connection fails the
	 * connect (an outbox item the server refused for good was dropped with its error). */
	if ((r = client_maintain_spk(s, timeout_ms)) != 0 && s->t == NULL)
		return r;
	if ((r = client_key_packages_replenish(s, 0, timeout_ms)) != 0 && s->t == NULL)
		return r;
	if ((r = client_token_maintain(s, timeout_ms)) != 0 && s->t == NULL)
		return r;
	if ((r = client_flush_outbox(s, timeout_ms, NULL, NULL)) != 0 && s->t == NULL)
		return r;
	return 0;
}
