/* bench_report.c — the table and the JSON file of `quanta bench`. */
#include <string.h>

#include "bench.h"
#include "json_write.h"

void qb_print(FILE *f, const qb_report *rep) {
    fprintf(f, "\nquanta bench: %s (%s, %s)%s\n", rep->backend, rep->device.name, rep->device.driver,
            rep->quick ? " [quick]" : "");
    fprintf(f, "%-9s %-15s %22s %10s %12s %-9s %12s %-22s %7s  %s\n", "kind", "case", "shape (m x n x k)", "ms/call",
            "value", "unit", "peer", "peer name", "ratio", "note");
    for (int i = 0; i < rep->nrows; i++) {
        const qb_row *r = &rep->rows[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)r->m, (long long)r->n, (long long)r->k);
        if (!strcmp(r->kind, "copy")) snprintf(shape, sizeof shape, "%lld MiB", (long long)(r->n >> 20));
        if (!strcmp(r->kind, "attention"))
            snprintf(shape, sizeof shape, "nq %lld, nk %lld", (long long)r->n, (long long)r->k);
        char peer[16] = "-", ratio[16] = "-";
        if (r->peer_value > 0) snprintf(peer, sizeof peer, "%.2f", r->peer_value);
        if (r->ratio > 0) snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        fprintf(f, "%-9s %-15s %22s %10.3f %12.2f %-9s %12s %-22s %7s  %s\n", r->kind, r->name, shape,
                r->seconds * 1e3, r->value, r->unit, peer, r->peer[0] ? r->peer : "-", ratio, r->note);
    }
}

int qb_write_json(const char *path, const qb_report *rep) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\n  \"backend\": ");
    qn_json_write_str(f, rep->backend);
    fprintf(f, ",\n  \"device\": ");
    qn_json_write_str(f, rep->device.name);
    fprintf(f, ",\n  \"driver\": ");
    qn_json_write_str(f, rep->device.driver);
    fprintf(f, ",\n  \"quick\": %s,\n  \"copy_gbps\": %.6g,\n  \"results\": [", rep->quick ? "true" : "false",
            rep->copy_gbps);
    for (int i = 0; i < rep->nrows; i++) {
        const qb_row *r = &rep->rows[i];
        fprintf(f, "%s\n    {\"kind\": ", i ? "," : "");
        qn_json_write_str(f, r->kind);
        fprintf(f, ", \"case\": ");
        qn_json_write_str(f, r->name);
        fprintf(f, ", \"m\": %lld, \"n\": %lld, \"k\": %lld, \"seconds\": %.6g, \"value\": %.6g, \"unit\": ",
                (long long)r->m, (long long)r->n, (long long)r->k, r->seconds, r->value);
        qn_json_write_str(f, r->unit);
        fprintf(f, ", \"peer_value\": %.6g, \"peer\": ", r->peer_value);
        qn_json_write_str(f, r->peer);
        fprintf(f, ", \"ratio\": %.6g, \"note\": ", r->ratio);
        qn_json_write_str(f, r->note);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}
