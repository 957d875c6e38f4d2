/*
 * trial_curve.c — a tiny experiment trial in C, using liboast's reporter.
 *
 * It "trains" a model whose quality depends on the parameter x (best at
 * x = 0.7) and improves with every step like a learning curve:
 *
 *   metric(step) = q(x) * (1 - 0.5^((step + 1) / 4)),   q(x) = 1 - (x - 0.7)^2
 *
 * It runs `budget` steps (the ASHA budget, else the parameter "steps",
 * else 20), sleeping step_ms milliseconds per step (parameter, default
 * 0) to stand in for real work, reports the metric after every step,
 * ends early when the experiment says stop, and reports the last value
 * as its final metric. Because the curves never cross, a configuration
 * that is better after a few steps is better after many: the shape
 * successive halving (ASHA) exploits.
 *
 *   cc -o trial_curve examples/trial_curve.c -Iinclude -Lbuild -loast -lm
 *   oast exp run demo --grid x=0.1,0.4,0.7,1.0 --metric metric -- ./trial_curve
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "oast/trial.h"

int main(void) {
  double x = oast_trial_param_double("x", 0.5);
  long long steps = oast_trial_param_int("budget", oast_trial_param_int("steps", 20));
  long long step_ms = oast_trial_param_int("step_ms", 0);
  double q = 1 - (x - 0.7) * (x - 0.7), metric = 0;
  oast_err e;
  printf("x=%g, %lld steps\n", x, steps);
  for (long long step = 0; step < steps; step++) {
    if (step_ms > 0) {
      struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    metric = q * (1 - pow(0.5, (double)(step + 1) / 4));
    int stop = 0;
    if (oast_trial_report(metric, step, &stop, &e) != 0) {
      fprintf(stderr, "report failed: %s\n", e.msg);
      return 1;
    }
    if (stop) {
      printf("stopped early at step %lld\n", step);
      break;
    }
  }
  if (oast_trial_final(metric, &e) != 0) {
    fprintf(stderr, "final failed: %s\n", e.msg);
    return 1;
  }
  printf("final metric %.6f\n", metric);
  return 0;
}
