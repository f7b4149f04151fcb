# Generates deploy/grafana/sluice-dashboard.json (run: python3 scripts/gen-grafana-dashboard.py from the repo root).
# Every query is checked against a real Prometheus by test/e2e/observability.test.ts.
import json
BY='namespace, service, revision'
F='namespace=~"$namespace"'
FIVE='code=~"5.."'
def rate(metric, extra=''):
    sel = F + (',' + extra if extra else '')
    return 'rate(' + metric + '{' + sel + '}[$__rate_interval])'
R=rate("sluice_requests_total")
R5=rate("sluice_requests_total", FIVE)
B=rate("sluice_request_duration_seconds_bucket")
panels_spec = [
  ("Requests per second by revision", "reqps", [
     (f'sum by ({BY}) ({R})', '{{service}} {{revision}}')]),
  ("Error ratio (5xx) by revision", "percentunit", [
     (f'(sum by ({BY}) ({R5}) or sum by ({BY}) ({R}) * 0) / sum by ({BY}) ({R})', '{{service}} {{revision}}')]),
  ("Latency p50 / p99 by revision", "s", [
     (f'histogram_quantile(0.5, sum by ({BY}, le) ({B}))', 'p50 {{revision}}'),
     (f'histogram_quantile(0.99, sum by ({BY}, le) ({B}))', 'p99 {{revision}}')]),
  ("Traffic share by revision (canary share)", "percentunit", [
     (f'sum by ({BY}) ({R}) / ignoring(revision) group_left sum by (namespace, service) ({R})', '{{service}} {{revision}}')]),
  ("Replicas: desired vs ready", "short", [
     (f'sum by ({BY}) (sluice_desired_replicas{{{F}}})', 'desired {{revision}}'),
     (f'sum by ({BY}) (sluice_ready_replicas{{{F}}})', 'ready {{revision}}')]),
  ("Requests held by the activator", "short", [
     (f'sum by ({BY}) (sluice_activator_held_requests{{{F}}})', '{{revision}}')]),
  ("Requests that waited for a cold start (last 5 minutes)", "short", [
     (f'sum by ({BY}) (increase(sluice_cold_starts_total{{{F}}}[5m]))', '{{revision}}')]),
  ("Cold-start wait, arrival to first byte: p50 / max (15 minutes)", "s", [
     (f'histogram_quantile(0.5, sum by ({BY}, le) (increase(sluice_cold_start_seconds_bucket{{{F}}}[15m])))', 'p50 {{revision}}'),
     (f'histogram_quantile(1, sum by ({BY}, le) (increase(sluice_cold_start_seconds_bucket{{{F}}}[15m])))', 'max {{revision}}')]),
  ("GPU capacity limit reached (1 = requests wait for GPUs)", "short", [
     (f'max by ({BY}) (sluice_gpu_capacity_limited{{{F}}})', '{{revision}}')]),
  ("Activator in the request path", "short", [
     (f'max by ({BY}) (sluice_activator_in_path{{{F}}})', '{{revision}}')]),
]
DS={"type": "prometheus", "uid": "${datasource}"}
panels=[]
for i,(title,unit,targets) in enumerate(panels_spec):
    panels.append({
      "id": i+1, "type": "timeseries", "title": title, "datasource": DS,
      "gridPos": {"h": 8, "w": 12, "x": (i%2)*12, "y": (i//2)*8},
      "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
      "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
      "targets": [{"refId": chr(65+j), "expr": e, "legendFormat": l, "datasource": DS} for j,(e,l) in enumerate(targets)],
    })
dash = {
  "title": "Sluice: InferenceServices",
  "uid": "sluice-overview",
  "description": "Request rate, errors, latency, canary share, replicas, held requests, cold starts and GPU limits per revision. Every query is checked against a real Prometheus by test/e2e/observability.test.ts.",
  "schemaVersion": 39, "version": 1, "editable": True, "refresh": "10s",
  "time": {"from": "now-30m", "to": "now"},
  "tags": ["sluice", "kserve", "inference"],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus", "current": {}},
    {"name": "namespace", "type": "query", "label": "Namespace", "datasource": DS,
     "query": {"query": "label_values(sluice_requests_total, namespace)", "refId": "namespaces"},
     "definition": "label_values(sluice_requests_total, namespace)", "includeAll": True, "multi": True, "allValue": ".*",
     "current": {"text": "All", "value": "$__all"}, "refresh": 2},
  ]},
  "panels": panels,
}
open('deploy/grafana/sluice-dashboard.json','w').write(json.dumps(dash, indent=2)+'\n')
