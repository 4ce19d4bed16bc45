/* quanta conform — runs the conformance cases on each selected backend against the reference
 * backend and prints a table (conformance/README.md describes cases, keys and thresholds). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_args.h"
#include "commands.h"
#include "conform.h"
#include "clock.h"

#define MAX_TARGETS 8
#define MAX_CASES_ARG 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta conform [options]\n"
            "\n"
            "Runs every op on each backend and compares it with the reference backend (\"ref\")\n"
            "on the same inputs: NMSE and max-abs-error against one threshold table, guard regions\n"
            "around every output, outputs poisoned with NaN before the run.\n"
            "\n"
            "  --backend LIST   ref, opencl, cuda, all (default), or a comma list of backend specs\n"
            "                   such as opencl:1; 'all' takes ref and every compiled backend with a device\n"
            "  --seed N         input seed (default: drawn from the clock; always printed)\n"
            "  --filter OPS     comma list of ops to run (matmul, attention, rms_norm, ...)\n"
            "  --case SPEC      run one explicit case, e.g. 'matmul:m=3,n=17,k=192,w=q4,g=64,x=f16'\n"
            "                   (repeatable; omitted keys take their defaults, see --keys)\n"
            "  --quick          the small CI smoke subset instead of the full sweep\n"
            "  --list           print the selected cases' specs and exit\n"
            "  --json FILE      write a JSON report\n"
            "  --junit FILE     write a JUnit XML file\n"
            "  --failures       print only the lines that did not pass\n"
            "  --keys           print every op's spec keys with their defaults\n"
            "  --thresholds     print the threshold table\n"
            "\n"
            "Exit status: 0 all cases passed or were skipped, 1 a case failed, 2 usage error.\n");
}

static int parse_filter(const char *list, bool *ops) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    memset(ops, 0, QC_OP_MAX * sizeof *ops);
    qc_op all[QC_OP_MAX];
    int nall = qc_op_list(all);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        qc_op op;
        if (qc_op_parse(tok, &op)) {
            fprintf(stderr, "quanta conform: --filter: unknown op '%s'; ops:", tok);
            for (int i = 0; i < nall; i++) fprintf(stderr, " %s", qc_op_name(all[i]));
            fprintf(stderr, "\n");
            return -1;
        }
        ops[op] = true;
    }
    for (int i = 0; i < QC_OP_MAX; i++)
        if (ops[i]) return 0;
    fprintf(stderr, "quanta conform: --filter '%s' names no op\n", list); /* else nothing would run */
    return -1;
}

typedef struct targets {
    qc_target v[MAX_TARGETS];
    int n;
} targets;

/* Opens one backend spec as a target; `optional` ones without a device are only noted. */
static int add_target(targets *t, const char *spec, quanta_backend *ref, bool optional) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].name, spec)) return 0;
    if (t->n == MAX_TARGETS) {
        fprintf(stderr, "quanta conform: at most %d backends\n", MAX_TARGETS);
        return -1;
    }
    qc_target *x = &t->v[t->n];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", spec);
    if (!strcmp(spec, "ref")) {
        x->be = ref;
        x->is_ref = true;
        t->n++;
        return 0;
    }
    quanta_status st = quanta_backend_open(spec, &x->be);
    if (st != QUANTA_OK) {
        if (optional && (st == QUANTA_ERR_NO_DEVICE || st == QUANTA_ERR_UNSUPPORTED)) {
            printf("backend %-8s not tested: %s (%s)\n", spec, quanta_status_name(st), quanta_last_error());
            return 0;
        }
        fprintf(stderr, "quanta conform: cannot open backend '%s': %s: %s\n", spec, quanta_status_name(st),
                quanta_last_error());
        /* An unknown or not compiled backend is a usage error; a missing device a failure. */
        return st == QUANTA_ERR_INVALID_ARGUMENT || st == QUANTA_ERR_UNSUPPORTED ? -2 : -1;
    }
    quanta_device_info info;
    if (quanta_backend_device(x->be, &info) == QUANTA_OK)
        printf("backend %-8s %s (%s, %s)\n", spec, info.name, info.vendor, info.driver);
    t->n++;
    return 0;
}

