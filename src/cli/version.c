/*
 * version.c — `oast version`: the client's version and, when the server
 * answers, the server's (GET /health needs no key). An unreachable server
 * is reported but is not an error of this command.
 */
#include <jansson.h>

#include "cli/command.h"
#include "client/client_json.h"

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  json_t *health = NULL;
  oast_err e;
  int rc = client_request_json(ctx->client, "GET", "/health", NULL, NULL, &health, &e);
  json_t *server = rc == 0 ? json_object_get(health, "version") : NULL;
  if (ctx->json) {
    json_t *j = json_pack("{s:s, s:s, s:O?}", "client", OAST_VERSION, "addr", oast_client_addr(ctx->client),
                          "server", server);
    cli_print_json(ctx, j);
    json_decref(j);
  } else {
    fprintf(ctx->out, "oast %s\n", OAST_VERSION);
    if (rc == 0)
      fprintf(ctx->out, "server %s at %s\n", json_is_string(server) ? json_string_value(server) : "?",
              oast_client_addr(ctx->client));
    else
      fprintf(ctx->out, "server not reachable: %s\n", e.msg);
  }
  json_decref(health);
  return CLI_OK;
}

static const struct cli_verb verbs[] = {
    {NULL, "", "Print the client's version and the server's, if it answers.", NULL, NULL, 0, 0, CLI_NEEDS_NO_KEY,
     run},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_version = {"version", "the versions of this client and of the server", verbs};
