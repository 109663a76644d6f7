{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "certswap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name alone when it already holds the chart's name. */}}
{{- define "certswap.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "certswap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "certswap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "certswap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "certswap.labels" -}}
helm.sh/chart: {{ include "certswap.chart" . }}
{{ include "certswap.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "certswap.serviceAccountName" -}}
{{- default (include "certswap.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "certswap.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
notifyRestart grouped by resource: a dict of plural resource name (deployments,
statefulsets, daemonsets) to the list of workload names, as JSON. Anything but
KIND/NAME with one of the three kinds fails the render, as certswap would
refuse it at start.
*/}}
{{- define "certswap.restartWorkloads" -}}
{{- $plural := dict "deployment" "deployments" "statefulset" "statefulsets" "daemonset" "daemonsets" }}
{{- $byResource := dict }}
{{- range .Values.notifyRestart }}
{{- $parts := splitList "/" (toString .) }}
{{- if or (ne (len $parts) 2) (not (hasKey $plural (first $parts))) (eq (last $parts) "") }}
{{- fail (printf "notifyRestart: %q: write deployment/NAME, statefulset/NAME or daemonset/NAME" (toString .)) }}
{{- end }}
{{- $resource := get $plural (first $parts) }}
{{- $_ := set $byResource $resource (append (default list (get $byResource $resource)) (last $parts) | uniq) }}
{{- end }}
{{- toJson $byResource }}
{{- end }}