static int open_targets(targets *t, const char *list, quanta_backend *ref) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            char compiled[256];
            snprintf(compiled, sizeof compiled, "%s", quanta_backends_compiled());
            int rc = add_target(t, "ref", ref, false);
            for (char *s2 = NULL, *b = strtok_r(compiled, ",", &s2); b && !rc; b = strtok_r(NULL, ",", &s2))
                rc = add_target(t, b, ref, true);
            if (rc) return rc;
        } else {
            int rc = add_target(t, tok, ref, false);
            if (rc) return rc;
        }
    }
    if (t->n == 0) {
        fprintf(stderr, "quanta conform: no backend to test\n");
        return -1;
    }
    return 0;
}

static void close_targets(targets *t) {
    for (int i = 0; i < t->n; i++)
        if (!t->v[i].is_ref) quanta_backend_close(t->v[i].be);
}

typedef struct options {
    const char *backends, *filter, *json, *junit;
    const char *cases[MAX_CASES_ARG];
    int ncases;
    uint64_t seed;
    bool have_seed, quick, list, failures_only;
} options;

/* 0 parsed, 1 done (help printed), 2 usage error. */
static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->backends = "all";
    enum { O_BACKEND = 1000, O_SEED, O_FILTER, O_CASE, O_JSON, O_JUNIT, O_QUICK, O_LIST, O_FAILURES, O_KEYS, O_THRESH };
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, O_BACKEND}, {"seed", required_argument, NULL, O_SEED},
        {"filter", required_argument, NULL, O_FILTER},   {"case", required_argument, NULL, O_CASE},
        {"json", required_argument, NULL, O_JSON},       {"junit", required_argument, NULL, O_JUNIT},
        {"quick", no_argument, NULL, O_QUICK},           {"list", no_argument, NULL, O_LIST},
        {"failures", no_argument, NULL, O_FAILURES},     {"keys", no_argument, NULL, O_KEYS},
        {"thresholds", no_argument, NULL, O_THRESH},     {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    qn_getopt_state gs;
    qn_getopt_begin(&gs, "conform", argc, argv, "h", longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1;) {
        switch (c) {
        case 'h': usage(stdout); return 1;
        case O_KEYS: qc_print_keys(stdout); return 1;
        case O_THRESH: qc_print_thresholds(stdout); return 1;
        case O_BACKEND: o->backends = optarg; break;
        case O_SEED:
            if (qn_arg_u64("conform", "--seed", optarg, &o->seed)) return 2;
            o->have_seed = true;
            break;
        case O_FILTER: o->filter = optarg; break;
        case O_CASE:
            if (o->ncases == MAX_CASES_ARG) return qn_usage_error("conform", "at most %d --case options", MAX_CASES_ARG);
            o->cases[o->ncases++] = optarg;
            break;
        case O_JSON: o->json = optarg; break;
        case O_JUNIT: o->junit = optarg; break;
        case O_QUICK: o->quick = true; break;
        case O_LIST: o->list = true; break;
        case O_FAILURES: o->failures_only = true; break;
        default: return 2;
        }
    }
    return 0;
}

static int select_cases(const options *o, qc_case_list *cases) {
    char err[QC_ERR_MAX];
    bool ops[QC_OP_MAX];
    if (o->filter && parse_filter(o->filter, ops)) return 2;
    if (o->ncases) {
        for (int i = 0; i < o->ncases; i++) {
            qc_case c;
            if (qc_case_parse(o->cases[i], &c, err, sizeof err)) {
                fprintf(stderr, "quanta conform: --case: %s\n", err);
                return 2;
            }
            if ((!o->filter || ops[c.op]) && qc_case_list_push(cases, &c)) {
                fprintf(stderr, "quanta conform: out of memory\n");
                return 1;
            }
        }
        return 0;
    }
    if (qc_cases_generate(cases, o->quick, o->filter ? ops : NULL)) {
        fprintf(stderr, "quanta conform: generating the cases failed (a generated case is invalid or memory ran out)\n");
        return 1;
    }
    return 0;
}

