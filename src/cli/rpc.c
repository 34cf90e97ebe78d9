#include "cli/rpc.h"

#include <string.h>

json_t *
rpc_error(int code, const char *msg)
{
	json_t *e = json_object();

	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message", json_string(msg));
	return e;
}

int
rpc_request_parse(struct rpc_request *req, const char *line, size_t len, json_t **err)
{
	json_error_t jerr;
	json_t *version;

	memset(req, 0, sizeof(*req));
	*err = NULL;
	/* JSON_DISABLE_EOF_CHECK off: a line is exactly one value, nothing after it. */
	req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req->root == NULL) {
		*err = rpc_error(RPC_PARSE_ERROR, "parse error");
		return RPC_PARSE_ERROR;
	}
	if (json_is_object(req->root))
		req->id = json_object_get(req->root, "id");
	version = json_is_object(req->root) ? json_object_get(req->root, "jsonrpc") : NULL;
	req->method = json_is_object(req->root) ?
	    json_string_value(json_object_get(req->root, "method")) : NULL;
	req->params = json_is_object(req->root) ? json_object_get(req->root, "params") : NULL;
	if (req->method == NULL || !json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0 ||
	    (req->params != NULL && !json_is_object(req->params) && !json_is_array(req->params)) ||
	    (req->id != NULL && !json_is_string(req->id) && !json_is_integer(req->id) &&
	    !json_is_null(req->id))) {
		if (req->id != NULL && !json_is_string(req->id) && !json_is_integer(req->id))
			req->id = NULL;         /* answered with id null, as the spec says */
		*err = rpc_error(RPC_INVALID_REQUEST, "invalid request");
		return RPC_INVALID_REQUEST;
	}
	return 0;
}

void
rpc_request_free(struct rpc_request *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

const char *
rpc_param_str(json_t *params, const char *key)
{
	json_t *v = json_is_object(params) ? json_object_get(params, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
rpc_param_int(json_t *params, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_is_object(params) ? json_object_get(params, key) : NULL;
	json_int_t i;

	if (v == NULL)
		return 1;
	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < min || i > max)
		return -1;
	*out = i;
	return 0;
}
