{{/* Names, labels and the controller's RBAC rules, shared by the templates. */}}

{{- define "weir.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "weir.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Selector labels of a shard's controller pods (docs/sharding.md); `.` is {root, shard}. Not the
shard-less controller's: its Deployment, Services and PodDisruptionBudget select name + instance,
and a selector cannot change on upgrade, so a shard's pods carry another name.
*/}}
{{- define "weir.shardSelectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" .root }}-shard
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .shard }}
weir.dev/shard: {{ . }}
{{- end }}
{{- end -}}

{{/* The pod selector labels of one controller Deployment; `.` is {root, shard}. */}}
{{- define "weir.podSelectorLabels" -}}
{{- if .shard -}}
{{ include "weir.shardSelectorLabels" . }}
{{- else -}}
{{ include "weir.selectorLabels" .root }}
{{- end -}}
{{- end -}}

{{/* The name of one controller Deployment; `.` is {root, shard}. */}}
{{- define "weir.controllerName" -}}
{{- if .shard -}}
{{- printf "%s-shard-%s" (include "weir.fullname" .root) .shard -}}
{{- else -}}
{{- include "weir.fullname" .root -}}
{{- end -}}
{{- end -}}

{{- define "weir.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* weir.rules (the controller's RBAC rules) is generated into _rules.tpl by `npm run gen:crds`. */}}

{{/*
The Leases are named weir-controller and weir-controller-<shard> for each shard (src/config.ts);
create cannot be limited by name.
*/}}
{{- define "weir.leaseRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames:
    - weir-controller
    {{- range .Values.shards }}
    - weir-controller-{{ . }}
    {{- end }}
  verbs: [get, update]
{{- end -}}
