/* Library benchmarks of qt-bench, one file each (bench_*.c). Each prints ONE JSON object
 * on stdout (figures, never pass/fail); argv[i..argc) are its own arguments.
 * Exit: 0 ok, 1 measurement failed, 2 usage error. scripts/bench calls them all. */
#ifndef QT_BENCH_QUANT_H
#define QT_BENCH_QUANT_H
int bench_features(int argc, char **argv, int i); /* bench_features.c: feature updates/s */
int bench_stats(int argc, char **argv, int i);    /* bench_stats.c: statistics on 1M returns */
int bench_models(int argc, char **argv, int i);   /* bench_models.c: XGBoost inference */
int bench_qaoa(int argc, char **argv, int i);     /* bench_qaoa.c: QAOA and classical solvers */
int bench_ingest(int argc, char **argv, int i);   /* bench_ingest.c: parse+validate bars/s */
#endif
