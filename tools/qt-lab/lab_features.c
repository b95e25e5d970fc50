/* SCAFFOLD: replaced by the helper that owns this file. */
#include <stdio.h>
#include "qt_lab.h"
int qt_lab_features(int argc, char **argv, int i) { (void)argc; (void)argv; (void)i; fprintf(stderr, "qt-lab features: not built yet\n"); return QT_LAB_EXIT_FAIL; }
