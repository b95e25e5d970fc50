/* SCAFFOLD: replaced by the helper that owns this file. */
#include <stdio.h>
#include "qt_lab.h"
int qt_lab_stats(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab stats: not built yet\n"); return QT_LAB_EXIT_FAIL; }
int qt_lab_dsr(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab dsr: not built yet\n"); return QT_LAB_EXIT_FAIL; }
int qt_lab_pbo(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab pbo: not built yet\n"); return QT_LAB_EXIT_FAIL; }
int qt_lab_cpcv(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab cpcv: not built yet\n"); return QT_LAB_EXIT_FAIL; }
