/*
 * cli.c — dispatch of client subcommands (a table, git style).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cli_main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("usage: oast <command> [options]\n\n  server    run the Oast server\n");
    return argc < 2 ? 2 : 0;
  }
  fprintf(stderr, "oast: unknown command \"%s\"; see oast --help\n", argv[1]);
  return 2;
}
