/*
 * allreduce_mpi.c — a tiny MPI program for the "mpi" strategy of
 * distributed experiments: every rank contributes rank + 1, MPI_Allreduce
 * sums them, and every rank prints what it got, so the experiment's log
 * shows one "[worker k] ..." line per rank with the same sum
 * (N * (N + 1) / 2).
 *
 * With the argument --fail-rank R that rank exits with status 3 after the
 * sum, to show what a failed run looks like: the run fails, naming
 * worker R, and mpirun stops the other ranks.
 *
 *   mpicc -o allreduce_mpi examples/allreduce_mpi.c
 *   oast exp run demo --workers 4 --strategy mpi -- ./allreduce_mpi
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size, fail = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc == 3 && strcmp(argv[1], "--fail-rank") == 0) fail = atoi(argv[2]);
  long mine = rank + 1, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  printf("rank %d of %d: allreduce sum %ld\n", rank, size, sum);
  fflush(stdout);
  if (rank == fail) {
    fprintf(stderr, "rank %d fails on purpose\n", rank);
    return 3;
  }
  MPI_Finalize();
  return sum == (long)size * (size + 1) / 2 ? 0 : 1;
}
