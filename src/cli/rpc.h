/*
 * JSON-RPC 2.0 requests as `sotto daemon` reads them: one JSON object per line from a
 * local client. Parsing and validation live here, apart from the socket handling, so that
 * they can be fuzzed on their own (fuzz/fuzz_rpc.c).
 */
#ifndef SOTTO_CLI_RPC_H
#define SOTTO_CLI_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602

struct rpc_request {
	json_t *root;           /* owned; NULL if the line was not JSON */
	json_t *id;             /* borrowed from root; NULL for a notification */
	const char *method;     /* borrowed from root */
	json_t *params;         /* borrowed from root; NULL, an object or an array */
};

/* A JSON-RPC error object {code, message}. */
json_t *rpc_error(int code, const char *msg);

/* Parses and checks one request line. Returns 0, or a JSON-RPC error code with *err set to
 * the error object to answer with (req->id is kept when the line was an object with one).
 * Always call rpc_request_free afterwards. */
int rpc_request_parse(struct rpc_request *req, const char *line, size_t len, json_t **err);
void rpc_request_free(struct rpc_request *req);

/* The string parameter `key` of an object, or NULL. */
const char *rpc_param_str(json_t *params, const char *key);
/* The integer parameter `key` of an object: 0 with *out set when it is an integer in
 * [min, max], 1 when params has no such key (or is not an object), -1 otherwise. */
int rpc_param_int(json_t *params, const char *key, int64_t min, int64_t max, int64_t *out);

#endif
