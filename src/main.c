/*
 * main.c — one binary, two roles: `oast server` runs the server, every
 * other first word is a client subcommand (src/cli).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/server.h"

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "server") == 0) return server_main(argc - 1, argv + 1);
  return cli_main(argc, argv);
}
