{{/* Chart name, overridable. */}}
{{- define "dnssync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object-name prefix: <release>-<chart>, or <release> when it already holds the chart name. */}}
{{- define "dnssync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.controller.fullname" -}}
{{- printf "%s-controller" (include "dnssync.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dnssync.agent.fullname" -}}
{{- printf "%s-agent" (include "dnssync.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dnssync.tsig.secretName" -}}
{{- if .Values.tsig.existingSecret -}}
{{- .Values.tsig.existingSecret -}}
{{- else -}}
{{- printf "%s-tsig" (include "dnssync.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.tsig.secretKey" -}}
{{- if .Values.tsig.existingSecret -}}{{ .Values.tsig.existingSecretKey }}{{- else -}}tsig.key{{- end -}}
{{- end -}}

{{- define "dnssync.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "dnssync.controller.fullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (include "dnssync.agent.fullname" .) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "dnssync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "dnssync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dnssync
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "agent"). */}}
{{- define "dnssync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dnssync.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The same selector as a label-selector string, for --agent-selector. */}}
{{- define "dnssync.agent.selectorString" -}}
{{- printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,app.kubernetes.io/component=agent" (include "dnssync.name" .) .Release.Name -}}
{{- end -}}

{{- define "dnssync.componentLabels" -}}
{{ include "dnssync.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "dnssync.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The port of a HOST:PORT string. */}}
{{- define "dnssync.port" -}}
{{- regexFind "[0-9]+$" . -}}
{{- end -}}

{{- define "dnssync.metricsServiceEnabled" -}}
{{- if or .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled -}}true{{- end -}}
{{- end -}}

{{/*
The cluster's kube-dns Service as JSON {clusterIP, selector, udpTarget, tcpTarget}: the
values where given, else what `lookup` finds. Fails with what to set where nothing is found
(`helm template` and client-side dry runs look nothing up).
*/}}
{{- define "dnssync.kubeDNS" -}}
{{- $k := .Values.agent.kubeDNS -}}
{{- $svc := lookup "v1" "Service" $k.namespace $k.name -}}
{{- $spec := dict -}}
{{- if and $svc $svc.spec -}}{{- $spec = $svc.spec -}}{{- end -}}
{{- $ip := $k.clusterIP | default ($spec.clusterIP | default "") -}}
{{- if or (eq $ip "") (eq $ip "None") -}}
{{- fail (printf "agent.kubeDNS: found no ClusterIP of the Service %s/%s (helm template and client-side dry runs cannot look it up). Set agent.kubeDNS.clusterIP to the cluster DNS Service's ClusterIP (kubectl -n %s get service %s -o jsonpath='{.spec.clusterIP}'), or agent.kubeDNS.namespace/name to that Service; or turn transparent mode off (agent.transparent.enabled=false) and list agent.upstreams" $k.namespace $k.name $k.namespace $k.name) -}}
{{- end -}}
{{- $sel := $k.podSelector -}}
{{- if not $sel -}}{{- $sel = $spec.selector | default (dict "k8s-app" "kube-dns") -}}{{- end -}}
{{- $udp := 53 -}}
{{- $tcp := 53 -}}
{{- range ($spec.ports | default list) -}}
{{- if eq (int .port) 53 -}}
{{- if eq (.protocol | default "TCP") "UDP" -}}{{- $udp = .targetPort | default 53 -}}{{- else -}}{{- $tcp = .targetPort | default 53 -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- dict "clusterIP" $ip "selector" $sel "udpTarget" $udp "tcpTarget" $tcp | toJson -}}
{{- end -}}

{{/* HOST:PORT with IPv6 hosts in brackets. Call with (list HOST PORT). */}}
{{- define "dnssync.hostPort" -}}
{{- $h := index . 0 -}}
{{- if contains ":" $h -}}[{{ $h }}]:{{ index . 1 }}{{- else -}}{{ $h }}:{{ index . 1 }}{{- end -}}
{{- end -}}
