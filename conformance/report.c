/* report.c — the results table, the JSON report and the JUnit XML file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

int qc_report_add(qc_report *r, const qc_result *res) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        qc_result *v = realloc(r->v, cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
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

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else if (isnan(v)) fprintf(f, "null");
    else fprintf(f, "%s", v > 0 ? "1e999" : "-1e999"); /* parsers read these as +-Infinity */
}

int qc_write_json(const char *path, const qc_report *r, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) return qc_err(err, errlen, "cannot write JSON report '%s'", path);
    fprintf(f, "{\n  \"quanta_version\": ");
    json_str(f, quanta_version());
    fprintf(f, ",\n  \"seed\": %llu,\n  \"summary\": {\"pass\": %zu, \"fail\": %zu, \"skip\": %zu},\n",
            (unsigned long long)r->seed, r->pass, r->fail, r->skip);
    fprintf(f, "  \"results\": [");
    for (size_t i = 0; i < r->n; i++) {
        const qc_result *x = &r->v[i];
        fprintf(f, "%s\n    {\"op\": ", i ? "," : "");
        json_str(f, qc_op_name(x->op));
        fprintf(f, ", \"case\": ");
        json_str(f, x->spec);
        fprintf(f, ", \"backend\": ");
        json_str(f, x->backend);
        fprintf(f, ", \"status\": ");
        json_str(f, qc_status_name(x->status));
        fprintf(f, ", \"reason\": ");
        json_str(f, qc_reason_name(x->reason));
        fprintf(f, ", \"nmse\": ");
        json_num(f, x->nmse);
        fprintf(f, ", \"maxerr\": ");
        json_num(f, x->maxerr);
        fprintf(f, ", \"exact\": %s, \"nmse_threshold\": ", x->exact ? "true" : "false");
        json_num(f, x->nmse_thr);
        fprintf(f, ", \"maxerr_threshold\": ");
        json_num(f, x->maxerr_thr);
        fprintf(f, ", \"ms\": ");
        json_num(f, x->ms);
        fprintf(f, ", \"message\": ");
        json_str(f, x->msg);
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
