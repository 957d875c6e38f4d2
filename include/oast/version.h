/* oast/version.h — the version of the server, the CLI and liboast. */
#ifndef OAST_VERSION_H
#define OAST_VERSION_H
#define OAST_VERSION "0.1.0"
#endif