int qn_cmd_conform(int argc, char **argv) {
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;

    qc_case_list cases = {0};
    if ((rc = select_cases(&o, &cases)) != 0) {
        qc_case_list_free(&cases);
        return rc;
    }
    char spec[QC_SPEC_MAX];
    if (o.list) {
        for (size_t i = 0; i < cases.n; i++) {
            qc_case_format(&cases.v[i], spec, sizeof spec);
            printf("%s\n", spec);
        }
        qc_case_list_free(&cases);
        return 0;
    }

    uint64_t seed = o.have_seed ? o.seed : ((uint64_t)time(NULL) * 2654435761u) ^ (uint64_t)getpid();
    quanta_backend *ref = NULL;
    quanta_status st = quanta_backend_open("ref", &ref);
    if (st != QUANTA_OK) {
        fprintf(stderr, "quanta conform: cannot open the reference backend: %s: %s\n", quanta_status_name(st),
                quanta_last_error());
        qc_case_list_free(&cases);
        return 1;
    }
    targets t = {0};
    int opened = open_targets(&t, o.backends, ref);
    if (opened) {
        close_targets(&t);
        quanta_backend_close(ref);
        qc_case_list_free(&cases);
        return opened == -2 ? 2 : 1;
    }
    printf("quanta conform %s: seed %llu (--seed %llu reproduces), %zu cases\n", quanta_version(),
           (unsigned long long)seed, (unsigned long long)seed, cases.n);
    printf("\n");
    qc_print_header(stdout);

    qc_report report = {0};
    report.seed = seed;
    qc_result results[MAX_TARGETS];
    double t0 = qn_now_s();
    rc = 0;
    for (size_t i = 0; i < cases.n && rc == 0; i++) {
        char err[QC_ERR_MAX];
        if (qc_run_case(&cases.v[i], seed, ref, t.v, t.n, results, err, sizeof err)) {
            qc_case_format(&cases.v[i], spec, sizeof spec);
            fprintf(stderr, "quanta conform: %s: %s\n", spec, err);
            rc = 1;
            break;
        }
        for (int j = 0; j < t.n; j++) {
            if (qc_report_add(&report, &results[j])) {
                fprintf(stderr, "quanta conform: out of memory\n");
                rc = 1;
            }
            if (!o.failures_only || results[j].status != QC_PASS) qc_print_result(stdout, &results[j], seed);
        }
        fflush(stdout);
    }
    double elapsed = qn_now_s() - t0;

    printf("\n%-10s %6s %6s %6s\n", "backend", "pass", "fail", "skip");
    for (int j = 0; j < t.n; j++) {
        size_t p = 0, f = 0, s = 0;
        for (size_t i = 0; i < report.n; i++) {
            const qc_result *r = &report.v[i];
            if (strcmp(r->backend, t.v[j].name)) continue;
            if (r->status == QC_PASS) p++;
            else if (r->status == QC_FAIL) f++;
            else s++;
        }
        printf("%-10s %6zu %6zu %6zu\n", t.v[j].name, p, f, s);
    }
    printf("total: %zu passed, %zu failed, %zu skipped in %.1f s (seed %llu)\n", report.pass, report.fail,
           report.skip, elapsed, (unsigned long long)seed);

    char err[QC_ERR_MAX];
    if (o.json && qc_write_json(o.json, &report, err, sizeof err)) {
        fprintf(stderr, "quanta conform: %s\n", err);
        rc = 1;
    }
    if (o.junit && qc_write_junit(o.junit, &report, err, sizeof err)) {
        fprintf(stderr, "quanta conform: %s\n", err);
        rc = 1;
    }
    if (report.fail) rc = 1;
    qc_report_free(&report);
    close_targets(&t);
    quanta_backend_close(ref);
    qc_case_list_free(&cases);
    return rc;
}
