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
The namespaces the operator watches, one per line: every namespace ("" ) with
rbac.clusterWide, else watchNamespaces, else the release namespace alone.
*/}}
{{- define "dbmo.watchedNamespaces" -}}
{{- if .Values.rbac.clusterWide }}
{{- if .Values.watchNamespaces }}
{{- fail "set either rbac.clusterWide (every namespace) or watchNamespaces (these only), not both" }}
{{- end }}
{{- else if .Values.watchNamespaces }}
{{- join "\n" .Values.watchNamespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
The operator's permissions in each namespace it watches: exactly the calls its
code makes, as listed in operator/rbac-needs.ts (test/chart/rbac-verbs.test.ts
compares the two). No Secrets at all (Jobs resolve the database password through
secretKeyRef); no patch or update on workloads (scaling goes through /scale).
*/}}
{{- define "dbmo.rules" -}}
# list/watch: the informer; patch: the finalizer.
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations/status"]
  verbs: ["update"]
# Jobs are owned with blockOwnerDeletion, which needs update on the owner's finalizers.
- apiGroups: ["dbmigrate.io"]
  resources: ["databasemigrations/finalizers"]
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# get: the migrations ConfigMap's content hash is frozen with the run;
# create/update: the <resource>-plan ConfigMap, only one the resource owns
# (the operator refuses to overwrite any other).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "update"]
# The full result and the migrate progress are read from the migrator's log.
# RBAC cannot narrow pods/log to the run's Pods: this reads any Pod's log in
# the watched namespaces; the operator reads only its own Jobs' Pods.
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# restore: the workloads' selector and readiness, and their scale.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments/scale", "statefulsets/scale"]
  verbs: ["get", "update"]
{{- end }}
