/* qt_testenv: a valid envelope of every body type, for the tests (linked into every test
 * binary). Why shared: the envelope, bus and Kafka tests each need "one realistic, valid
 * message per body type"; one fixture keeps them in step when the proto grows (a new body
 * type added here is exercised by every one of them).
 *
 * qt_testenv_init fills realistic values (they are what test_envelope's exact JSON checks
 * expect). qt_testenv_set_tag puts a number into one field per body (and the envelope's
 * event time) so a receiver can tell messages apart; qt_testenv_tag reads it back. */
#ifndef QT_TESTENV_H
#define QT_TESTENV_H
#include <stddef.h>
#include <stdint.h>
#include "qt_envelope.h"

#define QT_TESTENV_T0_NS 1700000000000000000LL

typedef struct {
    qt_env_t env;
    Qt__V1__Bar bar;
    Qt__V1__Feature feat[3];
    Qt__V1__Feature *featp[3];
    Qt__V1__FeatureVector fv;
    Qt__V1__Signal sig;
    Qt__V1__TargetPosition tp[2];
    Qt__V1__TargetPosition *tpp[2];
    Qt__V1__TargetPortfolio target;
    Qt__V1__OrderIntent intent;
    Qt__V1__RejectReason rr;
    Qt__V1__RejectReason *rrp[1];
    Qt__V1__RiskDecision decision;
    Qt__V1__Order order;
    Qt__V1__ExecutionReport report;
    Qt__V1__Fill fill;
    Qt__V1__Position pos[3];
    Qt__V1__Position *rebuilt[1];
    Qt__V1__Position *broker[1];
    Qt__V1__KillSwitch ks;
    Qt__V1__Heartbeat hb;
    Qt__V1__Watermark wm;
    Qt__V1__ReconReport recon;
    Qt__V1__DataAlert alert;
    Qt__V1__ModeState mode;
    Qt__V1__PolicyAction action;
    uint8_t trace[16];
    uint8_t span[8];
} qt_testenv_t;

/* Every body type, in proto field order, and its name as qt_env_body_name gives it. */
extern const Qt__V1__Envelope__BodyCase qt_testenv_kinds[];
extern const char *const qt_testenv_kind_names[];
extern const size_t qt_testenv_nkinds;

/* A valid envelope carrying body `kind` (source "qt-test", seq 42, trace and span ids,
 * event time QT_TESTENV_T0_NS). The envelope points into *s: keep s alive. */
void qt_testenv_init(qt_testenv_t *s, Qt__V1__Envelope__BodyCase kind);
/* Stamps `tag` into the body's tag field and event time = QT_TESTENV_T0_NS + tag. */
void qt_testenv_set_tag(qt_testenv_t *s, int64_t tag);
/* The tag of an envelope stamped by qt_testenv_set_tag (-1 for an unknown body). */
int64_t qt_testenv_tag(const qt_env_t *e);
#endif
