/* SCAFFOLD: replaced by the helper that owns this file. */
#include <stdio.h>
#include "qt_lab.h"
int qt_lab_qaoa(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab qaoa: not built yet\n"); return QT_LAB_EXIT_FAIL; }
int qt_lab_optimize(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab optimize: not built yet\n"); return QT_LAB_EXIT_FAIL; }
