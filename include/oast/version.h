/*
 * oast/version.h — the version of Oast: of the binary (server and CLI),
 * of liboast and of the Python client, which are released together.
 */
#ifndef OAST_VERSION_H
#define OAST_VERSION_H

#define OAST_VERSION "0.1.0"

#endif
