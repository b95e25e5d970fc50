/* qt-lab: the research CLI over libs/quant (no services, no network). Each subcommand
 * lives in its own file and prints JSON (or CSV where documented) on stdout.
 * Every command: argv[i..argc) are its own arguments (after the subcommand name).
 * Exit: 0 ok, 1 failure (bad input data, solver error), 2 usage error. */
#ifndef QT_LAB_H
#define QT_LAB_H

#define QT_LAB_EXIT_FAIL 1
#define QT_LAB_EXIT_USAGE 2

extern const char *qt_lab_prog; /* "qt-lab" */

int qt_lab_features(int argc, char **argv, int i); /* lab_features.c */
int qt_lab_labels(int argc, char **argv, int i);   /* lab_labels.c */
int qt_lab_stats(int argc, char **argv, int i);    /* lab_stats.c */
int qt_lab_dsr(int argc, char **argv, int i);      /* lab_stats.c */
int qt_lab_pbo(int argc, char **argv, int i);      /* lab_stats.c */
int qt_lab_cpcv(int argc, char **argv, int i);     /* lab_stats.c */
int qt_lab_qaoa(int argc, char **argv, int i);     /* lab_optimize.c */
int qt_lab_optimize(int argc, char **argv, int i); /* lab_optimize.c */
#endif
