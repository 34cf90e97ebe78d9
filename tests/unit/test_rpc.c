#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cli/rpc.h"

static int
parse(const char *line, json_t **id_out)
{
	struct rpc_request req;
	json_t *err = NULL;
	int r = rpc_request_parse(&req, line, strlen(line), &err);

	if (r != 0) {
		CHECK(err != NULL);
		CHECK_EQ_INT(json_integer_value(json_object_get(err, "code")), r);
	} else
		CHECK(err == NULL && req.method != NULL);
	if (id_out != NULL)
		*id_out = req.id != NULL ? json_incref(req.id) : NULL;
	json_decref(err);
	rpc_request_free(&req);
	return r;
}

TEST(rpc_accepts_requests_and_notifications)
{
	json_t *id = NULL;

	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"contacts\"}", &id), 0);
	CHECK(json_is_integer(id) && json_integer_value(id) == 7);
	json_decref(id);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"method\":\"contacts\",\"params\":{}}", &id), 0);
	CHECK(id == NULL);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"m\",\"params\":[1]}",
	    NULL), 0);
}

TEST(rpc_rejects_what_the_spec_rejects)
{
	json_t *id = NULL;

	CHECK_EQ_INT(parse("", NULL), RPC_PARSE_ERROR);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",", NULL), RPC_PARSE_ERROR);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\"} {}", NULL), RPC_PARSE_ERROR);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}", NULL),
	    RPC_PARSE_ERROR);
	CHECK_EQ_INT(parse("[1,2]", NULL), RPC_INVALID_REQUEST);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"1.0\",\"method\":\"a\"}", NULL), RPC_INVALID_REQUEST);
	CHECK_EQ_INT(parse("{\"method\":\"a\"}", NULL), RPC_INVALID_REQUEST);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"method\":5}", NULL), RPC_INVALID_REQUEST);
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":3}", NULL),
	    RPC_INVALID_REQUEST);
	/* An id of the wrong type is not echoed back. */
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"a\"}", &id),
	    RPC_INVALID_REQUEST);
	CHECK(id == NULL);
	/* A valid id is kept for the error reply. */
	CHECK_EQ_INT(parse("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":1}", &id),
	    RPC_INVALID_REQUEST);
	CHECK(json_is_integer(id));
	json_decref(id);
}

TEST(rpc_param_str_only_strings)
{
	json_t *p = json_pack("{s:s, s:i}", "to", "bob@localhost", "n", 3);

	CHECK(strcmp(rpc_param_str(p, "to"), "bob@localhost") == 0);
	CHECK(rpc_param_str(p, "n") == NULL);
	CHECK(rpc_param_str(p, "missing") == NULL);
	CHECK(rpc_param_str(NULL, "to") == NULL);
	json_decref(p);
}

/* subscribe's `after`: a row number, absent, or refused (never read as 0 by mistake) */
TEST(rpc_param_int_range_and_type)
{
	json_t *p = json_pack("{s:I, s:I, s:s, s:f, s:b}", "after", (json_int_t)42, "neg",
	    (json_int_t)-1, "str", "7", "real", 1.5, "bool", 1);
	int64_t v = -5;

	CHECK_EQ_INT(rpc_param_int(p, "after", 0, INT64_MAX, &v), 0);
	CHECK(v == 42);
	CHECK_EQ_INT(rpc_param_int(p, "missing", 0, INT64_MAX, &v), 1);
	CHECK_EQ_INT(rpc_param_int(NULL, "after", 0, INT64_MAX, &v), 1);
	CHECK_EQ_INT(rpc_param_int(p, "neg", 0, INT64_MAX, &v), -1);
	CHECK_EQ_INT(rpc_param_int(p, "after", 0, 41, &v), -1);
	CHECK_EQ_INT(rpc_param_int(p, "str", 0, INT64_MAX, &v), -1);
	CHECK_EQ_INT(rpc_param_int(p, "real", 0, INT64_MAX, &v), -1);
	CHECK_EQ_INT(rpc_param_int(p, "bool", 0, INT64_MAX, &v), -1);
	CHECK(v == 42);
	json_decref(p);
}

int
main(void)
{
	RUN(rpc_accepts_requests_and_notifications);
	RUN(rpc_rejects_what_the_spec_rejects);
	RUN(rpc_param_str_only_strings);
	RUN(rpc_param_int_range_and_type);
	return check_summary();
}
