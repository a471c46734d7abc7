{{- define "immune.labels" -}}
app.kubernetes.io/part-of: immune
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
