/* Requests of the MLS delivery service, client side (group_net.h). */
#include "client/group_net.h"

#include <string.h>

#include <sodium.h>

#include "wire/address.h"

static int
set_group_id(struct proto_group_id *g, const uint8_t *id, size_t len)
{
	if (id == NULL || len == 0 || len > PROTO_GROUP_ID_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(g->id, id, len);
	g->len = len;
	return 0;
}

/* The request, then the server's status (or the connection's error). */
static int
ask(const struct transport_ops *ops, void *t, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms)
{
	int r = ops->request(t, req, resp, timeout_ms);

	return r != 0 ? r : resp->status;
}

int
group_net_upload_key_packages(const struct transport_ops *ops, void *t,
    const struct proto_blob *kps, size_t n, const struct proto_blob *last_resort,
    struct proto_key_package_count *left, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	if (n > PROTO_MAX_KEY_PACKAGES || (n > 0 && kps == NULL))
		return SOTTO_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_UPLOAD_KEY_PACKAGES;
	req.u.upload_kp.n = n;
	for (size_t i = 0; i < n; i++)
		req.u.upload_kp.kp[i] = kps[i];
	if (last_resort != NULL)
		req.u.upload_kp.last_resort = *last_resort;
	if ((r = ask(ops, t, &req, &resp, timeout_ms)) == 0 && left != NULL)
		*left = resp.u.kp_count;
	return r;
}

int
group_net_claim_key_package(const struct transport_ops *ops, void *t, const char *address,
    struct group_net_claimed *out, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	if ((r = address_user_normalize(address, req.u.claim.address)) != 0)
		return r;
	req.type = PROTO_CLAIM_KEY_PACKAGE;
	if ((r = ask(ops, t, &req, &resp, timeout_ms)) != 0)
		return r;
	if (resp.u.claimed.kp.len > sizeof(out->kp))
		return SOTTO_ERR_PROTOCOL;
	memcpy(out->identity_pk, resp.u.claimed.identity_pk, sizeof(out->identity_pk));
	out->last_resort = resp.u.claimed.last_resort;
	memcpy(out->kp, resp.u.claimed.kp.p, resp.u.claimed.kp.len);
	out->len = resp.u.claimed.kp.len;
	return 0;
}

int
group_net_create(const struct transport_ops *ops, void *t, const uint8_t *id, size_t len,
    const uint8_t *verifier, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_GROUP_CREATE;
	if ((r = set_group_id(&req.u.group_create.group, id, len)) != 0)
		return r;
	if (verifier != NULL)
		memcpy(req.u.group_create.verifier, verifier, PROTO_GROUP_TOKEN_LEN);
	return ask(ops, t, &req, &resp, timeout_ms);
}

int
group_net_commit(const struct transport_ops *ops, void *t, const struct group_net_commit *gc,
    struct proto_group_result *res, int timeout_ms)
{
	struct proto_welcome w[GROUP_NET_WELCOMES_MAX];
	struct proto_msg req, resp;
	int r;

	if (gc->n_welcomes > GROUP_NET_WELCOMES_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_GROUP_COMMIT;
	if ((r = set_group_id(&req.u.group_commit.group, gc->id, gc->id_len)) != 0)
		return r;
	req.u.group_commit.epoch = gc->epoch;
	if (gc->verifier != NULL)
		memcpy(req.u.group_commit.verifier, gc->verifier, PROTO_GROUP_TOKEN_LEN);
	req.u.group_commit.commit.p = gc->commit;
	req.u.group_commit.commit.len = gc->commit_len;
	req.u.group_commit.add.n = gc->n_add;
	req.u.group_commit.add.addrs = gc->add;
	req.u.group_commit.remove.n = gc->n_remove;
	req.u.group_commit.remove.addrs = gc->remove;
	for (size_t i = 0; i < gc->n_welcomes; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].data.p = gc->welcomes[i].data;
		w[i].data.len = gc->welcomes[i].len;
		w[i].to.n = gc->welcomes[i].n_to;
		w[i].to.addrs = gc->welcomes[i].to;
	}
	req.u.group_commit.welcomes.n = gc->n_welcomes;
	req.u.group_commit.welcomes.items = w;
	r = ask(ops, t, &req, &resp, timeout_ms);
	if ((r == 0 || r == SOTTO_ERR_STALE_EPOCH) && res != NULL)
		*res = resp.u.group_result;
	return r;
}

/* GROUP_SEND (token NULL) or GROUP_SEND_SEALED. */
static int
send_message(const struct transport_ops *ops, void *t, const uint8_t *id, size_t id_len,
    const uint8_t *token, const uint8_t cmid[16], const uint8_t *msg, size_t len,
    struct proto_group_result *res, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	req.type = token != NULL ? PROTO_GROUP_SEND_SEALED : PROTO_GROUP_SEND;
	if ((r = set_group_id(&req.u.group_send.group, id, id_len)) != 0)
		return r;
	if (token != NULL)
		memcpy(req.u.group_send.token, token, PROTO_GROUP_TOKEN_LEN);
	memcpy(req.u.group_send.client_msg_id, cmid, sizeof(req.u.group_send.client_msg_id));
	req.u.group_send.message.p = msg;
	req.u.group_send.message.len = len;
	r = ask(ops, t, &req, &resp, timeout_ms);
	sodium_memzero(req.u.group_send.token, PROTO_GROUP_TOKEN_LEN);
	if ((r == 0 || (r == SOTTO_ERR_STALE_EPOCH && token != NULL)) && res != NULL)
		*res = resp.u.group_result;
	return r;
}

int
group_net_send(const struct transport_ops *ops, void *t, const uint8_t *id, size_t id_len,
    const uint8_t cmid[16], const uint8_t *msg, size_t len, struct proto_group_result *res,
    int timeout_ms)
{
	return send_message(ops, t, id, id_len, NULL, cmid, msg, len, res, timeout_ms);
}

int
group_net_send_sealed(const struct transport_ops *ops, void *t, const uint8_t *id,
    size_t id_len, const uint8_t token[PROTO_GROUP_TOKEN_LEN], const uint8_t cmid[16],
    const uint8_t *msg, size_t len, struct proto_group_result *res, int timeout_ms)
{
	return send_message(ops, t, id, id_len, token, cmid, msg, len, res, timeout_ms);
}

int
group_net_received(const struct transport_ops *ops, void *t, const struct proto_group_ack *acks,
    size_t n, int timeout_ms)
{
	struct proto_msg req, resp;

	if (n == 0 || n > PROTO_MAX_GROUP_ACKS || acks == NULL)
		return SOTTO_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_GROUP_RECEIVED;
	req.u.group_received.n = n;
	req.u.group_received.items = acks;
	return ask(ops, t, &req, &resp, timeout_ms);
}
