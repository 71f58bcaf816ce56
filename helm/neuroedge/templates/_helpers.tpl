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
{{- end -}}
