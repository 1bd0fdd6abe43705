{{/* Chart name. */}}
{{- define "dbmo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already contains the chart name. */}}
{{- define "dbmo.fullname" -}}
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

{{- define "dbmo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dbmo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dbmo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dbmo.labels" -}}
helm.sh/chart: {{ include "dbmo.chart" . }}
{{ include "dbmo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: database-migration-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dbmo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dbmo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dbmo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dbmo.migratorImage" -}}
{{- printf "%s:%s" .Values.migratorImage.repository (default .Chart.AppVersion .Values.migratorImage.tag) }}
{{- end }}

{{- define "dbmo.leaseName" -}}
{{- default (printf "%s-leader" (include "dbmo.fullname" .)) .Values.leaderElection.leaseName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The operator's permissions on the resources it reconciles. Least privilege:
no Secrets at all (Jobs resolve the database password through secretKeyRef),
no ConfigMaps (Jobs mount them).
*/}}
{{- define "dbmo.rules" -}}
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations/finalizers"]
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# get: the migrations ConfigMap's content hash is frozen with the run;
# create/update: the <resource>-plan ConfigMap with the full plan for people.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "update"]
# The full result is read from the migrator's log (one marked, scrubbed line).
# RBAC cannot narrow pods/log to our Pods: this reads any Pod's log in the
# watched namespaces, so the operator reads only its own Jobs' Pods.
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["apps"]
  resources: ["deployments/scale", "statefulsets/scale"]
  verbs: ["get", "patch", "update"]
{{- end }}
