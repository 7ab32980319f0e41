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

{{/*
What the controller does with each resource, and nothing more (verbs match the code):
- informers list + watch every kind below (src/kube/informers.ts, src/controller-main.ts);
- server-side apply creates or patches the primary Deployment, the Services, the -primary copies of
  tracked ConfigMaps/Secrets and HPA, and the HTTPRoute (src/canary/apply.ts, src/routing/*); it never
  deletes them: owner references let the garbage collector do that;
- the Canary itself is patched for the finalizer (revertOnDeletion), its status through /status;
  update on canaries/finalizers lets owner references with blockOwnerDeletion pass the
  OwnerReferencesPermissionEnforcement admission plugin where a cluster enables it;
- GitSync objects are watched and their status patched; a replica that is not the leader patches a
  sync-request annotation when a webhook reaches it; a credentials Secret missing from the cache is
  read with get (the manifests GitSync applies need the gitsync.* values);
- Events are created (src/kube/events.ts).
Leases (leader election) are granted by a Role in the release namespace only (see rbac.yaml).
*/}}
{{- define "weir.rules" -}}
- apiGroups: [weir.dev]
  resources: [canaries]
  verbs: [list, watch, patch]
- apiGroups: [weir.dev]
  resources: [canaries/status]
  verbs: [patch]
- apiGroups: [weir.dev]
  resources: [canaries/finalizers]
  verbs: [update]
- apiGroups: [weir.dev]
  resources: [metrictemplates, alertproviders]
  verbs: [list, watch]
- apiGroups: [weir.dev]
  resources: [gitsyncs]
  verbs: [list, watch, patch]
- apiGroups: [weir.dev]
  resources: [gitsyncs/status]
  verbs: [patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, create, patch]
{{- /* get: the informer caches ConfigMaps and Secrets without data and reads the ones in use. */}}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [list, watch, create, patch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [list, watch, create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* The Lease is named weir-controller (src/config.ts); create cannot be limited by name. */}}
{{- define "weir.leaseRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [weir-controller]
  verbs: [get, update]
{{- end -}}
