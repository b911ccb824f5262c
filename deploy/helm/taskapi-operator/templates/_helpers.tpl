{{/*
Names are fixed, not derived from the release: the operator looks up the ClusterRole
taskapi-secret-reader by name, and one operator runs per cluster (the CRD is cluster-wide).
*/}}
{{- define "taskapi-operator.name" -}}taskapi-operator{{- end }}

{{/* The selector: the same as deploy/operator's, so a kustomize install can move to Helm. */}}
{{- define "taskapi-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskapi-operator.name" . }}
{{- end }}

{{/* Labels of every object: the selector plus Helm's usual release labels. */}}
{{- define "taskapi-operator.labels" -}}
{{ include "taskapi-operator.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "taskapi-operator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
