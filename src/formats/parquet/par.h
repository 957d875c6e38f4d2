/*
 * par.h — runs independent tasks (one per column chunk) on a few threads
 * (internal to src/formats/parquet). Columns of a row group are encoded
 * and decoded independently, so the codec spreads them over the CPUs; the
 * calling thread works too, and the call returns when every task is done.
 */
#ifndef FORMATS_PARQUET_PAR_H
#define FORMATS_PARQUET_PAR_H

#include <stddef.h>

/* fn(arg, task, worker) for task in [0, ntasks), worker in [0, nworkers). */
typedef void (*par_fn)(void *arg, size_t task, int worker);

/* Workers to use for ntasks tasks when the caller asked for `want` (0: auto). */
int par_workers(int want, size_t ntasks);
void par_run(size_t ntasks, int nworkers, par_fn fn, void *arg);

#endif
