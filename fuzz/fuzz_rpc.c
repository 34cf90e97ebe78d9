/* JSON-RPC request lines as `sotto daemon` parses them (src/cli/rpc.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_request req;
	json_t *err = NULL;
	char *s;
	int r;

	r = rpc_request_parse(&req, (const char *)data, size, &err);
	if (r == 0) {
		if (req.method == NULL || err != NULL)
			abort();
		int64_t after = -1;

		(void)rpc_param_str(req.params, "to");
		(void)rpc_param_str(req.params, "address");
		/* subscribe's row: in range whenever it is taken */
		if (rpc_param_int(req.params, "after", 0, INT64_MAX, &after) == 0 && after < 0)
			abort();
	} else {
		if (err == NULL || !json_is_integer(json_object_get(err, "code")))
			abort();
		/* The error reply must serialise. */
		if ((s = json_dumps(err, JSON_COMPACT)) == NULL)
			abort();
		free(s);
	}
	json_decref(err);
	rpc_request_free(&req);
	return 0;
}
