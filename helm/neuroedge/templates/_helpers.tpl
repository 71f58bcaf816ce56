{{/* Base name of every object: the release name when it already says "neuroedge", else "<release>-neuroedge". */}}
{{- define "neuroedge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "neuroedge.operatorName" -}}
{{- printf "%s-operator" (include "neuroedge.fullname" .) -}}
{{- end -}}

{{/* Labels that select the operator pod; the same keys as the kustomize install, plus the release. */}}
{{- define "neuroedge.selectorLabels" -}}
app.kubernetes.io/name: neuroedge
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "neuroedge.labels" -}}
{{ include "neuroedge.selectorLabels" . }}
app.kubernetes.io/part-of: neuroedge
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "neuroedge.image" -}}
{{- printf "%s:%s" .image.repository (default .appVersion .image.tag) -}}
{{- end -}}

{{/* Checks the schema cannot express; each fails with a message naming the value to change. */}}
{{- define "neuroedge.validate" -}}
{{- if eq (int .Values.metrics.port) (int .Values.healthPort) -}}
{{- fail (printf "metrics.port and healthPort must differ (both are %d)" (int .Values.healthPort)) -}}
{{- end -}}
{{- if and (not .Values.redis.url) (not .Values.redis.existingSecret) -}}
{{- fail "redis: set either redis.existingSecret (name and key) or redis.url" -}}
{{- end -}}
{{- if and .Values.tracing.enabled (not .Values.tracing.otlpEndpoint) -}}
{{- fail "tracing.enabled needs tracing.otlpEndpoint (the collector's OTLP/HTTP URL, e.g. http://otel-collector.observability.svc:4318)" -}}
{{- end -}}
{{- end -}}

{{/* The operator's OTEL_* variables (it passes them on to the runtime pods it creates). */}}
{{- define "neuroedge.tracingEnv" -}}
{{- with .Values.tracing -}}
- name: OTEL_SERVICE_NAME
  value: neuroedge-operator
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | toString | quote }}
{{- with .resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "neuroedge.keyValues" . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "neuroedge.keyValues" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
