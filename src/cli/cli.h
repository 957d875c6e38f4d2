/*
 * cli.h — the `oast` client: every subcommand other than `server`.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

/* argv[0] is the program; argv[1] the noun. Returns the exit status. */
int cli_main(int argc, char **argv);

#endif
