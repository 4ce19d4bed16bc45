/* report.c — the results table, the JSON report and the JUnit XML file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "json_write.h"

int qc_report_add(qc_report *r, const qc_result *res) {
    qc_result *v = qc_grow(r->v, r->n, &r->cap, sizeof *v, 256);
    if (!v) return -1;
    r->v = v;
    r->v[r->n++] = *res;
    if (res->status == QC_PASS) r->pass++;
    else if (res->status == QC_FAIL) r->fail++;
    else r->skip++;
    return 0;
}

void qc_report_free(qc_report *r) {
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void num(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.2e", v);
}

void qc_print_header(FILE *f) {
    fprintf(f, "%-6s %-10s %-9s %-9s %-9s %-9s %s\n", "result", "backend", "nmse", "maxerr", "nmse_thr", "maxerr_thr",
            "case");
}

void qc_print_result(FILE *f, const qc_result *r, uint64_t seed) {
    char a[24], b[24], c[24], d[24];
    num(a, sizeof a, r->nmse);
    num(b, sizeof b, r->maxerr);
    if (r->exact) {
        snprintf(c, sizeof c, "exact");
        snprintf(d, sizeof d, "0");
    } else {
        num(c, sizeof c, r->nmse_thr);
        num(d, sizeof d, r->status == QC_PASS || r->reason == QC_R_ACCURACY || r->reason == QC_R_FALLBACK
                             ? r->maxerr_thr : NAN);
    }
    fprintf(f, "%-6s %-10s %-9s %-9s %-9s %-10s %s\n", qc_status_name(r->status), r->backend, a, b, c, d, r->spec);
    if (r->status != QC_PASS) fprintf(f, "       %s: %s\n", qc_reason_name(r->reason), r->msg);
    if (r->status == QC_FAIL)
        fprintf(f, "       reproduce: quanta conform --seed %llu --backend %s --case '%s'\n",
                (unsigned long long)seed, r->backend, r->spec);
}

/* --------------------------------------------------------------- JSON */

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else if (isnan(v)) fprintf(f, "null");
    else fprintf(f, "%s", v > 0 ? "1e999" : "-1e999"); /* parsers read these as +-Infinity */
}

/* `, "key": value`: every field of a result object after the first. */
static void field_str(FILE *f, const char *key, const char *v) {
    fprintf(f, ", \"%s\": ", key);
    qn_json_write_str(f, v);
}

static void field_num(FILE *f, const char *key, double v) {
    fprintf(f, ", \"%s\": ", key);
    json_num(f, v);
}

int qc_write_json(const char *path, const qc_report *r, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) return qc_err(err, errlen, "cannot write JSON report '%s'", path);
    fprintf(f, "{\n  \"quanta_version\": ");
    qn_json_write_str(f, quanta_version());
    fprintf(f, ",\n  \"seed\": %llu,\n  \"summary\": {\"pass\": %zu, \"fail\": %zu, \"skip\": %zu},\n",
            (unsigned long long)r->seed, r->pass, r->fail, r->skip);
    fprintf(f, "  \"results\": [");
    for (size_t i = 0; i < r->n; i++) {
        const qc_result *x = &r->v[i];
        fprintf(f, "%s\n    {\"op\": ", i ? "," : "");
        qn_json_write_str(f, qc_op_name(x->op));
        field_str(f, "case", x->spec);
        field_str(f, "backend", x->backend);
        field_str(f, "status", qc_status_name(x->status));
        field_str(f, "reason", qc_reason_name(x->reason));
        field_num(f, "nmse", x->nmse);
        field_num(f, "maxerr", x->maxerr);
        fprintf(f, ", \"exact\": %s", x->exact ? "true" : "false");
        field_num(f, "nmse_threshold", x->nmse_thr);
        field_num(f, "maxerr_threshold", x->maxerr_thr);
        field_num(f, "ms", x->ms);
        field_str(f, "message", x->msg);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0) return qc_err(err, errlen, "error writing JSON report '%s'", path);
    return 0;
}

/* -------------------------------------------------------------- JUnit */

static void xml_str(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
            else fputc(' ', f);
        }
    }
}

int qc_write_junit(const char *path, const qc_report *r, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) return qc_err(err, errlen, "cannot write JUnit file '%s'", path);
    double total = 0;
    for (size_t i = 0; i < r->n; i++) total += r->v[i].ms;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"quanta-conform\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            r->n, r->fail, r->skip, total / 1e3);
    fprintf(f, "  <testsuite name=\"conform\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
            r->n, r->fail, r->skip, total / 1e3);
    fprintf(f, "    <properties><property name=\"seed\" value=\"%llu\"/></properties>\n", (unsigned long long)r->seed);
    for (size_t i = 0; i < r->n; i++) {
        const qc_result *x = &r->v[i];
        fprintf(f, "    <testcase classname=\"conform.");
        xml_str(f, x->backend);
        fprintf(f, ".%s\" name=\"", qc_op_name(x->op));
        xml_str(f, x->spec);
        fprintf(f, "\" time=\"%.3f\"", x->ms / 1e3);
        if (x->status == QC_PASS) {
            fprintf(f, "/>\n");
            continue;
        }
        fprintf(f, ">\n      <%s message=\"", x->status == QC_FAIL ? "failure" : "skipped");
        xml_str(f, qc_reason_name(x->reason));
        fprintf(f, ": ");
        xml_str(f, x->msg);
        fprintf(f, "\"");
        if (x->status == QC_FAIL) {
            fprintf(f, ">nmse=%.3g maxerr=%.3g nmse_threshold=%.3g maxerr_threshold=%.3g; reproduce: quanta conform --seed %llu --backend ",
                    x->nmse, x->maxerr, x->nmse_thr, x->maxerr_thr, (unsigned long long)r->seed);
            xml_str(f, x->backend);
            fprintf(f, " --case '");
            xml_str(f, x->spec);
            fprintf(f, "'</failure>\n");
        } else {
            fprintf(f, "/>\n");
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0) return qc_err(err, errlen, "error writing JUnit file '%s'", path);
    return 0;
}
